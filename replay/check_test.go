package replay

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/trace"
)

// check runs Check against host with the sample trace unless sessions is
// given; it fails the test if a line or the error shows "secret".
func check(t *testing.T, host, apiKey string, sessions *session.Source, o ClientOptions) ([]CheckLine, error) {
	t.Helper()
	tgt, err := ParseTarget(host)
	if err != nil {
		t.Fatal(err)
	}
	tgt.APIKey = apiKey
	if sessions == nil {
		sessions = sampleSessions(t)
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	lines, err := Check(context.Background(), tgt, sessions, o)
	if strings.Contains(fmt.Sprint(lines, err), "secret") {
		t.Errorf("a password shown: %v %v", lines, err)
	}
	return lines, err
}

func warned(lines []CheckLine, text string) bool {
	for _, l := range lines {
		if l.Warn && strings.Contains(l.Text, text) {
			return true
		}
	}
	return false
}

// answering is a server on loopback answering status to everything.
func answering(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	t.Cleanup(srv.Close)
	return srv
}

// oneGet is a trace of one recorded GET of path (route its template)
// that saw 200, with headers.
func oneGet(path, route string, headers ...trace.Header) *session.Source {
	return session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		{ID: 1, Method: "GET", Path: path, Route: route, Status: 200, Kind: "read", Headers: headers}}}})
}

func TestCheck(t *testing.T) {
	srv := demo(t)
	lines, err := check(t, srv.URL, "demo-key-bob", nil, ClientOptions{})
	if err != nil || len(lines) != 3 || !strings.Contains(lines[2].Text, "api key: accepted") {
		t.Errorf("good key: %v %v", lines, err)
	}
	if _, err := check(t, srv.URL, "wrong", nil, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "API key was refused") {
		t.Errorf("wrong key: %v", err)
	}
	// Without API_KEY the redacted hashes go; this target refuses them.
	if _, err := check(t, srv.URL, "", nil, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "set API_KEY") {
		t.Errorf("no key: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := check(t, closed, "k", nil, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "not reachable: connection refused") {
		t.Errorf("closed port: %v", err)
	}
}

// A target that answers 404 where the trace saw 200 is the wrong service,
// or --host has the wrong path prefix: the check fails and says so.
func TestCheckWrongPaths(t *testing.T) {
	for name, host := range map[string]string{
		"another service":  answering(t, http.StatusNotFound).URL,
		"wrong prefix":     demo(t).URL + "/v2",
		"prefix and creds": strings.Replace(answering(t, http.StatusNotFound).URL, "http://", "http://u:secret@", 1),
	} {
		_, err := check(t, host, "demo-key-bob", nil, ClientOptions{})
		if err == nil || !strings.Contains(err.Error(), "answered 404 (recorded 200)") || !strings.Contains(err.Error(), "path prefix") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An id the target does not have is not a wrong path: a warning.
	lines, err := check(t, answering(t, http.StatusNotFound).URL, "", oneGet("/tasks/41", "/tasks/{id}"), ClientOptions{})
	if err != nil || !warned(lines, "maybe an id") {
		t.Errorf("an id route: %v %v", lines, err)
	}
}

// Without API_KEY the trace's redacted credentials are sent: a warning
// when the target takes them, a failure when it refuses them.
func TestCheckWithoutKey(t *testing.T) {
	lines, err := check(t, answering(t, http.StatusOK).URL, "", nil, ClientOptions{})
	if err != nil || !warned(lines, "API_KEY is unset") {
		t.Errorf("accepted: %v %v", lines, err)
	}
	_, err = check(t, answering(t, http.StatusUnauthorized).URL, "", nil, ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "redacted hashes: set API_KEY") {
		t.Errorf("refused: %v", err)
	}
}

// --host's user and password are sent as Basic auth and never shown.
func TestCheckBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	trace := oneGet("/things", "/things")
	lines, err := check(t, strings.Replace(srv.URL, "http://", "http://alice:secret@", 1), "", trace, ClientOptions{})
	if err != nil || !strings.Contains(fmt.Sprint(lines), "basic auth: accepted") || !strings.Contains(lines[0].Text, "reachable") {
		t.Errorf("right password: %v %v", lines, err)
	}
	_, err = check(t, strings.Replace(srv.URL, "http://", "http://alice:notsecret@", 1), "", trace, ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "user and password in --host") {
		t.Errorf("wrong password: %v", err)
	}
}

// TLS targets: the certificate trusted with --ca-cert, or not verified
// with --insecure (a warning); otherwise a failure saying what to pass.
func TestCheckTLS(t *testing.T) {
	srv, ca := tlsServer(t, nil)
	trace := oneGet("/things", "/things")
	if lines, err := check(t, srv.URL, "", trace, ClientOptions{CACert: ca}); err != nil || len(lines) != 2 {
		t.Errorf("--ca-cert: %v %v", lines, err)
	}
	if lines, err := check(t, srv.URL, "", trace, ClientOptions{Insecure: true}); err != nil || !warned(lines, "--insecure") {
		t.Errorf("--insecure: %v %v", lines, err)
	}
	_, err := check(t, strings.Replace(srv.URL, "https://", "https://u:secret@", 1), "", trace, ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), LabelTLSUnknownAuthority) || !strings.Contains(err.Error(), "--ca-cert") {
		t.Errorf("unknown CA: %v", err)
	}
	if _, err := check(t, srv.URL, "", trace, ClientOptions{CACert: filepath.Join(t.TempDir(), "none.pem")}); err == nil || !strings.Contains(err.Error(), "CA certificates") {
		t.Errorf("missing --ca-cert file: %v", err)
	}
	// http:// to the TLS port: the server's 400 says so.
	if _, err := check(t, strings.Replace(srv.URL, "https://", "http://", 1), "", trace, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "use https://") {
		t.Errorf("http to a TLS port: %v", err)
	}
	// https:// to a plain port.
	plain := answering(t, http.StatusOK)
	if _, err := check(t, strings.Replace(plain.URL, "http://", "https://", 1), "", trace, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "use http://") {
		t.Errorf("https to a plain port: %v", err)
	}
}

// The check probes with a credential API_KEY replaces: a request carrying
// only X-Auth-Token (sent on redacted) would look like a refused key.
func TestCheckProbesAReplacedCredential(t *testing.T) {
	srv := demo(t)
	tgt, _ := ParseTarget(srv.URL)
	tgt.APIKey = "demo-key-erin"
	sessions := session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		{ID: 1, Method: "GET", Path: "/api/v1/tasks/1", Headers: []trace.Header{{Name: "X-Auth-Token", Value: "redacted:1"}}},
		{ID: 2, Method: "GET", Path: "/api/v1/tasks/2", Headers: []trace.Header{{Name: "X-API-Key", Value: "redacted:2"}}, Status: 200},
	}}})
	lines, err := Check(context.Background(), tgt, sessions, ClientOptions{Timeout: 5 * time.Second})
	if err != nil || len(lines) != 3 || !strings.Contains(lines[2].Text, "/api/v1/tasks/2") {
		t.Errorf("%v %v", lines, err)
	}
}

// A credential given with --header is not a redacted hash: no warning.
func TestCheckHeaderCredential(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token real" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	tgt, _ := ParseTarget(srv.URL)
	tgt.Headers.Set("Authorization", "Token real")
	lines, err := Check(context.Background(), tgt, oneGet("/things", "/things", trace.Header{Name: "Authorization", Value: "redacted:1"}), ClientOptions{})
	if err != nil || len(lines) != 2 || lines[1].Warn {
		t.Errorf("%v %v", lines, err)
	}
	tgt.Headers.Set("Authorization", "Token wrong")
	if _, err := Check(context.Background(), tgt, oneGet("/things", "/things"), ClientOptions{}); err == nil || !strings.Contains(err.Error(), "--header") {
		t.Errorf("wrong --header credential: %v", err)
	}
}

// A trace recorded over HTTP/2 is checked over HTTP/2: an h2c target
// passes, an HTTP/1.1-only one is refused with what to do, and --http1
// checks it over HTTP/1.1.
func TestCheckOverH2(t *testing.T) {
	h1 := answering(t, http.StatusOK)
	both := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	both.Config.Protocols = new(http.Protocols)
	both.Config.Protocols.SetHTTP1(true)
	both.Config.Protocols.SetUnencryptedHTTP2(true)
	both.Start()
	t.Cleanup(both.Close)
	tlsH1 := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})) // ALPN: http/1.1 only
	t.Cleanup(tlsH1.Close)
	// A TLS server that ignores ALPN (chooses none), as nginx without
	// http2 does: the handshake succeeds, and would give HTTP/1.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noALPN := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ErrorLog: log.New(io.Discard, "", 0)}
	go noALPN.Serve(tls.NewListener(ln, &tls.Config{Certificates: tlsH1.TLS.Certificates}))
	t.Cleanup(func() { noALPN.Close() })
	noALPNURL := "https://" + ln.Addr().String()
	src := session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		{ID: 1, Method: "GET", Path: "/items", Route: "/items", Status: 200, Kind: "read", Proto: "HTTP/2.0"}}}})
	// gRPC calls only: no GET to probe with, and GET / goes over HTTP/2.
	calls := session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		{ID: 1, Method: "POST", Path: "/pkg.S/M", Route: "/pkg.S/M", Status: 200, Kind: "write", Proto: "HTTP/2.0"}}}})
	for _, tc := range []struct {
		url, protocol, want string
		fails               bool
		src                 *session.Source
	}{
		{both.URL, ProtocolRecorded, "answered 200 (recorded 200) over HTTP/2", false, src},
		// LabelNoH2C, or now and then net/http's LabelH2Unusable: the
		// same hint.
		{h1.URL, ProtocolRecorded, ". To fix: give --http1", true, src},
		{h1.URL, ProtocolRecorded, ". To fix: give --http1", true, calls},
		{both.URL, ProtocolRecorded, "reachable: GET " + both.URL + "/ answered 200 over HTTP/2", false, calls},
		{h1.URL, ProtocolHTTP1, "answered 200 (recorded 200)", false, src},
		{tlsH1.URL, ProtocolRecorded, LabelNoH2TLS + ". To fix: give --http1", true, src},
		{tlsH1.URL, ProtocolHTTP1, "answered 200 (recorded 200)", false, src},
		{noALPNURL, ProtocolRecorded, LabelNoH2TLS + ". To fix: give --http1", true, src},
		{noALPNURL, ProtocolHTTP1, "answered 200 (recorded 200)", false, src},
	} {
		tgt, _ := ParseTarget(tc.url)
		tgt.Protocol = tc.protocol
		for _, client := range []string{ClientAuto, ClientNetHTTP} {
			lines, err := Check(context.Background(), tgt, tc.src, ClientOptions{Timeout: 5 * time.Second, Client: client, Insecure: true})
			got := fmt.Sprint(lines)
			if err != nil {
				got = err.Error()
			}
			if (err != nil) != tc.fails || !strings.Contains(got, tc.want) {
				t.Errorf("%s %q, client %s: %s (%v); want %q", tc.url, tc.protocol, client, got, err, tc.want)
			}
		}
	}
}
