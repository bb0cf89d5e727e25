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

import (
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// Message is one parsed request or response.
type Message struct {
	// Method is the request method; empty for a response.
	Method string
	// Target is the request target as sent; empty for a response.
	Target string
	// Status is the response status code; 0 for a request.
	Status int
	// Proto is "HTTP/1.0" or "HTTP/1.1".
	Proto string
	// Headers are the header lines in wire order, values not yet redacted.
	Headers []trace.Header
	// Body holds the first MaxBody bytes of a request body (MaxRespBody of a
	// response's: see KeepsBody), transfer coding removed.
	Body []byte
	// BodySize is the body length in bytes, transfer coding removed.
	BodySize int64
	// Start is the capture time of the first byte, in Unix nanoseconds.
	Start int64
	// End is the capture time of the last byte, in Unix nanoseconds.
	End int64
	// Damaged is true when bytes of the message were lost in capture.
	Damaged bool

	done bool // the last byte was seen
	// Indexes into Headers of the framing headers, noted while parsing so
	// framing needs no second pass: the last Transfer-Encoding line and the
	// first Content-Length line (-1: absent).
	te, cl  int
	multiCL bool
}

// BodyTruncated says whether Body holds fewer bytes than the body had.
func (m *Message) BodyTruncated() bool { return int64(len(m.Body)) < m.BodySize }

// Header returns the first value of the named header (case insensitive).
func (m *Message) Header(name string) (string, bool) { return trace.HeaderValue(m.Headers, name) }

// settled says nothing more will change whether m is emitted: it is
// complete, or damaged and so dropped anyway.
func (m *Message) settled() bool { return m.done || m.Damaged }

// KeepsBody says whether a response with these headers has a body whose
// values later requests may reuse: JSON, or no Content-Type at all.
func KeepsBody(headers []trace.Header) bool {
	ct, ok := trace.HeaderValue(headers, "Content-Type")
	return !ok || strings.Contains(strings.ToLower(ct), "json")
}
