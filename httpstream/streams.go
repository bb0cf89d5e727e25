package httpstream

import "github.com/replaykit/replaykit/observed"

// Options configure parsing.
type Options struct {
	// MaxBody is how many request body bytes a Message keeps (the rest is
	// counted in BodySize only). 0 keeps none.
	MaxBody int
	// MaxRespBody is how many bytes of a JSON (or untyped) response body
	// a Message keeps, for the values later requests reuse; 0 keeps none.
	// Other responses keep none.
	MaxRespBody int
	// MaxPending bounds the requests waiting for a response on one
	// connection (default 16384: a pipelining client may send 10,000
	// before the first answer), so a client that never gets answers cannot
	// grow memory without end.
	MaxPending int
}

// Stats count what happened to the bytes, for the record summary. Exchanges
// + Unanswered are the rows written; the others are what was not.
type Stats struct {
	// Requests and Responses count message heads parsed (1xx included).
	Requests, Responses int64
	// Exchanges counts requests emitted with their response.
	Exchanges int64
	// Unanswered counts intact requests emitted with no response (status 0):
	// the connection or the capture ended first.
	Unanswered int64
	// Incomplete counts exchanges dropped because bytes of the request or the
	// response were lost.
	Incomplete int64
	// Orphans counts responses dropped because their request was not seen.
	Orphans int64
	// Gaps and LostBytes count holes reported by reassembly, and the bytes in
	// them when known.
	Gaps, LostBytes int64
	// Resyncs counts the times a parser lost its place and searched for the
	// next message start; SkippedBytes the bytes it discarded doing so
	// (including non-HTTP traffic on a watched port).
	Resyncs, SkippedBytes int64
	// ProxyHeaders counts PROXY protocol headers (a load balancer's, v1 or
	// v2) stripped from the start of connections, whose client address
	// became the connection's. ProxyBad counts those that began like one
	// but broke its rules or were cut short: stripped when their end was
	// known, else left to the HTTP parser; their address is not used.
	ProxyHeaders, ProxyBad int64
	// FramingErrors counts exchanges dropped because the body length of
	// their request or response could not be read: a Content-Length that is
	// not digits, does not fit 63 bits, or disagrees with another; a chunk
	// size that is not hex or does not fit; a transfer coding that is not
	// chunked, gzip, deflate, compress or identity. The side that sent it is
	// not parsed after it (RFC 9112 section 6.3: its peer must close), and
	// requests whose responses were in such bytes count here too.
	// FramingBytes counts the bytes not parsed after them.
	FramingErrors, FramingBytes int64
	// ShortBodies counts responses the server ended (FIN or RST) before
	// their Content-Length or last chunk: written, with the body size
	// actually sent (they are in Exchanges too).
	ShortBodies int64
	// Tunnels counts connections that switched protocols (101, or a 2xx
	// answer to CONNECT): the switch is one exchange, and neither side is
	// parsed after it; TunnelBytes counts the bytes both sides sent after
	// the switch.
	Tunnels, TunnelBytes int64
	// H2C counts requests with Upgrade: h2c that a 101 answered: they and
	// the connection after them went to the HTTP/2 decoder (Conn.OnH2C),
	// which writes them with the answer of stream 1.
	H2C int64

	// headsLost counts requests lost before their head was parsed (in
	// Incomplete, not in Requests), so the fuzz test can check that every
	// request is counted once.
	headsLost int64
}

// Streams is the shared state of all connections of one capture: options,
// sink and stats. Not safe for concurrent use: one capture goroutine owns it.
type Streams struct {
	opts  Options
	sink  observed.Sink
	stats Stats
}

// New makes a Streams that sends exchanges to sink: once per complete,
// intact request, with its response, or with none when none was seen.
func New(opts Options, sink observed.Sink) *Streams {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 16384
	}
	if opts.MaxBody < 0 {
		opts.MaxBody = 0
	}
	return &Streams{opts: opts, sink: sink}
}

// Stats returns the counters so far.
func (s *Streams) Stats() Stats { return s.stats }

// NewConn starts a connection. client and server are ip:port strings kept
// for the caller; midStream says the connection's start was not captured,
// so its first bytes may be the middle of a message.
func (s *Streams) NewConn(id int64, client, server string, midStream bool) *Conn {
	c := &Conn{s: s, Conn: observed.Conn{ID: id, Client: client, Server: server}}
	c.req.init(c, true, midStream)
	c.resp.init(c, false, midStream)
	c.desync = midStream
	return c
}
