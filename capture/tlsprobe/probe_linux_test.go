//go:build linux && amd64

package tlsprobe

import (
	"os"
	"strings"
	"testing"
)

// A file that is not OpenSSL is not attached, and the error says why; a
// process that does not exist neither.
func TestOpenNotAttached(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loads BPF programs: run the tests as root, as CI does")
	}
	for _, c := range []struct {
		target Target
		want   string
	}{
		{Target{Lib: "/bin/true"}, "/bin/true: symbol SSL_write: not found (not OpenSSL, or stripped of its dynamic symbols)"},
		{Target{Lib: "/no/such/libssl.so.3"}, "no such file"},
		{Target{PID: 1 << 30}, "pid:1073741824:"},
	} {
		p, err := Open([]Target{c.target})
		if err == nil {
			p.Close()
			t.Errorf("%s: attached", c.target)
			continue
		}
		if !strings.Contains(err.Error(), "nothing could be attached") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", c.target, err, c.want)
		}
	}
}
