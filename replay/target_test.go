package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
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
	s.Ready, _ = a.PrepareSession(s)
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

// --host's user and password go as Basic auth, except where API_KEY puts
// back a recorded Authorization or --header sets one; they are never in
// the URL sent or shown.
func TestHostUserinfo(t *testing.T) {
	type seen struct{ auth, uri string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.RequestURI}
	}))
	defer srv.Close()
	withAuth := &session.Request{Method: "GET", Path: "/a", Headers: []trace.Header{h("Authorization", "redacted:1234")}}
	withKey := &session.Request{Method: "GET", Path: "/b", Headers: []trace.Header{h("X-API-Key", "redacted:5678")}}
	const basic = "Basic dTpwQHNz" // u:p@ss
	tests := []struct {
		name   string
		apiKey string
		header string
		rec    *session.Request
		want   string
	}{
		{"userinfo over a redacted Authorization", "", "", withAuth, basic},
		{"userinfo on a request without one", "", "", withKey, basic},
		{"API_KEY puts back a recorded Authorization", "k1", "", withAuth, "Bearer k1"},
		{"userinfo beside API_KEY's X-API-Key", "k1", "", withKey, basic},
		{"--header over both", "k1", "Token t", withAuth, "Token t"},
	}
	u := strings.Replace(srv.URL, "http://", "http://u:p%40ss@", 1)
	c, _ := NewClient(ClientOptions{})
	for _, tt := range tests {
		tgt, err := ParseTarget(u)
		if err != nil {
			t.Fatal(err)
		}
		tgt.APIKey = tt.apiKey
		if tt.header != "" {
			tgt.Headers.Set("Authorization", tt.header)
		}
		p, err := tgt.Prepare(tt.rec)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(p.Request(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if s := <-got; s.auth != tt.want || s.uri != tt.rec.Path {
			t.Errorf("%s: Authorization %q to %s, want %q", tt.name, s.auth, s.uri, tt.want)
		}
		for _, shown := range []string{p.URLString(), tgt.String(), tgt.Base.String()} {
			if strings.Contains(shown, "p%40ss") || strings.Contains(shown, "p@ss") {
				t.Errorf("%s: password shown in %q", tt.name, shown)
			}
		}
	}
}

func TestRedactHost(t *testing.T) {
	for host, want := range map[string]string{
		"http://localhost:8000":           "http://localhost:8000",
		"https://u:secret@h:8443/prefix":  "https://u:xxxxx@h:8443/prefix",
		"https://u@h":                     "https://u@h",
		"http://u:se@cret@h:8000":         "http://u:xxxxx@h:8000",
		"http://u:se/cr:et@h:8000":        "http://xxxxx@h:8000", // not a URL: the password has a "/"
		"u:secret@h:8000":                 "xxxxx@h:8000",        // no scheme
		"http://u:p@h:8000/users/a@b.com": "http://u:xxxxx@h:8000/users/a@b.com",
	} {
		if got := RedactHost(host); got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
		tgt, err := ParseTarget(host)
		if err == nil && tgt.String() != want {
			t.Errorf("%s: target shown as %s, want %s", host, tgt.String(), want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") || strings.Contains(RedactHost(host), "secret") {
			t.Errorf("%s: %v", host, err)
		}
	}
}

// PrepareSession says about what its prepared requests hold, so that
// session can count it against its bounds: not less than the heap grows
// by, and not twice as much.
func TestPrepareSessionCountsItsBytes(t *testing.T) {
	tgt, _ := ParseTarget("http://127.0.0.1:9000")
	tgt.APIKey = "key"
	reqs := make([]session.Request, 20000)
	for i := range reqs {
		reqs[i] = session.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/tasks/%d?page=2", i), Headers: []trace.Header{
			h("Host", "api.example.com"), h("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"), h("Accept", "application/json"),
			h("Authorization", "redacted:0123456789abcdef"), h("Accept-Encoding", "gzip"), h("content-type", "application/json")}}
	}
	s := &session.Session{Key: "k", Requests: reqs}
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	ready, n := tgt.PrepareSession(s)
	grew := heap() - before
	runtime.KeepAlive(ready)
	t.Logf("%d requests prepared: %d bytes counted, the heap grew by %d (%d and %d a request)", len(reqs), n, grew, n/int64(len(reqs)), grew/int64(len(reqs)))
	if n < grew || n > 2*grew {
		t.Errorf("PrepareSession counts %d bytes, the heap grew by %d", n, grew)
	}
}
