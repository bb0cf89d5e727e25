package replay

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/replaykit/replaykit/httpstream"
)

// fastClient is replay's own HTTP/1.1 client, for plain http:// targets
// (--client auto): each request's bytes are made once (Prepared.wire) and
// written to a kept-alive connection, and its answer is read with
// httpstream.ResponseReader on the sender's own goroutine: no goroutine,
// buffer or header map per request, where net/http's Transport has two
// goroutines a connection and a request and response to build each time.
//
// It keeps the connection semantics of the net/http client replay has
// (NewClient): idle connections kept per host, at most max(users, 100)
// and for 90 s; a connection closed after an answer that says so, that
// ends by closing, or leaves unasked-for bytes, or after a request that
// asks it to; a new connection for a request whose kept-alive one the
// server had closed, sent again once when net/http would (nothing of the
// answer came, and the request is idempotent).
type fastClient struct {
	// abandon ends the requests in flight (a second Ctrl-C): each
	// connection's deadline is then set in the past.
	abandon context.Context
	timeout time.Duration
	maxIdle int
	// dial connects (nil: over TCP); a benchmark's answers at once.
	dial   func(ctx context.Context, addr string, deadline time.Time) (net.Conn, error)
	mu     sync.Mutex
	idle   map[string][]*fastConn // by host:port, the most recent last
	closed bool
}

// idleTimeout is how long an idle connection is kept.
const idleTimeout = 90 * time.Second

func newFastClient(abandon context.Context, o ClientOptions) *fastClient {
	return &fastClient{abandon: abandon, timeout: cmpTimeout(o.Timeout), maxIdle: max(o.Users, 100), idle: map[string][]*fastConn{}}
}

func cmpTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 30 * time.Second
	}
	return d
}

// fastConn is one connection and its answers' reader.
type fastConn struct {
	nc   net.Conn
	rd   *httpstream.ResponseReader
	addr string
	// first is when the first byte of the answer being read came (zero:
	// none yet), the answer's TTFB: a monotonic reading, as the
	// latency's.
	first time.Time
	// used says it carried a request before this one; broken that its
	// request could not be written whole.
	used, broken bool
	idleAt       time.Time
	// stop undoes the abandon hook (context.AfterFunc).
	stop func() bool
	// peeker looks at an idle connection before it is used (open).
	peeker
}

// Read is the reader's source: it notes the answer's first byte.
func (c *fastConn) Read(b []byte) (int, error) {
	n, err := c.nc.Read(b)
	if n > 0 && c.first.IsZero() {
		c.first = time.Now()
	}
	return n, err
}

func (c *fastConn) close() {
	c.stop()
	c.nc.Close()
}

// roundTrip sends w on a connection to w.addr and reads its answer's
// head, all before deadline; the body is the caller's to read (c.rd),
// before it gives c back (done). On failure, first is when a first byte
// of the answer came (zero: none), as c.first says on success.
func (fc *fastClient) roundTrip(method string, w *wire, deadline time.Time) (*fastConn, time.Time, error) {
	for retried := false; ; retried = true {
		// Sent again, on a new connection: the other idle ones may be
		// as dead as the first.
		c, err := fc.conn(w.addr, deadline, retried)
		if err != nil {
			return nil, time.Time{}, err
		}
		c.first = time.Time{}
		c.nc.SetDeadline(deadline)
		if err := fc.abandon.Err(); err != nil {
			// Abandoned before the deadline was set: the hook's past
			// deadline was overwritten.
			c.close()
			return nil, time.Time{}, err
		}
		if c.used && !c.open() {
			// Closed by the server while idle (or it sent what nobody
			// asked for): the others may be too, so a new one.
			c.close()
			continue
		}
		// An answer may have come though the request could not be
		// written whole (a server refusing a large upload before reading
		// it): it is the answer, as with net/http, and the connection
		// goes after it.
		werr := c.write(w)
		if err = c.rd.ReadHead(method); err == nil {
			c.broken = werr != nil
			return c, c.first, nil
		}
		if werr != nil {
			err = werr
		}
		c.close()
		if retried || !c.used || !c.first.IsZero() || !w.replayable || !closedByServer(err) {
			return nil, c.first, err
		}
	}
}

// closedByServer says err is what a kept-alive connection the server
// closed gives: the end of the stream, a reset, a broken pipe.
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *fastConn) write(w *wire) error {
	if w.body == nil {
		_, err := c.nc.Write(w.bytes)
		return err
	}
	bufs := net.Buffers{w.bytes, w.body} // one writev
	_, err := bufs.WriteTo(c.nc)
	return err
}

// conn is an idle connection to addr, or a new one (always, when fresh).
func (fc *fastClient) conn(addr string, deadline time.Time, fresh bool) (*fastConn, error) {
	fc.mu.Lock()
	if cs := fc.idle[addr]; len(cs) > 0 && !fresh {
		c := cs[len(cs)-1]
		if time.Since(c.idleAt) <= idleTimeout {
			cs[len(cs)-1] = nil
			fc.idle[addr] = cs[:len(cs)-1]
			fc.mu.Unlock()
			return c, nil
		}
		// The most recent is too old: so are the others.
		fc.idle[addr] = nil
		fc.mu.Unlock()
		for _, o := range cs {
			o.close()
		}
	} else {
		fc.mu.Unlock()
	}
	var nc net.Conn
	var err error
	if fc.dial != nil {
		nc, err = fc.dial(fc.abandon, addr, deadline)
	} else {
		d := net.Dialer{Timeout: min(fc.timeout, 10*time.Second), Deadline: deadline}
		nc, err = d.DialContext(fc.abandon, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &fastConn{nc: nc, addr: addr}
	c.rd = httpstream.NewResponseReader(c)
	c.canPeek()
	c.stop = context.AfterFunc(fc.abandon, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

// done gives c back after its answer was read whole (ok), to be used
// again unless the answer, the request or the pool says not; or closes it.
func (fc *fastClient) done(c *fastConn, ok, closes bool) {
	c.used = true
	if !ok || closes || c.broken || c.rd.Close() || c.rd.Buffered() > 0 {
		c.close()
		return
	}
	c.idleAt = time.Now()
	fc.mu.Lock()
	if fc.closed || len(fc.idle[c.addr]) >= fc.maxIdle {
		fc.mu.Unlock()
		c.close()
		return
	}
	fc.idle[c.addr] = append(fc.idle[c.addr], c)
	fc.mu.Unlock()
}

// close closes the idle connections, and those given back after.
func (fc *fastClient) close() {
	fc.mu.Lock()
	idle := fc.idle
	fc.idle, fc.closed = map[string][]*fastConn{}, true
	fc.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.close()
		}
	}
}
