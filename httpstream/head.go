package httpstream

import (
	"bytes"
	"errors"
	"strings"

	"github.com/replaykit/replaykit/observed"
)

// maxLastHead bounds the head a parser keeps to compare the next one
// with (parseHead): a connection holds at most this much more.
const maxLastHead = 1 << 10

// maxHead bounds a message head (start line and headers). Larger heads are
// treated as garbage: Go's server allows 1 MB, nginx 8-32 KB.
const maxHead = 64 << 10

var (
	errStartLine = errors.New("malformed start line")
	errHeader    = errors.New("malformed header line")
)

// headEnd returns the length of the head at the start of b (through the
// blank line), or -1 when b does not hold a whole head yet. from is where a
// previous search stopped, so heads split over packets are scanned once.
func headEnd(b []byte, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		// A blank line: "\n\n" or "\n\r\n".
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

// parseHead parses a whole head (start line, headers, blank line) into m.
// The head is copied into one string and every field is a substring of it:
// one allocation for all of a message's text instead of one per header.
// *last is the previous head of the same side: a head the same as it
// (a client sending one request again, a server's same answer within the
// second of its Date) takes its string, without a copy.
func parseHead(b []byte, request bool, m *Message, last *string) error {
	h := *last
	if string(b) != h {
		h = string(b)
		*last = ""
		if len(h) <= maxLastHead {
			*last = h
		}
	}
	line, rest := nextLineString(h)
	var err error
	if request {
		err = parseRequestLine(line, m)
	} else {
		err = parseStatusLine(line, m)
	}
	if err != nil {
		return err
	}
	if n := strings.Count(rest, "\n"); cap(m.Headers) >= n {
		m.Headers = m.Headers[:0] // a ResponseReader's, used again
	} else {
		m.Headers = make([]observed.Header, 0, n)
	}
	m.te, m.cl = -1, -1
	for len(rest) > 0 {
		line, rest = nextLineString(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: a continuation of the previous value.
			if len(m.Headers) == 0 {
				return errHeader
			}
			h := &m.Headers[len(m.Headers)-1]
			h.Value += " " + strings.TrimSpace(line)
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return errHeader
		}
		name := line[:colon]
		switch {
		case len(name) == len("Content-Length") && strings.EqualFold(name, "Content-Length"):
			if m.cl >= 0 {
				m.multiCL = true
			} else {
				m.cl = len(m.Headers)
			}
		case len(name) == len("Transfer-Encoding") && strings.EqualFold(name, "Transfer-Encoding"):
			// Several lines form one list: the last holds the final coding.
			m.te = len(m.Headers)
		case len(name) == len("Upgrade") && strings.EqualFold(name, "Upgrade"):
			m.upgrade = request
		}
		m.Headers = append(m.Headers, observed.Header{Name: name, Value: trimOWS(line[colon+1:])})
	}
	return nil
}

// nextLineString splits the first line off s, dropping its CRLF or LF.
func nextLineString(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// trimOWS drops the optional white space around a header value.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

func parseRequestLine(line string, m *Message) error {
	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errStartLine
	}
	sp2 := strings.LastIndexByte(line, ' ')
	if sp2 <= sp1+1 {
		return errStartLine
	}
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !isToken(method) || !validTarget(target) {
		return errStartLine
	}
	p, ok := protoString(proto)
	if !ok {
		return errStartLine
	}
	m.Method, m.Target, m.Proto = method, target, p
	m.upgrade = method == "CONNECT"
	return nil
}

func parseStatusLine(line string, m *Message) error {
	if len(line) < 12 || line[8] != ' ' {
		return errStartLine
	}
	p, ok := protoString(line[:8])
	if !ok {
		return errStartLine
	}
	code := 0
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return errStartLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || (len(line) > 12 && line[12] != ' ') {
		return errStartLine
	}
	m.Status, m.Proto = code, p
	return nil
}

func protoString(b string) (string, bool) {
	switch b {
	case "HTTP/1.1":
		return "HTTP/1.1", true
	case "HTTP/1.0":
		return "HTTP/1.0", true
	}
	return "", false
}

// validTarget rejects targets with controls or spaces; they cannot be sent
// again and mean we are not looking at a request line.
func validTarget(b string) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (method, header name).
func isToken(b string) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !tokenChar[b[i]] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// looksLikeStart says whether b can begin a message of the given direction:
// yes, no, or not enough bytes to tell. It lets garbage be rejected at once
// instead of after buffering maxHead bytes.
func looksLikeStart(b []byte, request bool) (ok, needMore bool) {
	if request {
		// A method of at most 20 characters, then a space. Methods are
		// case-sensitive tokens, but every real one is upper case: asking
		// for that keeps lines of body text from passing for requests.
		for i, c := range b {
			if c == ' ' {
				return i > 0, false
			}
			if !(('A' <= c && c <= 'Z') || c == '-' || c == '_') || i >= 20 {
				return false, false
			}
		}
		return true, true
	}
	const prefix = "HTTP/1."
	n := min(len(b), len(prefix))
	if string(b[:n]) != prefix[:n] {
		return false, false
	}
	return true, n < len(prefix)
}
