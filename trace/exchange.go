// Package trace holds the trace format: one row per recorded HTTP exchange,
// stored as zstd-compressed parquet that DuckDB, pandas or Spark read as is.
package trace

import "time"

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
	// Host is the Host header, or the authority of an absolute-form target.
	Host string `parquet:"host,dict"`
	// Path is the request target as sent, query included.
	Path string `parquet:"path"`
	// Route is Path without its query, with ids replaced by {id}.
	Route string `parquet:"route,dict"`
	// Proto is "HTTP/1.0" or "HTTP/1.1".
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
}

// Header is one header line: its name as sent and its value.
type Header struct {
	// Name is the header name with its original case.
	Name string `parquet:"name,dict"`
	// Value is the header value, or "redacted:" and a keyed hash for secrets.
	Value string `parquet:"value"`
}

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
