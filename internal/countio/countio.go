// Package countio counts the bytes read through a reader: how far into
// its file a reader of captures or imported files is, for progress.
package countio

import "io"

// Reader reads from R, counting the bytes in N.
type Reader struct {
	R io.Reader
	N int64
}

func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}
