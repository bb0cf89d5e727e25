package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// The hashes are HMAC-SHA256 of the value under the key, first 6 bytes in
// hex: a recording made before the cache and the reused hasher has the
// same ones, whether a value is hashed for the first time, again, or
// after the cache was emptied.
func TestHashIsHMACSHA256(t *testing.T) {
	key := []byte("a recording's key")
	want := func(v string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(v))
		return hex.EncodeToString(m.Sum(nil)[:6])
	}
	r := New(key, nil)
	values := []string{"", "Bearer s3cret", "Bearer s3cret", strings.Repeat("x", cacheValueLen+1), "sid=abc"}
	for i := 0; i < 3*cacheValues; i++ {
		values = append(values, fmt.Sprintf("token-%d", i%(cacheValues+7)))
	}
	for _, v := range values {
		if got := r.Hash(v); got != want(v) {
			t.Fatalf("Hash(%.20q) = %s, want %s", v, got, want(v))
		}
	}
	if len(r.seen) > cacheValues || r.seenBytes > cacheBytes {
		t.Errorf("cache holds %d values, %d bytes: over its bounds", len(r.seen), r.seenBytes)
	}
	if got := New([]byte("k"), nil).Hash("key-1"); got != "02181dc7a80c" {
		t.Errorf(`Hash("key-1") under "k" = %s: hashes must not change between versions`, got)
	}
}
