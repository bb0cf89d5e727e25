package capture

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/replaykit/replaykit/h2stream"
	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/observed"
)

// Options configure an Extractor.
type Options struct {
	// Ports are the server ports to watch; empty watches every TCP port. A
	// port also tells which side is the server when the handshake was not
	// captured.
	Ports []uint16
	// HTTP configures the HTTP parsers.
	HTTP httpstream.Options
	// HTTP2 bounds the HTTP/2 decoders; its MaxBody and MaxRespBody are
	// HTTP's.
	HTTP2 h2stream.Options
	// OutOfOrderWait is how long, in capture time, a hole in a stream is
	// waited for before its bytes count as lost (default 3s: beyond the
	// first retransmission timeouts).
	OutOfOrderWait time.Duration
	// IdleTimeout closes connections with no packet for this long, in capture
	// time (default 2m: longer than common keep-alive timeouts).
	IdleTimeout time.Duration
	// MaxBufferedPages bounds the out-of-order bytes held (in 1900-byte
	// pages) in total (default 65536, ~125 MB) and per connection (1/16th).
	MaxBufferedPages int
}

// Stats count packets; Extractor.Stats adds httpstream's counters.
type Stats struct {
	// Packets and Bytes count every packet read and its length on the wire.
	Packets, Bytes int64
	// TCP counts TCP segments on watched ports.
	TCP int64
	// BareACKs counts the TCP segments among them with no data and no SYN,
	// FIN or RST: not given to reassembly.
	BareACKs int64
	// Other counts packets that are not TCP over IP, or not on a watched port.
	Other int64
	// Fragments counts IP fragments (not reassembled).
	Fragments int64
	// Malformed counts packets whose headers could not be decoded.
	Malformed int64
	// Decapsulated counts the tunnel headers taken off, by kind: a packet
	// in a tunnel in a tunnel counts twice.
	Decapsulated Decapsulated
	// Truncated counts packets cut by the capture's snap length.
	Truncated int64
	// Connections counts TCP connections seen.
	Connections int64
	// HTTP holds the HTTP parsers' counters.
	HTTP httpstream.Stats
	// HTTP2 holds the HTTP/2 decoders' counters.
	HTTP2 h2stream.Stats
}

// Decapsulated counts tunnel headers by kind.
type Decapsulated struct {
	// VXLAN (UDP 4789), GENEVE (UDP 6081), GRE carrying IP or Ethernet
	// (IP protocol 47), ERSPAN types I, II and III (in GRE).
	VXLAN, GENEVE, GRE, ERSPAN int64
}

// Total is every tunnel header taken off.
func (d Decapsulated) Total() int64 { return d.VXLAN + d.GENEVE + d.GRE + d.ERSPAN }

// Extractor turns packets into HTTP exchanges, delivered to a sink. It is
// not safe for concurrent use: one goroutine feeds it packets in order.
type Extractor struct {
	opts    Options
	ports   [65536 / 64]uint64 // bitset of watched ports
	anyPort bool
	streams *httpstream.Streams
	h2      *h2stream.Streams
	asm     *reassembly.Assembler
	dec     *decoder
	stats   Stats
	order   flushOrder
	// idle holds the HTTP/2 connections reassembly closed for being idle
	// (no FIN or RST seen), by "client|server": their HPACK state is all
	// that lets their next streams be read, and a gRPC channel may be
	// quiet for minutes. When the connection's packets come again, it
	// goes on (see revive); at most maxIdleH2 wait.
	idle map[string]*tcpStream
	// closing: Close is flushing everything; nothing waits in idle.
	closing bool

	lastFlush time.Time
}

// flushOrder passes exchanges on to the sink, but those that reassembly's
// flushes emit, which it visits in the random order of a map, it holds
// and passes on in the order of their connections: a capture recorded
// twice gives the same trace.
type flushOrder struct {
	sink    observed.Sink
	holding bool
	held    []observed.Exchange
}

func (o *flushOrder) Exchange(e observed.Exchange) {
	if o.holding {
		o.held = append(o.held, e)
		return
	}
	o.sink.Exchange(e)
}

// flush runs fn, which may emit exchanges of many connections, and passes
// them on by connection, each connection's in the order emitted.
func (o *flushOrder) flush(fn func()) {
	o.holding = true
	fn()
	o.holding = false
	slices.SortStableFunc(o.held, func(a, b observed.Exchange) int { return cmp.Compare(a.Conn.ID, b.Conn.ID) })
	for i, e := range o.held {
		o.held[i] = observed.Exchange{}
		o.sink.Exchange(e)
	}
	o.held = o.held[:0]
}

// NewExtractor makes an Extractor that sends exchanges to sink.
func NewExtractor(opts Options, sink observed.Sink) *Extractor {
	if opts.OutOfOrderWait <= 0 {
		opts.OutOfOrderWait = 3 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.MaxBufferedPages <= 0 {
		opts.MaxBufferedPages = 65536
	}
	x := &Extractor{opts: opts, anyPort: len(opts.Ports) == 0, dec: newDecoder(), order: flushOrder{sink: sink}}
	for _, p := range opts.Ports {
		x.ports[p/64] |= 1 << (p % 64)
	}
	x.streams = httpstream.New(opts.HTTP, &x.order)
	opts.HTTP2.MaxBody, opts.HTTP2.MaxRespBody = opts.HTTP.MaxBody, opts.HTTP.MaxRespBody
	x.h2 = h2stream.New(opts.HTTP2, &x.order)
	x.asm = reassembly.NewAssembler(reassembly.NewStreamPool(&streamFactory{x: x}))
	x.asm.MaxBufferedPagesTotal = opts.MaxBufferedPages
	x.asm.MaxBufferedPagesPerConnection = max(opts.MaxBufferedPages/16, 64)
	return x
}

func (x *Extractor) watched(p layers.TCPPort) bool {
	return x.ports[p/64]&(1<<(p%64)) != 0
}

// Stats returns the counters so far.
func (x *Extractor) Stats() Stats {
	s := x.stats
	s.HTTP = x.streams.Stats()
	s.HTTP2 = x.h2.Stats()
	t := &x.dec.tunnels
	s.Decapsulated = Decapsulated{VXLAN: t[tunnelVXLAN], GENEVE: t[tunnelGENEVE], GRE: t[tunnelGRE], ERSPAN: t[tunnelERSPAN]}
	return s
}

// Packet decodes one packet of link type lt and feeds it to reassembly.
// data may be reused by the caller after Packet returns.
func (x *Extractor) Packet(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
	x.stats.Packets++
	x.stats.Bytes += int64(ci.Length)
	if ci.CaptureLength < ci.Length {
		x.stats.Truncated++
	}
	netFlow, r := x.dec.decode(data, linkOf(lt))
	switch r {
	case decodedOther:
		x.stats.Other++
		return
	case decodedFragment:
		x.stats.Fragments++
		return
	case decodedBad:
		x.stats.Malformed++
		return
	}
	tcp := &x.dec.tcp
	if !x.anyPort && !x.watched(tcp.SrcPort) && !x.watched(tcp.DstPort) {
		x.stats.Other++
		return
	}
	x.stats.TCP++
	if len(tcp.Payload) == 0 && !tcp.SYN && !tcp.FIN && !tcp.RST {
		// A bare ACK carries no HTTP bytes. Given to reassembly, the last
		// ACK after both FINs would open a stale connection that lives
		// until IdleTimeout: one per closed connection.
		x.stats.BareACKs++
		x.maybeFlush(ci.Timestamp)
		return
	}
	// A new context per packet: reassembly keeps it in the pages of data
	// that arrive out of order, and reads its time when they are delivered.
	ctx := captureTime(ci.Timestamp.UnixNano())
	x.asm.AssembleWithContext(netFlow, tcp, &ctx)
	x.maybeFlush(ci.Timestamp)
}

// Tick lets a live capture flush while no packet comes: now is the current
// time on the capture's clock.
func (x *Extractor) Tick(now time.Time) { x.maybeFlush(now) }

// maybeFlush gives up on holes older than OutOfOrderWait and closes idle
// connections, once per second of capture time, so memory stays flat on
// long captures.
func (x *Extractor) maybeFlush(now time.Time) {
	if x.lastFlush.IsZero() {
		x.lastFlush = now
		return
	}
	if now.Sub(x.lastFlush) < time.Second {
		return
	}
	x.lastFlush = now
	x.order.flush(func() {
		x.asm.FlushWithOptions(reassembly.FlushOptions{
			T:  now.Add(-x.opts.OutOfOrderWait),
			TC: now.Add(-x.opts.IdleTimeout),
		})
	})
}

// Close flushes every connection: what is still buffered is delivered, and
// requests without responses are emitted as unanswered.
func (x *Extractor) Close() {
	x.closing = true
	x.order.flush(func() {
		x.asm.FlushAll()
		x.closeIdle()
	})
}

// maxIdleH2 bounds the idle HTTP/2 connections kept (Extractor.idle): each
// holds two HPACK tables (64 KiB at most) and its open streams.
const maxIdleH2 = 1024

// closeIdle closes the idle HTTP/2 connections waiting, in connection
// order (their unanswered streams are emitted).
func (x *Extractor) closeIdle() {
	waiting := make([]*tcpStream, 0, len(x.idle))
	for _, s := range x.idle {
		waiting = append(waiting, s)
	}
	slices.SortFunc(waiting, func(a, b *tcpStream) int { return cmp.Compare(a.id, b.id) })
	for _, s := range waiting {
		s.h2.Close()
	}
	clear(x.idle)
}

// park keeps an HTTP/2 connection that reassembly closed for being idle.
func (x *Extractor) park(s *tcpStream) {
	if x.idle == nil {
		x.idle = map[string]*tcpStream{}
	}
	if len(x.idle) >= maxIdleH2 {
		// Bounded: the oldest and newest alike go.
		if x.order.holding {
			x.closeIdle() // inside a flush, which puts them in order
		} else {
			x.order.flush(x.closeIdle)
		}
	}
	x.idle[s.client+"|"+s.server] = s
}

// revive takes back the idle HTTP/2 connection of client and server (in
// either order: without a SYN the sides are guessed), or returns nil.
func (x *Extractor) revive(client, server string) *tcpStream {
	for _, k := range []string{client + "|" + server, server + "|" + client} {
		if s := x.idle[k]; s != nil {
			delete(x.idle, k)
			return s
		}
	}
	return nil
}

// captureTime carries a packet's capture time through reassembly, which
// keeps it with data held for reordering. It has no pointers, so the small
// allocation per packet is cheap; all reassembly and we read is the time.
type captureTime int64

func (c *captureTime) GetCaptureInfo() gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(0, int64(*c))}
}

type streamFactory struct{ x *Extractor }

// New decides which side is the client. The first packet's sender is not
// enough: after both FINs a last ACK can create an entry the wrong way round
// (see DEPENDENCIES.md). A SYN says it for sure; otherwise a watched port,
// then an ephemeral port, then the lower port is the server.
func (f *streamFactory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	x := f.x
	if len(x.idle) > 0 {
		src := hostPort(netFlow.Src().Raw(), uint16(tcp.SrcPort))
		dst := hostPort(netFlow.Dst().Raw(), uint16(tcp.DstPort))
		old := x.revive(src, dst)
		if old != nil && tcp.SYN {
			old.h2.Close() // the 4-tuple is reused: that connection is over
			old = nil
		}
		if old != nil {
			// The same connection after a quiet spell: its HTTP/2 decoder
			// goes on, if no byte went missing meanwhile (Accept checks
			// each side's next sequence number).
			s := &tcpStream{x: x, id: old.id, client: old.client, server: old.server, decided: true, h2: old.h2,
				firstIsClient: src == old.client, nextSeq: old.nextSeq, seqSeen: old.seqSeen, resumed: old.seqSeen}
			return s
		}
	}
	x.stats.Connections++
	var firstIsClient bool
	switch {
	case tcp.SYN && !tcp.ACK:
		firstIsClient = true
	case tcp.SYN && tcp.ACK:
		firstIsClient = false
	case !x.anyPort && x.watched(tcp.DstPort) != x.watched(tcp.SrcPort):
		firstIsClient = x.watched(tcp.DstPort)
	case (tcp.SrcPort >= 32768) != (tcp.DstPort >= 32768):
		firstIsClient = tcp.SrcPort >= 32768
	default:
		firstIsClient = tcp.SrcPort > tcp.DstPort
	}
	src := hostPort(netFlow.Src().Raw(), uint16(tcp.SrcPort))
	dst := hostPort(netFlow.Dst().Raw(), uint16(tcp.DstPort))
	client, server := src, dst
	if !firstIsClient {
		client, server = dst, src
	}
	s := &tcpStream{x: x, firstIsClient: firstIsClient, id: x.stats.Connections - 1, client: client, server: server, midStream: !tcp.SYN}
	return s
}

func hostPort(ip []byte, port uint16) string {
	return net.JoinHostPort(net.IP(ip).String(), strconv.Itoa(int(port)))
}

// tcpStream adapts one reassembled TCP connection to an httpstream.Conn
// (HTTP/1.x) or an h2stream.Conn (HTTP/2 by prior knowledge, or after an
// Upgrade: h2c, which the HTTP/1.x parser hands over), decided by the
// client's first bytes.
type tcpStream struct {
	x              *Extractor
	id             int64
	client, server string
	midStream      bool
	conn           *httpstream.Conn // nil until decided, and for HTTP/2 by prior knowledge
	h2             *h2stream.Conn
	decided        bool
	firstIsClient  bool
	sg             reassembly.ScatterGather // valid during ReassembledSG
	// midSides says, client then server, which sides began with no SYN
	// seen before the protocol was decided.
	midSides [2]bool
	// held keeps the frames the server sends before the client's first
	// bytes (an HTTP/2 server may send its SETTINGS first) until they
	// say which protocol the connection speaks; heldAt is the capture
	// time of its first byte.
	held   []byte
	heldAt int64
	// oneLen bytes of sg (all of them, 0: not known) are one chunk, all
	// with the capture time oneAt: At needs no walk of sg's chunks.
	oneLen int
	oneAt  int64
	// finAhead is set per direction when a FIN or RST came with bytes still
	// missing before it. gopacket closes such a half without telling the
	// stream about the hole, so we tell it at the end unless the FIN was
	// reached in order after all.
	finAhead [2]bool
	// nextSeq is, client then server, the sequence number after the last
	// byte seen (seqSeen: some was), and ended says a FIN or RST came:
	// what an idle HTTP/2 connection needs to go on (Extractor.idle).
	// resumed: the side's first segment after such a revival must start
	// at nextSeq, or bytes were lost while it was parked (lostGap).
	nextSeq          [2]reassembly.Sequence
	seqSeen, resumed [2]bool
	lostGap          [2]bool
	ended            bool
}

// maxHeld bounds what the server may send before the client's first
// bytes; beyond it the connection is HTTP/1.x (a server that speaks first).
const maxHeld = 64 << 10

// decide picks the protocol from data, the first bytes seen (from the
// client, unless fromClient is false), skip bytes after a hole.
func (s *tcpStream) decide(data []byte, fromClient bool, skip int) {
	s.decided = true
	x := s.x
	switch {
	case fromClient && skip == 0 && h2stream.IsPreface(data):
		// The preface starts a connection, whether its SYN was seen or not.
		s.h2 = x.h2.NewConn(s.id, s.client, s.server, false)
	case (s.midStream || s.midSides != [2]bool{} || skip != 0) && h2stream.LooksLikeFrames(data):
		// HTTP/2 whose start was not captured: not decodable (HPACK).
		s.h2 = x.h2.NewConn(s.id, s.client, s.server, true)
	default:
		s.conn = x.streams.NewConn(s.id, s.client, s.server, s.midStream)
		s.conn.OnH2C(func(req *observed.Message) httpstream.Switched {
			s.h2 = x.h2.NewUpgradedConn(s.id, s.client, s.server, req)
			return func(fromClient bool, data []byte, tl httpstream.Timeline, skip int) {
				if fromClient {
					s.h2.FeedClient(data, tl, skip)
				} else {
					s.h2.FeedServer(data, tl, skip)
				}
			}
		})
	}
	if s.conn != nil {
		for i, mid := range s.midSides {
			if mid {
				s.conn.MidStream(i == 0)
			}
		}
	}
	if s.held != nil {
		held := s.held
		s.held = nil
		s.feedServer(held, httpstream.FixedTime(s.heldAt), 0)
	}
}

func (s *tcpStream) feedClient(data []byte, tl httpstream.Timeline, skip int) {
	if !s.decided {
		if len(data) == 0 && skip == 0 {
			return
		}
		s.decide(data, true, skip)
	}
	if s.h2 != nil && s.conn == nil {
		s.h2.FeedClient(data, tl, skip)
		return
	}
	s.conn.FeedClient(data, tl, skip)
}

func (s *tcpStream) feedServer(data []byte, tl httpstream.Timeline, skip int) {
	if !s.decided {
		if len(data) == 0 && skip == 0 {
			return // a SYN+ACK says nothing
		}
		// Frames from the server before the client spoke: an HTTP/2
		// server's SETTINGS, waiting for the client's preface. Anything
		// else is HTTP/1.x (or not HTTP), parsed at once.
		if !s.midStream && s.midSides == [2]bool{} && skip == 0 && len(s.held)+len(data) <= maxHeld && (len(s.held) > 0 || h2stream.LooksLikeFrames(data)) {
			if len(s.held) == 0 {
				s.heldAt = tl.At(0)
			}
			s.held = append(s.held, data...)
			return
		}
		if s.held != nil {
			s.decide(nil, true, 0)
		} else {
			s.decide(data, false, skip)
		}
	}
	if s.h2 != nil && s.conn == nil {
		s.h2.FeedServer(data, tl, skip)
		return
	}
	s.conn.FeedServer(data, tl, skip)
}

func dirIndexOf(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

func dirIndex(d reassembly.TCPFlowDirection) int {
	if d == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

// Accept takes every segment. Data on a connection whose SYN was not seen
// starts the stream at once ("mid-stream"); pure ACKs do not, or a stale
// final ACK would start a stream with the wrong sequence numbers.
func (s *tcpStream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if !*start && len(tcp.Payload) > 0 {
		*start = true
	}
	if s.h2 != nil && s.conn == nil {
		s.track(tcp, (dir == reassembly.TCPDirClientToServer) == s.firstIsClient)
	}
	if (tcp.FIN || tcp.RST) && nextSeq >= 0 {
		end := reassembly.Sequence(tcp.Seq).Add(len(tcp.Payload))
		if nextSeq.Difference(end) > 0 {
			s.finAhead[dirIndex(dir)] = true
		}
	}
	return true
}

// track notes how far each side of an HTTP/2 connection went, and checks
// that a revived one goes on where it stopped.
func (s *tcpStream) track(tcp *layers.TCP, fromClient bool) {
	i := dirIndexOf(fromClient)
	if tcp.FIN || tcp.RST {
		s.ended = true
	}
	if len(tcp.Payload) == 0 {
		return
	}
	seq := reassembly.Sequence(tcp.Seq)
	if s.resumed[i] {
		s.resumed[i] = false
		s.lostGap[i] = seq != s.nextSeq[i]
	}
	if end := seq.Add(len(tcp.Payload)); !s.seqSeen[i] || s.nextSeq[i].Difference(end) > 0 {
		s.nextSeq[i], s.seqSeen[i] = end, true
	}
}

func (s *tcpStream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, start, end, skip := sg.Info()
	fromClient := (dir == reassembly.TCPDirClientToServer) == s.firstIsClient
	if end {
		s.finAhead[dirIndex(dir)] = false
	}
	if start && skip < 0 {
		// The first bytes of a side whose SYN we missed: not a loss, but
		// they may start in the middle of a message.
		skip = 0
		if !s.decided {
			// decide looks at these bytes, and tells the HTTP/1.x parser.
			s.midSides[dirIndexOf(fromClient)] = true
		} else if s.conn != nil {
			s.conn.MidStream(fromClient)
		}
	}
	if i := dirIndexOf(fromClient); s.lostGap[i] {
		// A revived connection whose side did not go on where it stopped.
		s.lostGap[i] = false
		skip = -1
	}
	n, _ := sg.Lengths()
	data := sg.Fetch(n)
	s.sg = sg
	if n > 0 && sg.Stats().Chunks == 1 {
		s.oneLen, s.oneAt = n, sg.CaptureInfo(0).Timestamp.UnixNano()
	}
	if fromClient {
		s.feedClient(data, s, skip)
	} else {
		s.feedServer(data, s, skip)
		if end && !s.decided {
			s.decide(nil, true, 0)
		}
		if end && s.conn != nil {
			s.conn.ServerClosed()
		}
		if end && s.h2 != nil {
			s.h2.ServerClosed()
		}
	}
	s.sg, s.oneLen = nil, 0
}

// At implements httpstream.Timeline with the capture time of each byte.
func (s *tcpStream) At(offset int) int64 {
	if 0 <= offset && offset < s.oneLen {
		return s.oneAt
	}
	return s.sg.CaptureInfo(offset).Timestamp.UnixNano()
}

func (s *tcpStream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	if !s.decided {
		s.decide(nil, true, 0)
	}
	if s.h2 != nil && s.conn == nil && !s.ended && !s.x.closing && s.finAhead == [2]bool{} && !s.h2.NoStart() {
		s.x.park(s) // idle, not ended: it may go on
		return true
	}
	for i, lost := range s.finAhead {
		if !lost {
			continue
		}
		if (i == 0) == s.firstIsClient {
			s.feedClient(nil, httpstream.FixedTime(0), -1)
		} else {
			s.feedServer(nil, httpstream.FixedTime(0), -1)
		}
	}
	if s.conn != nil {
		s.conn.Close()
	}
	if s.h2 != nil {
		s.h2.Close()
	}
	return true
}
