package h2stream

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/replaykit/replaykit/observed"
)

type collected struct{ got []observed.Exchange }

func (c *collected) Exchange(x observed.Exchange) { c.got = append(c.got, x) }

// peer writes one side's frames, with its own HPACK encoder as a real
// peer has.
type peer struct {
	buf bytes.Buffer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newPeer(client bool) *peer {
	p := &peer{}
	if client {
		p.buf.WriteString(Preface)
	}
	p.enc = hpack.NewEncoder(&p.hb)
	p.frame(0x4, 0, 0, nil) // SETTINGS
	return p
}

// frame writes one frame (a frame writer of our own: x/net/http2's
// Framer would bring x/text into the module for a test).
func (p *peer) frame(typ, flags byte, id uint32, payload []byte) {
	n := len(payload)
	p.buf.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)})
	p.buf.Write(payload)
}

func endFlag(end bool, f byte) byte {
	if end {
		return f
	}
	return 0
}

// headers writes a header block ("name: value" pairs, pseudo-headers
// first) split in frames of at most split bytes (0: one frame).
func (p *peer) headers(id uint32, end bool, split int, fields ...string) {
	p.hb.Reset()
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		p.enc.WriteField(hpack.HeaderField{Name: k, Value: v})
	}
	blk := p.hb.Bytes()
	first := blk
	if split > 0 && len(blk) > split {
		first = blk[:split]
	}
	rest := blk[len(first):]
	p.frame(frameHeaders, endFlag(end, flagEndStream)|endFlag(len(rest) == 0, flagEndHeaders), id, first)
	for len(rest) > 0 {
		n := min(split, len(rest))
		p.frame(frameContinuation, endFlag(n == len(rest), flagEndHeaders), id, rest[:n])
		rest = rest[n:]
	}
}

func (p *peer) data(id uint32, end bool, b string) {
	p.frame(frameData, endFlag(end, flagEndStream), id, []byte(b))
}

// run feeds both sides in chunks of step bytes, alternating, and closes.
func run(t *testing.T, opts Options, c, s []byte, step int) (*collected, Stats) {
	t.Helper()
	k := &collected{}
	st := New(opts, k)
	conn := st.NewConn(1, "c", "s", false)
	feedBoth(conn, c, s, step)
	conn.Close()
	return k, st.Stats()
}

func feedBoth(conn *Conn, c, s []byte, step int) {
	var at int64
	for i, j := 0, 0; i < len(c) || j < len(s); {
		at++
		if i < len(c) {
			e := min(i+step, len(c))
			conn.FeedClient(c[i:e], FixedTime(at), 0)
			i = e
		}
		if j < len(s) {
			e := min(j+step, len(s))
			conn.FeedServer(s[j:e], FixedTime(at), 0)
			j = e
		}
	}
}

func describe(xs []observed.Exchange) string {
	var b strings.Builder
	for _, x := range xs {
		st := 0
		var tr []observed.Header
		var msgs int64
		if x.Resp != nil {
			st, tr, msgs = x.Resp.Status, x.Resp.Trailers, x.Resp.Messages
		}
		fmt.Fprintf(&b, "%s %s %s %s %d req=%d/%q trailers=%v msgs=%d/%d hdrs=%v\n", x.Req.Proto, x.Req.Method, x.Req.Authority, x.Req.Target, st,
			x.Req.BodySize, x.Req.Body, tr, x.Req.Messages, msgs, x.Req.Headers)
	}
	return b.String()
}

// A connection with prior knowledge: GET, a POST with a body in two DATA
// frames, a gRPC call with trailers, a 103 before a 200, a header block
// in CONTINUATIONs, streams answered out of order.
func conversation() (c, s *peer) {
	c, s = newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":scheme: http", ":authority: a.test", ":path: /x?q=1", "user-agent: t")
	c.headers(3, false, 0, ":method: POST", ":scheme: http", ":authority: a.test", ":path: /up", "content-type: text/plain")
	c.data(3, false, "hel")
	c.data(3, true, "lo")
	c.headers(5, false, 0, ":method: POST", ":scheme: http", ":authority: a.test", ":path: /pkg.Svc/Do", "content-type: application/grpc", "te: trailers")
	c.data(5, false, "\x00\x00\x00\x00\x02hi\x00\x00\x00\x00\x01")
	c.data(5, true, "!")
	c.headers(7, true, 5, ":method: GET", ":scheme: http", ":authority: a.test", ":path: /long", "x-long: "+strings.Repeat("v", 100))

	s.headers(3, false, 0, ":status: 201", "content-type: text/plain")
	s.data(3, true, "ok")
	s.headers(1, false, 0, ":status: 103", "link: </s.css>")
	s.headers(1, false, 0, ":status: 200", "content-type: application/json")
	s.data(1, true, `{"a":1}`)
	s.headers(5, false, 0, ":status: 200", "content-type: application/grpc")
	s.data(5, false, "\x00\x00\x00\x00\x03abc")
	s.headers(5, true, 0, "grpc-status: 0", "grpc-message: fine")
	s.headers(7, true, 0, ":status: 404")
	return c, s
}

const conversationWant = `HTTP/2.0 POST a.test /up 201 req=5/"hello" trailers=[] msgs=0/0 hdrs=[{content-type text/plain}]
HTTP/2.0 GET a.test /x?q=1 200 req=0/"" trailers=[] msgs=0/0 hdrs=[{user-agent t}]
HTTP/2.0 POST a.test /pkg.Svc/Do 200 req=13/"\x00\x00\x00\x00\x02hi\x00\x00\x00\x00\x01!" trailers=[{grpc-status 0} {grpc-message fine}] msgs=2/1 hdrs=[{content-type application/grpc} {te trailers}]
HTTP/2.0 GET a.test /long 404 req=0/"" trailers=[] msgs=0/0 hdrs=[{x-long ` + "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" + `}]
`

func TestConversation(t *testing.T) {
	c, s := conversation()
	for _, step := range []int{1, 7, 1 << 20} {
		k, st := run(t, Options{MaxBody: 64, MaxRespBody: 64}, c.buf.Bytes(), s.buf.Bytes(), step)
		// Rows come as streams end, which depends on how the two sides
		// interleave: compare them in order of stream.
		lines := strings.SplitAfter(describe(k.got), "\n")
		slices.Sort(lines)
		want := strings.SplitAfter(conversationWant, "\n")
		slices.Sort(want)
		if got := strings.Join(lines, ""); got != strings.Join(want, "") {
			t.Errorf("step %d: got\n%s\nwant\n%s", step, got, strings.Join(want, ""))
		}
		if st.Exchanges != 4 || st.Requests != 4 || st.GRPC != 1 || st.Incomplete != 0 {
			t.Errorf("step %d: stats %+v", step, st)
		}
	}
}

// Times: a request starts at its HEADERS frame's first byte and ends at
// its END_STREAM frame's last; the same for the response.
func TestTimes(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	cpre := c.buf.Len()
	c.headers(1, false, 0, ":method: POST", ":path: /", ":authority: a")
	c.data(1, true, "x")
	s.headers(1, false, 0, ":status: 200")
	s.data(1, true, "y")
	k := &collected{}
	st := New(Options{}, k)
	conn := st.NewConn(0, "c", "s", false)
	cb := c.buf.Bytes()
	conn.FeedClient(cb[:cpre], FixedTime(1), 0)
	conn.FeedClient(cb[cpre:cpre+3], FixedTime(2), 0)
	conn.FeedClient(cb[cpre+3:len(cb)-1], FixedTime(3), 0)
	conn.FeedServer(s.buf.Bytes(), FixedTime(5), 0)
	conn.FeedClient(cb[len(cb)-1:], FixedTime(4), 0)
	conn.FeedServer(nil, FixedTime(6), 0)
	if len(k.got) != 1 {
		t.Fatalf("got %d exchanges", len(k.got))
	}
	x := k.got[0]
	if x.Req.Start != 2 || x.Req.End != 4 || x.Resp.Start != 5 || x.Resp.End != 5 {
		t.Errorf("times req %d-%d resp %d-%d, want 2-4 5-5", x.Req.Start, x.Req.End, x.Resp.Start, x.Resp.End)
	}
}

// A hole inside a DATA frame loses its stream only; a hole across frames
// loses what that side still had open and everything after it; a hole in
// a header block ends header decoding on that side.
func TestHoles(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /a", ":authority: a")
	c.headers(3, true, 0, ":method: GET", ":path: /b", ":authority: a")
	s.headers(1, false, 0, ":status: 200")
	s.data(1, false, strings.Repeat("a", 1000))
	mark := s.buf.Len()
	s.data(1, true, strings.Repeat("b", 1000))
	s.headers(3, false, 0, ":status: 200")
	s.data(3, true, "ok")
	sb := s.buf.Bytes()

	// 100 bytes lost inside stream 1's second DATA frame.
	k := &collected{}
	st := New(Options{}, k)
	conn := st.NewConn(0, "c", "s", false)
	conn.FeedClient(c.buf.Bytes(), FixedTime(1), 0)
	conn.FeedServer(sb[:mark+9+100], FixedTime(2), 0)
	conn.FeedServer(sb[mark+9+200:], FixedTime(3), 100)
	conn.Close()
	if got, want := describe(k.got), "HTTP/2.0 GET a /b 200 req=0/\"\" trailers=[] msgs=0/0 hdrs=[]\n"; got != want {
		t.Errorf("hole in DATA: got\n%s", got)
	}
	if s := st.Stats(); s.Incomplete != 1 || s.Exchanges != 1 || s.Desyncs != 0 {
		t.Errorf("hole in DATA: stats %+v", s)
	}

	// A hole of unknown size: both streams lose their answers.
	k = &collected{}
	st = New(Options{}, k)
	conn = st.NewConn(0, "c", "s", false)
	conn.FeedClient(c.buf.Bytes(), FixedTime(1), 0)
	conn.FeedServer(sb[:mark+9+100], FixedTime(2), 0)
	conn.FeedServer(sb[mark+9+200:], FixedTime(3), -1)
	conn.Close()
	if len(k.got) != 0 || st.Stats().Incomplete != 2 || st.Stats().Desyncs != 1 {
		t.Errorf("hole of unknown size: got %s stats %+v", describe(k.got), st.Stats())
	}
}

// A connection whose start was not captured is counted, not decoded.
func TestNoStart(t *testing.T) {
	c, s := conversation()
	cb, sb := c.buf.Bytes()[len(Preface)+9:], s.buf.Bytes()[9:]
	if !LooksLikeFrames(cb) || !LooksLikeFrames(sb) {
		t.Fatal("frames do not look like frames")
	}
	for _, b := range []string{"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", `{"a": 1}`, "", "\x00\x00"} {
		if LooksLikeFrames([]byte(b)) {
			t.Errorf("%q looks like frames", b)
		}
	}
	k := &collected{}
	st := New(Options{}, k)
	conn := st.NewConn(0, "c", "s", true)
	feedBoth(conn, cb, sb, 100)
	conn.Close()
	if len(k.got) != 0 || st.Stats().NoStart != 1 || st.Stats().NoStartBytes != int64(len(cb)+len(sb)) {
		t.Errorf("got %d exchanges, stats %+v", len(k.got), st.Stats())
	}
}

// Limits: a header list over MaxHeaderList drops its stream and keeps the
// table in step (the next request decodes); streams over MaxStreams are
// dropped.
func TestLimits(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /big", ":authority: a", "x-big: "+strings.Repeat("b", 2000))
	c.headers(3, true, 0, ":method: GET", ":path: /small", ":authority: a", "x-big: "+strings.Repeat("b", 2000)[:10])
	s.headers(1, true, 0, ":status: 200")
	s.headers(3, true, 0, ":status: 200")
	k, st := run(t, Options{MaxHeaderList: 1000}, c.buf.Bytes(), s.buf.Bytes(), 13)
	if len(k.got) != 1 || k.got[0].Req.Target != "/small" || st.TooLarge != 1 {
		t.Errorf("got %s stats %+v", describe(k.got), st)
	}

	c, s = newPeer(true), newPeer(false)
	for i := range 10 {
		c.headers(uint32(2*i+1), true, 0, ":method: GET", fmt.Sprintf(":path: /%d", i), ":authority: a")
	}
	for i := range 10 {
		s.headers(uint32(2*i+1), true, 0, ":status: 204")
	}
	k, st = run(t, Options{MaxStreams: 4}, c.buf.Bytes(), s.buf.Bytes(), 1<<20)
	if len(k.got) != 4 || st.TooLarge != 6 || st.Orphans != 0 {
		t.Errorf("got %d exchanges, stats %+v", len(k.got), st)
	}
}

// A reset stream keeps its whole request; a request the server never
// answered is unanswered at the close.
func TestResetAndUnanswered(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /r", ":authority: a")
	c.headers(3, true, 0, ":method: GET", ":path: /u", ":authority: a")
	s.frame(frameRSTStream, 0, 1, []byte{0, 0, 0, 7}) // REFUSED_STREAM
	k, st := run(t, Options{}, c.buf.Bytes(), s.buf.Bytes(), 1<<20)
	if got := describe(k.got); got != "HTTP/2.0 GET a /r 0 req=0/\"\" trailers=[] msgs=0/0 hdrs=[]\nHTTP/2.0 GET a /u 0 req=0/\"\" trailers=[] msgs=0/0 hdrs=[]\n" {
		t.Errorf("got\n%s", got)
	}
	if st.Resets != 1 || st.Unanswered != 2 {
		t.Errorf("stats %+v", st)
	}
}

// An upgraded connection: stream 1 answers the HTTP/1.1 request.
func TestUpgraded(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(3, true, 0, ":method: GET", ":path: /next", ":authority: a")
	s.headers(1, false, 0, ":status: 200")
	s.data(1, true, "one")
	s.headers(3, true, 0, ":status: 204")
	k := &collected{}
	st := New(Options{}, k)
	req := &observed.Message{Method: "GET", Target: "/", Proto: "HTTP/1.1", Headers: []observed.Header{{Name: "Host", Value: "a"}, {Name: "Upgrade", Value: "h2c"}}}
	conn := st.NewUpgradedConn(0, "c", "s", req)
	feedBoth(conn, c.buf.Bytes(), s.buf.Bytes(), 5)
	conn.Close()
	if len(k.got) != 2 || k.got[0].Req != req || k.got[0].Resp.Status != 200 || k.got[0].Resp.BodySize != 3 || k.got[1].Req.Target != "/next" {
		t.Errorf("got %s", describe(k.got))
	}
	if st.Stats().Upgrades != 1 || st.Stats().Exchanges != 2 {
		t.Errorf("stats %+v", st.Stats())
	}
}

// A server that answers in full before the request's body, then resets
// the stream (nginx's return for a body it does not read): the exchange
// is written, with the body as far as it was sent.
func TestAnsweredBeforeTheBody(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, false, 0, ":method: POST", ":path: /api/tasks", ":authority: a", "content-length: 33")
	s.headers(1, false, 0, ":status: 201")
	s.data(1, true, `{"id":7}`)
	s.frame(frameRSTStream, 0, 1, []byte{0, 0, 0, 0}) // NO_ERROR
	k, st := run(t, Options{}, c.buf.Bytes(), s.buf.Bytes(), 1<<20)
	if len(k.got) != 1 || k.got[0].Resp.Status != 201 || k.got[0].Req.BodySize != 0 || st.Resets != 1 || st.Exchanges != 1 {
		t.Errorf("got %s stats %+v", describe(k.got), st)
	}
}

// An answer the server cut short by closing (Apache after a GOAWAY) is
// kept with the bytes sent; one the capture cut short is not.
func TestServerCutsShort(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /big", ":authority: a")
	s.headers(1, false, 0, ":status: 200")
	s.data(1, false, "part")
	for _, closed := range []bool{true, false} {
		k := &collected{}
		st := New(Options{}, k)
		conn := st.NewConn(0, "c", "s", false)
		feedBoth(conn, c.buf.Bytes(), s.buf.Bytes(), 1<<20)
		if closed {
			conn.ServerClosed()
		}
		conn.Close()
		got := st.Stats()
		if closed && (len(k.got) != 1 || k.got[0].Resp.BodySize != 4 || got.Short != 1) || !closed && (len(k.got) != 0 || got.Incomplete != 1) {
			t.Errorf("server closed %v: got %s stats %+v", closed, describe(k.got), got)
		}
	}
}

// Cookie lines (one per cookie in HTTP/2) become one, where the first was.
func TestCookiesJoined(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /", ":authority: a", "cookie: theme=dark", "accept: */*", "cookie: session=s1")
	s.headers(1, true, 0, ":status: 204")
	k, _ := run(t, Options{}, c.buf.Bytes(), s.buf.Bytes(), 1<<20)
	if len(k.got) != 1 || fmt.Sprint(k.got[0].Req.Headers) != "[{cookie theme=dark; session=s1} {accept */*}]" {
		t.Errorf("got %s", describe(k.got))
	}
}

// A server push is counted, not a row: no client sent its request. Its
// header block is decoded all the same, so the server's table stays right
// for the answers after it.
func TestPush(t *testing.T) {
	c, s := newPeer(true), newPeer(false)
	c.headers(1, true, 0, ":method: GET", ":path: /page", ":authority: a")
	s.hb.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":path", Value: "/pushed.css"}, {Name: ":authority", Value: "a"}, {Name: "x-push", Value: "indexed in the table"}} {
		s.enc.WriteField(f)
	}
	s.frame(framePushPromise, flagEndHeaders, 1, append([]byte{0, 0, 0, 2}, s.hb.Bytes()...))
	s.headers(2, false, 0, ":status: 200", "content-type: text/css")
	s.data(2, true, "body{}")
	s.headers(1, false, 0, ":status: 200", "x-push: indexed in the table")
	s.data(1, true, "<html>")
	k, st := run(t, Options{}, c.buf.Bytes(), s.buf.Bytes(), 3)
	if len(k.got) != 1 || k.got[0].Req.Target != "/page" || fmt.Sprint(k.got[0].Resp.Headers) != "[{x-push indexed in the table}]" {
		t.Errorf("got %s", describe(k.got))
	}
	if st.Pushed != 1 || st.Orphans != 0 || st.Exchanges != 1 {
		t.Errorf("stats %+v", st)
	}
}
