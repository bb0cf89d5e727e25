package correlate

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/trace"
)

// answer is a live response to the request for u.
func answer(status int, hs []string, body string) *http.Response {
	rec := httptest.NewRecorder()
	for _, h := range headers(hs) {
		rec.Header().Add(h.Name, h.Value)
	}
	rec.WriteHeader(status)
	io.WriteString(rec, body)
	return rec.Result()
}

func TestApply(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8000/api/v1/tasks")
	v := NewValues()
	// Row 10 logged in, row 11 created a task: their live answers differ
	// from the recording's.
	v.Take(10, []string{"body/access_token"}, u, answer(200, []string{"Content-Type: application/json"}, `{"access_token":"live-token-1"}`), []byte(`{"access_token":"live-token-1"}`))
	v.Take(11, []string{"location/3", "header/ETag", "body/id"}, u,
		answer(201, []string{"Location: /api/v1/tasks/777", `ETag: "t-777-v1"`, "Set-Cookie: sid=live-sid; Path=/"}, `{"id":777}`), []byte(`{"id":777}`))
	tests := []struct {
		name           string
		target         string
		recorded       []string
		body           string
		links          []trace.Link
		wantTarget     string
		wantHeader     map[string]string
		wantBody       string
		carried, miss  int
		wantBodyJSONOK bool
	}{{
		name:   "path, token after its scheme, If-Match, cookie from the jar",
		target: "/api/v1/tasks/1042?x=1", recorded: []string{"Authorization: Bearer redacted:abc", `If-Match: "t-1042-v1"`},
		links: []trace.Link{{At: "path/3", Back: 1, Src: "location/3"}, {At: "header/Authorization", Back: 2, Src: "body/access_token"},
			{At: "header/If-Match", Back: 1, Src: "header/ETag"}},
		wantTarget: "/api/v1/tasks/777?x=1",
		wantHeader: map[string]string{"Authorization": "Bearer live-token-1", "If-Match": `"t-777-v1"`, "Cookie": "sid=live-sid"},
		carried:    3,
	}, {
		name:   "JSON body: a number stays a number, a string a string, other bytes kept",
		target: "/api/v1/comments", recorded: []string{"Content-Type: application/json"},
		body:       `{ "task_id": 1042, "ref": "1042", "text": "see \u00e9 1042" }`,
		links:      []trace.Link{{At: "body/task_id", Back: 1, Src: "body/id"}, {At: "body/ref", Back: 1, Src: "body/id"}},
		wantTarget: "/api/v1/comments", wantBody: `{ "task_id": 777, "ref": "777", "text": "see \u00e9 1042" }`, carried: 2,
	}, {
		name:   "form and query",
		target: "/web/p?task=1042&task=9", recorded: []string{"Content-Type: application/x-www-form-urlencoded"},
		body:       "a=b&task=1042&task=1042",
		links:      []trace.Link{{At: "query/task", Back: 1, Src: "body/id"}, {At: "form/task", Back: 1, Src: "body/id"}},
		wantTarget: "/web/p?task=777&task=9", wantBody: "a=b&task=777&task=1042", carried: 2,
	}, {
		name:   "a source that gave nothing: the recorded value goes, counted",
		target: "/api/v1/tasks/5", links: []trace.Link{{At: "path/3", Back: 3, Src: "body/id"}, {At: "path/3", Back: 1, Src: "body/missing"}},
		wantTarget: "/api/v1/tasks/5", miss: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, x := range headers(tt.recorded) {
				h.Add(x.Name, x.Value)
			}
			r := &Request{Target: tt.target, Header: h, Recorded: headers(tt.recorded), Body: []byte(tt.body)}
			carried, missed := v.Apply(12, tt.links, r, u)
			if carried != tt.carried || missed != tt.miss {
				t.Errorf("carried %d, missed %d; want %d, %d", carried, missed, tt.carried, tt.miss)
			}
			if r.Target != tt.wantTarget {
				t.Errorf("target %q, want %q", r.Target, tt.wantTarget)
			}
			for name, want := range tt.wantHeader {
				if got := r.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if tt.body != "" && string(r.Body) != tt.wantBody {
				t.Errorf("body %s, want %s", r.Body, tt.wantBody)
			}
		})
	}
}

func TestApplyGzipBody(t *testing.T) {
	v := NewValues()
	v.Take(0, []string{"body/id"}, nil, answer(201, nil, `{"id":"abc-123"}`), []byte(`{"id":"abc-123"}`))
	rec := []trace.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: "gzip"}}
	r := &Request{Target: "/x", Header: http.Header{}, Recorded: rec, Body: []byte(gzipped(`{"parent":"old-id-9"}`))}
	if c, m := v.Apply(1, []trace.Link{{At: "body/parent", Back: 1, Src: "body/id"}}, r, nil); c != 1 || m != 0 {
		t.Fatalf("carried %d, missed %d", c, m)
	}
	plain, err := Decode(rec, r.Body)
	if err != nil || string(plain) != `{"parent":"abc-123"}` {
		t.Errorf("body %q (%v): want the new value, gzip again", plain, err)
	}
}

func TestFreshValues(t *testing.T) {
	rec := []trace.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Idempotency-Key", Value: "K-12ab"}}
	body := `{"uuid":"0F8FAD5B-D9CB-469F-A165-70867728950E"}`
	links := []trace.Link{{At: "body/uuid", Src: "fresh:body/uuid"}, {At: "header/Idempotency-Key", Src: "fresh:header/Idempotency-Key"}}
	send := func(v *Values, id int64, ls []trace.Link) (uuid, key string) {
		h := http.Header{"Idempotency-Key": {"K-12ab"}}
		r := &Request{Target: "/d", Header: h, Recorded: rec, Body: []byte(body)}
		if c, m := v.Apply(id, ls, r, nil); c != len(ls) || m != 0 {
			t.Fatalf("carried %d, missed %d", c, m)
		}
		var doc struct{ UUID string }
		json.Unmarshal(r.Body, &doc)
		return doc.UUID, h.Get("Idempotency-Key")
	}
	a := NewValues()
	u1, k1 := send(a, 5, links)
	// Sent again two rows later: the same new values.
	u2, k2 := send(a, 7, []trace.Link{{At: "body/uuid", Back: 2, Src: "fresh:body/uuid"}, {At: "header/Idempotency-Key", Back: 2, Src: "fresh:header/Idempotency-Key"}})
	u3, k3 := send(NewValues(), 5, links)
	if u1 != u2 || k1 != k2 {
		t.Errorf("one session: %s %s then %s %s, want the same", u1, k1, u2, k2)
	}
	if u1 == u3 || k1 == k3 || strings.EqualFold(u1, "0F8FAD5B-D9CB-469F-A165-70867728950E") || k1 == "K-12ab" {
		t.Errorf("another session got %s %s (first %s %s): want new values each", u3, k3, u1, k1)
	}
	if !uuidLike.MatchString(u1) || strings.ToUpper(u1) != u1 || u1[14] != '4' || len(k1) != len("K-12ab") || k1[1] != '-' {
		t.Errorf("fresh values %q %q: want an upper-case v4 UUID and a key of the recorded shape", u1, k1)
	}
}

func TestTakeOnlyAsked(t *testing.T) {
	v := NewValues()
	v.Take(1, []string{"body/items/1/id", "header/X-Next", "cookie/sid"}, &url.URL{Scheme: "http", Host: "h", Path: "/"},
		answer(200, []string{"X-Next: n-2", "Set-Cookie: sid=s1"}, `{"items":[{"id":1},{"id":2}]}`), []byte(`{"items":[{"id":1},{"id":2}]}`))
	for src, want := range map[string]string{"body/items/1/id": "2", "header/X-Next": "n-2", "cookie/sid": "s1"} {
		if got := v.got[key{1, src}]; got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
}

func FuzzJSONWalk(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b~/c":"\u00e9\ud83d\ude00"}],"id":-1.5e3}`, `[]`, `"s"`, `{"a":{"id":1}}`, `[{`, `{"a":nul}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var ptrs []string
		walkJSON(doc, func(w *jsonWalker, l leaf) bool {
			if l.start < 0 || l.end > len(doc) || l.start >= l.end {
				t.Fatalf("leaf %d..%d out of a %d-byte document", l.start, l.end, len(doc))
			}
			ptrs = append(ptrs, w.pointer())
			return true
		})
		if !json.Valid(doc) {
			return
		}
		vals := map[string]string{}
		for _, p := range ptrs {
			if _, ok := leavesAt(doc, []string{"body" + p})[p]; !ok && leafIsText(doc, p) {
				t.Fatalf("pointer %q of a leaf finds nothing", p)
			}
			vals[p] = "1"
		}
		if out := setJSON(doc, vals); !json.Valid(out) {
			t.Fatalf("replacing leaves of %q gave invalid JSON %q", doc, out)
		}
	})
}

func FuzzPlaces(f *testing.F) {
	f.Add("/a/1/b?x=1&y=%zz", "Content-Type: application/x-www-form-urlencoded\nSet-Cookie: sid=1\nLocation: /a/2", []byte("a=1&b=%"))
	f.Add("http://h/x/0f8fad5b-d9cb-469f-a165-70867728950e", "Content-Encoding: gzip\nContent-Type: application/json", []byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, target, hs string, body []byte) {
		h := headers(strings.Split(hs, "\n"))
		f := newTestFinder()
		for i := range 2 {
			x := Exchange{ID: int64(i), Session: "s", Method: "POST", Target: target, Route: trace.Route(target), ReqHeaders: h, ReqBody: body, Status: 200, RespHeaders: h, RespBody: body}
			_, links := f.Observe(&x)
			v := NewValues()
			r := &Request{Target: target, Header: http.Header{}, Recorded: h, Body: body}
			v.Apply(int64(i), links, r, nil)
		}
	})
}

// leafIsText says whether the leaf at ptr holds text leafText reads (a
// string with a bad escape does not).
func leafIsText(doc []byte, ptr string) bool {
	ok := true
	walkJSON(doc, func(w *jsonWalker, l leaf) bool {
		if w.pointer() == ptr {
			_, ok = leafText(doc, l)
			return false
		}
		return true
	})
	return ok
}
