package replay

import (
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tlsServer is an HTTPS server on loopback answering 200 "ok", and a PEM
// file of its certificate for --ca-cert.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true                           // offered: replay must still speak HTTP/1.1
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, file
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c.CloseIdleConnections()
	return resp, err
}

// A TLS target is trusted with --ca-cert, refused without it, and accepted
// unverified with --insecure; it is spoken to in HTTP/1.1 though it offers
// HTTP/2.
func TestClientTLS(t *testing.T) {
	protos := make(chan int, 10)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { protos <- r.ProtoMajor }))

	c, err := NewClient(ClientOptions{CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("with --ca-cert: %v", err)
	}
	if p := <-protos; p != 1 {
		t.Errorf("HTTP/%d sent, want HTTP/1.1", p)
	}

	c, _ = NewClient(ClientOptions{})
	if _, err := get(t, c, srv.URL); err == nil || Classify(err) != LabelTLSUnknownAuthority {
		t.Errorf("without --ca-cert: %v, labelled %q", err, Classify(err))
	}

	c, _ = NewClient(ClientOptions{Insecure: true})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Errorf("with --insecure: %v", err)
	}
	if p := <-protos; p != 1 {
		t.Errorf("HTTP/%d sent with --insecure, want HTTP/1.1", p)
	}
}

// A --ca-cert that cannot be read, or holds no certificate, is an error
// from NewClient: before anything is sent.
func TestClientBadCACert(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "key.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	for _, file := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		_, err := NewClient(ClientOptions{CACert: file})
		if err == nil || !strings.Contains(err.Error(), "CA certificates") {
			t.Errorf("%s: %v", filepath.Base(file), err)
		}
	}
	if _, err := NewClient(ClientOptions{CACert: notPEM}); !errors.Is(err, errNoPEM) {
		t.Errorf("not PEM: %v", err)
	}
}

// The recorded client's next request is in the trace: redirects are
// answers, not followed.
func TestClientKeepsRedirects(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	c, _ := NewClient(ClientOptions{})
	resp, err := get(t, c, srv.URL+"/a")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("%v %v", resp, err)
	}
}
