// Package har reads HTTP Archive (HAR 1.2) files, the export format of
// browser devtools, mitmproxy, Charles and Postman, as observed exchanges.
// The file is streamed: entries are decoded one at a time from log.entries,
// so a 1 GB export never sits in memory whole.
package har

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/replaykit/replaykit/observed"
)

// ErrNotHAR is wrapped by the errors of a file that is not a HAR file.
var ErrNotHAR = errors.New("not a HAR file")

// Options say how much of the bodies to keep, as httpstream.Options do.
type Options struct {
	// MaxBody is how many request body bytes a message keeps.
	MaxBody int
	// MaxRespBody is how many bytes of a JSON (or untyped) response body
	// a message keeps; other responses keep none.
	MaxRespBody int
	// Ports, when set, keeps only the entries to these server ports (the
	// URL's, or its scheme's: 80, 443).
	Ports []uint16
}

// Stats count what became of the entries.
type Stats struct {
	// Entries counts the entries read.
	Entries int64
	// Exchanges counts entries returned with a response; Unanswered those
	// returned without one (status 0: the browser saw no answer).
	Exchanges, Unanswered int64
	// Skipped counts the entries left out, by reason.
	Skipped map[string]int64
}

// Reader returns the entries of a HAR file as exchanges.
type Reader struct {
	dec   *json.Decoder
	opts  Options
	stats Stats
	// conns numbers the connections by server address and the HAR's
	// connection id.
	conns    map[string]*observed.Conn
	nextConn int64
	done     bool
}

// NewReader reads up to the first entry of log.entries. It fails with an
// error wrapping ErrNotHAR when the file is not a HAR file.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	d := json.NewDecoder(r)
	hr := &Reader{dec: d, opts: opts, conns: map[string]*observed.Conn{}, stats: Stats{Skipped: map[string]int64{}}}
	if err := hr.enter("log"); err != nil {
		return nil, err
	}
	if err := hr.enter("entries"); err != nil {
		return nil, err
	}
	if t, err := d.Token(); err != nil || t != json.Delim('[') {
		return nil, fmt.Errorf("%w: log.entries is not a list", ErrNotHAR)
	}
	return hr, nil
}

// enter reads an object's keys up to key, skipping the values of others.
func (r *Reader) enter(key string) error {
	if t, err := r.dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: no JSON object where %q should be (%v)", ErrNotHAR, key, errOr(err, "found something else"))
	}
	for r.dec.More() {
		t, err := r.dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotHAR, err)
		}
		if t == key {
			return nil
		}
		var skip json.RawMessage
		if err := r.dec.Decode(&skip); err != nil {
			return fmt.Errorf("%w: %v", ErrNotHAR, err)
		}
	}
	return fmt.Errorf("%w: no %q in the JSON", ErrNotHAR, key)
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// Stats returns the counters so far.
func (r *Reader) Stats() Stats { return r.stats }

// Offset is how many bytes of the file have been read.
func (r *Reader) Offset() int64 { return r.dec.InputOffset() }

// Next returns the next usable entry; entries it cannot use are counted in
// Stats().Skipped. It returns io.EOF after the last entry, and another
// error when the file is damaged (what came before it was returned).
func (r *Reader) Next() (observed.Exchange, error) {
	for !r.done {
		if !r.dec.More() {
			r.done = true
			break
		}
		var e entry
		err := r.dec.Decode(&e)
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			// The decoder read the whole value: skip this entry only.
			r.stats.Entries++
			if te.Field == "" {
				r.skip("malformed entry (not an object)")
			} else {
				r.skip("malformed entry (" + te.Field + " is not a " + te.Type.String() + ")")
			}
			continue
		case err != nil:
			r.done = true
			return observed.Exchange{}, fmt.Errorf("entry %d: %w", r.stats.Entries+1, err)
		}
		r.stats.Entries++
		x, reason := r.exchange(&e)
		if reason != "" {
			r.skip(reason)
			continue
		}
		if x.Resp != nil {
			r.stats.Exchanges++
		} else {
			r.stats.Unanswered++
		}
		return x, nil
	}
	return observed.Exchange{}, io.EOF
}

func (r *Reader) skip(reason string) { r.stats.Skipped[reason]++ }

// entry is the part of a HAR entry that becomes an exchange. Sizes and
// times are numbers that exporters write as 12, 12.0, -1 or null alike.
type entry struct {
	StartedDateTime string  `json:"startedDateTime"`
	Time            number  `json:"time"`
	Request         request `json:"request"`
	Response        struct {
		Status      number   `json:"status"`
		HTTPVersion string   `json:"httpVersion"`
		Headers     []header `json:"headers"`
		// FromDiskCache is chrome-har's mark of a cached answer.
		FromDiskCache bool `json:"fromDiskCache"`
		Content       struct {
			Size     number `json:"size"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
	Timings struct {
		Blocked, DNS, Connect, Send, Wait, Receive number
	} `json:"timings"`
	ServerIPAddress string `json:"serverIPAddress"`
	Connection      string `json:"connection"`
	// Chromium's websocket frames.
	WebSocketMessages json.RawMessage `json:"_webSocketMessages"`
	ResourceType      string          `json:"_resourceType"`
	// FromCache is Chromium devtools' "memory" or "disk" for an answer the
	// browser took from its cache: the request was never sent.
	FromCache string `json:"_fromCache"`
}

type request struct {
	Method      string   `json:"method"`
	URL         string   `json:"url"`
	HTTPVersion string   `json:"httpVersion"`
	Headers     []header `json:"headers"`
	PostData    *struct {
		MimeType string   `json:"mimeType"`
		Text     *string  `json:"text"`
		Encoding string   `json:"encoding"`
		Params   []header `json:"params"`
	} `json:"postData"`
	BodySize number `json:"bodySize"`
}

type header struct {
	Name  string `json:"name"`
	Value text   `json:"value"`
}

// text is a JSON string, or the JSON of a number or boolean where an
// exporter wrote one (chrome-har's fields of a JSON body).
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		// The decoder checked b: without escapes it is its own text, and
		// most header values are (json.Unmarshal here would double the
		// time of reading a HAR).
		if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			*t = text(b[1 : len(b)-1])
			return nil
		}
		return json.Unmarshal(b, (*string)(t))
	}
	if string(b) != "null" {
		*t = text(b)
	}
	return nil
}

// number is a JSON number that may be absent, null or fractional.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[float64]()}
	}
	*n = number(f)
	return nil
}

// ms turns a HAR duration in milliseconds into nanoseconds; -1 (does not
// apply) is 0.
func (n number) ms() int64 {
	if n <= 0 {
		return 0
	}
	return int64(min(float64(n), 1e11) * 1e6) // at most 3 years: sums cannot overflow
}

// exchange converts an entry, or says why it cannot.
func (r *Reader) exchange(e *entry) (observed.Exchange, string) {
	u, target, reason := parseURL(e.Request.URL)
	if reason != "" {
		return observed.Exchange{}, reason
	}
	if len(r.opts.Ports) > 0 && !slices.ContainsFunc(r.opts.Ports, func(p uint16) bool { return strconv.Itoa(int(p)) == urlPort(u) }) {
		return observed.Exchange{}, "to other ports (--port)"
	}
	if e.WebSocketMessages != nil || e.ResourceType == "websocket" || int(e.Response.Status) == 101 {
		return observed.Exchange{}, "websocket"
	}
	if e.FromCache != "" || e.Response.FromDiskCache {
		return observed.Exchange{}, "served from the browser's cache (never sent)"
	}
	method := e.Request.Method
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return observed.Exchange{}, "no method"
	}
	if method == "CONNECT" {
		return observed.Exchange{}, "CONNECT tunnel"
	}
	started, err := parseTime(e.StartedDateTime)
	if err != nil {
		return observed.Exchange{}, "no startedDateTime"
	}

	req := &observed.Message{Method: method, Target: target}
	req.Proto, req.Headers = convert(e.Request.HTTPVersion, e.Request.Headers, u.Host)
	req.Body, req.BodySize = r.requestBody(&e.Request)

	// Times: the request goes out after queueing, DNS and connect; then
	// send, wait (time to first byte) and receive, as HAR's timings say.
	t := e.Timings
	req.Start = started.UnixNano() + t.Blocked.ms() + t.DNS.ms() + t.Connect.ms()
	req.End = req.Start + t.Send.ms()
	x := observed.Exchange{Conn: r.conn(e, u), Req: req}
	switch status := e.Response.Status; {
	case status <= 0:
		return x, "" // no answer was seen
	case status < 100 || status > 999:
		return observed.Exchange{}, "bad status"
	}
	resp := &observed.Message{Status: int(e.Response.Status)}
	_, resp.Headers = convert(e.Response.HTTPVersion, e.Response.Headers, "")
	resp.Proto = req.Proto // one protocol per exchange
	resp.Start = req.End + t.Wait.ms()
	resp.End = resp.Start + t.Receive.ms()
	if t.Send.ms()+t.Wait.ms()+t.Receive.ms() == 0 && e.Time.ms() > 0 {
		// No timings: only the total is known.
		resp.Start = started.UnixNano() + e.Time.ms()
		resp.End = resp.Start
	}
	r.responseBody(e, resp)
	x.Resp = resp
	return x, ""
}

// urlPort is the server port of an http(s) URL.
func urlPort(u *url.URL) string {
	switch {
	case u.Port() != "":
		return u.Port()
	case strings.EqualFold(u.Scheme, "https"):
		return "443"
	}
	return "80"
}

// parseURL checks an entry's URL and returns its target in origin form.
func parseURL(raw string) (*url.URL, string, string) {
	if raw == "" {
		return nil, "", "no URL"
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	switch strings.ToLower(scheme) {
	case "http", "https":
	case "ws", "wss":
		return nil, "", "websocket"
	case "data":
		return nil, "", "data: URL"
	default:
		if !ok {
			return nil, "", "bad URL"
		}
		return nil, "", "not an http(s) URL"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !strings.HasPrefix(rest, "//") {
		return nil, "", "bad URL"
	}
	// The target as the URL spells it, without the fragment, which is
	// never sent.
	rest = rest[2:]
	i := strings.IndexAny(rest, "/?#")
	target := ""
	if i >= 0 {
		target = rest[i:]
	}
	target, _, _ = strings.Cut(target, "#")
	switch {
	case target == "":
		target = "/"
	case target[0] == '?':
		target = "/" + target
	}
	if strings.ContainsAny(target, " \t\r\n") {
		return nil, "", "bad URL"
	}
	return u, target, ""
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// Some exporters leave out the zone: take it as UTC.
		t, err = time.Parse("2006-01-02T15:04:05.999999999", s)
	}
	return t, err
}

// convert turns HAR headers into HTTP/1.1-like ones: HTTP/2 and /3
// pseudo-headers are dropped, :authority becomes Host, and a request with
// no Host gets the URL's (host non-empty: a request), its cookie lines
// joined into one. A line that repeats an earlier
// one exactly is dropped: chrome-har lists the headers the page asked for
// and then those sent, so most come twice. It returns the protocol named
// by version, or by the pseudo-headers when version does not say.
func convert(version string, hs []header, host string) (string, []observed.Header) {
	proto := protoOf(version)
	out := make([]observed.Header, 0, len(hs)+1)
	authority, hasHost, pseudo := "", false, false
	for _, h := range hs {
		if strings.HasPrefix(h.Name, ":") {
			pseudo = true
			if h.Name == ":authority" {
				authority = string(h.Value)
			}
			continue
		}
		if h.Name == "" || repeats(out, h) {
			continue
		}
		if strings.EqualFold(h.Name, "Host") {
			hasHost = true
		}
		out = append(out, observed.Header{Name: h.Name, Value: string(h.Value)})
	}
	if pseudo && proto == "" {
		proto = "HTTP/2.0"
	}
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if host != "" && !hasHost {
		if authority != "" {
			host = authority
		}
		out = append([]observed.Header{{Name: "Host", Value: host}}, out...)
	}
	if host != "" && !strings.HasPrefix(proto, "HTTP/1") {
		out = joinCookies(out)
	}
	return proto, out
}

// joinCookies puts an HTTP/2 or /3 request's cookie lines (browsers send
// one per cookie) into one, as RFC 9113 8.2.3 says a conversion to
// HTTP/1.1 must: the session cookie is then found where HTTP/1.1 has it.
func joinCookies(hs []observed.Header) []observed.Header {
	first := -1
	for i, h := range hs {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		hs[first].Value += "; " + h.Value
		hs[i].Name = "" // dropped below
	}
	out := hs[:0]
	for _, h := range hs {
		if h.Name != "" {
			out = append(out, h)
		}
	}
	return out
}

// repeats says whether hs has a line like h already (name in any case).
func repeats(hs []observed.Header, h header) bool {
	if len(hs) > 256 {
		return false // bounded work on a hostile file
	}
	for _, o := range hs {
		if o.Value == string(h.Value) && strings.EqualFold(o.Name, h.Name) {
			return true
		}
	}
	return false
}

// protoOf names a HAR httpVersion as Go's Request.Proto does; "" when it
// does not say (Chromium writes "" for some entries).
func protoOf(v string) string {
	switch l := strings.ToLower(strings.TrimSpace(v)); {
	case l == "http/1.0":
		return "HTTP/1.0"
	case l == "http/1.1":
		return "HTTP/1.1"
	case l == "h2" || l == "h2c" || strings.HasPrefix(l, "http/2"):
		return "HTTP/2.0"
	case strings.HasPrefix(l, "h3") || strings.HasPrefix(l, "http/3"):
		return "HTTP/3.0"
	}
	return ""
}

// requestBody returns the kept bytes and the size of a request body.
func (r *Reader) requestBody(q *request) ([]byte, int64) {
	size := int64(max(q.BodySize, 0))
	pd := q.PostData
	if pd == nil {
		return nil, size
	}
	var body []byte
	switch {
	case pd.Text != nil:
		body = []byte(*pd.Text)
		if strings.EqualFold(pd.Encoding, "base64") {
			b, err := base64.StdEncoding.DecodeString(*pd.Text)
			if err != nil {
				return nil, size // kept none: it is cut
			}
			body = b
		}
	case len(pd.Params) > 0 && strings.HasPrefix(pd.MimeType, "application/x-www-form-urlencoded"):
		// Some exporters (chrome-har) give a form's fields, not its text.
		v := make([]string, len(pd.Params))
		for i, p := range pd.Params {
			v[i] = url.QueryEscape(p.Name) + "=" + url.QueryEscape(string(p.Value))
		}
		body = []byte(strings.Join(v, "&"))
	default:
		// The fields of a JSON body (chrome-har) do not give its bytes
		// back: the body is known by its size only.
		return nil, size
	}
	n := int64(len(body))
	return body[:min(len(body), r.opts.MaxBody)], n
}

// responseBody fills a response's body from content.text. HAR holds bodies
// with their content coding removed, so the coding header goes too: the
// row then says what its bytes are.
func (r *Reader) responseBody(e *entry, m *observed.Message) {
	c := &e.Response.Content
	size := int64(max(c.Size, 0))
	if c.Text == "" {
		m.BodySize = size
		return
	}
	body := []byte(c.Text)
	if strings.EqualFold(c.Encoding, "base64") {
		b, err := base64.StdEncoding.DecodeString(c.Text)
		if err != nil {
			m.BodySize = size
			return
		}
		body = b
	}
	hs := m.Headers[:0]
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Content-Encoding") {
			hs = append(hs, h)
		}
	}
	m.Headers = hs
	m.BodySize = int64(len(body))
	if r.opts.MaxRespBody > 0 && observed.KeepsBody(m.Headers) {
		m.Body = body[:min(len(body), r.opts.MaxRespBody)]
	}
}

// conn returns the connection of an entry: one per server address and
// HAR connection id (one per server address when the HAR has none). A HAR
// does not know the client's address.
func (r *Reader) conn(e *entry, u *url.URL) *observed.Conn {
	server := ""
	if ip := strings.Trim(e.ServerIPAddress, "[]"); ip != "" {
		server = net.JoinHostPort(ip, urlPort(u))
	}
	key := server + " " + u.Host + " " + e.Connection
	if c, ok := r.conns[key]; ok {
		return c
	}
	if len(r.conns) >= 1<<16 {
		clear(r.conns) // bounded; ids go on growing
	}
	c := &observed.Conn{ID: r.nextConn, Server: server}
	r.nextConn++
	r.conns[key] = c
	return c
}
