package trace

import (
	"testing"
)

func TestRoute(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"", "/"},
		{"/health", "/health"},
		{"/api/tasks/123", "/api/tasks/{id}"},
		{"/api/tasks/123?expand=1", "/api/tasks/{id}"},
		{"/api/tasks/123/comments/9", "/api/tasks/{id}/comments/{id}"},
		{"/api/docs/3f2a8c1e-1b2c-4d5e-8f90-0123456789ab", "/api/docs/{id}"},
		{"/api/blobs/0123456789abcdef0123", "/api/blobs/{id}"},
		{"/api/blobs/abc123", "/api/blobs/abc123"}, // short hex is a name
		{"/api/v2/items", "/api/v2/items"},
		{"/api/tasks/123/", "/api/tasks/{id}/"},
		{"http://example.com/api/tasks/7?x", "/api/tasks/{id}"},
		{"http://example.com", "/"},
		{"/a#frag", "/a"},
		{"//42", "//{id}"},
	}
	for _, tt := range tests {
		if got := Route(tt.in); got != tt.want {
			t.Errorf("Route(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitTarget(t *testing.T) {
	for in, want := range map[string][2]string{
		"/a/b?c":                 {"", "/a/b?c"},
		"http://h:8/a?x=1":       {"h:8", "/a?x=1"},
		"https://h":              {"h", "/"},
		"http://h?q":             {"h", "/?q"},
		"/redirect?to=http://x/": {"", "/redirect?to=http://x/"},
	} {
		if a, p := SplitTarget(in); a != want[0] || p != want[1] {
			t.Errorf("SplitTarget(%q) = %q, %q; want %q, %q", in, a, p, want[0], want[1])
		}
	}
}

func TestKindOf(t *testing.T) {
	for m, want := range map[string]string{"GET": KindRead, "HEAD": KindRead, "OPTIONS": KindRead,
		"POST": KindWrite, "PUT": KindWrite, "PATCH": KindWrite, "DELETE": KindWrite} {
		if got := KindOf(m); got != want {
			t.Errorf("KindOf(%s) = %s, want %s", m, got, want)
		}
	}
}
