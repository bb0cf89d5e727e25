package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
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
