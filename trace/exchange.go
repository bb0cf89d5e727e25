// Package trace holds the trace format: one row per recorded HTTP exchange,
// stored as zstd-compressed parquet that DuckDB, pandas or Spark read as is.
package trace

import (
	"strconv"
	"strings"
	"time"

	"github.com/replaykit/replaykit/observed"
)

// Exchange is one HTTP request and its response, as seen on the wire.
// The parquet tags are the public column names of the trace format.
type Exchange struct {
	// ID is the exchange number in its file, counting from 0 in write order.
	ID int64 `parquet:"id"`
	// TS is the capture time of the first request byte, UTC.
	TS time.Time `parquet:"ts,timestamp(nanosecond)"`
	// Session is the virtual-user key: a credential's keyed hash, a session
	// cookie's keyed hash, or the client IP (see record --session-key).
	Session string `parquet:"session,dict"`
	// Conn is the connection number in the file; exchanges of one keep-alive
	// connection share it.
	Conn int64 `parquet:"conn"`
	// Client is the client's ip:port.
	Client string `parquet:"client"`
	// Server is the server's ip:port.
	Server string `parquet:"server,dict"`
	// Method is the request method as sent ("GET", "POST", ...).
	Method string `parquet:"method,dict"`
	// Host is the Host header, or the authority of an absolute-form target;
	// over HTTP/2, the :authority pseudo-header.
	Host string `parquet:"host,dict"`
	// Path is the request target as sent, query included.
	Path string `parquet:"path"`
	// Route is Path without its query, with ids replaced by {id}.
	Route string `parquet:"route,dict"`
	// Proto is "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0" (an h2c upgrade's
	// request is HTTP/1.1: it was sent so, and stream 1 answered it).
	Proto string `parquet:"proto,dict"`
	// ReqHeaders are the request headers in wire order, duplicates kept,
	// secrets redacted.
	ReqHeaders []Header `parquet:"req_headers,list"`
	// RespHeaders are the response headers in wire order, duplicates kept,
	// secrets redacted. Empty when no response was seen.
	RespHeaders []Header `parquet:"resp_headers,list"`
	// ReqBody is the request body with its transfer coding removed and its
	// content coding kept (a gzip body stays gzip), at most --max-body bytes.
	// Null when the request had no body.
	ReqBody []byte `parquet:"req_body,optional"`
	// ReqBodyTruncated is true when ReqBody holds fewer bytes than ReqSize.
	ReqBodyTruncated bool `parquet:"req_body_truncated"`
	// ReqSize is the request body length in bytes (after de-chunking).
	ReqSize int64 `parquet:"req_size"`
	// RespSize is the response body length in bytes (after de-chunking,
	// before any content decoding).
	RespSize int64 `parquet:"resp_size"`
	// Status is the response status code, 0 when no response was seen.
	Status int32 `parquet:"status"`
	// TTFBNanos is the time from the last request byte to the first byte of
	// the final (non-1xx) response, in nanoseconds. 0 without a response.
	TTFBNanos int64 `parquet:"ttfb_ns"`
	// DurationNanos is the time from the first request byte to the last
	// response byte, in nanoseconds. 0 without a response.
	DurationNanos int64 `parquet:"duration_ns"`
	// Kind is KindRead for GET, HEAD and OPTIONS, KindWrite otherwise.
	Kind string `parquet:"kind,dict"`
	// Links are the values of this request that an earlier response of its
	// session handed out, or that the client made up (see Link). Empty in
	// traces recorded before links existed, or with --no-correlate.
	Links []Link `parquet:"links,list"`
	// RespSig is the answer's signature (Signature): what replay compares
	// the live answer with. Empty in traces recorded before signatures,
	// and when no answer was seen.
	RespSig Signature `parquet:"resp_sig"`
	// ProxyAnswer says the answer is the recording proxy's own, not the
	// application's: the upstream could not be reached (its 502), so the
	// request went unanswered by the application. Replay takes it for a
	// request recorded without an answer.
	ProxyAnswer bool `parquet:"proxy_answer"`
	// RespTrailers are an HTTP/2 response's trailers (a header block after
	// its body: gRPC's grpc-status and grpc-message), in wire order,
	// secrets redacted. Empty otherwise, and in traces recorded before
	// HTTP/2 was.
	RespTrailers []Header `parquet:"resp_trailers,list"`
	// GRPCStatus is a gRPC call's status code (grpc-status: 0 OK, 5
	// NOT_FOUND...), from its trailers or from a trailers-only answer.
	// Null when the exchange is not gRPC or no status was seen.
	GRPCStatus *int32 `parquet:"grpc_status,optional"`
	// GRPCMessage is the grpc-message beside it, as sent (percent-encoded);
	// empty when none.
	GRPCMessage string `parquet:"grpc_message"`
	// ReqMessages and RespMessages count a gRPC call's messages each way
	// (one for a unary call, any number for a streaming one); 0 when the
	// exchange is not gRPC.
	ReqMessages  int64 `parquet:"req_msgs"`
	RespMessages int64 `parquet:"resp_msgs"`
}

// Link says that the value at At in a request came from the response of
// an earlier row of its file, Back rows before it, at Src: replay puts the
// value the live response has there. No value is stored, only positions
// (see package correlate for their grammar: "path/3",
// "header/Authorization", "body/items/0/id", ...).
//
// A value the client made up (a UUID in a create body, an Idempotency-Key)
// has Src "fresh:" and the position where the session first sent it, in
// the row Back rows before (0: this one): replay sends a new value in its
// place, the same wherever the session sends it again.
type Link struct {
	// At is the value's position in this request.
	At string `parquet:"at,dict"`
	// Back is how many rows before this one the source row is: the source
	// is the row with id = this row's id - Back. A distance, not an id,
	// so that it survives the merging of a live recording's parts.
	Back int64 `parquet:"back"`
	// Src is the value's position in the source row's response, or
	// "fresh:" and its position in the source row's request.
	Src string `parquet:"src,dict"`
}

// FreshPrefix starts the Src of a made-up value's link.
const FreshPrefix = "fresh:"

// IsFresh says whether l is a made-up value's link.
func (l Link) IsFresh() bool {
	return len(l.Src) > len(FreshPrefix) && l.Src[:len(FreshPrefix)] == FreshPrefix
}

// Header is one header line: its name as sent and its value (a secret's
// value is "redacted:" and a keyed hash). It is the recorder's input type,
// so that parsed headers become a row without a copy.
type Header = observed.Header

// The values of Exchange.Kind.
const (
	KindRead  = "read"
	KindWrite = "write"
)

// KindOf says whether a request method reads or writes.
func KindOf(method string) string {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return KindRead
	}
	return KindWrite
}

// HeaderValue returns the first value of the header called name (case
// insensitive), and whether there was one.
func HeaderValue(hs []Header, name string) (string, bool) { return observed.HeaderValue(hs, name) }

// LaterColumns are the columns traces recorded before them lack
// (pqfile.Later): such traces read with them empty.
func (*Exchange) LaterColumns() []string {
	return []string{"links", "resp_sig", "proxy_answer", "resp_trailers", "grpc_status", "grpc_message", "req_msgs", "resp_msgs"}
}

// IsGRPC says whether request headers make an exchange a gRPC call: a
// Content-Type of application/grpc, application/grpc+proto, ...
func IsGRPC(reqHeaders []Header) bool { return observed.IsGRPC(reqHeaders) }

// GRPCStatusOf returns a gRPC answer's grpc-status and grpc-message: from
// its trailers, or from its headers when it had none (a trailers-only
// answer, as for most errors). ok is false when there is no valid status.
func GRPCStatusOf(headers, trailers []Header) (status int32, message string, ok bool) {
	hs := trailers
	if _, in := HeaderValue(trailers, "grpc-status"); !in {
		hs = headers
	}
	v, in := HeaderValue(hs, "grpc-status")
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if !in || err != nil || n < 0 {
		return 0, "", false
	}
	message, _ = HeaderValue(hs, "grpc-message")
	return int32(n), message, true
}
