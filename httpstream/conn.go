package httpstream

import (
	"strings"

	"github.com/replaykit/replaykit/observed"
)

// Timeline and FixedTime are observed's: the capture time of each byte
// of a chunk being fed, one type for both decoders.
type (
	Timeline  = observed.Timeline
	FixedTime = observed.FixedTime
)

// Conn pairs the requests and responses of one TCP connection.
type Conn struct {
	// Conn is the ID and the ip:port strings given to NewConn.
	observed.Conn

	s    *Streams
	req  parser // client to server
	resp parser // server to client

	reqs  []*Message // request heads seen, not yet emitted, in order
	resps []*Message // final responses complete, not yet paired
	// The arrays reqs and resps were last put at the start of (see push).
	reqsArray, respsArray []*Message

	// desync is set when a parser lost its place and we do not know how
	// many messages went with it: FIFO pairing would be off by that many.
	// Until a pair is made by capture time, pairing uses time.
	desync bool
	// reqSeen is the capture time of the last byte fed to the request side.
	reqSeen int64
	// respLostAt is the capture time by which the response side last lost
	// bytes: requests from before it that end with no response had it in
	// the hole, so they are incomplete, not unanswered.
	respLostAt int64
	closed     bool
	// pp strips a PROXY protocol header from the client's first bytes.
	pp proxyHeader
	// upgrade is the request (CONNECT, or with an Upgrade header) whose
	// answer decides whether the connection becomes a tunnel; the client
	// side holds what follows it until then.
	upgrade *Message

	// onH2C, when set, takes an h2c upgrade over (OnH2C); h2 then takes
	// every byte after the switch.
	onH2C func(req *observed.Message) Switched
	h2    Switched
}

// Switched takes the bytes of a connection after it switched to HTTP/2:
// from the client or the server, skip as FeedClient's.
type Switched func(fromClient bool, data []byte, tl Timeline, skip int)

// OnH2C makes the connection hand an h2c upgrade over instead of making it
// a tunnel: when a request with Upgrade: h2c gets a 101, f is called with
// that request (which is then not emitted: stream 1 of the HTTP/2
// connection answers it), and what it returns takes every byte after the
// 101 and the client's after its request.
func (c *Conn) OnH2C(f func(req *observed.Message) Switched) { c.onH2C = f }

// offsetTimeline is the Timeline of a chunk's bytes from off on.
type offsetTimeline struct {
	tl  Timeline
	off int
}

func (o offsetTimeline) At(i int) int64 { return o.tl.At(o.off + i) }

// FeedClient gives the parser bytes sent by the client. skip is the number
// of bytes lost just before data (0 none, -1 an unknown number).
func (c *Conn) FeedClient(data []byte, tl Timeline, skip int) {
	if c.closed {
		return
	}
	if c.h2 != nil && c.req.st == stTunnel {
		c.h2(true, data, tl, skip)
		return
	}
	if !c.pp.done {
		data, tl = c.stripProxyHeader(data, tl, skip)
	}
	if skip != 0 {
		c.req.gap(skip)
	}
	if len(data) > 0 {
		c.req.feed(data, tl)
		c.reqSeen = tl.At(len(data) - 1)
	}
	c.match()
	// A response waiting to learn its request's method may go on now.
	if c.resp.blocked {
		c.resp.unblock()
		c.match()
	}
}

// FeedServer gives the parser bytes sent by the server.
func (c *Conn) FeedServer(data []byte, tl Timeline, skip int) {
	if c.closed {
		return
	}
	if c.h2 != nil && c.resp.st == stTunnel {
		c.h2(false, data, tl, skip)
		return
	}
	if skip != 0 {
		c.resp.gap(skip)
		c.respLostAt = c.reqSeen
		if len(data) > 0 {
			c.respLostAt = max(c.reqSeen, tl.At(0))
		}
	}
	if len(data) > 0 {
		c.resp.feed(data, tl)
	}
	c.match()
}

// MidStream says the next bytes from the client (or the server) may begin
// in the middle of a message: that side's start was not captured.
func (c *Conn) MidStream(client bool) {
	p := &c.resp
	if client {
		p = &c.req
	}
	if p.st == stStart && p.cur == nil {
		p.st, p.atLineStart = stResync, true
		c.desync = true
	}
}

// ServerClosed tells that the server's side ended (FIN or RST, reached in
// order): a response whose body runs to the close is complete, and one the
// server cut short is kept with the bytes it sent.
func (c *Conn) ServerClosed() {
	c.resp.finish(true)
	c.match()
}

// Close ends the connection: close-delimited bodies end, requests still
// waiting are emitted with no response, and nothing more is accepted.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.endProxyHeader(true)
	if c.resp.blocked {
		c.resp.forceUnblock()
	}
	c.resp.finish(false)
	c.req.finish(false)
	c.closed = true
	c.match()
	st := &c.s.stats
	if !c.desync {
		// FIFO: the first len(resps) requests own those responses.
		for len(c.reqs) > 0 && len(c.resps) > 0 {
			c.emit(c.reqs[0], c.resps[0])
			c.reqs, c.resps = c.reqs[1:], c.resps[1:]
		}
	}
	for _, r := range c.reqs {
		switch {
		case c.resp.st == stFramed:
			// Its response, if any, was in bytes that could not be framed.
			r.framing = true
			c.drop(r)
		case r.Start <= c.respLostAt:
			c.drop(r)
		default:
			c.emit(r, nil)
		}
	}
	st.Orphans += int64(len(c.resps))
	c.reqs, c.resps, c.reqsArray, c.respsArray = nil, nil, nil, nil
}

// push appends m to the queue q (reqs or resps), whose array was last
// started at array. An empty queue starts again at its array's start: a
// queue taken from the front (q = q[1:]) would otherwise leave no room
// at its end, and need a new array nearly every message.
func push(q, array []*Message, m *Message) ([]*Message, []*Message) {
	if len(q) == 0 {
		q = array[:0]
	}
	room := cap(q)
	q = append(q, m)
	if cap(q) != room { // a new array, which q starts
		array = q[:0]
	}
	return q, array
}

// onRequestHead queues a request as soon as its head is parsed, so the
// response parser can learn its method (HEAD responses have no body).
func (c *Conn) onRequestHead(m *Message) {
	c.s.stats.Requests++
	c.reqs, c.reqsArray = push(c.reqs, c.reqsArray, m)
	if len(c.reqs) > c.s.opts.MaxPending {
		// Too many unanswered requests: drop the oldest. FIFO order no
		// longer holds, so pair by time from here.
		c.drop(c.reqs[0])
		c.reqs[0] = nil
		c.reqs = c.reqs[1:]
		c.desync = true
	}
}

// onResponse queues a complete final response.
func (c *Conn) onResponse(m *Message) {
	c.resps, c.respsArray = push(c.resps, c.respsArray, m)
}

// onLoss is called when a parser lost its place.
func (c *Conn) onLoss() { c.desync = true }

// methodFor returns the method of the request the response being parsed
// answers, and whether it is known yet.
func (c *Conn) methodFor() (string, bool) {
	if c.desync {
		// Unknown pairing: assume the common case rather than stall.
		return "", true
	}
	if i := len(c.resps); i < len(c.reqs) {
		return c.reqs[i].Method, true
	}
	return "", false
}

// match pairs complete requests with complete responses and emits them.
func (c *Conn) match() {
	for len(c.resps) > 0 && len(c.reqs) > 0 {
		if c.desync {
			if !c.matchByTime() {
				return
			}
			continue
		}
		req := c.reqs[0]
		if !req.settled() && !c.closed {
			return
		}
		c.emit(req, c.resps[0])
		c.reqs[0], c.resps[0] = nil, nil
		c.reqs, c.resps = c.reqs[1:], c.resps[1:]
	}
	if c.desync && len(c.resps) > 0 && len(c.reqs) == 0 && c.reqSeen >= c.resps[0].Start {
		// The request side is past this response and has nothing for it:
		// its request was lost.
		c.s.stats.Orphans++
		c.resps[0] = nil
		c.resps = c.resps[1:]
	}
}

// matchByTime pairs the first waiting response with the last request that
// started before it; requests before that one lost their responses. This
// is exact for clients that wait for each response (nearly all); with
// pipelining across a loss it may drop a few more exchanges than needed.
// It reports whether it made progress.
func (c *Conn) matchByTime() bool {
	r := c.resps[0]
	k := -1
	for i, q := range c.reqs {
		if q.Start > r.Start {
			break
		}
		k = i
	}
	switch {
	case k < 0:
		// Every request we have started after this response.
		c.s.stats.Orphans++
	case k == len(c.reqs)-1 && c.reqSeen < r.Start && !c.closed:
		// A later request that this response answers may still come.
		return false
	case !c.reqs[k].settled() && !c.closed:
		return false
	default:
		// Their responses were in the lost bytes.
		for _, q := range c.reqs[:k] {
			c.drop(q)
		}
		c.emit(c.reqs[k], r)
		clear(c.reqs[:k+1])
		c.reqs = c.reqs[k+1:]
		c.desync = false
	}
	c.resps[0] = nil
	c.resps = c.resps[1:]
	return true
}

// emit hands an exchange to the sink, or counts why it cannot.
func (c *Conn) emit(req, resp *Message) {
	st := &c.s.stats
	if req.h2c {
		return // the HTTP/2 decoder writes it
	}
	if resp != nil && resp.framing {
		req.framing = true
	}
	if req.framing || !req.done || req.Damaged || (resp != nil && resp.Damaged) {
		c.drop(req)
		return
	}
	if resp == nil {
		st.Unanswered++
	} else {
		st.Exchanges++
		if resp.short {
			st.ShortBodies++
		}
	}
	x := observed.Exchange{Conn: &c.Conn, Req: &req.Message}
	if resp != nil {
		x.Resp = &resp.Message
	}
	c.s.sink.Exchange(x)
}

// drop counts a request that is not written: a framing error, or bytes
// lost in capture.
func (c *Conn) drop(req *Message) {
	if req.framing {
		c.s.stats.FramingErrors++
	} else {
		c.s.stats.Incomplete++
	}
}

// settleUpgrade is told of a final response (or a 101) m, which answers a
// request of this method (if known), and says whether the connection is a
// tunnel from here on. When m answers the request the client side waits on
// (c.upgrade), that side goes on: as a tunnel, or parsing HTTP again.
func (c *Conn) settleUpgrade(m *Message, method string) (tunnel bool) {
	tunnel = m.Status == 101 || (method == "CONNECT" && m.Status/100 == 2)
	u := c.upgrade
	answers := false
	if u != nil {
		if c.desync {
			// Unsure pairing: nothing after u was parsed, so a response
			// that starts after it answers it or an earlier one.
			answers = m.Start >= u.Start
		} else {
			answers = len(c.resps) == len(c.reqs)-1
		}
		tunnel = tunnel || (answers && u.Method == "CONNECT" && m.Status/100 == 2)
	}
	switch {
	case tunnel && answers && m.Status == 101 && c.onH2C != nil && !c.desync && wantsH2C(u, m):
		// HTTP/2 from here on: stream 1 answers u.
		u.h2c, m.h2c = true, true
		c.s.stats.H2C++
		c.upgrade = nil
		c.h2 = c.onH2C(&u.Message)
		c.req.enterTunnel()
	case tunnel:
		c.upgrade = nil
		c.req.enterTunnel()
	case answers:
		c.upgrade = nil
		c.req.release()
	}
	return tunnel
}

// wantsH2C says whether the upgrade request u asked for h2c and its 101
// m agreed (or did not say).
func wantsH2C(u, m *Message) bool {
	up, ok := u.Header("Upgrade")
	if !ok || !hasToken(up, "h2c") {
		return false
	}
	if v, ok := m.Header("Upgrade"); ok && !hasToken(v, "h2c") {
		return false
	}
	return true
}

// hasToken says whether the comma-separated list v holds tok (any case).
func hasToken(v, tok string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}
