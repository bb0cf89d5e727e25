package proxyproto

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Listener accepts connections that each begin with a PROXY protocol
// header, as a load balancer configured for it sends them (AWS NLB,
// HAProxy's send-proxy): a connection's RemoteAddr is the client address
// its header carries (its own for LOCAL and UNKNOWN), and its reads start
// after the header. A connection without a valid header fails its first
// read (and RemoteAddr is its own): one that the load balancer did not
// make is not to be believed.
//
// The header is read when the connection is first used (RemoteAddr or
// Read), on the goroutine that serves it, not in Accept: a slow client
// does not hold the others up. Timeout bounds how long it may take.
type Listener struct {
	net.Listener
	// Timeout bounds the wait for a connection's header (default 10s).
	Timeout time.Duration
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c, timeout: l.Timeout}, nil
}

// Conn is a connection of a Listener.
type Conn struct {
	net.Conn
	timeout time.Duration

	once   sync.Once
	remote net.Addr
	rest   []byte // read past the header, given to the first reads
	err    error  // the header's: every read fails with it
}

// ErrNoHeader is what a connection without a valid PROXY protocol header
// fails its reads with.
var ErrNoHeader = errors.New("proxyproto: the connection did not start with a PROXY protocol header (is the load balancer sending one?)")

// header reads the connection's header, once.
func (c *Conn) header() {
	c.once.Do(func() {
		c.remote = c.Conn.RemoteAddr()
		timeout := c.timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		c.Conn.SetReadDeadline(time.Now().Add(timeout))
		defer c.Conn.SetReadDeadline(time.Time{})
		buf := make([]byte, 0, 256)
		for {
			h, err := Parse(buf)
			switch {
			case err == nil:
				if src, ok := h.Source(); ok {
					c.remote = net.TCPAddrFromAddrPort(src)
				}
				c.rest = buf[h.Len:]
				return
			case !errors.Is(err, ErrNeedMore):
				c.err = fmt.Errorf("%w: %v", ErrNoHeader, err)
				return
			}
			if len(buf) == cap(buf) {
				buf = append(buf, make([]byte, min(cap(buf), MaxLen))...)[:len(buf)]
			}
			n, err := c.Conn.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil && n == 0 {
				c.err = fmt.Errorf("%w: %v", ErrNoHeader, err)
				return
			}
		}
	})
}

// RemoteAddr is the client address the header carries.
func (c *Conn) RemoteAddr() net.Addr {
	c.header()
	return c.remote
}

// Read reads the connection's bytes after the header.
func (c *Conn) Read(b []byte) (int, error) {
	c.header()
	if c.err != nil {
		return 0, c.err
	}
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
