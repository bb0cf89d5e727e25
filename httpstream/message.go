// Package httpstream turns the two byte streams of a TCP connection into
// HTTP/1.x exchanges. It knows nothing of packets: the capture layer feeds it
// reassembled bytes with their capture times and tells it where bytes were
// lost, so it can be tested, fuzzed and benchmarked with bytes alone.
//
// Each direction has an incremental parser (a state machine, no goroutine,
// no per-packet allocation). Requests and responses are paired in order per
// connection; after a loss whose size is unknown, pairing falls back to
// capture time until it is sure again.
package httpstream

import "github.com/replaykit/replaykit/observed"

// Message is one parsed request or response: what the recorder takes,
// with the parser's own state.
type Message struct {
	observed.Message
	// Damaged is true when bytes of the message were lost in capture.
	Damaged bool

	done bool // the last byte was seen
	// Indexes into Headers of the framing headers, noted while parsing so
	// framing needs no second pass: the last Transfer-Encoding line and the
	// first Content-Length line (-1: absent).
	te, cl  int
	multiCL bool
	// upgrade: a request that may turn the connection into a tunnel
	// (CONNECT, or an Upgrade header): what the client sends after it waits
	// for the answer.
	upgrade bool
	// framing: the body length cannot be read (a bad or conflicting
	// Content-Length, a bad chunk size, an unknown transfer coding).
	framing bool
	// short: a response the server ended (FIN or RST) before its length.
	short bool
	// h2c: an upgrade request a 101 answered with HTTP/2 (Upgrade: h2c),
	// handed to the HTTP/2 decoder (see Conn.OnH2C), or that 101: neither
	// is emitted here.
	h2c bool
}

// settled says nothing more will change whether m is emitted: it is
// complete, or damaged and so dropped anyway.
func (m *Message) settled() bool { return m.done || m.Damaged }
