package har

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/observed"
)

const fixtures = "../testdata/har"

// readAll returns every exchange of a HAR file and the error that ended it
// (nil at the end of the file).
func readAll(t *testing.T, r io.Reader, opts Options) ([]observed.Exchange, *Reader, error) {
	t.Helper()
	hr, err := NewReader(r, opts)
	if err != nil {
		return nil, nil, err
	}
	var xs []observed.Exchange
	for range 1 << 20 {
		x, err := hr.Next()
		if errors.Is(err, io.EOF) {
			return xs, hr, nil
		}
		if err != nil {
			return xs, hr, err
		}
		xs = append(xs, x)
	}
	t.Fatal("no end of file after 2^20 entries")
	return nil, nil, nil
}

// What the HAR's JSON says of an entry, decoded here with maps, apart
// from the reader's types.
type jsonEntry struct {
	StartedDateTime string
	Timings         map[string]float64
	Request         struct {
		Method, URL, HTTPVersion string
		Headers                  []map[string]any
		BodySize                 int64
		PostData                 map[string]any
	}
	Response struct {
		Status      int
		HTTPVersion string
		Headers     []map[string]any
		Content     map[string]any
	}
}

// Every entry of Chromium's HARs (made by chrome-har and by Playwright:
// see scripts/make-import-fixtures.sh) becomes the exchange its JSON says:
// method, origin-form target, Host, every header and only those, times,
// status, bodies (base64 decoded), HTTP/2 as HTTP/2.0 with Host from
// :authority.
func TestChromiumHARs(t *testing.T) {
	for _, tt := range []struct {
		file     string
		proto    string
		entries  int
		withBody int // responses whose body the HAR holds
	}{
		{"chromium-demoapi.har", "HTTP/1.1", 15, 12},
		{"chromium-nginx-h2.har", "HTTP/2.0", 5, 5},
		{"playwright-demoapi.har", "HTTP/1.1", 14, 12},
	} {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(fixtures, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Log struct{ Entries []jsonEntry } }
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			want := doc.Log.Entries
			xs, hr, err := readAll(t, strings.NewReader(string(raw)), Options{MaxBody: 1 << 20, MaxRespBody: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != tt.entries || len(xs) != len(want) {
				t.Fatalf("%d exchanges from %d entries, want %d; stats %+v", len(xs), len(want), tt.entries, hr.Stats())
			}
			bodies := 0
			for i, x := range xs {
				checkEntry(t, i, &want[i], x, tt.proto)
				if x.Resp.BodySize > 0 {
					bodies++
				}
			}
			if bodies < tt.withBody {
				t.Errorf("%d responses with a body, want at least %d", bodies, tt.withBody)
			}
		})
	}
}

func checkEntry(t *testing.T, i int, e *jsonEntry, x observed.Exchange, proto string) {
	t.Helper()
	req, resp := x.Req, x.Resp
	u, _ := url.Parse(e.Request.URL)
	if req.Method != e.Request.Method || req.Target != u.RequestURI() || req.Proto != proto {
		t.Errorf("entry %d: %s %s %s, want %s %s %s", i, req.Method, req.Target, req.Proto, e.Request.Method, u.RequestURI(), proto)
	}
	if h, _ := req.Header("Host"); h != u.Host {
		t.Errorf("entry %d: Host %q, want %q", i, h, u.Host)
	}
	checkHeaders(t, i, "request", e.Request.Headers, req.Headers)
	started, _ := time.Parse(time.RFC3339Nano, e.StartedDateTime)
	sent := started
	for _, k := range []string{"blocked", "dns", "connect"} {
		if v := e.Timings[k]; v > 0 {
			sent = sent.Add(time.Duration(v * 1e6))
		}
	}
	if req.Start != sent.UnixNano() {
		t.Errorf("entry %d: request at %v, want %v", i, time.Unix(0, req.Start).UTC(), sent)
	}
	wantWait := time.Duration(e.Timings["send"]*1e6) + time.Duration(e.Timings["wait"]*1e6)
	if d := time.Duration(resp.Start - req.Start); d < wantWait-time.Microsecond || d > wantWait+time.Microsecond {
		t.Errorf("entry %d: answer %v after the request, want %v", i, d, wantWait)
	}
	if req.BodySize != e.Request.BodySize {
		t.Errorf("entry %d: request body %d bytes, want %d", i, req.BodySize, e.Request.BodySize)
	}
	if text, ok := e.Request.PostData["text"].(string); ok && string(req.Body) != text {
		t.Errorf("entry %d: request body %q, want %q", i, req.Body, text)
	}
	if resp.Status != e.Response.Status {
		t.Errorf("entry %d: status %d, want %d", i, resp.Status, e.Response.Status)
	}
	checkHeaders(t, i, "response", e.Response.Headers, resp.Headers)
	text, _ := e.Response.Content["text"].(string)
	body := []byte(text)
	if e.Response.Content["encoding"] == "base64" {
		body, _ = base64.StdEncoding.DecodeString(text)
	}
	if resp.BodySize != int64(len(body)) {
		t.Errorf("entry %d: response body %d bytes, want %d", i, resp.BodySize, len(body))
	}
	if len(resp.Body) > 0 && string(resp.Body) != string(body) {
		t.Errorf("entry %d: response body differs from the HAR's", i)
	}
}

// checkHeaders: every header line of the HAR but pseudo-headers, exact
// repeats and (with a decoded body) Content-Encoding is in got, in the
// HAR's order, and nothing else but a Host taken from :authority.
func checkHeaders(t *testing.T, i int, what string, har []map[string]any, got []observed.Header) {
	t.Helper()
	var want []observed.Header
	seen := map[observed.Header]bool{}
	for _, h := range har {
		n, v := h["name"].(string), h["value"].(string)
		k := observed.Header{Name: strings.ToLower(n), Value: v}
		if strings.HasPrefix(n, ":") || seen[k] || (what == "response" && strings.EqualFold(n, "content-encoding")) {
			continue
		}
		seen[k] = true
		want = append(want, observed.Header{Name: n, Value: v})
	}
	if len(got) > 0 && got[0].Name == "Host" && (len(want) == 0 || !strings.EqualFold(want[0].Name, "Host")) {
		if _, ok := observed.HeaderValue(want, "Host"); !ok {
			got = got[1:] // added from :authority
		}
	}
	if len(got) != len(want) {
		t.Errorf("entry %d: %d %s headers, want %d:\n%v\n%v", i, len(got), what, len(want), got, want)
		return
	}
	for j := range got {
		if got[j] != want[j] {
			t.Errorf("entry %d: %s header %d is %v, want %v", i, what, j, got[j], want[j])
		}
	}
}

// Entries written by hand for what Chromium on loopback does not make:
// each case is a HAR with one entry.
func TestEntries(t *testing.T) {
	const start = `"startedDateTime": "2026-01-02T03:04:05.5+01:00", "time": 12, `
	tests := []struct {
		name  string
		entry string
		skip  string // the reason it is skipped
		check func(t *testing.T, x observed.Exchange)
	}{
		{"h3 with pseudo-headers", start + `"request": {"method": "GET", "url": "https://api.example/a/b?c=d#frag", "httpVersion": "h3",
			"headers": [{"name": ":method", "value": "GET"}, {"name": ":authority", "value": "api.example:8443"}, {"name": "accept", "value": "*/*"}]},
			"response": {"status": 200, "httpVersion": "h3", "headers": [{"name": ":status", "value": "200"}], "content": {"size": 3, "text": "abc"}}`, "",
			func(t *testing.T, x observed.Exchange) {
				want := []observed.Header{{Name: "Host", Value: "api.example:8443"}, {Name: "accept", Value: "*/*"}}
				if x.Req.Target != "/a/b?c=d" || x.Req.Proto != "HTTP/3.0" || !equalHeaders(x.Req.Headers, want) || len(x.Resp.Headers) != 0 {
					t.Errorf("%+v", x.Req)
				}
				if x.Req.Start != time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC).UnixNano() || x.Resp.Start-x.Req.Start != 12e6 {
					t.Errorf("times %d %d", x.Req.Start, x.Resp.Start)
				}
			}},
		{"h2 cookie lines joined", start + `"request": {"method": "GET", "url": "https://h/", "httpVersion": "h2",
			"headers": [{"name": "cookie", "value": "a=1"}, {"name": "accept", "value": "*/*"}, {"name": "cookie", "value": "sid=2"}]}, "response": {"status": 200}`, "",
			func(t *testing.T, x observed.Exchange) {
				want := []observed.Header{{Name: "Host", Value: "h"}, {Name: "cookie", Value: "a=1; sid=2"}, {Name: "accept", Value: "*/*"}}
				if !equalHeaders(x.Req.Headers, want) {
					t.Errorf("%v", x.Req.Headers)
				}
			}},
		{"base64 bodies, Content-Encoding gone", start + `"request": {"method": "POST", "url": "http://h/up", "httpVersion": "HTTP/1.1", "headers": [],
			"postData": {"mimeType": "application/octet-stream", "text": "AAEC", "encoding": "base64"}, "bodySize": 3},
			"response": {"status": 201, "httpVersion": "HTTP/1.1", "headers": [{"name": "Content-Encoding", "value": "gzip"}],
			"content": {"size": 2, "text": "e30=", "encoding": "base64"}}, "timings": {"blocked": 1, "dns": -1, "connect": 2, "send": 0.5, "wait": 3, "receive": 1}`, "",
			func(t *testing.T, x observed.Exchange) {
				if string(x.Req.Body) != "\x00\x01\x02" || x.Req.BodySize != 3 || string(x.Resp.Body) != "{}" || len(x.Resp.Headers) != 0 {
					t.Errorf("%q %q %v", x.Req.Body, x.Resp.Body, x.Resp.Headers)
				}
				if h, _ := x.Req.Header("Host"); h != "h" || x.Req.End-x.Req.Start != 5e5 || x.Resp.End-x.Resp.Start != 1e6 {
					t.Errorf("Host %q, times %+v %+v", h, x.Req, x.Resp)
				}
			}},
		{"form fields only (chrome-har)", start + `"request": {"method": "POST", "url": "http://h/login", "headers": [],
			"postData": {"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "u", "value": "a b"}, {"name": "n", "value": 2}]}, "bodySize": 9},
			"response": {"status": 303}`, "",
			func(t *testing.T, x observed.Exchange) {
				if string(x.Req.Body) != "u=a+b&n=2" || x.Req.Proto != "HTTP/1.1" {
					t.Errorf("%q %s", x.Req.Body, x.Req.Proto)
				}
			}},
		{"JSON fields only: size, no bytes", start + `"request": {"method": "POST", "url": "http://h/j", "headers": [],
			"postData": {"mimeType": "application/json", "params": [{"name": "a", "value": true}]}, "bodySize": 10}, "response": {"status": 200}`, "",
			func(t *testing.T, x observed.Exchange) {
				if len(x.Req.Body) != 0 || x.Req.BodySize != 10 || !x.Req.BodyTruncated() {
					t.Errorf("%q %d", x.Req.Body, x.Req.BodySize)
				}
			}},
		{"no answer", start + `"request": {"method": "GET", "url": "http://h/"}, "response": {"status": 0}, "serverIPAddress": "[::1]", "connection": "7"`, "",
			func(t *testing.T, x observed.Exchange) {
				if x.Resp != nil || x.Conn.Server != "[::1]:80" || x.Req.Target != "/" {
					t.Errorf("%+v %+v", x.Resp, x.Conn)
				}
			}},
		{"websocket", start + `"request": {"method": "GET", "url": "wss://h/s"}, "response": {"status": 101}`, "websocket", nil},
		{"websocket (Chromium)", start + `"request": {"method": "GET", "url": "https://h/s"}, "response": {"status": 101}, "_webSocketMessages": []`, "websocket", nil},
		{"from the memory cache", start + `"request": {"method": "GET", "url": "http://h/a.js"}, "response": {"status": 200}, "_fromCache": "memory"`, "served from the browser's cache (never sent)", nil},
		{"from the disk cache (chrome-har)", start + `"request": {"method": "GET", "url": "http://h/a.js"}, "response": {"status": 200, "fromDiskCache": true}`, "served from the browser's cache (never sent)", nil},
		{"bad status", start + `"request": {"method": "GET", "url": "http://h/"}, "response": {"status": 1e300}`, "bad status", nil},
		{"data: URL", start + `"request": {"method": "GET", "url": "data:image/png;base64,AAAA"}, "response": {"status": 200}`, "data: URL", nil},
		{"no URL", start + `"request": {"method": "GET"}, "response": {"status": 200}`, "no URL", nil},
		{"blob: URL", start + `"request": {"method": "GET", "url": "blob:http://h/1"}, "response": {"status": 200}`, "not an http(s) URL", nil},
		{"no method", start + `"request": {"url": "http://h/"}, "response": {"status": 200}`, "no method", nil},
		{"no time", `"request": {"method": "GET", "url": "http://h/"}, "response": {"status": 200}`, "no startedDateTime", nil},
		{"not an object", `}, 3, {"request": 1`, "malformed entry (not an object)", nil},
		{"a status in quotes", start + `"request": {"method": "GET", "url": "http://h/"}, "response": {"status": "200"}`, "malformed entry (response.status is not a float64)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"log": {"version": "1.2", "creator": {"name": "hand"}, "pages": [], "entries": [{` + tt.entry + `}]}}`
			xs, hr, err := readAll(t, strings.NewReader(doc), Options{MaxBody: 100, MaxRespBody: 100})
			if err != nil {
				t.Fatal(err)
			}
			st := hr.Stats()
			if tt.skip != "" {
				if len(xs) != 0 || st.Skipped[tt.skip] != 1 {
					t.Errorf("skipped %v, want one %q", st.Skipped, tt.skip)
				}
				return
			}
			if len(xs) != 1 {
				t.Fatalf("%d exchanges, skipped %v", len(xs), st.Skipped)
			}
			tt.check(t, xs[0])
		})
	}
}

func equalHeaders(a, b []observed.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Files that are not HAR say so; a file damaged after some entries gives
// those entries, then the damage.
func TestBadFiles(t *testing.T) {
	for _, doc := range []string{"", "GIF89a", "[1,2]", `{"log": 3}`, `{"log": {"entries": {}}}`, `{"other": {}}`, `{"log": {"pages": []}}`} {
		if _, err := NewReader(strings.NewReader(doc), Options{}); !errors.Is(err, ErrNotHAR) {
			t.Errorf("%q: %v, want ErrNotHAR", doc, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(fixtures, "chromium-demoapi.har"))
	if err != nil {
		t.Fatal(err)
	}
	cut := raw[:len(raw)/2]
	xs, _, err := readAll(t, strings.NewReader(string(cut)), Options{})
	if err == nil || len(xs) < 3 {
		t.Errorf("half a HAR: %d exchanges, error %v; want some and an error", len(xs), err)
	}
}

func FuzzHAR(f *testing.F) {
	for _, name := range []string{"chromium-demoapi.har", "chromium-nginx-h2.har", "playwright-demoapi.har"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"log": {"entries": [{"startedDateTime": "2026-01-02T03:04:05Z", "request": {"method": "GET", "url": "http://h/?a#b",
		"headers": [{"name": ":authority", "value": "x"}], "postData": {"text": "AA==", "encoding": "base64"}}, "response": {"status": 200,
		"content": {"text": "e30=", "encoding": "base64"}}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(strings.NewReader(string(b)), Options{MaxBody: 16, MaxRespBody: 16})
		if err != nil {
			return
		}
		for range 10000 {
			x, err := r.Next()
			if err != nil {
				return
			}
			if x.Req == nil || x.Conn == nil || x.Req.Target == "" || x.Req.Target[0] != '/' || len(x.Req.Body) > 16 || int64(len(x.Req.Body)) > x.Req.BodySize {
				t.Fatalf("bad exchange %+v", x.Req)
			}
			if x.Resp != nil && (len(x.Resp.Body) > 16 || int64(len(x.Resp.Body)) > x.Resp.BodySize) {
				t.Fatalf("bad response %+v", x.Resp)
			}
		}
	})
}
