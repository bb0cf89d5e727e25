package httpstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/replaykit/replaykit/observed"
)

// ErrMalformed says a response's head or framing cannot be read: not
// HTTP/1.x, a bad status or header line, a head over 64 KiB, a bad or
// conflicting Content-Length, an unknown transfer coding.
var ErrMalformed = errors.New("malformed HTTP response")

// ErrChunked says a chunked body's framing is broken (net/http's words
// for it).
var ErrChunked = errors.New("malformed chunked encoding")

// ResponseReader reads the answers to requests sent one at a time on one
// connection (replay's HTTP/1.1 client), by the rules Streams reads
// captured answers with: the same status line, header, head size,
// Content-Length, Transfer-Encoding and chunk checks. It pulls bytes from
// its source as it needs them and allocates nothing per answer but the
// head's text, and not that when a head is the same as the one before (a
// server's same answer within the second of its Date).
type ResponseReader struct {
	src  io.Reader
	buf  []byte
	r, w int // buf[r:w] is read and not yet taken
	m    Message
	// lastHead is the previous head's text (parseHead).
	lastHead  string
	st        state // of the body: stStart once it is all read
	remaining int64
	close     bool
}

// Buffer sizes: a read buffer starts small (most heads and bodies of an
// API fit) and grows for a larger head, up to the head limit, or for a
// large body, which is then read bodyBuffer at a time.
const (
	startBuffer = 4 << 10
	bodyBuffer  = 32 << 10
)

// NewResponseReader reads answers from src.
func NewResponseReader(src io.Reader) *ResponseReader {
	return &ResponseReader{src: src, buf: make([]byte, startBuffer)}
}

// ReadHead reads the head of the answer to a request of method, skipping
// interim answers (100 Continue, 103 Early Hints). io.EOF means the
// connection ended before any byte of it; io.ErrUnexpectedEOF that it
// ended within it; ErrMalformed that it is not an HTTP/1.x answer.
// After it, the body is to be read (ReadBody) before the next answer.
func (rr *ResponseReader) ReadHead(method string) error {
	got := false
	for {
		if err := rr.readHead(&got); err != nil {
			return err
		}
		switch m := &rr.m; {
		case m.Status == 101:
			// Switching protocols: what follows is not HTTP (replay asks
			// for no upgrade, so a server doing it is done with HTTP).
			rr.st, rr.close = stStart, true
			return nil
		case m.Status/100 == 1:
			continue
		}
		return rr.frame(method)
	}
}

// readHead reads one head into rr.m. *got says whether a byte of the
// answer was seen (this head's, or an interim one's).
func (rr *ResponseReader) readHead(got *bool) error {
	scanned := 0 // of buf[r:w], searched for the blank line
	for {
		// Blank lines before a message are allowed (RFC 9112 section 2.2).
		for rr.r < rr.w && (rr.buf[rr.r] == '\r' || rr.buf[rr.r] == '\n') {
			rr.r++
			*got, scanned = true, 0
		}
		b := rr.buf[rr.r:rr.w]
		if len(b) > 0 {
			*got = true
			ok, more := looksLikeStart(b, false)
			if !ok {
				return fmt.Errorf("%w: %w", ErrMalformed, errStartLine)
			}
			if !more {
				if n := headEnd(b, scanned-3); n > 0 {
					rr.r += n
					if err := parseHead(b[:n], false, &rr.m, &rr.lastHead); err != nil {
						return fmt.Errorf("%w: %w", ErrMalformed, err)
					}
					return nil
				}
			}
			if len(b) > maxHead {
				return fmt.Errorf("%w: a head over %d KiB", ErrMalformed, maxHead>>10)
			}
			scanned = len(b)
		}
		if err := rr.fill(maxHead + 1); err != nil {
			if err == io.EOF && *got {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// frame decides how the body of the head just read is delimited, as
// frameResponse does for a captured one.
func (rr *ResponseReader) frame(method string) error {
	m := &rr.m
	rr.close = closes(m)
	switch {
	case method == "HEAD" || m.Status == 204 || m.Status == 304:
		rr.st = stStart
		return nil
	}
	if m.te >= 0 {
		switch chunked, known := transferCodings(m); {
		case !known:
			return fmt.Errorf("%w: %w", ErrMalformed, errFraming)
		case chunked:
			rr.st = stChunkSize
		default:
			rr.st, rr.close = stBodyEOF, true
		}
		return nil
	}
	n, ok, err := contentLength(m)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case !ok:
		rr.st, rr.close = stBodyEOF, true
	case n == 0:
		rr.st = stStart
	default:
		rr.st, rr.remaining = stBodyLen, n
	}
	return nil
}

// closes says whether the connection ends after m: Connection: close, or
// HTTP/1.0 without keep-alive.
func closes(m *Message) bool {
	keep := m.Proto == "HTTP/1.1"
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Connection") {
			continue
		}
		for t := range strings.SplitSeq(h.Value, ",") {
			switch t = strings.TrimSpace(t); {
			case strings.EqualFold(t, "close"):
				return true
			case strings.EqualFold(t, "keep-alive"):
				keep = true
			}
		}
	}
	return !keep
}

// Status is the answer's status code.
func (rr *ResponseReader) Status() int { return rr.m.Status }

// Headers are the answer's header fields, in order, names as sent. They
// are the reader's until the next ReadHead; their strings stay valid.
func (rr *ResponseReader) Headers() []observed.Header { return rr.m.Headers }

// Header is the first value of the named field (any case), or "".
func (rr *ResponseReader) Header(name string) string {
	for _, h := range rr.m.Headers {
		if len(h.Name) == len(name) && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Close says the connection cannot carry another request after this
// answer: the server said so, spoke HTTP/1.0 without keep-alive, or ends
// the body by closing.
func (rr *ResponseReader) Close() bool { return rr.close }

// Buffered is how many bytes past the answers read have arrived: after a
// whole answer to the only request sent, bytes nobody asked for.
func (rr *ResponseReader) Buffered() int { return rr.w - rr.r }

// ReadBody reads the body of the answer whose head was read, whole: its
// first keep bytes are appended to dst, the rest only counted. It returns
// dst and the body's size (chunked: its data, without the framing).
// io.ErrUnexpectedEOF means the connection ended before the body did;
// ErrChunked that its chunks cannot be read.
func (rr *ResponseReader) ReadBody(dst []byte, keep int) ([]byte, int64, error) {
	var size int64
	take := func(b []byte) {
		size += int64(len(b))
		if room := keep - len(dst); room > 0 {
			dst = append(dst, b[:min(room, len(b))]...)
		}
	}
	for rr.st != stStart {
		b := rr.buf[rr.r:rr.w]
		need := len(b) == 0
		switch {
		case need:
		case rr.st == stBodyLen || rr.st == stChunkData:
			n := int(min(int64(len(b)), rr.remaining))
			take(b[:n])
			rr.r += n
			rr.remaining -= int64(n)
			if rr.remaining == 0 {
				if rr.st == stChunkData {
					rr.st = stChunkEnd
				} else {
					rr.st = stStart
				}
			}
		case rr.st == stBodyEOF:
			take(b)
			rr.r = rr.w
		case rr.st == stChunkEnd:
			switch b[0] {
			case '\r':
				rr.r++
			case '\n':
				rr.r++
				rr.st = stChunkSize
			default:
				return dst, size, ErrChunked // more data than the chunk size said
			}
		default: // stChunkSize, stTrailer
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				if len(b) > maxChunkLine {
					return dst, size, ErrChunked
				}
				need = true
				break
			}
			line := bytes.TrimSuffix(b[:i], []byte{'\r'})
			rr.r += i + 1
			if rr.st == stTrailer {
				if len(line) == 0 {
					rr.st = stStart
				}
				break // a trailer field: not kept
			}
			n, ok := parseChunkSize(line)
			switch {
			case !ok:
				return dst, size, ErrChunked
			case n == 0:
				rr.st = stTrailer
			default:
				rr.st, rr.remaining = stChunkData, n
			}
		}
		if !need {
			continue
		}
		limit := maxChunkLine + 1
		if rr.st == stBodyLen || rr.st == stChunkData || rr.st == stBodyEOF {
			// Nothing is buffered: a large body is read a larger buffer
			// at a time (fewer reads), which the connection keeps.
			limit = len(rr.buf)
			if len(rr.buf) < bodyBuffer && (rr.st == stBodyEOF || rr.remaining > int64(len(rr.buf))) {
				rr.buf, rr.r, rr.w = make([]byte, bodyBuffer), 0, 0
			}
		}
		if err := rr.fill(limit); err != nil {
			if err == io.EOF {
				if rr.st == stBodyEOF {
					rr.st = stStart
					break
				}
				err = io.ErrUnexpectedEOF
			}
			return dst, size, err
		}
	}
	return dst, size, nil
}

// fill reads more bytes after buf[r:w], moving them to the front first,
// and growing buf up to limit bytes when it is full.
func (rr *ResponseReader) fill(limit int) error {
	if rr.r > 0 {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
	if rr.w == len(rr.buf) {
		if len(rr.buf) >= limit {
			return fmt.Errorf("%w: a line over %d bytes", ErrMalformed, len(rr.buf))
		}
		nb := make([]byte, min(2*len(rr.buf), limit))
		rr.w = copy(nb, rr.buf[:rr.w])
		rr.buf = nb
	}
	// A reader may return no bytes and no error: ask again, a few times.
	for range 100 {
		n, err := rr.src.Read(rr.buf[rr.w:])
		rr.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
