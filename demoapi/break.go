package demoapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// Break makes one route answer otherwise than it should: a release that
// broke something, for replay's comparison with the recording to find.
type Break struct {
	// Method and Route say which requests (Route as trace.Route writes
	// it, "/api/v1/tasks/{id}"; "*" every route; Method "" any).
	Method, Route string
	// How: "redirect" (302 to /web/login, no body, as a lost session
	// does), "status=CODE" (that status, the body as it was), "html" (200
	// with an HTML error page), "drop=KEY" (the JSON answer without KEY,
	// at any depth), "string=KEY" (KEY's value as a string).
	How string
}

// ParseBreak reads "[METHOD ]ROUTE=HOW", e.g. "GET /api/v1/tasks/{id}=drop=title".
func ParseBreak(s string) (Break, error) {
	where, how, ok := strings.Cut(s, "=")
	var b Break
	if !ok || where == "" {
		return b, fmt.Errorf("--break %q: want [METHOD ]ROUTE=HOW, e.g. 'GET /api/v1/tasks/{id}=drop=title' or '*=redirect'", s)
	}
	if m, r, ok := strings.Cut(where, " "); ok {
		b.Method, b.Route = strings.ToUpper(m), strings.TrimSpace(r)
	} else {
		b.Route = where
	}
	b.How = how
	verb, arg, _ := strings.Cut(how, "=")
	switch verb {
	case "redirect", "html":
		if arg != "" {
			return b, fmt.Errorf("--break %q: %s takes no value", s, verb)
		}
	case "status":
		if c, err := strconv.Atoi(arg); err != nil || c < 100 || c > 599 {
			return b, fmt.Errorf("--break %q: status=CODE wants a code from 100 to 599", s)
		}
	case "drop", "string":
		if arg == "" {
			return b, fmt.Errorf("--break %q: %s=KEY wants a key", s, verb)
		}
	default:
		return b, fmt.Errorf("--break %q: HOW is redirect, html, status=CODE, drop=KEY or string=KEY", s)
	}
	return b, nil
}

func (b Break) matches(r *http.Request) bool {
	return (b.Method == "" || b.Method == r.Method) && (b.Route == "*" || b.Route == trace.Route(r.URL.RequestURI()))
}

// broken serves r through h, answering as b says.
func (b Break) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	verb, arg, _ := strings.Cut(b.How, "=")
	if verb == "redirect" {
		w.Header().Set("Location", "/web/login")
		w.WriteHeader(http.StatusFound)
		return
	}
	rec := &bufferedWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	status, body := rec.status, rec.body.Bytes()
	switch verb {
	case "status":
		status, _ = strconv.Atoi(arg)
	case "html":
		status, body = http.StatusOK, []byte("<!doctype html><title>Error</title><h1>Something went wrong</h1>\n")
		rec.header.Set("Content-Type", "text/html; charset=utf-8")
	case "drop", "string":
		var v any
		if json.Unmarshal(body, &v) == nil {
			body, _ = json.Marshal(change(v, verb, arg))
			body = append(body, '\n')
		}
	}
	for k, vs := range rec.header {
		w.Header()[k] = vs
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	w.Write(body)
}

// change drops key, or makes its value a string, wherever it is in v.
func change(v any, verb, key string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			switch {
			case k == key && verb == "drop":
				delete(t, k)
			case k == key:
				t[k] = fmt.Sprint(x)
			default:
				t[k] = change(x, verb, key)
			}
		}
	case []any:
		for i := range t {
			t[i] = change(t[i], verb, key)
		}
	}
	return v
}

// bufferedWriter holds an answer for Break to change.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
