// Package loopback opens the listening sockets of replaykit's servers (the
// recording proxy, the demo API): an address without a host means loopback
// only, so that nothing is exposed to other machines unless asked.
package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Listen listens on addr (HOST:PORT or :PORT); a missing host is
// 127.0.0.1. Pass 0.0.0.0:PORT to accept other machines.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%q: want HOST:PORT or :PORT (%v)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.Listen("tcp", net.JoinHostPort(host, port))
}

// ListenBelowEphemeral listens on a 127.0.0.1 port below the kernel's
// ephemeral range. A port from that range (what port 0 gives) can be, at
// the same time, the client port of another process's connection on lo,
// and a capture filtered on the port then sees that connection too: it
// did, when test packages ran side by side. Live-capture tests listen here.
func ListenBelowEphemeral() (net.Listener, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low <= 11000 {
		return nil, fmt.Errorf("the ephemeral port range starts at %d: no port below it to listen on", low)
	}
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(low-10000))); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port below the ephemeral range: %w", err)
}
