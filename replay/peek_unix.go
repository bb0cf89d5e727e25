//go:build unix

package replay

import "syscall"

// peeker looks at an idle connection, before a request is sent on it,
// for what the server did meanwhile: net/http's Transport learns it from
// the read it keeps pending on every idle connection; replay's own client
// asks, with one system call that does not wait.
type peeker struct {
	raw   syscall.RawConn // nil: cannot peek
	quiet bool
	buf   [1]byte
	peek  func(fd uintptr) bool // look, made once: no closure per request
}

func (c *fastConn) canPeek() {
	if sc, ok := c.nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peek = func(fd uintptr) bool {
				_, _, err := syscall.Recvfrom(int(fd), c.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				c.quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
				return true
			}
		}
	}
}

// open says the connection is still open and quiet: neither the server's
// close nor bytes nobody asked for have come. Its deadline must be set
// (an expired one fails the peek, and the connection with it).
func (c *fastConn) open() bool {
	if c.raw == nil {
		return true
	}
	return c.raw.Read(c.peek) == nil && c.quiet
}
