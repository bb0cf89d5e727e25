package httpstream

import (
	"bytes"
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/replaykit/replaykit/observed"
)

// state is where a parser is in its byte stream.
type state uint8

const (
	stStart     state = iota // at a message boundary
	stHead                   // head bytes buffered, blank line not seen yet
	stBodyLen                // Content-Length body, remaining bytes to go
	stChunkSize              // reading a chunk-size line
	stChunkData              // inside a chunk
	stChunkEnd               // the CRLF after a chunk
	stTrailer                // trailer lines after the last chunk
	stBodyEOF                // body runs until the connection closes
	stTunnel                 // after 101 or CONNECT: no longer HTTP
	stFramed                 // after a body length that cannot be read: not parsed any more
	stSkip                   // after an upgrade whose answer was not seen: not parsed any more
	stResync                 // lost: looking for the next message start
)

const (
	maxChunkLine = 4096    // chunk-size and trailer lines
	maxHeld      = 1 << 20 // bytes held while a response waits for its request
)

var errFraming = errors.New("conflicting or malformed body length")

// maxLength is the largest Content-Length or chunk size taken: a larger
// one is a framing error.
const maxLength = math.MaxInt64

// parser reads one direction of a connection: requests from the client, or
// responses from the server.
type parser struct {
	c       *Conn
	request bool
	// keepResp says the response being read keeps its body (MaxRespBody).
	keepResp  bool
	st        state
	buf       []byte   // partial head, chunk line or start-line prefix
	cur       *Message // message being read
	remaining int64    // body or chunk bytes still to come

	// atLineStart says the next byte follows a line end (or a gap), so a
	// message may start there; used while resyncing.
	atLineStart bool

	// blocked: a response head is parsed, but whether it has a body depends
	// on its request's method (HEAD), and that request has not been seen
	// yet; or a request may have made the connection a tunnel (CONNECT,
	// Upgrade), and its answer has not been seen yet. Bytes wait in held
	// until it is.
	blocked bool
	held    []byte
	heldAt  heldTimeline
	// noWait is set while held bytes are replayed because the request will
	// not come: no response may block again then.
	noWait bool
	// lastHead is the last head parsed, whose string the next head takes
	// when it is the same (parseHead).
	lastHead string
}

func (p *parser) init(c *Conn, request, midStream bool) {
	p.c, p.request = c, request
	if midStream {
		p.st, p.atLineStart = stResync, true
	}
}

func (p *parser) stats() *Stats { return &p.c.s.stats }

// feed consumes a chunk of bytes in stream order.
func (p *parser) feed(data []byte, tl Timeline) {
	for off := 0; off < len(data); {
		if p.blocked {
			p.hold(data[off:], tl, off)
			return
		}
		off += p.step(data[off:], tl, off)
	}
}

// step consumes a prefix of b (the bytes from offset off of the chunk) and
// returns its length. It may return 0 only after changing state.
func (p *parser) step(b []byte, tl Timeline, off int) int {
	switch p.st {
	case stStart:
		return p.stepStart(b, tl, off)
	case stHead:
		return p.stepHead(b, tl, off)
	case stBodyLen, stChunkData:
		n := int(min(int64(len(b)), p.remaining))
		p.body(b[:n])
		p.remaining -= int64(n)
		switch {
		case p.remaining > 0:
			// Where a body the server cuts short ends.
			p.cur.End = tl.At(off + n - 1)
		case p.st == stChunkData:
			p.st = stChunkEnd
		default:
			p.complete(tl.At(off + n - 1))
		}
		return n
	case stChunkSize, stTrailer:
		return p.stepLine(b, tl, off)
	case stChunkEnd:
		switch b[0] {
		case '\r':
			return 1
		case '\n':
			p.st = stChunkSize
			return 1
		}
		p.fail(errFraming) // more data than the chunk size said
		return 0
	case stBodyEOF:
		p.body(b)
		p.cur.End = tl.At(off + len(b) - 1)
		return len(b)
	case stTunnel:
		if p.c.h2 != nil {
			p.c.h2(p.request, b, offsetTimeline{tl, off}, 0)
			return len(b)
		}
		p.stats().TunnelBytes += int64(len(b))
		return len(b)
	case stFramed:
		p.stats().FramingBytes += int64(len(b))
		return len(b)
	case stSkip:
		p.stats().SkippedBytes += int64(len(b))
		return len(b)
	default:
		return p.stepResync(b)
	}
}

func (p *parser) stepStart(b []byte, tl Timeline, off int) int {
	// Blank lines between messages are allowed (RFC 9112 section 2.2).
	if i := skipCRLF(b); i > 0 {
		p.atLineStart = true
		return i
	}
	ok, more := looksLikeStart(b, p.request)
	if !ok {
		p.lose()
		return 0
	}
	p.cur = &Message{Message: observed.Message{Start: tl.At(off)}}
	if !more {
		if n := headEnd(b, 0); n > 0 {
			// The whole head is in this chunk: parse it in place.
			if err := p.head(b[:n], tl.At(off+n-1)); err != nil {
				p.fail(err)
			}
			return n
		}
	}
	p.buf = append(p.buf[:0], b...)
	p.st = stHead
	if len(p.buf) > maxHead {
		p.lose()
	}
	return len(b)
}

func (p *parser) stepHead(b []byte, tl Timeline, off int) int {
	prev := len(p.buf)
	p.buf = append(p.buf, b...)
	if prev < 24 {
		if ok, _ := looksLikeStart(p.buf, p.request); !ok {
			p.lose()
			return len(b)
		}
	}
	n := headEnd(p.buf, prev-3)
	if n < 0 {
		if len(p.buf) > maxHead {
			p.lose()
		}
		return len(b)
	}
	used := n - prev
	err := p.head(p.buf[:n], tl.At(off+used-1))
	p.releaseBuf()
	if err != nil {
		p.fail(err)
	}
	return used
}

// stepLine reads a chunk-size or trailer line.
func (p *parser) stepLine(b []byte, tl Timeline, off int) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		p.buf = append(p.buf, b...)
		if len(p.buf) > maxChunkLine {
			p.lose()
		}
		return len(b)
	}
	line := b[:i]
	if len(p.buf) > 0 {
		p.buf = append(p.buf, line...)
		line = p.buf
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if p.st == stTrailer {
		if len(line) == 0 {
			p.buf = p.buf[:0]
			p.complete(tl.At(off + i))
		} else {
			p.buf = p.buf[:0] // a trailer field: not kept
		}
		return i + 1
	}
	size, ok := parseChunkSize(line)
	p.buf = p.buf[:0]
	if !ok {
		p.fail(errFraming)
		return i + 1
	}
	if size == 0 {
		p.st = stTrailer
	} else {
		p.remaining, p.st = size, stChunkData
	}
	return i + 1
}

// stepResync looks for the start of a message at a line start. Bytes before
// it are skipped and counted.
func (p *parser) stepResync(b []byte) int {
	if len(p.buf) > 0 {
		// A short tail of the previous chunk might begin a start line.
		p.buf = append(p.buf, b[:min(len(b), 32)]...)
		ok, more := looksLikeStart(p.buf, p.request)
		if ok && more && len(p.buf) < 32 {
			return min(len(b), 32)
		}
		tail := len(p.buf) - min(len(b), 32)
		if ok {
			// Restart at the tail: it is kept as the head's first bytes.
			p.buf = p.buf[:tail]
			p.cur = &Message{} // start time unknown within the gap; set below
			p.st = stHead
			return 0
		}
		p.stats().SkippedBytes += int64(tail)
		p.buf = p.buf[:0]
		p.atLineStart = false
	}
	for i := 0; i < len(b); {
		if i > 0 || p.atLineStart {
			ok, more := looksLikeStart(b[i:], p.request)
			if ok && !more {
				p.stats().SkippedBytes += int64(i)
				p.st = stStart
				return i
			}
			if ok && more {
				// Too few bytes left to tell: keep them for the next chunk.
				p.stats().SkippedBytes += int64(i)
				p.buf = append(p.buf[:0], b[i:]...)
				return len(b)
			}
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	p.stats().SkippedBytes += int64(len(b))
	p.atLineStart = b[len(b)-1] == '\n'
	return len(b)
}

// head parses a complete head and decides how the body is framed.
func (p *parser) head(h []byte, end int64) error {
	m := p.cur
	if err := parseHead(h, p.request, m, &p.lastHead); err != nil {
		return err
	}
	if m.Start == 0 {
		m.Start = end
	}
	m.End = end
	if p.request {
		p.c.onRequestHead(m)
		return p.frameRequest()
	}
	p.stats().Responses++
	method, known := p.c.methodFor()
	if !known && !p.noWait && (m.Status < 100 || m.Status > 199) {
		p.blocked = true
		return nil
	}
	return p.frameResponse(method)
}

func (p *parser) frameRequest() error {
	m := p.cur
	if m.te >= 0 {
		if chunked, known := transferCodings(m); !chunked || !known {
			return errFraming // a request body must be chunked or sized
		}
		p.st = stChunkSize
		return nil
	}
	n, ok, err := contentLength(m)
	if err != nil {
		return err
	}
	if ok && n > 0 {
		p.remaining, p.st = n, stBodyLen
		if room := int64(p.c.s.opts.MaxBody); room > 0 {
			m.Body = make([]byte, 0, min(n, room))
		}
		return nil
	}
	p.complete(m.End)
	return nil
}

func (p *parser) frameResponse(method string) error {
	m := p.cur
	p.keepResp = p.c.s.opts.MaxRespBody > 0 && observed.KeepsBody(m.Headers)
	switch {
	case (m.Status == 101 || m.Status >= 200) && p.c.settleUpgrade(m, method):
		if !m.h2c {
			p.stats().Tunnels++
		}
		p.complete(m.End)
		p.st = stTunnel
		return nil
	case m.Status/100 == 1:
		// Interim (100 Continue, 103 Early Hints): the final response follows.
		p.cur, p.st = nil, stStart
		return nil
	case method == "HEAD" || m.Status == 204 || m.Status == 304:
		p.complete(m.End)
		return nil
	}
	if m.te >= 0 {
		switch chunked, known := transferCodings(m); {
		case !known:
			return errFraming
		case chunked:
			p.st = stChunkSize
		default:
			p.st = stBodyEOF
		}
		return nil
	}
	n, ok, err := contentLength(m)
	switch {
	case err != nil:
		return err
	case !ok:
		p.st = stBodyEOF
	case n == 0:
		p.complete(m.End)
	default:
		p.remaining, p.st = n, stBodyLen
		if p.keepResp {
			m.Body = make([]byte, 0, min(n, int64(p.c.s.opts.MaxRespBody)))
		}
	}
	return nil
}

func (p *parser) body(b []byte) {
	m := p.cur
	m.BodySize += int64(len(b))
	limit := p.c.s.opts.MaxBody
	if !p.request {
		if !p.keepResp {
			return
		}
		limit = p.c.s.opts.MaxRespBody
	}
	if room := limit - len(m.Body); room > 0 {
		m.Body = append(m.Body, b[:min(room, len(b))]...)
	}
}

// complete ends the current message at capture time end.
func (p *parser) complete(end int64) {
	m := p.cur
	m.End, m.done = end, true
	p.cur, p.st = nil, stStart
	switch {
	case !p.request:
		p.c.onResponse(m)
	case m.upgrade:
		// What the client sends next is HTTP or the tunnel's bytes, as the
		// answer says: hold it until then.
		p.blocked = true
		p.c.upgrade = m
	}
}

// fail handles an error in the message being read: a framing error, or a
// head that is not HTTP.
func (p *parser) fail(err error) {
	if !errors.Is(err, errFraming) {
		p.lose()
		p.atLineStart = true
		return
	}
	if p.cur != nil {
		p.cur.framing = true
	}
	if p.c.desync {
		// Pairing is unsure and this may not be a real message start:
		// search on, as for any loss.
		p.lose()
		p.atLineStart = true
		return
	}
	// Where the next message starts is unknown, and the peer must close
	// (RFC 9112 section 6.3): nothing after this on this side is parsed.
	// The message keeps its place, so pairing stays exact.
	p.abandon()
	p.cur, p.st, p.remaining = nil, stFramed, 0
	p.releaseBuf()
}

// lose abandons the current message (its bytes are gone or unreadable) and
// searches for the next start. How many messages went with it is unknown,
// so the connection pairs by time until it is sure again.
func (p *parser) lose() {
	p.abandon()
	p.cur, p.st, p.remaining = nil, stResync, 0
	p.releaseBuf()
	p.atLineStart = false
	p.stats().Resyncs++
	p.c.onLoss()
}

// abandon marks the current message damaged. A request whose head was
// parsed is already queued; a response whose head was parsed is queued now:
// both keep their place in the order, so the exchange is counted once, as
// incomplete, when it is paired.
func (p *parser) abandon() {
	m := p.cur
	if m == nil {
		return
	}
	m.Damaged = true
	if !p.request && m.Status != 0 && !p.blocked {
		p.c.onResponse(m)
	}
}

// gap handles skip bytes lost just before the next chunk (-1: unknown).
func (p *parser) gap(skip int) {
	if p.blocked {
		p.forceUnblock()
	}
	st := p.stats()
	st.Gaps++
	if skip > 0 {
		st.LostBytes += int64(skip)
	}
	switch p.st {
	case stBodyLen, stChunkData:
		if skip > 0 && int64(skip) < p.remaining {
			// The hole is inside the body: the message is damaged, but we
			// know exactly where the next one starts.
			p.cur.Damaged = true
			p.cur.BodySize += int64(skip)
			p.remaining -= int64(skip)
			return
		}
	case stBodyEOF:
		p.cur.Damaged = true
		return
	case stTunnel, stFramed, stSkip:
		return
	case stResync:
		p.releaseBuf()
		p.atLineStart = true
		return
	case stHead:
		if p.request {
			p.stats().Incomplete++ // a request lost before its head ended
			p.stats().headsLost++
		}
	}
	p.lose()
	p.atLineStart = true
}

// finish ends the stream: a close-delimited body is complete; anything else
// in progress is lost. closed says the server ended it (FIN or RST reached
// in order): a response body in progress was cut short by the server, not
// by the capture, and is kept as sent.
func (p *parser) finish(closed bool) {
	if p.blocked {
		// The request will not come in time: frame the response without it.
		p.forceUnblock()
	}
	switch p.st {
	case stBodyEOF:
		p.complete(p.cur.End)
	case stStart, stResync, stTunnel, stFramed, stSkip:
	case stBodyLen, stChunkSize, stChunkData, stChunkEnd, stTrailer:
		if closed && !p.request && !p.cur.Damaged {
			p.cur.short = true
			p.remaining = 0
			p.releaseBuf()
			p.complete(p.cur.End)
			return
		}
		fallthrough
	default:
		if p.st == stHead && p.request {
			p.stats().Incomplete++
			p.stats().headsLost++
		}
		p.abandon()
		p.cur, p.st = nil, stResync
		p.releaseBuf()
	}
}

func (p *parser) releaseBuf() {
	if cap(p.buf) > 16<<10 {
		p.buf = nil
	} else {
		p.buf = p.buf[:0]
	}
}

// hold keeps bytes that arrive while blocked, with their capture times.
func (p *parser) hold(b []byte, tl Timeline, off int) {
	if len(b) == 0 {
		return
	}
	p.heldAt = append(p.heldAt, mark{off: len(p.held), at: tl.At(off)})
	p.held = append(p.held, b...)
	if len(p.held) > maxHeld {
		p.forceUnblock()
	}
}

// unblock goes on once the request's method is known.
func (p *parser) unblock() {
	if method, known := p.c.methodFor(); known {
		p.resume(method)
	}
}

// forceUnblock goes on without what it waits for. A response assumes its
// request was not HEAD. A request side that waits for the answer to an
// upgrade (the connection ends, bytes are lost, or too many are held)
// parses nothing more: what the client sent may be the tunnel's, and HTTP
// inside a tunnel must not become requests that replay would send.
func (p *parser) forceUnblock() {
	if p.request {
		p.c.upgrade = nil
		p.stats().SkippedBytes += int64(len(p.held))
		p.blocked, p.held, p.heldAt = false, nil, nil
		p.st = stSkip
		return
	}
	p.noWait = true
	p.resume("")
	p.noWait = false
}

func (p *parser) resume(method string) {
	p.blocked = false
	held, at := p.held, p.heldAt
	p.held, p.heldAt = nil, nil
	if err := p.frameResponse(method); err != nil {
		p.fail(err)
	}
	p.feed(held, at)
}

// release parses the bytes a request side held as HTTP: its upgrade was
// refused.
func (p *parser) release() {
	p.blocked = false
	held, at := p.held, p.heldAt
	p.held, p.heldAt = nil, nil
	p.feed(held, at)
}

// enterTunnel stops parsing this side: the connection is a tunnel. Bytes
// held for the answer were the tunnel's.
func (p *parser) enterTunnel() {
	held, at := p.held, p.heldAt
	p.blocked, p.held, p.heldAt = false, nil, nil
	if p.c.h2 != nil {
		p.cur, p.st, p.remaining = nil, stTunnel, 0
		p.releaseBuf()
		if len(held) > 0 {
			p.c.h2(p.request, held, at, 0)
		}
		return
	}
	p.stats().TunnelBytes += int64(len(held))
	p.cur, p.st, p.remaining = nil, stTunnel, 0
	p.releaseBuf()
}

// mark is the capture time of held bytes from offset off on.
type mark struct {
	off int
	at  int64
}

// heldTimeline is the Timeline of held bytes.
type heldTimeline []mark

func (h heldTimeline) At(off int) int64 {
	i := sort.Search(len(h), func(i int) bool { return h[i].off > off })
	if i == 0 {
		return 0
	}
	return h[i-1].at
}

func skipCRLF(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// parseChunkSize reads the hex size at the start of a chunk line, ignoring
// chunk extensions.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		if n > maxLength>>4 {
			return 0, false // over 63 bits
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// contentLength returns the Content-Length, whether there was one, and an
// error when values disagree or are not numbers (RFC 9112 section 6.3).
func contentLength(m *Message) (int64, bool, error) {
	if m.cl < 0 {
		return 0, false, nil
	}
	if !m.multiCL {
		if n, ok := parseDecimal(m.Headers[m.cl].Value); ok {
			return n, true, nil
		}
	}
	var n int64 = -1
	for _, h := range m.Headers[m.cl:] {
		if !strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		for v := range strings.SplitSeq(h.Value, ",") {
			x, ok := parseDecimal(strings.TrimSpace(v))
			if !ok || (n >= 0 && x != n) {
				return 0, false, errFraming
			}
			n = x
		}
	}
	return n, true, nil
}

// parseDecimal reads a Content-Length value: digits only, no sign, as
// many as there are (leading zeros are allowed), and a value that fits.
func parseDecimal(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxLength-d)/10 {
			return 0, false // over 63 bits
		}
		n = n*10 + d
	}
	return n, true
}

// transferCodings reads the Transfer-Encoding lines of m: whether chunked
// is the final coding, and whether every coding is one HTTP defines
// (RFC 9112 section 7).
func transferCodings(m *Message) (chunked, known bool) {
	known = true
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Transfer-Encoding") {
			continue
		}
		for c := range strings.SplitSeq(h.Value, ",") {
			c = strings.TrimSpace(c)
			if i := strings.IndexByte(c, ';'); i >= 0 {
				c = strings.TrimSpace(c[:i]) // parameters
			}
			if c == "" {
				continue // empty list elements are allowed
			}
			chunked = strings.EqualFold(c, "chunked")
			if !chunked && !knownCoding(c) {
				known = false
			}
		}
	}
	return chunked, known
}

func knownCoding(c string) bool {
	for _, k := range [...]string{"gzip", "deflate", "compress", "x-gzip", "x-compress", "identity"} {
		if strings.EqualFold(c, k) {
			return true
		}
	}
	return false
}
