package redact

import (
	"strings"
	"testing"

	"github.com/replaykit/replaykit/trace"
)

func TestHeaders(t *testing.T) {
	r := New([]byte("k"), []string{"X-Tenant-Secret"})
	hs := []trace.Header{
		hdr("Host", "a"), hdr("authorization", "Bearer s3cret"), hdr("X-API-KEY", "key-1"),
		hdr("Cookie", "sid=abc"), hdr("x-tenant-secret", "t"), hdr("Accept", "*/*"),
	}
	r.Headers(hs)
	for _, h := range hs {
		secret := h.Name != "Host" && h.Name != "Accept"
		if secret != strings.HasPrefix(strings.TrimPrefix(h.Value, "Bearer "), Prefix) {
			t.Errorf("%s = %q", h.Name, h.Value)
		}
		for _, s := range []string{"s3cret", "key-1", "abc"} {
			if strings.Contains(h.Value, s) {
				t.Errorf("%s leaks %q", h.Name, s)
			}
		}
	}
	if hs[1].Value != "Bearer "+Prefix+r.Hash("Bearer s3cret") {
		t.Errorf("authorization = %q: want its scheme kept and the whole value hashed", hs[1].Value)
	}
	for _, c := range []struct{ name, value, want string }{
		{"Authorization", "Basic dXNlcjpwYXNz", "Basic "}, {"Authorization", "s3cret", ""},
		{"Authorization", "a=b c", ""}, {"X-API-Key", "Bearer x", ""}, {"proxy-authorization", "Token t", "Token "},
	} {
		if got := Scheme(c.name, c.value); got != c.want {
			t.Errorf("Scheme(%q, %q) = %q, want %q", c.name, c.value, got, c.want)
		}
	}
	if New([]byte("k"), nil).Hash("key-1") != r.Hash("key-1") || r.Hash("key-1") == r.Hash("key-2") {
		t.Error("hash must be stable for a key and differ between values")
	}
	if New([]byte("other"), nil).Hash("key-1") == r.Hash("key-1") {
		t.Error("hash must depend on the key")
	}
}

func hdr(n, v string) trace.Header { return trace.Header{Name: n, Value: v} }
