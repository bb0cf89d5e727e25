package replay

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// inlineBody is the largest body a request's wire bytes hold: one write
// sends head and body. A larger one stays the recorded body's alone, not
// copied, and goes with the head in one writev.
const inlineBody = 16 << 10

// wire is a prepared request as replay's own HTTP/1.1 client sends it,
// made once (Target.Prepare, for a target whose requests go that way).
type wire struct {
	// bytes are the request head, and its body when inline.
	bytes []byte
	// body is the body sent after bytes (not inline), or nil.
	body []byte
	// err is why the request cannot be sent, in net/http's words.
	err error
	// addr is the host:port to connect to.
	addr string
	// replayable says it may be sent again on a new connection when a
	// kept-alive one turns out closed before any byte of its answer:
	// net/http's rule (an idempotent method, or an Idempotency-Key).
	replayable bool
	// closes says it asks for its connection to be closed after it
	// (Connection: close, from --header).
	closes bool
}

// wireOf makes the wire form of req, the request p makes (values carried
// in or not): the bytes net/http's Transport writes for it to a plain
// http:// target without a proxy (Request.Write: the same request line,
// Host, User-Agent, Content-Length and headers in sorted order), after
// the Transport's checks of the header fields. buf receives the bytes;
// body > inline is left out of them.
func wireOf(buf *bytes.Buffer, p *Prepared, req *http.Request, inline int) wire {
	w := wire{addr: p.addr, replayable: replayable(req), closes: wantsClose(req.Header)}
	if w.err = checkFields(req.Header); w.err != nil {
		return w
	}
	if w.err = req.Write(buf); w.err != nil {
		return w
	}
	w.bytes = buf.Bytes()
	if b := p.Recorded.Body; len(b) > inline && req.ContentLength == int64(len(b)) {
		// Content-Length bodies are the message's last bytes.
		w.bytes, w.body = w.bytes[:len(w.bytes)-len(b)], b
	}
	return w
}

// checkFields refuses the header fields net/http's Transport refuses,
// with its words (the value is left out: it may be a secret).
func checkFields(h http.Header) error {
	for k, vs := range h {
		if !validFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// validFieldName and validFieldValue are golang.org/x/net/http/httpguts'
// checks, which net/http's Transport makes: a token; no control byte but
// a tab.
func validFieldName(k string) bool {
	return k != "" && validMethod(k)
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// replayable is net/http's Request.isReplayable for a request whose body
// can be sent again (replay's always can).
func replayable(req *http.Request) bool {
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// wantsClose says the request asks for its connection to close after it.
func wantsClose(h http.Header) bool {
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "close") {
				return true
			}
		}
	}
	return false
}

// dialAddr is the host:port of a URL's host (port 80 by default).
func dialAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// urlError wraps err as net/http's Client does ("Get \"http://...\": ..."),
// so a failure's label is the same whichever client sent it.
func urlError(method, u string, err error) error {
	return &url.Error{Op: method[:1] + strings.ToLower(method[1:]), URL: u, Err: err}
}

// wires are the buffers of requests made at send time (values carried
// in, or not prepared for this client).
var wires = sync.Pool{New: func() any { return new(bytes.Buffer) }}
