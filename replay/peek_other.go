//go:build !unix

package replay

// peeker cannot peek here: a connection the server closed is found by
// the request sent on it (and sent again when net/http would).
type peeker struct{}

func (c *fastConn) canPeek()   {}
func (c *fastConn) open() bool { return true }
