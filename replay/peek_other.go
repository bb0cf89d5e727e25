//go:build !unix

package replay

import "net"

// open cannot peek here: a connection the server closed is found by the
// request sent on it (and sent again when net/http would).
func open(net.Conn) bool { return true }
