package replay

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/replaykit/replaykit/trace"
)

// The protocols a Target sends over (Target.Protocol, --http1, --http2).
const (
	// ProtocolRecorded sends each request over the protocol it was
	// recorded over: HTTP/2 (and HTTP/3, which replay does not speak:
	// HTTP/2 is the nearer) over HTTP/2, the rest over HTTP/1.1.
	ProtocolRecorded = ""
	// ProtocolHTTP1 sends every request over HTTP/1.1.
	ProtocolHTTP1 = "http1"
	// ProtocolHTTP2 sends every request over HTTP/2.
	ProtocolHTTP2 = "http2"
)

// DefaultStreams is how many virtual users share one HTTP/2 connection
// by default: as many as a server lets a connection carry at once by
// default (nginx 128, Go 250, the RFC's advice at least 100), so one
// user's request never waits for another's stream.
const DefaultStreams = 100

// errNoALPNH2 is the handshake error of a TLS target that did not choose
// h2 (LabelNoH2TLS).
var errNoALPNH2 = errors.New("the server did not choose h2 by ALPN")

// recordedOverH2 says whether a request recorded over proto goes over
// HTTP/2 as recorded.
func recordedOverH2(proto string) bool { return proto == "HTTP/2.0" || proto == "HTTP/3.0" }

// h2Clients send the requests that go over HTTP/2: h2c with prior
// knowledge to an http:// target, TLS with ALPN h2 to an https:// one.
// Virtual users share connections as an HTTP/2 client's callers do:
// users 0 to streams-1 the first client's, and so on, each client a
// transport of its own whose requests are streams of one connection (a
// second one only while the server allows fewer streams at once than
// the users sharing it).
type h2Clients struct {
	base    *http.Client
	streams int
	// clients are made at their first request: a run whose requests are
	// all HTTP/1.1 (most) makes none, however many users it has.
	clients []atomic.Pointer[http.Client]
	mu      sync.Mutex // makes them
}

// newH2Clients makes the clients for users virtual users, streams to a
// connection, from the HTTP/1.1 client a run sends with (NewClient):
// the same timeouts, TLS settings and pool sizes, HTTP/2 only.
func newH2Clients(base *http.Client, users, streams int) *h2Clients {
	streams = max(streams, 1)
	n := max((users+streams-1)/streams, 1)
	return &h2Clients{base: base, streams: streams, clients: make([]atomic.Pointer[http.Client], n)}
}

// client is the client user v sends with.
func (c *h2Clients) client(v int) *http.Client {
	slot := &c.clients[(max(v, 0)/c.streams)%len(c.clients)]
	if cl := slot.Load(); cl != nil {
		return cl
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := slot.Load(); cl != nil {
		return cl
	}
	cl := c.make()
	slot.Store(cl)
	return cl
}

// make is a client of its own transport, HTTP/2 only.
func (c *h2Clients) make() *http.Client {
	var tr *http.Transport
	if bt, _ := c.base.Transport.(*http.Transport); bt != nil {
		tr = bt.Clone()
	} else {
		tr = &http.Transport{DisableCompression: true}
	}
	tr.TLSNextProto = nil // Clone keeps the empty map that turns HTTP/2 off
	tr.ForceAttemptHTTP2 = true
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP2(true)
	tr.Protocols.SetUnencryptedHTTP2(true)
	tr.MaxIdleConnsPerHost = 2 // a connection is many users'
	// The users starting together wait for one connection rather than
	// each dialling its own; a server that allows fewer streams at once
	// than the users sharing it still gets a second one (net/http dials
	// again when a connection has no room).
	tr.MaxConnsPerHost = 1
	// A TLS server that does not choose h2 by ALPN is refused at the
	// handshake: net/http would speak HTTP/1.1 to it, every user on this
	// one connection.
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.NegotiatedProtocol != "h2" {
			return errNoALPNH2
		}
		return nil
	}
	cl := *c.base
	cl.Transport = tr
	return &cl
}

func (c *h2Clients) close() {
	for i := range c.clients {
		if cl := c.clients[i].Load(); cl != nil {
			cl.CloseIdleConnections()
		}
	}
}

// isGRPCCall says whether recorded request headers make a gRPC call whose
// status comes in the answer's headers or trailers: gRPC-Web
// (application/grpc-web*, a browser's) carries it in the body instead,
// and is replayed as any request.
func isGRPCCall(hs []trace.Header) bool {
	ct, _ := trace.HeaderValue(hs, "Content-Type")
	return trace.IsGRPC(hs) && !strings.HasPrefix(strings.ToLower(ct), "application/grpc-web")
}

// maxGRPCMessage bounds the grpc-message kept in a results row: it is the
// server's text, and a row per request.
const maxGRPCMessage = 256

// grpcAnswer is a gRPC answer's grpc-status and grpc-message (percent
// decoded, as gRPC's tools show it): from its trailers, read once its
// body was, or from the headers of a trailers-only answer. A 200 without
// any is INTERNAL, as grpc-go's client makes it ("server closed the
// stream without sending trailers"); another status has none (the HTTP
// status already says what failed).
func grpcAnswer(resp *http.Response) (status int32, message string, ok bool) {
	status, message, ok = grpcStatusOf(resp)
	if !ok && resp.StatusCode == http.StatusOK {
		return 13, "no grpc-status in the answer", true
	}
	if len(message) > maxGRPCMessage {
		message = strings.ToValidUTF8(message[:maxGRPCMessage], "")
	}
	return status, message, ok
}

func grpcStatusOf(resp *http.Response) (status int32, message string, ok bool) {
	var hs, ts []trace.Header
	for _, h := range []struct {
		into *[]trace.Header
		from http.Header
	}{{&hs, resp.Header}, {&ts, resp.Trailer}} {
		for _, k := range []string{"Grpc-Status", "Grpc-Message"} {
			if v, in := h.from[k]; in && len(v) > 0 {
				*h.into = append(*h.into, trace.Header{Name: k, Value: v[0]})
			}
		}
	}
	status, message, ok = trace.GRPCStatusOf(hs, ts)
	if m, err := url.PathUnescape(message); err == nil {
		message = m
	}
	return status, message, ok
}

// h2Header says whether a recorded header is sent over HTTP/2: gRPC's
// "te: trailers" is (servers refuse a gRPC call without it); any other
// te, and the connection-specific headers RFC 9113 forbids, are not.
func h2Header(name, value string) bool {
	return name == "Te" && strings.EqualFold(strings.TrimSpace(value), "trailers")
}
