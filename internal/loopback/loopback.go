// Package loopback opens the listening sockets of replaykit's servers (the
// recording proxy, the demo API): an address without a host means loopback
// only, so that nothing is exposed to other machines unless asked.
package loopback

import (
	"fmt"
	"net"
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
