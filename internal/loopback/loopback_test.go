package loopback

import (
	"net"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	for _, tc := range []struct {
		addr, host string
		bad        bool
	}{
		{":0", "127.0.0.1", false},
		{"127.0.0.1:0", "127.0.0.1", false},
		{"[::1]:0", "::1", false},
		{"8080", "", true},
		{"", "", true},
	} {
		ln, err := Listen(tc.addr)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
				t.Errorf("%q: %v", tc.addr, err)
			}
			if ln != nil {
				ln.Close()
			}
			continue
		}
		if err != nil {
			if tc.host == "::1" {
				continue // no IPv6 loopback on this machine
			}
			t.Fatalf("%q: %v", tc.addr, err)
		}
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		if host != tc.host {
			t.Errorf("%q listened on %s, want %s", tc.addr, host, tc.host)
		}
	}
}
