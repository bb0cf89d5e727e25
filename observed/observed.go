// Package observed holds an HTTP exchange as a recording saw it, before
// it becomes a trace row: the one input of the recorder, which the packet
// path (httpstream's parsers), the recording proxy and the importers of
// other tools' files all produce. It depends on nothing, so a parser of
// untrusted bytes needs nothing else to be built, tested and fuzzed.
package observed

import "strings"

// Header is one header line: its name as sent and its value. Its tags are
// the trace's parquet schema (trace.Header is this type), so that a
// parsed header list becomes a row without a copy; the tags import nothing.
type Header struct {
	// Name is the header name with its original case.
	Name string `parquet:"name,dict"`
	// Value is the header value, or "redacted:" and a keyed hash for secrets.
	Value string `parquet:"value"`
}

// HeaderValue returns the first value of the header called name (case
// insensitive), and whether there was one.
func HeaderValue(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// equalFold is strings.EqualFold for ASCII, which is all header names are.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca != cb && lower(ca) != lower(cb) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Message is one request or response.
type Message struct {
	// Method is the request method; empty for a response.
	Method string
	// Target is the request target as sent; empty for a response.
	Target string
	// Status is the response status code; 0 for a request.
	Status int
	// Proto is "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0".
	Proto string
	// Authority is an HTTP/2 request's :authority pseudo-header (the
	// Host of HTTP/1.x), empty otherwise. Pseudo-headers are not in
	// Headers.
	Authority string
	// Headers are the header lines in wire order, values not yet redacted.
	Headers []Header
	// Trailers are an HTTP/2 message's trailer fields (a HEADERS block
	// after its body: gRPC's grpc-status), in wire order; nil when none.
	Trailers []Header
	// Messages counts the gRPC messages (length-prefixed) in the body of
	// a message whose Content-Type is application/grpc*; 0 otherwise.
	Messages int64
	// Body holds the first bytes of the body (as many as the source was
	// told to keep), transfer and content codings as sent less the
	// transfer coding.
	Body []byte
	// BodySize is the body length in bytes, transfer coding removed.
	BodySize int64
	// Start and End are the times of the first and last byte, in Unix
	// nanoseconds.
	Start, End int64
}

// BodyTruncated says whether Body holds fewer bytes than the body had.
func (m *Message) BodyTruncated() bool { return int64(len(m.Body)) < m.BodySize }

// Header returns the first value of the named header (case insensitive).
func (m *Message) Header(name string) (string, bool) { return HeaderValue(m.Headers, name) }

// KeepsBody says whether a response with these headers has a body whose
// values later requests may reuse: JSON, or no Content-Type at all.
func KeepsBody(headers []Header) bool {
	ct, ok := HeaderValue(headers, "Content-Type")
	return !ok || strings.Contains(strings.ToLower(ct), "json")
}

// Conn is the connection an exchange came on.
type Conn struct {
	// ID numbers the source's connections from 0.
	ID int64
	// Client and Server are ip:port strings (or what the source knew of
	// them: an imported file may have no addresses).
	Client, Server string
}

// Exchange is a request and its answer.
type Exchange struct {
	Conn *Conn
	Req  *Message
	// Resp is the answer; nil when none was seen.
	Resp *Message
	// ProxyAnswer says Resp is the recording proxy's own answer (the
	// upstream could not be reached), not the application's.
	ProxyAnswer bool
}

// Sink takes exchanges. The messages are not reused: it may keep them.
type Sink interface {
	Exchange(Exchange)
}

// Timeline gives the capture time of each byte of a chunk being fed to a
// connection's decoder (httpstream's and h2stream's).
type Timeline interface {
	// At returns the capture time, in Unix nanoseconds, of the byte at
	// offset in the chunk.
	At(offset int) int64
}

// FixedTime is a Timeline where every byte has the same time.
type FixedTime int64

// At implements Timeline.
func (t FixedTime) At(int) int64 { return int64(t) }

// GRPCMessages counts the length-prefixed messages (a flag byte, a
// 4-byte length, the message) of a gRPC body fed to it in pieces of any
// size, without keeping them.
type GRPCMessages struct {
	N      int64  // messages whose prefix was seen
	prefix int    // bytes of the current prefix seen (0-4)
	length uint32 // the length being read
	left   uint32 // bytes of the current message still to come
}

// Feed counts the messages that start in b.
func (g *GRPCMessages) Feed(b []byte) {
	for len(b) > 0 {
		if g.left > 0 {
			k := min(uint32(len(b)), g.left)
			b, g.left = b[k:], g.left-k
			continue
		}
		if g.prefix > 0 {
			g.length = g.length<<8 | uint32(b[0])
		}
		b = b[1:]
		if g.prefix++; g.prefix == 5 {
			g.N++
			g.left, g.prefix, g.length = g.length, 0, 0
		}
	}
}

// IsGRPC says whether headers make a message a gRPC call's: a
// Content-Type of application/grpc, application/grpc+proto,
// application/grpc-web...
func IsGRPC(hs []Header) bool {
	ct, ok := HeaderValue(hs, "Content-Type")
	return ok && IsGRPCContentType(ct)
}

// IsGRPCContentType says whether a Content-Type is gRPC's.
func IsGRPCContentType(ct string) bool {
	return len(ct) >= 16 && strings.EqualFold(ct[:16], "application/grpc")
}
