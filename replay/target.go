package replay

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/trace"
)

// Target is where replayed requests go, and what replaces the recorded
// credentials.
//
// A request's Authorization, when several give one, is the first of:
//
//  1. --header 'Authorization: ...' (Headers): asked for every request;
//  2. API_KEY (APIKey) as a bearer token, on a request recorded with an
//     Authorization: the trace shows it authenticating that way, and
//     API_KEY is the key meant for it;
//  3. --host's user:password (User) as Basic auth, on every other request,
//     in place of a recorded Authorization (a redacted hash, useless);
//  4. the recorded value.
type Target struct {
	// Base is the scheme, host and optional path prefix to send to, with
	// no user or password: those are User.
	Base *url.URL
	// User is --host's user and password (https://user:pass@host), sent
	// as Basic auth; nil: none. It is never printed: see String.
	User *url.Userinfo
	// APIKey, when set, replaces every recorded credential: X-API-Key, and
	// Authorization as a bearer token. Recorded credentials are redacted
	// hashes, so without it the target sees "redacted:..." values.
	APIKey string
	// Headers are added to every request, replacing recorded ones. A Host
	// among them is the Host the requests carry, and the name a TLS
	// target's certificate is checked against (TLSServerName); the
	// connection still goes to Base.
	Headers http.Header
	// Protocol is what requests go over: ProtocolRecorded (""), each as
	// recorded; ProtocolHTTP1 or ProtocolHTTP2, every one.
	Protocol string
	// ownClient says requests to it go by replay's own HTTP/1.1 client
	// (a plain http:// target, unless --client net/http): Prepare then
	// makes their wire form too, once.
	ownClient bool
}

// ParseTarget reads --host. A user and password in it go to User.
func ParseTarget(host string) (*Target, error) {
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: want a URL such as http://localhost:8000", RedactHost(host))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	t := &Target{Base: u, User: u.User, Headers: http.Header{}}
	u.User = nil
	return t, nil
}

// String is the target's URL with its password, if any, masked
// (url.URL.Redacted): what messages and reports show.
func (t *Target) String() string {
	u := *t.Base
	u.User = t.User
	return u.Redacted()
}

// RedactHost is --host with its password, if any, masked, for what prints
// it before or without parsing it (the report's facts):
// "http://u:xxxxx@h:8000". A host that is not a URL, such as "u:p@h:8000"
// without a scheme, has all before its last "@" masked: where its password
// ends is anyone's guess.
func RedactHost(host string) string {
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		return u.Redacted()
	}
	at := strings.LastIndex(host, "@")
	if at < 0 {
		return host
	}
	start := 0
	if i := strings.Index(host, "//"); i >= 0 && i < at {
		start = i + 2
	}
	return host[:start] + "xxxxx" + host[at:]
}

// basicAuth is the Authorization User gives, or "".
func (t *Target) basicAuth() string {
	if t.User == nil {
		return ""
	}
	pass, _ := t.User.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(t.User.Username()+":"+pass))
}

// hostHeader is the Host of --header 'Host: ...', or "".
func (t *Target) hostHeader() string {
	for name, vs := range t.Headers {
		if http.CanonicalHeaderKey(name) == "Host" && len(vs) > 0 {
			return vs[len(vs)-1]
		}
	}
	return ""
}

// TLSServerName is the name a TLS target is asked for and its certificate
// checked against (ClientOptions.ServerName): the --header Host without
// its port, or "" for --host's own. A request for api.example.com sent to
// the address of one of its servers is then verified as api.example.com.
func (t *Target) TLSServerName() string {
	h := t.hostHeader()
	if h == "" || t.Base.Scheme != "https" {
		return ""
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.Trim(h, "[]")
}

// replacedByAPIKey are the recorded credential headers API_KEY replaces,
// and how: the key itself, or as a bearer token.
var replacedByAPIKey = map[string]func(key string) string{
	"X-Api-Key":     func(k string) string { return k },
	"Authorization": func(k string) string { return "Bearer " + k },
}

// hopByHop are headers of one connection, not of the request: the client
// sets its own. Content-Length comes from the body sent; Expect would make
// every upload wait for a 100 Continue.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Content-Length": true, "Host": true, "Expect": true,
	"Proxy-Authorization": true,
}

// Prepared is a recorded request made ready to send again and again: its
// URL and headers are worked out once, so each send only copies them.
type Prepared struct {
	// Recorded is the trace row it came from.
	Recorded *session.Request
	target   *Target
	method   string
	url      url.URL
	header   http.Header
	host     string
	// urlString is computed at Prepare, then only read.
	urlString string
	// addr is the host:port connected to.
	addr string
	// wire is the request's wire form for replay's own client (nil: the
	// target's requests go by net/http, or it is made at each send).
	wire *wire
	// h2: it goes over HTTP/2 (Target.Protocol); grpc: it is a gRPC call,
	// whose answer's grpc-status is read.
	h2, grpc bool
}

// NewRequest builds the request to send for a recorded one.
func (t *Target) NewRequest(ctx context.Context, r *session.Request) (*http.Request, error) {
	p, err := t.Prepare(r)
	if err != nil {
		return nil, err
	}
	return p.Request(ctx), nil
}

// Prepare works out the URL and headers of a recorded request.
func (t *Target) Prepare(r *session.Request) (*Prepared, error) {
	path := originPath(r.Path) // absolute form, recorded from a proxy client
	if !validMethod(r.Method) {
		return nil, fmt.Errorf("trace row %d: bad method %q", r.ID, r.Method)
	}
	u, us := t.urlOf(path)
	p := &Prepared{Recorded: r, target: t, method: r.Method, url: u, header: http.Header{}, host: t.Base.Host, urlString: us,
		h2: t.Protocol == ProtocolHTTP2 || (t.Protocol == ProtocolRecorded && recordedOverH2(r.Proto)), grpc: isGRPCCall(r.Headers)}
	for _, h := range r.Headers {
		name := http.CanonicalHeaderKey(h.Name)
		switch {
		case p.h2 && h2Header(name, h.Value):
			p.header.Set(name, "trailers")
		case hopByHop[name]:
		case name == "Cookie" && strings.HasPrefix(h.Value, redact.Prefix):
			// A redacted cookie cannot be sent again: leave it out.
		case t.APIKey != "" && replacedByAPIKey[name] != nil:
			p.header.Set(name, replacedByAPIKey[name](t.APIKey))
		default:
			p.header.Add(name, h.Value)
		}
	}
	if auth := t.basicAuth(); auth != "" && (t.APIKey == "" || p.header.Get("Authorization") == "") {
		p.header.Set("Authorization", auth)
	}
	for name, vs := range t.Headers {
		if name = http.CanonicalHeaderKey(name); name == "Host" {
			continue // Go sends Request.Host, never a Host header
		}
		p.header[name] = vs
	}
	if h := t.hostHeader(); h != "" {
		p.host = h
	}
	p.addr = dialAddr(t.Base)
	if t.ownClient && !p.h2 {
		w := wireOf(new(bytes.Buffer), p, p.Request(context.Background()), inlineBody)
		w.bytes = bytes.Clone(w.bytes) // not the buffer's spare room
		p.wire = &w
	}
	return p, nil
}

// urlOf is the URL a recorded path (and query) is sent to, and its text.
func (t *Target) urlOf(path string) (url.URL, string) {
	raw, query, _ := strings.Cut(t.Base.Path+path, "?")
	// Opaque sends the path as recorded, without escaping it again, and in
	// origin form (GET /path HTTP/1.1) as the recorded client did: an
	// opaque "//host/path" would send the absolute form.
	u := url.URL{Scheme: t.Base.Scheme, Host: t.Base.Host, Opaque: raw, RawQuery: query}
	s := t.Base.Scheme + "://" + t.Base.Host + raw
	if query != "" {
		s += "?" + query
	}
	return u, s
}

// originPath is a recorded target's path, in origin form.
func originPath(target string) string {
	_, path := trace.SplitTarget(target)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return path
}

// readySession is a session's requests prepared by one target
// (session.Options.Ready): once per session in memory, not once per send.
type readySession struct {
	target *Target
	prep   []*Prepared
	errs   []error
	// sources are the responses the session's links read (correlate).
	sources map[int64][]string
}

// PrepareSession prepares every request of s; replay passes it as
// session.Options.Ready. It also says how many bytes the prepared requests
// hold beyond the recorded ones, which session counts against its memory
// bounds: structs, URLs and header maps (values counted even where they
// share the recorded bytes).
func (t *Target) PrepareSession(s *session.Session) (any, int64) {
	rs := &readySession{target: t, prep: make([]*Prepared, len(s.Requests)), errs: make([]error, len(s.Requests)),
		sources: sourcesOf(s)}
	n := int64(unsafe.Sizeof(*rs)) + int64(len(s.Requests))*int64(unsafe.Sizeof(rs.prep[0])+unsafe.Sizeof(rs.errs[0]))
	for _, srcs := range rs.sources {
		n += 64 + int64(cap(srcs))*16 // a slot of the map, the array
	}
	for i := range s.Requests {
		rs.prep[i], rs.errs[i] = t.Prepare(&s.Requests[i])
		p := rs.prep[i]
		if p == nil {
			continue
		}
		n += int64(unsafe.Sizeof(*p)) + int64(len(p.urlString)+len(p.url.Opaque)+len(p.url.RawQuery)+len(p.addr)) + 48 // 48: the map's header
		if p.wire != nil {
			n += int64(unsafe.Sizeof(*p.wire)) + int64(len(p.wire.bytes))
		}
		for name, vs := range p.header {
			n += 64 + int64(len(name)) + int64(cap(vs))*16 // a slot of the map (at its load factor), the values' array
			for _, v := range vs {
				n += int64(len(v))
			}
		}
	}
	return rs, n
}

// prepared is request i of s made ready to send by t: from the session's
// Ready when t made it, else prepared now.
func (t *Target) prepared(s *session.Session, i int) (*Prepared, error) {
	if rs, ok := s.Ready.(*readySession); ok && rs.target == t {
		return rs.prep[i], rs.errs[i]
	}
	return t.Prepare(&s.Requests[i])
}

// sourcesOf lists the responses the links of s read, by row id.
func sourcesOf(s *session.Session) map[int64][]string {
	ids := make([]int64, len(s.Requests))
	links := make([][]trace.Link, len(s.Requests))
	for i := range s.Requests {
		ids[i], links[i] = s.Requests[i].ID, s.Requests[i].Links
	}
	return correlate.Sources(ids, links)
}

// sources is what sourcesOf says of s: from its Ready when t made it.
func (t *Target) sources(s *session.Session) map[int64][]string {
	if rs, ok := s.Ready.(*readySession); ok && rs.target == t {
		return rs.sources
	}
	return sourcesOf(s)
}

// URLString is the URL requested, for the results.
func (p *Prepared) URLString() string { return p.urlString }

// Request is a new request for one send.
func (p *Prepared) Request(ctx context.Context) *http.Request {
	u := p.url
	req := &http.Request{
		Method: p.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: p.header.Clone(), Host: p.host,
	}
	if b := p.Recorded.Body; len(b) > 0 {
		req.ContentLength = int64(len(b))
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return req.WithContext(ctx)
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
