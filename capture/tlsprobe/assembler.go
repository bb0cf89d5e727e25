package tlsprobe

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/replaykit/replaykit/h2stream"
	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/observed"
)

// AssemblerStats count connections and what could not be told of them.
type AssemblerStats struct {
	// Connections counts the connections seen (a process's SSL object
	// with data on it).
	Connections int64
	// MissedStart counts connections whose first bytes seen were not the
	// start of an HTTP message (the recording began after them, or bytes
	// were lost): parsed from the next message start found.
	MissedStart int64
	// NoAddress counts connections whose socket was not learned: their
	// rows have no client and server addresses.
	NoAddress int64
	// OtherEnd counts connections seen from both ends (a client and a
	// server both traced, on one host): recorded once, from the end seen
	// first; OtherEndBytes the bytes of the other end's view, not parsed.
	OtherEnd, OtherEndBytes int64
	// Idle counts connections closed after IdleTimeout without data or
	// SSL_free (the process may have exited).
	Idle int64
}

// Assembler turns chunks into the two byte streams of each connection,
// fed to the HTTP parser as a TCP capture's are, so they become the same
// exchanges. Not safe for concurrent use: one goroutine feeds it chunks in
// the order read.
//
// A connection is a process's SSL object. Its chunks come in the order the
// calls returned: the ring buffer keeps the order of its writes, and a
// process makes one SSL call at a time on one SSL object (OpenSSL allows
// no more), so each direction's bytes are in order.
type Assembler struct {
	streams *httpstream.Streams
	h2      *h2stream.Streams
	idle    time.Duration
	conns   map[connKey]*conn
	// ends names the connection that owns a TCP connection's addresses,
	// so the other end's view of it (both traced) is dropped.
	ends  map[ends]connKey
	stats AssemblerStats
}

type connKey struct {
	pid uint32
	ssl uint64
}

// ends is a TCP connection's addresses, client first.
type ends struct{ client, server netip.AddrPort }

type conn struct {
	id int64
	// hc parses HTTP/1.x; h2, instead, HTTP/2 (ALPN h2: the client's
	// first bytes are the preface, or the server's its SETTINGS).
	hc *httpstream.Conn
	h2 *h2stream.Conn
	// processIsClient says the traced process is the connection's client:
	// what it sends is the requests.
	processIsClient bool
	ends            ends
	otherEnd        bool // the other end's view: dropped
	last            time.Time
}

// NewAssembler makes an Assembler that parses with opts and sends the
// exchanges to sink. Connections with no chunk for idle are closed (0:
// two minutes, longer than common keep-alive timeouts).
func NewAssembler(opts httpstream.Options, idle time.Duration, sink observed.Sink) *Assembler {
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	return &Assembler{streams: httpstream.New(opts, sink), h2: h2stream.New(h2stream.Options{MaxBody: opts.MaxBody, MaxRespBody: opts.MaxRespBody}, sink),
		idle: idle, conns: map[connKey]*conn{}, ends: map[ends]connKey{}}
}

// Stats returns the assembler's counters and the HTTP/1.x and HTTP/2
// parsers'.
func (a *Assembler) Stats() (AssemblerStats, httpstream.Stats, h2stream.Stats) {
	return a.stats, a.streams.Stats(), a.h2.Stats()
}

// Chunk feeds one chunk. Its Data may be reused once Chunk returns.
func (a *Assembler) Chunk(ch *Chunk) {
	k := connKey{ch.PID, ch.SSL}
	c := a.conns[k]
	if ch.Freed {
		if c != nil {
			a.close(k, c, true)
		}
		return
	}
	if c != nil && ch.Local.IsValid() && c.ends != (ends{}) && !c.sameSocket(ch) {
		// The SSL object was freed and its memory reused for another
		// connection without our seeing SSL_free.
		a.close(k, c, false)
		c = nil
	}
	if c == nil {
		if len(ch.Data) == 0 && ch.Lost == 0 {
			return
		}
		c = a.open(k, ch)
	}
	c.last = ch.Time
	if c.otherEnd {
		a.stats.OtherEndBytes += int64(len(ch.Data))
		return
	}
	skip := int(min(ch.Lost, 1<<40))
	tl := httpstream.FixedTime(ch.Time.UnixNano())
	switch fromClient := (ch.Dir == Sent) == c.processIsClient; {
	case c.h2 != nil && fromClient:
		c.h2.FeedClient(ch.Data, tl, skip)
	case c.h2 != nil:
		c.h2.FeedServer(ch.Data, tl, skip)
	case fromClient:
		c.hc.FeedClient(ch.Data, tl, skip)
	default:
		c.hc.FeedServer(ch.Data, tl, skip)
	}
}

func (c *conn) sameSocket(ch *Chunk) bool {
	if c.processIsClient {
		return c.ends == ends{ch.Local, ch.Remote}
	}
	return c.ends == ends{ch.Remote, ch.Local}
}

// open starts the connection of k, whose first chunk is ch: which end
// the process is comes from the first bytes (a request, or an answer),
// else from the ports.
func (a *Assembler) open(k connKey, ch *Chunk) *conn {
	a.stats.Connections++
	c := &conn{id: a.stats.Connections - 1}
	start := ch.Lost == 0
	h2 := false
	switch {
	case start && h2stream.IsPreface(ch.Data):
		c.processIsClient, h2 = ch.Dir == Sent, true
	case start && h2stream.StartsWithSettings(ch.Data):
		// An HTTP/2 server's SETTINGS, written before the client's
		// preface was read: whoever wrote them is the server.
		c.processIsClient, h2 = ch.Dir == Received, true
	case start && looksLikeRequest(ch.Data):
		c.processIsClient = ch.Dir == Sent
	case start && looksLikeResponse(ch.Data):
		c.processIsClient = ch.Dir == Received
	default:
		start, h2 = false, h2stream.LooksLikeFrames(ch.Data)
		l, r := ch.Local.Port(), ch.Remote.Port()
		if (l >= 32768) != (r >= 32768) {
			c.processIsClient = l >= 32768
		} else {
			c.processIsClient = l > r
		}
	}
	if !start {
		a.stats.MissedStart++
	}
	client, server := "", ""
	if ch.Local.IsValid() {
		c.ends = ends{ch.Local, ch.Remote}
		if !c.processIsClient {
			c.ends = ends{ch.Remote, ch.Local}
		}
		client, server = c.ends.client.String(), c.ends.server.String()
		if owner, ok := a.ends[c.ends]; ok && a.conns[owner] != nil {
			c.otherEnd = true
			a.stats.OtherEnd++
		} else {
			a.ends[c.ends] = k
		}
	} else {
		a.stats.NoAddress++
	}
	switch {
	case c.otherEnd:
	case h2:
		// Without its start, HTTP/2 cannot be decoded (HPACK): counted.
		c.h2 = a.h2.NewConn(c.id, client, server, !start)
	default:
		c.hc = a.streams.NewConn(c.id, client, server, !start)
	}
	a.conns[k] = c
	return c
}

// close ends a connection; freed says its process freed the SSL object,
// so the server's side ended in order.
func (a *Assembler) close(k connKey, c *conn, freed bool) {
	delete(a.conns, k)
	if owner, ok := a.ends[c.ends]; ok && owner == k {
		delete(a.ends, c.ends)
	}
	switch {
	case c.h2 != nil:
		if freed {
			c.h2.ServerClosed()
		}
		c.h2.Close()
	case c.hc != nil:
		if freed {
			c.hc.ServerClosed()
		}
		c.hc.Close()
	}
}

// Tick closes the connections idle since before now - idle, in the order
// they were opened: a recording made twice gives the same trace.
func (a *Assembler) Tick(now time.Time) {
	var old []connKey
	for k, c := range a.conns {
		if now.Sub(c.last) > a.idle {
			old = append(old, k)
		}
	}
	a.closeAll(old, true)
}

// Close ends every connection: requests still waiting are emitted with
// no response.
func (a *Assembler) Close() {
	keys := make([]connKey, 0, len(a.conns))
	for k := range a.conns {
		keys = append(keys, k)
	}
	a.closeAll(keys, false)
}

func (a *Assembler) closeAll(keys []connKey, idle bool) {
	slices.SortFunc(keys, func(x, y connKey) int { return cmp.Compare(a.conns[x].id, a.conns[y].id) })
	for _, k := range keys {
		if idle {
			a.stats.Idle++
		}
		a.close(k, a.conns[k], false)
	}
}

// looksLikeRequest says b begins with an HTTP/1 request line's method
// and a space.
func looksLikeRequest(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ' ':
			return i > 0
		case c < 'A' || c > 'Z':
			return false
		case i >= 16:
			return false
		}
	}
	return false
}

func looksLikeResponse(b []byte) bool {
	return len(b) >= 5 && string(b[:5]) == "HTTP/"
}
