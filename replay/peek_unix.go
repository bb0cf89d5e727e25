//go:build unix

package replay

import (
	"net"
	"syscall"
	"time"
)

// open says an idle connection is still open and quiet: a peek that does
// not wait finds neither the server's close nor bytes nobody asked for.
// net/http's Transport learns this from the read it keeps pending on
// every idle connection; replay's own client asks only before using one
// that was idle a while, with one system call.
func open(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// An expired deadline would fail the peek before it is made.
	nc.SetReadDeadline(time.Time{})
	quiet := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && quiet
}
