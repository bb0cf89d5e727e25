// Package h2stream turns the two byte streams of an HTTP/2 cleartext (h2c)
// connection into exchanges, one per stream. Like httpstream it knows
// nothing of packets: the capture layer feeds it reassembled bytes with
// their capture times and tells it where bytes were lost, so it can be
// tested and fuzzed with bytes alone.
//
// Each direction has an incremental frame reader (no goroutine, no frame
// buffered whole: DATA is streamed, header blocks are decoded as they
// come) and its own HPACK decoder, whose state is the whole direction's
// history: a connection whose start was not captured cannot be decoded,
// and a hole inside a header block ends the decoding of that direction's
// header blocks. A hole inside a DATA frame costs only its stream.
package h2stream

import "github.com/replaykit/replaykit/observed"

// Preface is what a client sends first on an HTTP/2 connection (RFC 9113
// section 3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Options configure decoding. Zero values take the defaults.
type Options struct {
	// MaxBody is how many request body bytes a Message keeps (the rest is
	// counted in BodySize only). 0 keeps none.
	MaxBody int
	// MaxRespBody is how many bytes of a JSON (or untyped) response body
	// a Message keeps; 0 keeps none.
	MaxRespBody int
	// MaxHeaderList bounds a header block's decoded size, counted as
	// RFC 9113's SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value +
	// 32 per field), and the length of one name or value (default 64 KiB:
	// above nginx's and curl's limits). A stream over it is dropped
	// (TooLarge); its block is still decoded, so the HPACK state holds.
	MaxHeaderList int
	// MaxStreams bounds the streams open at once on a connection (default
	// 1024: servers advertise 100 to 256). Streams beyond it are dropped
	// (TooLarge) and their header blocks still decoded.
	MaxStreams int
}

// maxTable bounds each HPACK decoder's dynamic table, whatever the peers
// advertise (SETTINGS_HEADER_TABLE_SIZE; 4096 by default, rarely more): a
// passive decoder cannot refuse, so an encoder above it loses its
// direction's header blocks (HPACKErrors) instead of costing memory.
const maxTable = 64 << 10

// Stats count what happened to the connections and streams.
type Stats struct {
	// Connections counts connections decoded as HTTP/2 (prior knowledge
	// or upgrade); Upgrades those that came by Upgrade: h2c and a 101.
	Connections, Upgrades int64
	// NoStart counts connections that look like HTTP/2 but whose start
	// (the preface and the first header blocks) was not captured: without
	// the HPACK state their headers cannot be decoded, so nothing of them
	// is recorded. NoStartBytes counts their bytes.
	NoStart, NoStartBytes int64
	// Requests counts request header blocks decoded (streams opened by
	// the client).
	Requests int64
	// Exchanges counts streams emitted with their response, Unanswered
	// those emitted with none (the connection or the capture ended first,
	// or the server reset the stream before answering).
	Exchanges, Unanswered int64
	// Incomplete counts streams dropped because bytes of their request or
	// response were lost, or their header block could not be decoded.
	Incomplete int64
	// Orphans counts responses whose request was not seen.
	Orphans int64
	// Short counts answers the server ended its side of the connection
	// in (FIN or RST, often after a GOAWAY) before their END_STREAM:
	// written, with the bytes it sent (they are in Exchanges too).
	Short int64
	// Resets counts streams ended by RST_STREAM (written when their
	// request was whole, without a response unless it was complete).
	Resets int64
	// TooLarge counts streams dropped for MaxHeaderList or MaxStreams.
	TooLarge int64
	// Pushed counts server pushes (PUSH_PROMISE): no request was sent, so
	// they are not exchanges.
	Pushed int64
	// HPACKErrors counts directions whose header decoding stopped: a hole
	// in a header block, or a block that did not decode (an index out of
	// the table, a table over maxTable).
	HPACKErrors int64
	// Gaps and LostBytes count holes reported by reassembly, and the bytes
	// in them when known. Desyncs counts directions whose frame boundaries
	// were lost (a hole across a frame header, or of unknown size): their
	// later bytes are not parsed and are counted in SkippedBytes, as are
	// bytes that are not HTTP/2.
	Gaps, LostBytes, Desyncs, SkippedBytes int64
	// GRPC counts the exchanges among Exchanges and Unanswered that are
	// gRPC calls (Content-Type application/grpc*).
	GRPC int64
}

// Streams is the shared state of all HTTP/2 connections of one capture:
// options, sink and stats. Not safe for concurrent use.
type Streams struct {
	opts  Options
	sink  observed.Sink
	stats Stats
}

// New makes a Streams that sends exchanges to sink.
func New(opts Options, sink observed.Sink) *Streams {
	if opts.MaxHeaderList <= 0 {
		opts.MaxHeaderList = 64 << 10
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 1024
	}
	opts.MaxBody = max(opts.MaxBody, 0)
	opts.MaxRespBody = max(opts.MaxRespBody, 0)
	return &Streams{opts: opts, sink: sink}
}

// Stats returns the counters so far.
func (s *Streams) Stats() Stats { return s.stats }
