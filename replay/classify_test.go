package replay

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// wrapped is err as the client returns it: in a url.Error, as a TLS
// verification failure when it is an x509 one.
func wrapped(host string, err error) error {
	var x509Err bool
	switch err.(type) {
	case x509.UnknownAuthorityError, x509.HostnameError, x509.CertificateInvalidError:
		x509Err = true
	}
	if x509Err {
		err = &tls.CertificateVerificationError{Err: err}
	}
	return &url.Error{Op: "Get", URL: "https://" + host + "/api/v1/tasks", Err: err}
}

// Every TLS failure gets one label whatever the host, path or certificate:
// a misconfigured TLS target is one row in the failures report, not one
// per host name.
func TestClassifyTLS(t *testing.T) {
	tests := []struct {
		name string
		err  func(host string) error
		want string
	}{
		{"unknown authority", func(h string) error { return x509.UnknownAuthorityError{} }, LabelTLSUnknownAuthority},
		{"wrong host", func(h string) error {
			return x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"a." + h}}, Host: h}
		}, LabelTLSWrongHost},
		{"expired", func(h string) error {
			return x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired, Detail: "current time is after " + h}
		}, LabelTLSExpired},
		{"not a CA", func(h string) error { return x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign} }, LabelTLSInvalid},
		{"plain HTTP answers", func(h string) error {
			return tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'H', 'T', 'T', 'P', '/'}}
		}, LabelTLSNotTLS},
		{"alert", func(h string) error { return &net.OpError{Op: "remote error", Err: tls.AlertError(42)} }, LabelTLSAlert + ": bad certificate"},
		{"other tls", func(h string) error { return fmt.Errorf("tls: handshake with %s: oddity", h) }, LabelTLSFailed},
	}
	for _, tt := range tests {
		labels := map[string]bool{}
		for _, host := range []string{"127.0.0.1:8443", "api.example.com", "[::1]:9443"} {
			labels[Classify(wrapped(host, tt.err(host)))] = true
		}
		if len(labels) != 1 || !labels[tt.want] {
			t.Errorf("%s: labels %v, want only %q", tt.name, labels, tt.want)
		}
	}
	// Not TLS failures: labelled as before.
	for err, want := range map[error]string{
		wrapped("h", &net.OpError{Op: "dial", Err: errors.New("connect: connection refused")}): "connection refused",
		wrapped("h", io.ErrUnexpectedEOF): "connection closed before the response ended",
	} {
		if got := Classify(err); got != want {
			t.Errorf("%v: %q, want %q", err, got, want)
		}
	}
}

// The same, from real handshakes on loopback.
func TestClassifyTLSHandshakes(t *testing.T) {
	srv, ca := tlsServer(t, nil)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	mtls.Config.ErrorLog = log.New(io.Discard, "", 0)
	mtls.StartTLS()
	defer mtls.Close()

	tests := []struct {
		name string
		opts ClientOptions
		url  string
		want string
	}{
		{"unknown authority", ClientOptions{}, srv.URL, LabelTLSUnknownAuthority},
		// The test certificate names 127.0.0.1 and example.com only.
		{"wrong host", ClientOptions{CACert: ca, ServerName: "wrong.example"}, srv.URL, LabelTLSWrongHost},
		{"plain HTTP port", ClientOptions{}, strings.Replace(plain.URL, "http:", "https:", 1), LabelTLSNotTLS},
		{"client certificate wanted", ClientOptions{Insecure: true}, mtls.URL, LabelTLSAlert},
	}
	for _, tt := range tests {
		c, err := NewClient(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = get(t, c, tt.url)
		if err == nil || !strings.HasPrefix(Classify(err), tt.want) {
			t.Errorf("%s: %v labelled %q, want %q", tt.name, err, Classify(err), tt.want)
		}
	}
}

// net/http's HTTP/2 errors, by their text (their types are unexported):
// the code is kept, the server's debug data never.
func TestClassifyH2(t *testing.T) {
	for msg, want := range map[string]string{
		"stream error: stream ID 3; INTERNAL_ERROR; received from peer":                                                              "stream reset by the server: INTERNAL_ERROR",
		"stream error: stream ID 3; ERR_UNKNOWN_42; received from peer":                                                              "stream reset by the server: unknown code",
		`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=ENHANCE_YOUR_CALM, debug="a, b=c"`:             "connection sent away by the server (GOAWAY ENHANCE_YOUR_CALM)",
		`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=<script>, debug=""`:                            "connection sent away by the server (GOAWAY unknown code)",
		"http2: failed reading the frame payload: http2: frame too large, note that the frame header looked like an HTTP/1.1 header": LabelNoH2C,
		`Get "http://127.0.0.1:8000/": http2: frame too large`:                                                                       LabelNoH2C,
		`stream error: stream ID 5; PROTOCOL_ERROR; invalid header field value for "X-Foo"`:                                          "HTTP/2 stream error: PROTOCOL_ERROR",
		"http2: client connection force closed via ClientConn.Close":                                                                 "connection closed before the response ended",
	} {
		if got := Classify(errors.New(msg)); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}

// A run that gets no answer says what to do: the hint of its most
// common error where there is one, else to check the server and --host.
func TestUnreachableSaysWhatToDo(t *testing.T) {
	for label, want := range map[string]string{
		LabelNoH2C:               "give --http1",
		LabelTLSUnknownAuthority: "--ca-cert FILE",
		"connection refused":     "is the server running, and is --host right?",
	} {
		m := newMeter(time.Now().Add(-time.Minute), false, false)
		m.tried, m.errs[label] = 10, 10
		if got := m.unreachable(); !strings.Contains(got, want) || !strings.Contains(got, "10 × "+label) {
			t.Errorf("%s: %q, want it to say %q", label, got, want)
		}
	}
}
