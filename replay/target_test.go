package replay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/trace"
)

func h(n, v string) trace.Header { return trace.Header{Name: n, Value: v} }

func TestNewRequest(t *testing.T) {
	tgt, err := ParseTarget("http://127.0.0.1:9000/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	rec := &session.Request{ID: 7, Method: "POST", Path: "/api/v1/tasks?x=1&y=%20z", Body: []byte(`{"a":1}`),
		Headers: []trace.Header{h("Host", "prod.example.com"), h("X-API-Key", "redacted:abc"), h("Authorization", "redacted:def"),
			h("Cookie", "redacted:0123"), h("Connection", "keep-alive"), h("Content-Length", "99"), h("Expect", "100-continue"),
			h("Accept", "application/json"), h("X-Dup", "1"), h("X-Dup", "2")}}

	req, err := tgt.NewRequest(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.Scheme + "://" + req.URL.Host + req.URL.RequestURI(); got != "http://127.0.0.1:9000/prefix/api/v1/tasks?x=1&y=%20z" {
		t.Errorf("URL %s", got)
	}
	if req.Host != "" && req.Host != "127.0.0.1:9000" || req.ContentLength != 7 {
		t.Errorf("host %q, content length %d", req.Host, req.ContentLength)
	}
	for _, gone := range []string{"Connection", "Content-Length", "Expect", "Cookie", "Host"} {
		if req.Header.Get(gone) != "" {
			t.Errorf("%s sent: %q", gone, req.Header.Get(gone))
		}
	}
	if req.Header.Get("X-API-Key") != "redacted:abc" || len(req.Header["X-Dup"]) != 2 || req.Header.Get("Accept") != "application/json" {
		t.Errorf("headers %v", req.Header)
	}

	// API_KEY replaces every recorded credential; --header overrides.
	tgt.APIKey = "real-key"
	tgt.Headers = http.Header{"Accept": {"text/plain"}, "X-Run": {"r1"}}
	req, _ = tgt.NewRequest(context.Background(), rec)
	if req.Header.Get("X-API-Key") != "real-key" || req.Header.Get("Authorization") != "Bearer real-key" ||
		req.Header.Get("Accept") != "text/plain" || req.Header.Get("X-Run") != "r1" {
		t.Errorf("with API_KEY and --header: %v", req.Header)
	}
	if len(req.Header.Values("X-API-Key")) != 1 {
		t.Errorf("X-API-Key sent %d times", len(req.Header.Values("X-API-Key")))
	}
}

func TestParseTarget(t *testing.T) {
	for _, bad := range []string{"", "localhost:8000", "ftp://x", "http://"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Requests go out in origin form (GET /path?q HTTP/1.1), as recorded
// clients sent them, with the path as recorded.
func TestRequestLineIsOriginForm(t *testing.T) {
	lines := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines <- r.RequestURI
	}))
	defer srv.Close()
	tgt, _ := ParseTarget(srv.URL)
	p, err := tgt.Prepare(&session.Request{Method: "GET", Path: "/api/v1/tasks/%7Bid%7D?limit=10&q=a%20b"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(p.Request(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-lines; got != "/api/v1/tasks/%7Bid%7D?limit=10&q=a%20b" {
		t.Errorf("request target %q", got)
	}
	if want := srv.URL + "/api/v1/tasks/%7Bid%7D?limit=10&q=a%20b"; p.URLString() != want {
		t.Errorf("URL %q, want %q", p.URLString(), want)
	}
}

// A session prepared once gives what preparing each request would; a
// session prepared by another target is prepared again.
func TestPreparedSession(t *testing.T) {
	a, _ := ParseTarget("http://127.0.0.1:9000")
	b, _ := ParseTarget("http://127.0.0.1:9001")
	s := &session.Session{Key: "k", Requests: []session.Request{
		{Method: "GET", Path: "/a?x=1", Headers: []trace.Header{h("Accept", "*/*")}},
		{Method: "BAD METHOD", Path: "/b"},
	}}
	s.Ready = a.PrepareSession(s)
	for i := range s.Requests {
		got, gerr := a.prepared(s, i)
		want, werr := a.Prepare(&s.Requests[i])
		if (gerr == nil) != (werr == nil) || (got != nil && (got.URLString() != want.URLString() || got.header.Get("Accept") != want.header.Get("Accept"))) {
			t.Errorf("request %d: %v %v vs %v %v", i, got, gerr, want, werr)
		}
	}
	if p, _ := b.prepared(s, 0); p.URLString() != "http://127.0.0.1:9001/a?x=1" {
		t.Errorf("another target's session: %s", p.URLString())
	}
}

// --header 'Host: x' is the Host the server sees; the connection still
// goes to --host. Recorded Hosts are not sent.
func TestHostHeader(t *testing.T) {
	hosts := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts <- r.Host }))
	defer srv.Close()
	tgt, _ := ParseTarget(srv.URL)
	tgt.Headers = http.Header{"host": {"api.example.com"}} // as a caller might spell it
	rec := &session.Request{Method: "GET", Path: "/a", Headers: []trace.Header{h("Host", "recorded.example.com")}}
	p, err := tgt.Prepare(rec)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClient(ClientOptions{})
	resp, err := c.Do(p.Request(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-hosts; got != "api.example.com" {
		t.Errorf("server saw Host %q", got)
	}
	if p.URLString() != srv.URL+"/a" || len(p.header.Values("Host")) != 0 {
		t.Errorf("URL %s, headers %v", p.URLString(), p.header)
	}
	if tgt.TLSServerName() != "" {
		t.Errorf("an http target has TLS name %q", tgt.TLSServerName())
	}
}

// Against a TLS target, the --header Host is the name the certificate is
// checked against: the test certificate names example.com, not the
// address dialled.
func TestHostHeaderTLS(t *testing.T) {
	seen := make(chan [2]string, 1)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- [2]string{r.Host, r.TLS.ServerName} }))
	tgt, _ := ParseTarget(srv.URL)
	tgt.Headers.Set("Host", "example.com:443")
	if got := tgt.TLSServerName(); got != "example.com" {
		t.Fatalf("TLS name %q", got)
	}
	c, err := NewClient(ClientOptions{CACert: ca, ServerName: tgt.TLSServerName()})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tgt.Prepare(&session.Request{Method: "GET", Path: "/"})
	resp, err := c.Do(p.Request(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if got := <-seen; got != [2]string{"example.com:443", "example.com"} {
		t.Errorf("Host and SNI %q", got)
	}
}
