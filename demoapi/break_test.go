package demoapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A Break changes only the route it names, and the way it says.
func TestBreak(t *testing.T) {
	for _, tt := range []struct {
		brk       string
		path      string
		status    int
		check     func(body string, h http.Header) bool
		untouched string // another route, answered as ever
	}{
		{"*=redirect", "/api/v1/tasks", 302, func(b string, h http.Header) bool { return b == "" && h.Get("Location") == "/web/login" }, ""},
		{"GET /api/v1/tasks=status=503", "/api/v1/tasks", 503, func(b string, _ http.Header) bool { return strings.Contains(b, `"items"`) }, "/api/v1/projects"},
		{"/api/v1/tasks=html", "/api/v1/tasks", 200, func(b string, h http.Header) bool {
			return strings.HasPrefix(h.Get("Content-Type"), "text/html") && strings.Contains(b, "<h1>")
		}, "/api/v1/projects"},
		{"GET /api/v1/tasks=drop=title", "/api/v1/tasks", 200, func(b string, _ http.Header) bool {
			return strings.Contains(b, `"items"`) && !strings.Contains(b, `"title"`)
		}, "/api/v1/projects"},
		{"GET /api/v1/tasks=string=count", "/api/v1/tasks", 200, func(b string, _ http.Header) bool { return strings.Contains(b, `"count":"`) }, "/api/v1/projects"},
		{"POST /api/v1/tasks=status=500", "/api/v1/tasks", 200, func(b string, _ http.Header) bool { return strings.Contains(b, `"title"`) }, ""}, // another method: untouched
	} {
		b, err := ParseBreak(tt.brk)
		if err != nil {
			t.Fatal(err)
		}
		srv := New(Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, Breaks: []Break{b}})
		// A task, so that lists have a title to drop (the create may be
		// broken too: the task is made all the same).
		do(t, srv, "POST", "/api/v1/tasks", DefaultKeys[0], `{"title":"t"}`)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", tt.path, nil)
		req.Header.Set("X-API-Key", DefaultKeys[0])
		srv.ServeHTTP(rec, req)
		if rec.Code != tt.status || !tt.check(rec.Body.String(), rec.Header()) {
			t.Errorf("%s: GET %s answered %d %q %v", tt.brk, tt.path, rec.Code, rec.Body.String(), rec.Header())
		}
		if tt.untouched != "" {
			if code, body, _ := do(t, srv, "GET", tt.untouched, DefaultKeys[0], ""); code != 200 || body["items"] == nil {
				t.Errorf("%s: GET %s answered %d %v", tt.brk, tt.untouched, code, body)
			}
		}
	}
	for _, bad := range []string{"", "=redirect", "/x", "/x=status=99", "/x=status=abc", "/x=drop", "/x=drop=", "/x=html=1", "/x=explode"} {
		if _, err := ParseBreak(bad); err == nil {
			t.Errorf("ParseBreak(%q) took it", bad)
		}
	}
}
