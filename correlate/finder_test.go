package correlate

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
)

// ex is one exchange of a test flow: request line, headers as "Name:
// value" lines, body; status, response headers, body.
type ex struct {
	method, target string
	reqHeaders     []string
	reqBody        string
	status         int
	respHeaders    []string
	respBody       string
	cred           string // the credential the session key took, if any
	session        string
}

func headers(lines []string) []trace.Header {
	var hs []trace.Header
	for _, l := range lines {
		n, v, _ := strings.Cut(l, ": ")
		hs = append(hs, trace.Header{Name: n, Value: v})
	}
	return hs
}

func observe(f *Finder, flow []ex) (sessions []string, links [][]trace.Link) {
	for i, e := range flow {
		session := e.session
		if session == "" {
			session = "ip:127.0.0.1"
		}
		x := Exchange{ID: int64(i), Session: session, Credential: e.cred, Method: e.method, Target: e.target, Route: trace.Route(e.target),
			ReqHeaders: headers(e.reqHeaders), ReqBody: []byte(e.reqBody), Status: e.status,
			RespHeaders: headers(e.respHeaders), RespBody: []byte(e.respBody)}
		s, l := f.Observe(&x)
		sessions, links = append(sessions, s), append(links, l)
	}
	return sessions, links
}

func newTestFinder() *Finder {
	return NewFinder(Options{Hash: func(v string) string { return fmt.Sprintf("h%d", len(v)) },
		SessionCookie: func(n string) bool { return n == "sid" }})
}

// linkText is "AT<-BACK:SRC", what the tables below expect.
func linkText(l trace.Link) string { return fmt.Sprintf("%s<-%d:%s", l.At, l.Back, l.Src) }

func texts(ls []trace.Link) []string {
	var out []string
	for _, l := range ls {
		out = append(out, linkText(l))
	}
	return out
}

const token = "tok_8f3a9c2e7b1d4f60a5c3"

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestFinderLinks(t *testing.T) {
	json := "Content-Type: application/json"
	tests := []struct {
		name string
		flow []ex
		// want are the links of each exchange, in place order.
		want [][]string
	}{{
		name: "login, then the token, a create's Location and ETag, If-Match",
		flow: []ex{
			{method: "POST", target: "/api/v1/login", reqHeaders: []string{json}, reqBody: `{"username":"bob","password":"pw"}`,
				status: 200, respHeaders: []string{json}, respBody: `{"access_token":"` + token + `","expires_in":3600}`},
			{method: "POST", target: "/api/v1/tasks", reqHeaders: []string{"Authorization: Bearer " + token, json},
				reqBody: `{"title":"x","priority":3}`, cred: token, session: "authorization:h1",
				status: 201, respHeaders: []string{"Location: /api/v1/tasks/1042", `ETag: "tasks-1042-v1"`, json}, respBody: `{"id":1042,"priority":3}`},
			{method: "GET", target: "/api/v1/tasks/1042", reqHeaders: []string{"Authorization: Bearer " + token}, cred: token, session: "authorization:h1",
				status: 200, respHeaders: []string{`ETag: "tasks-1042-v1"`, json}, respBody: `{"id":1042,"priority":3}`},
			{method: "PUT", target: "/api/v1/tasks/1042", reqHeaders: []string{"Authorization: Bearer " + token, `If-Match: "tasks-1042-v1"`, json},
				reqBody: `{"title":"y","priority":3}`, cred: token, session: "authorization:h1", status: 200},
		},
		want: [][]string{
			nil,
			{"header/Authorization<-1:body/access_token"},
			{"path/3<-1:location/3", "header/Authorization<-2:body/access_token"},
			{"path/3<-1:body/id", "header/Authorization<-3:body/access_token", `header/If-Match<-1:header/ETag`},
		},
	}, {
		name: "a list's ids feed gets; a project's id feeds project_id; gzip answers",
		flow: []ex{
			{method: "GET", target: "/api/v1/projects", status: 200, respHeaders: []string{json, "Content-Encoding: gzip"},
				respBody: gzipped(`{"items":[{"id":7,"name":"a"},{"id":8,"name":"b"}]}`)},
			{method: "GET", target: "/api/v1/projects/8", status: 200},
			{method: "POST", target: "/api/v1/tasks", reqHeaders: []string{json}, reqBody: `{"project_id":7,"title":"t"}`, status: 201},
			{method: "GET", target: "/api/v1/tasks?project=8&limit=8", status: 200},
		},
		want: [][]string{nil, {"path/3<-1:body/items/1/id"}, {"body/project_id<-2:body/items/0/id"}, nil},
	}, {
		name: "a task id equal to a project id feeds the task path, not the project's",
		flow: []ex{
			{method: "GET", target: "/api/v1/tasks", status: 200, respHeaders: []string{json}, respBody: `{"items":[{"id":55}]}`},
			{method: "GET", target: "/api/v1/projects", status: 200, respHeaders: []string{json}, respBody: `{"items":[{"id":55}]}`},
			{method: "GET", target: "/api/v1/tasks/55", status: 200},
		},
		want: [][]string{nil, nil, {"path/3<-2:body/items/0/id"}},
	}, {
		name: "no false links: short values, words, dates, versions, a failed answer",
		flow: []ex{
			{method: "GET", target: "/api/v1/tasks?limit=20", status: 200, respHeaders: []string{json},
				respBody: `{"items":[{"id":3,"priority":2,"status":"open","done":true,"due":"2026-12-01","count":20}],"version":"v1"}`},
			{method: "POST", target: "/api/v1/tasks", reqHeaders: []string{json},
				reqBody: `{"priority":3,"status":"open","done":true,"due":"2026-12-01","page":2}`, status: 201},
			{method: "GET", target: "/api/v1/pages/2?since=2026-12-01&status=open", status: 200},
			{method: "GET", target: "/api/v1/items", status: 500, respHeaders: []string{json}, respBody: `{"id":99}`},
			{method: "GET", target: "/api/v1/items/99", status: 404},
		},
		want: [][]string{nil, nil, nil, nil, nil},
	}, {
		name: "a form and a query take named ids; a cookie login starts a session",
		flow: []ex{
			{method: "POST", target: "/web/login", reqHeaders: []string{"Content-Type: application/x-www-form-urlencoded"}, reqBody: "username=c&password=p",
				status: 303, respHeaders: []string{"Location: /web/dashboard", "Set-Cookie: sid=0123456789abcdef0123; Path=/", json}, respBody: `{"csrf_token":"c5rf-9a8b7c6d5e4f"}`},
			{method: "POST", target: "/web/prefs", reqHeaders: []string{"Content-Type: application/x-www-form-urlencoded", "X-CSRF-Token: c5rf-9a8b7c6d5e4f", "Cookie: sid=0123456789abcdef0123"},
				reqBody: "theme=dark&csrf_token=c5rf-9a8b7c6d5e4f", status: 200, respHeaders: []string{json}, respBody: `{"user_id":12}`,
				cred: "0123456789abcdef0123", session: "cookie:sid:h"},
			{method: "GET", target: "/web/users?user_id=12", reqHeaders: []string{"Cookie: sid=0123456789abcdef0123"}, status: 200,
				cred: "0123456789abcdef0123", session: "cookie:sid:h"},
		},
		want: [][]string{nil, {"header/X-CSRF-Token<-1:body/csrf_token", "form/csrf_token<-1:body/csrf_token"}, {"query/user_id<-1:body/user_id"}},
	}, {
		name: "made-up values: fresh where first sent, the same group where sent again, a response's echo wins",
		flow: []ex{
			{method: "POST", target: "/api/v1/documents", reqHeaders: []string{json, "Idempotency-Key: k-77f0a1", "X-Request-ID: 5b2f9d3c-1111-4a2b-9c3d-0123456789ab"},
				reqBody: `{"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","title":"d"}`, status: 201},
			{method: "POST", target: "/api/v1/documents", reqHeaders: []string{json, "Idempotency-Key: k-77f0a1"},
				reqBody: `{"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","title":"d"}`, status: 201, respHeaders: []string{json},
				respBody: `{"id":5,"uuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}`},
			{method: "GET", target: "/api/v1/documents/0f8fad5b-d9cb-469f-a165-70867728950e", status: 200},
			{method: "GET", target: "/api/v1/catalog/9c5b94b1-35ad-49bb-b118-8e8fc24abf80", status: 200},
		},
		want: [][]string{
			{"header/Idempotency-Key<-0:fresh:header/Idempotency-Key", "header/X-Request-ID<-0:fresh:header/X-Request-ID", "body/uuid<-0:fresh:body/uuid"},
			{"header/Idempotency-Key<-1:fresh:header/Idempotency-Key", "body/uuid<-1:fresh:body/uuid"},
			{"path/3<-1:body/uuid"},
			nil, // a UUID in a read, seen in no answer: an existing thing, sent as recorded
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, links := observe(newTestFinder(), tt.flow)
			for i := range tt.flow {
				if got := texts(links[i]); !slices.Equal(got, tt.want[i]) {
					t.Errorf("exchange %d %s %s:\n got %q\nwant %q", i, tt.flow[i].method, tt.flow[i].target, got, tt.want[i])
				}
			}
		})
	}
}

func TestFinderSessions(t *testing.T) {
	json := "Content-Type: application/json"
	login := func(tok string) ex {
		return ex{method: "POST", target: "/login", reqHeaders: []string{json}, reqBody: `{"u":"a"}`, status: 200,
			respHeaders: []string{json}, respBody: `{"token":"` + tok + `"}`}
	}
	use := func(tok, session string) ex {
		return ex{method: "GET", target: "/me", reqHeaders: []string{"Authorization: Bearer " + tok}, cred: tok, session: session, status: 200}
	}
	tokA, tokB := "aaaaaaaaaaaaaaaa-1111", "bbbbbbbbbbbbbbbbbbbb-2222"
	// Two clients behind one address log in, then use their tokens; a
	// third request uses a token no response gave.
	flow := []ex{login(tokA), login(tokB), use(tokB, "authorization:b"), use(tokA, "authorization:a"), use("cccccccccccccccccc", "authorization:c")}
	sessions, _ := observe(newTestFinder(), flow)
	if sessions[0] == sessions[1] || sessions[0] != sessions[3] || sessions[1] != sessions[2] {
		t.Errorf("sessions %q: want each login continued by its own token's requests, the two apart", sessions)
	}
	if !strings.HasPrefix(sessions[0], "user:") || sessions[4] != "authorization:c" {
		t.Errorf("sessions %q: want user:... for a login, a token's own session when no response gave it", sessions)
	}
}

// Hostile requests cost what their bounds allow: a query of 100,000
// names, a JSON body of 100,000 leaves, a 60-level nesting.
func TestFinderBounds(t *testing.T) {
	var q strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&q, "n%d=v%d&", i, i)
	}
	var body strings.Builder
	body.WriteString("[")
	for i := range 100000 {
		fmt.Fprintf(&body, `{"id%d":"x%08d"},`, i, i)
	}
	body.WriteString(`0]`)
	deep := strings.Repeat(`{"a":`, 60) + `"deep-value-1"` + strings.Repeat("}", 60)
	f := newTestFinder()
	start := time.Now()
	for i, e := range []Exchange{
		{Method: "GET", Target: "/x?" + q.String(), Status: 200},
		{Method: "POST", Target: "/y", ReqHeaders: headers([]string{"Content-Type: application/json"}), ReqBody: []byte(body.String()), Status: 200,
			RespHeaders: headers([]string{"Content-Type: application/json"}), RespBody: []byte(body.String())},
		{Method: "POST", Target: "/z", ReqHeaders: headers([]string{"Content-Type: application/json"}), ReqBody: []byte(deep), Status: 200},
	} {
		e.ID, e.Session = int64(i), "s"
		f.Observe(&e)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("3 hostile exchanges took %v", d)
	}
}
