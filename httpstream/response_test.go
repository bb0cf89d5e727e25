package httpstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// answer is what reading one answer gave.
type answer struct {
	status int
	body   string
	size   int64
	close  bool
	err    error
}

// readAnswers reads the answers to methods from b, through src's
// splitting, keeping keep bytes of each body.
func readAnswers(src io.Reader, methods []string, keep int) []answer {
	rr := NewResponseReader(src)
	var out []answer
	for _, m := range methods {
		if err := rr.ReadHead(m); err != nil {
			return append(out, answer{err: err})
		}
		body, size, err := rr.ReadBody(nil, keep)
		out = append(out, answer{status: rr.Status(), body: string(body), size: size, close: rr.Close(), err: err})
		if err != nil || rr.Close() {
			break
		}
	}
	return out
}

// Reading answers from a connection: each framing, interim answers,
// bodiless ones, and what ends the connection, whatever the reads'
// sizes.
func TestResponseReader(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	for _, tc := range []struct {
		name    string
		in      string
		methods []string
		want    []answer
	}{
		{"content-length, kept alive", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n",
			[]string{"GET", "GET"}, []answer{{status: 200, body: "hello", size: 5}, {status: 404}}},
		{"chunked with trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
			[]string{"GET"}, []answer{{status: 200, body: "hello world", size: 11}}},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil the end", []string{"GET"},
			[]answer{{status: 200, body: "until the end", size: 13, close: true}}},
		{"100 Continue, then the answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
			[]string{"POST"}, []answer{{status: 201, body: "ok", size: 2}}},
		{"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
			[]string{"HEAD", "GET", "GET"}, []answer{{status: 200}, {status: 204}, {status: 304}}},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx",
			[]string{"GET"}, []answer{{status: 200, body: "x", size: 1, close: true}}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", []string{"GET"}, []answer{{status: 200, body: "x", size: 1, close: true}}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
			[]string{"GET"}, []answer{{status: 200, body: "x", size: 1}}},
		{"a large body is counted, its start kept", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big,
			[]string{"GET"}, []answer{{status: 200, body: big[:10], size: 100_000}}},
		{"nothing at all", "", []string{"GET"}, []answer{{err: io.EOF}}},
		{"cut in the head", "HTTP/1.1 200 OK\r\nContent-Le", []string{"GET"}, []answer{{err: io.ErrUnexpectedEOF}}},
		{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", []string{"GET"},
			[]answer{{status: 200, body: "abc", size: 3, err: io.ErrUnexpectedEOF}}},
		{"cut in a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", []string{"GET"},
			[]answer{{status: 200, body: "ab", size: 2, err: io.ErrUnexpectedEOF}}},
		{"garbage", "SSH-2.0-OpenSSH_9.2\r\n\x00\x01\r\n\r\n", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"bad header line", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", []string{"GET"}, []answer{{status: 200, err: ErrChunked}}},
		{"a chunk longer than said", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n", []string{"GET"},
			[]answer{{status: 200, body: "a", size: 1, err: ErrChunked}}},
		{"a head over 64 KiB", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70_000) + "\r\n\r\n", []string{"GET"}, []answer{{err: ErrMalformed}}},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n\x00\x01", []string{"GET"}, []answer{{status: 101, close: true}}},
	} {
		for _, split := range []string{"whole", "byte by byte", "half"} {
			t.Run(tc.name+"/"+split, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.in)
				switch split {
				case "byte by byte":
					src = iotest.OneByteReader(src)
				case "half":
					src = iotest.HalfReader(src)
				}
				got := readAnswers(src, tc.methods, 10)
				if len(got) != len(tc.want) {
					t.Fatalf("%d answers %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
				}
				for i, g := range got {
					w := tc.want[i]
					if !errors.Is(g.err, w.err) || (w.err == nil) != (g.err == nil) {
						t.Fatalf("answer %d: error %v, want %v", i, g.err, w.err)
					}
					if w.body != "" && len(w.body) > 10 {
						w.body = w.body[:10]
					}
					g.err, w.err = nil, nil
					if g != w {
						t.Errorf("answer %d: %+v, want %+v", i, g, w)
					}
				}
			})
		}
	}
}

// Headers are read as sent; a head the same as the one before takes no
// new text.
func TestResponseReaderHeaders(t *testing.T) {
	one := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n{}"
	rr := NewResponseReader(strings.NewReader(one + one + one))
	if err := rr.ReadHead("GET"); err != nil {
		t.Fatal(err)
	}
	if ct := rr.Header("content-type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if n := len(rr.Headers()); n != 4 {
		t.Errorf("%d headers", n)
	}
	if _, _, err := rr.ReadBody(nil, 0); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1, func() {
		if err := rr.ReadHead("GET"); err != nil {
			t.Fatal(err)
		}
		if _, n, err := rr.ReadBody(nil, 0); err != nil || n != 2 {
			t.Fatal(n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations for an answer the same as the one before", allocs)
	}
	if rr.Buffered() != 0 {
		t.Errorf("%d bytes left", rr.Buffered())
	}
}

// FuzzResponseReader reads arbitrary bytes as the answers to a few
// requests, split where the input says. It must not panic or loop; what
// it keeps of a body is the body's start; and whenever it reads an answer
// whole, net/http reads the same status and body from those bytes (when
// net/http reads them at all: it is laxer in places, stricter in others).
func FuzzResponseReader(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), uint8(0), uint8(3))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: x\r\n\r\n"), uint8(1), uint8(2))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), uint8(2), uint8(1))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nclose-delimited"), uint8(3), uint8(7))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 304 N\r\n\r\n"), uint8(4), uint8(1))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"), uint8(0), uint8(1))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nffffffffffffffff\r\n"), uint8(0), uint8(5))
	f.Add([]byte("\r\n\r\nHTTP/1.1 101 Up\r\n\r\n\x00"), uint8(1), uint8(9))
	methods := []string{"GET", "HEAD", "POST", "GET"}
	f.Fuzz(func(t *testing.T, in []byte, method, split uint8) {
		step := int(split%16) + 1
		src := &stepReader{b: in, step: step}
		rr := NewResponseReader(src)
		m := methods[int(method)%len(methods)]
		err := rr.ReadHead(m)
		if err != nil {
			return
		}
		keep := int(split) * 3
		body, size, err := rr.ReadBody(nil, keep)
		if int64(len(body)) > size || len(body) > keep || size > int64(len(in)) {
			t.Fatalf("kept %d of a %d-byte body (keep %d, %d bytes in)", len(body), size, keep, len(in))
		}
		// The same body read with nothing kept has the same size.
		rr2 := NewResponseReader(bytes.NewReader(in))
		if rr2.ReadHead(m) == nil {
			if _, size2, err2 := rr2.ReadBody(nil, 0); size2 != size || (err == nil) != (err2 == nil) {
				t.Fatalf("size %d (%v) split, %d (%v) whole", size, err, size2, err2)
			}
		}
		if err != nil || rr.Status() == 101 {
			return
		}
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), &http.Request{Method: m})
		if herr != nil || resp.StatusCode/100 == 1 {
			return // net/http refuses it, or hands interim answers to its caller
		}
		all, herr := io.ReadAll(resp.Body)
		if herr != nil {
			return
		}
		if len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] != "chunked" || rr.Header("Transfer-Encoding") != "" && resp.ProtoMinor == 0 {
			return // net/http reads other codings its own way, and ignores them in HTTP/1.0
		}
		if resp.StatusCode != rr.Status() {
			t.Fatalf("status %d, net/http %d", rr.Status(), resp.StatusCode)
		}
		if int64(len(all)) != size || !bytes.HasPrefix(all, body) {
			t.Fatalf("body of %d bytes starting %q, net/http %d bytes %q", size, body, len(all), all)
		}
	})
}

// stepReader gives b step bytes a read.
type stepReader struct {
	b    []byte
	step int
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b[:min(s.step, len(s.b))])
	s.b = s.b[n:]
	return n, nil
}
