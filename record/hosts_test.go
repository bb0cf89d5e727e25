package record

import (
	"strings"
	"testing"
)

func TestHostFilter(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		keeps    []string
		drops    []string
	}{
		{nil, []string{"", "a.example.com", "x:1"}, nil},
		{[]string{"api.example.com"},
			[]string{"api.example.com", "API.Example.COM", "api.example.com:8080", "api.example.com.", "api.example.com.:443"},
			[]string{"", "example.com", "x.api.example.com", "api.example.com.evil.net", "api.example.co"}},
		{[]string{"api.example.com:8080"},
			[]string{"api.example.com:8080"},
			[]string{"api.example.com", "api.example.com:80", "api.example.com:18080"}},
		{[]string{"*.example.com"},
			[]string{"a.example.com", "b.a.example.com:443", "A.EXAMPLE.COM"},
			[]string{"example.com", "aexample.com", "example.com.evil.net"}},
		{[]string{"*.example.com:443", "127.0.0.1"},
			[]string{"a.example.com:443", "127.0.0.1", "127.0.0.1:18193"},
			[]string{"a.example.com", "a.example.com:80", "127.0.0.2"}},
		{[]string{"::1", "[::1]:8080"},
			[]string{"[::1]:9000", "::1", "[::1]:8080"},
			[]string{"[::2]:8080"}},
		{[]string{"[2001:db8::1]:8080"},
			[]string{"[2001:db8::1]:8080"},
			[]string{"[2001:db8::1]", "[2001:db8::1]:80"}},
	} {
		f, err := ParseHostFilter(tc.patterns)
		if err != nil {
			t.Fatalf("%q: %v", tc.patterns, err)
		}
		if f.Any() != (len(tc.patterns) > 0) {
			t.Errorf("%q: Any() = %v", tc.patterns, f.Any())
		}
		for _, h := range tc.keeps {
			if !f.Keeps(h) {
				t.Errorf("%q does not keep Host %q", tc.patterns, h)
			}
		}
		for _, h := range tc.drops {
			if f.Keeps(h) {
				t.Errorf("%q keeps Host %q", tc.patterns, h)
			}
		}
	}
}

func TestHostFilterRefuses(t *testing.T) {
	for _, p := range []string{"", "http://api.example.com", "api.example.com/v1", "api.example.com:0", "api.example.com:99999",
		"api.example.com:x", "*", "*.", "a*.example.com", "two words", ":8080"} {
		if _, err := ParseHostFilter([]string{p}); err == nil || !strings.Contains(err.Error(), "--only-host") {
			t.Errorf("%q: %v, want a refusal naming --only-host", p, err)
		}
	}
}

// The summary names the hosts left out, most first, and no more than it
// keeps names of.
func TestOtherHostList(t *testing.T) {
	var s Summary
	for i := range 100 {
		s.countOtherHost(strings.Repeat("x", i%40+1) + ".example")
	}
	s.countOtherHost("")
	if s.OtherHosts != 101 || len(s.OtherHostNames) != otherHostNames {
		t.Fatalf("%d left out, %d names", s.OtherHosts, len(s.OtherHostNames))
	}
	got := s.OtherHostList(2)
	if want := "x.example (3), xx.example (3), ..."; got != want {
		t.Errorf("OtherHostList(2) = %q, want %q", got, want)
	}
}
