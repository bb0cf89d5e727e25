package observed

import "testing"

func TestHeaderValue(t *testing.T) {
	hs := []Header{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Dup", Value: "a"}, {Name: "x-dup", Value: "b"}}
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"content-type", "application/json", true},
		{"X-DUP", "a", true}, // the first of a repeated header
		{"X-Du", "", false},
		{"", "", false},
	} {
		if got, ok := HeaderValue(hs, tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("HeaderValue(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKeepsBody(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		want bool
	}{
		{"application/json", true},
		{"application/problem+json; charset=utf-8", true},
		{"Application/JSON", true},
		{"text/html", false},
		{"image/png", false},
		{"", true}, // no Content-Type at all
	} {
		var hs []Header
		if tt.ct != "" {
			hs = []Header{{Name: "Content-Type", Value: tt.ct}}
		}
		if got := KeepsBody(hs); got != tt.want {
			t.Errorf("KeepsBody(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

func TestBodyTruncated(t *testing.T) {
	m := Message{Body: []byte("abc"), BodySize: 3}
	if m.BodyTruncated() {
		t.Error("a whole body is not truncated")
	}
	m.BodySize = 4
	if !m.BodyTruncated() {
		t.Error("a body of 3 bytes kept of 4 is truncated")
	}
}
