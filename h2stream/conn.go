package h2stream

import (
	"slices"
	"strconv"
	"strings"

	"github.com/replaykit/replaykit/observed"
)

// Timeline and FixedTime are observed's: the capture time of each byte
// of a chunk being fed, one type for both decoders.
type (
	Timeline  = observed.Timeline
	FixedTime = observed.FixedTime
)

// Conn decodes one HTTP/2 connection.
type Conn struct {
	// Conn is the ID and the ip:port strings given to NewConn.
	observed.Conn

	s       *Streams
	client  side // client to server
	server  side // server to client
	streams map[uint32]*stream
	// dropped holds the ids of streams dropped over MaxStreams, and
	// whether their request was counted, so that their frames are
	// ignored and each request is counted once (cleared when it reaches
	// maxDropped entries: bounded).
	dropped map[uint32]bool
	// noStart: the connection's start was not captured; nothing is parsed.
	noStart bool
	closed  bool
	// serverEnded: the server's side ended (FIN or RST) in order: answers
	// it had begun were cut short by it, not by the capture.
	serverEnded bool
}

// stream is one request and its response.
type stream struct {
	id        uint32
	req, resp *observed.Message // resp is nil until the final response's headers
	reqDone   bool              // the client's END_STREAM was seen
	respDone  bool              // the server's END_STREAM was seen
	// lost: bytes of it were lost, or one of its header blocks could not
	// be decoded (or broke the protocol): it is dropped.
	lost bool
	// tooLarge: a header block over MaxHeaderList: it is dropped.
	tooLarge bool
	reset    bool
	grpc     bool
	keepResp bool                     // the answer's body is kept (observed.KeepsBody: JSON or untyped)
	msgs     [2]observed.GRPCMessages // client, server
}

// NewConn starts a connection that begins with the client's preface
// (prior knowledge). When the start of the connection was not captured
// (noStart), nothing of it can be decoded: it is counted and skipped.
func (s *Streams) NewConn(id int64, client, server string, noStart bool) *Conn {
	c := &Conn{s: s, Conn: observed.Conn{ID: id, Client: client, Server: server}, streams: map[uint32]*stream{}}
	c.client.init(c, true)
	c.server.init(c, false)
	if noStart {
		c.noStart = true
		s.stats.NoStart++
	} else {
		s.stats.Connections++
	}
	return c
}

// NewUpgradedConn starts a connection switched to HTTP/2 by an HTTP/1.1
// request with Upgrade: h2c that a 101 answered: req is the upgrade
// request, which stream 1 answers (RFC 9113 section 3.2 of RFC 7540). The
// client's next bytes are its preface; the server's, its SETTINGS.
func (s *Streams) NewUpgradedConn(id int64, client, server string, req *observed.Message) *Conn {
	c := s.NewConn(id, client, server, false)
	s.stats.Upgrades++
	s.stats.Requests++
	st := &stream{id: 1, req: req, reqDone: true}
	st.grpc = observed.IsGRPC(req.Headers)
	c.streams[1] = st
	return c
}

// FeedClient gives bytes the client sent. skip is the number of bytes lost
// just before data (0 none, -1 an unknown number).
func (c *Conn) FeedClient(data []byte, tl Timeline, skip int) { c.feed(&c.client, data, tl, skip) }

// FeedServer gives bytes the server sent.
func (c *Conn) FeedServer(data []byte, tl Timeline, skip int) { c.feed(&c.server, data, tl, skip) }

func (c *Conn) feed(sd *side, data []byte, tl Timeline, skip int) {
	if c.closed {
		return
	}
	if c.noStart {
		c.s.stats.NoStartBytes += int64(len(data))
		return
	}
	if skip != 0 {
		sd.gap(skip)
	}
	sd.feed(data, tl)
}

// NoStart says the connection's start was not captured (nothing of it is
// decoded).
func (c *Conn) NoStart() bool { return c.noStart }

// ServerClosed tells that the server's side ended (FIN or RST, reached in
// order): an answer it had begun and not ended is kept with the bytes it
// sent (Short), as an HTTP/1.x answer the server cuts short is.
func (c *Conn) ServerClosed() { c.serverEnded = true }

// Close ends the connection: streams still open are emitted (a whole
// request without an answer is unanswered) or counted, and nothing more
// is accepted.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same capture gives the same rows in the same order
	st := &c.s.stats
	for _, id := range ids {
		s := c.streams[id]
		switch {
		case s.req == nil:
			st.Orphans++
		case s.tooLarge && !s.lost:
			st.TooLarge++
		case s.resp != nil && !s.respDone && !s.lost && s.reqDone && c.serverEnded && !c.server.dead:
			st.Short++
			c.emit(s)
		case s.lost || !s.reqDone || s.resp != nil && !s.respDone:
			// A request or an answer the capture cut short is not kept.
			st.Incomplete++
		case s.resp != nil:
			c.emit(s)
		case c.server.dead || c.server.hpackLost:
			// Its answer may be in what the server side lost.
			st.Incomplete++
		default:
			c.emit(s)
		}
	}
	c.streams = nil
}

// maxDropped bounds Conn.dropped: 4096 ids, 64 KiB at most.
const maxDropped = 4096

// open starts stream id, or returns nil when MaxStreams are open: the
// stream is dropped, its id noted.
func (c *Conn) open(id uint32) *stream {
	if len(c.streams) >= c.s.opts.MaxStreams {
		if len(c.dropped) >= maxDropped {
			clear(c.dropped)
		}
		if c.dropped == nil {
			c.dropped = map[uint32]bool{}
		}
		c.dropped[id] = false
		return nil
	}
	s := &stream{id: id}
	c.streams[id] = s
	return s
}

// settle emits a stream once both sides ended it, or it was reset.
func (c *Conn) settle(s *stream) {
	if !(s.reqDone && s.respDone) && !s.reset {
		return
	}
	delete(c.streams, s.id)
	st := &c.s.stats
	switch {
	case s.req == nil:
		st.Orphans++
	case s.lost, s.reset && !s.reqDone && !s.respDone:
		// A server may answer in full before the request's end, then
		// reset the stream (RFC 9113 section 8.1: nginx does for a body
		// it does not read): that is an exchange, with the body as sent.
		st.Incomplete++
	case s.tooLarge:
		st.TooLarge++
	default:
		c.emit(s)
	}
}

// emit hands a stream to the sink as an exchange.
func (c *Conn) emit(s *stream) {
	st := &c.s.stats
	if s.resp == nil {
		st.Unanswered++
	} else {
		st.Exchanges++
	}
	if s.grpc {
		st.GRPC++
		s.req.Messages = s.msgs[0].N
		if s.resp != nil {
			s.resp.Messages = s.msgs[1].N
		}
	}
	c.s.sink.Exchange(observed.Exchange{Conn: &c.Conn, Req: s.req, Resp: s.resp})
}

// lose marks the streams whose bytes in this direction may be in a hole.
func (c *Conn) lose(client bool) {
	for _, s := range c.streams {
		if client && !s.reqDone || !client && !s.respDone {
			s.lost = true
		}
	}
}

// block is a decoded header block, handed to the stream it belongs to.
type block struct {
	method, path, authority, status string
	headers                         []observed.Header
	at, end                         int64 // capture times of its first and last byte
	endStream                       bool
	over                            bool // over MaxHeaderList
	bad                             bool // broke RFC 9113 section 8.3 (pseudo-headers)
}

// onClientBlock takes a header block the client sent on stream id: a
// request's headers, or its trailers.
func (c *Conn) onClientBlock(id uint32, b *block) {
	s := c.streams[id]
	if s == nil || s.req == nil {
		if id%2 == 0 || !c.countRequest(id) {
			return // not a stream a client opens, or one counted already
		}
		if s == nil {
			if s = c.open(id); s == nil {
				c.s.stats.TooLarge++
				c.dropped[id] = true
				return
			}
		}
		target := b.path
		if b.method == "CONNECT" && target == "" {
			target = b.authority
		}
		s.req = &observed.Message{Method: b.method, Target: target, Proto: "HTTP/2.0", Authority: b.authority,
			Headers: joinCookies(b.headers), Start: b.at, End: b.end}
		s.grpc = observed.IsGRPC(b.headers)
		s.lost = s.lost || b.method == "" || target == "" || b.bad
		s.tooLarge = s.tooLarge || b.over
	} else if s.req != nil && !s.reqDone {
		// Request trailers: not kept (as HTTP/1.x chunked trailers are not).
		s.req.End = b.end
		s.tooLarge = s.tooLarge || b.over
	}
	if b.endStream {
		s.reqDone = true
		s.req.End = b.end
	}
	c.settle(s)
}

// onServerBlock takes a header block the server sent on stream id: an
// interim (1xx) or final response's headers, or its trailers.
func (c *Conn) onServerBlock(id uint32, b *block) {
	s := c.streams[id]
	if s == nil {
		if _, dropped := c.dropped[id]; id%2 == 0 || dropped {
			return // a push's (counted as such), or a dropped stream's
		}
		// The answer came before its request: reassembly may deliver one
		// side first (a request held up by a retransmission). It waits.
		if s = c.open(id); s == nil {
			return
		}
	}
	switch {
	case s.resp == nil:
		code, err := strconv.Atoi(b.status)
		if err != nil || code < 100 || code > 999 || b.bad {
			s.lost = true
			code = 0
		}
		if 100 <= code && code <= 199 && !b.endStream {
			return // interim: the final response follows
		}
		s.resp = &observed.Message{Status: code, Proto: "HTTP/2.0", Headers: b.headers, Start: b.at, End: b.end}
		s.grpc = s.grpc || observed.IsGRPC(b.headers) // when it came before its request
		s.keepResp = c.s.opts.MaxRespBody > 0 && observed.KeepsBody(b.headers)
	default:
		s.resp.Trailers = b.headers
		s.resp.End = b.end
	}
	s.tooLarge = s.tooLarge || b.over
	if b.endStream {
		s.respDone = true
		s.resp.End = b.end
	}
	c.settle(s)
}

// countRequest counts the request of stream id, unless it was counted
// already (a dropped stream's second header block); a request for a
// stream dropped before it came (its answer came first) is counted as
// dropped. It reports whether the request goes on to be read.
func (c *Conn) countRequest(id uint32) bool {
	counted, dropped := c.dropped[id]
	switch {
	case dropped && counted:
		return false
	case dropped:
		c.s.stats.Requests++
		c.s.stats.TooLarge++
		c.dropped[id] = true
		return false
	}
	c.s.stats.Requests++
	return true
}

// onData takes n body bytes b of stream id from one side.
func (c *Conn) onData(client bool, id uint32, b []byte) {
	s := c.streams[id]
	if s == nil {
		return
	}
	m, limit, dir := s.resp, c.s.opts.MaxRespBody, 1
	if client {
		m, limit, dir = s.req, c.s.opts.MaxBody, 0
	}
	if m == nil || client && s.reqDone || !client && s.respDone {
		s.lost = true // DATA before the headers or after the end: a protocol error
		return
	}
	m.BodySize += int64(len(b))
	if s.grpc {
		s.msgs[dir].Feed(b)
	}
	if !client && !s.keepResp {
		return
	}
	if room := limit - len(m.Body); room > 0 {
		m.Body = append(m.Body, b[:min(room, len(b))]...)
	}
}

// onEnd takes an END_STREAM on a DATA frame, whose last byte came at end.
func (c *Conn) onEnd(client bool, id uint32, end int64) {
	s := c.streams[id]
	if s == nil {
		return
	}
	if client {
		if s.req == nil {
			return
		}
		s.reqDone, s.req.End = true, end
	} else {
		if s.resp == nil {
			s.lost = true
			return
		}
		s.respDone, s.resp.End = true, end
	}
	c.settle(s)
}

// onReset takes an RST_STREAM. A whole request is kept: with the answer
// as far as it went when one had begun (as an HTTP/1.x answer the server
// cuts short), unanswered otherwise; so is a request the server answered
// in full before its end.
func (c *Conn) onReset(id uint32, end int64) {
	s := c.streams[id]
	if s == nil {
		return
	}
	c.s.stats.Resets++
	s.reset = true
	if s.resp != nil && !s.respDone {
		s.resp.End = end
	}
	c.settle(s)
}

// joinCookies puts a request's cookie lines (HTTP/2 clients send one per
// cookie) into one, where the first was, as RFC 9113 section 8.2.3 says a
// conversion to HTTP/1.1 must: the session cookie is then found where it
// is in HTTP/1.1, and the row replays as one Cookie header (as the HAR
// importer's rows do).
func joinCookies(hs []observed.Header) []observed.Header {
	first, n := -1, 0
	for i, h := range hs {
		if h.Name == "cookie" {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if n < 2 {
		return hs
	}
	var b strings.Builder
	out := hs[:0:0]
	for _, h := range hs {
		if h.Name == "cookie" {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(h.Value)
		}
	}
	for i, h := range hs {
		switch {
		case i == first:
			out = append(out, observed.Header{Name: "cookie", Value: b.String()})
		case h.Name != "cookie":
			out = append(out, h)
		}
	}
	return out
}
