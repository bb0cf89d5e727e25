package httpstream

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/replaykit/replaykit/observed"
)

// ev is one chunk of bytes on one side of a connection.
type ev struct {
	server bool
	data   string
	skip   int   // bytes lost before data
	at     int64 // capture time of every byte of data
	fin    bool  // the server closed after data
}

func c(at int64, data string) ev    { return ev{data: data, at: at} }
func s(at int64, data string) ev    { return ev{server: true, data: data, at: at} }
func sFin(at int64, data string) ev { return ev{server: true, data: data, at: at, fin: true} }

type collected struct {
	got []string
	raw [][2]*Message
}

// parsed is the parser's Message whose observed.Message m is (its first
// field): the tests look at the parser's state of what it emitted.
func parsed(m *observed.Message) *Message {
	if m == nil {
		return nil
	}
	return (*Message)(unsafe.Pointer(m))
}

func (k *collected) Exchange(x observed.Exchange) {
	req, resp := x.Req, x.Resp
	status := 0
	var respSize int64
	if resp != nil {
		status, respSize = resp.Status, resp.BodySize
	}
	k.got = append(k.got, fmt.Sprintf("%s %s %d req=%d resp=%d", req.Method, req.Target, status, req.BodySize, respSize))
	k.raw = append(k.raw, [2]*Message{parsed(req), parsed(resp)})
}

func run(evs []ev, midStream bool, maxBody int) (*collected, Stats) {
	k := &collected{}
	st := New(Options{MaxBody: maxBody}, k)
	conn := st.NewConn(1, "127.0.0.1:5000", "127.0.0.1:80", midStream)
	for _, e := range evs {
		if e.server {
			conn.FeedServer([]byte(e.data), FixedTime(e.at), e.skip)
			if e.fin {
				conn.ServerClosed()
			}
		} else {
			conn.FeedClient([]byte(e.data), FixedTime(e.at), e.skip)
		}
	}
	conn.Close()
	return k, st.Stats()
}

const (
	get1  = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	get2  = "GET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
	ok5   = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	ok0   = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	post7 = "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
)

func TestExchanges(t *testing.T) {
	tests := []struct {
		name string
		evs  []ev
		mid  bool
		want []string
	}{
		{"keep-alive", []ev{c(1, get1), s(2, ok5), c(3, get2), s(4, ok0), c(5, post7), s(6, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")},
			false, []string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=0", "POST /t 201 req=7 resp=2"}},
		{"chunked response", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), c(3, get2), s(4, ok0)},
			false, []string{"GET /a 200 req=0 resp=11", "GET /b?q=1 200 req=0 resp=0"}},
		{"chunked request with trailer", []ev{c(1, "PUT /u HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"), s(2, ok0)},
			false, []string{"PUT /u 200 req=3 resp=0"}},
		{"HEAD has no body despite Content-Length", []ev{c(1, "HEAD /a HTTP/1.1\r\n\r\n"), s(2, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), c(3, get2), s(4, ok5)},
			false, []string{"HEAD /a 200 req=0 resp=0", "GET /b?q=1 200 req=0 resp=5"}},
		{"204 and 304 have no body", []ev{c(1, "DELETE /t/1 HTTP/1.1\r\n\r\n"), s(2, "HTTP/1.1 204 No Content\r\n\r\n"), c(3, get1), s(4, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), c(5, get2), s(6, ok5)},
			false, []string{"DELETE /t/1 204 req=0 resp=0", "GET /a 304 req=0 resp=0", "GET /b?q=1 200 req=0 resp=5"}},
		{"HTTP/1.0 body until close", []ev{c(1, "GET /old HTTP/1.0\r\n\r\n"), sFin(2, "HTTP/1.0 200 OK\r\n\r\nsome bytes until FIN")},
			false, []string{"GET /old 200 req=0 resp=20"}},
		{"body until close, connection closed without FIN", []ev{c(1, "GET /old HTTP/1.0\r\n\r\n"), s(2, "HTTP/1.0 200 OK\r\n\r\nabc")},
			false, []string{"GET /old 200 req=0 resp=3"}},
		{"expect 100-continue", []ev{c(1, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"), s(2, "HTTP/1.1 100 Continue\r\n\r\n"), c(3, "data"), s(4, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
			false, []string{"POST /up 201 req=4 resp=0"}},
		{"pipelining", []ev{c(1, get1+get2+post7), s(2, ok5+ok0+"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx")},
			false, []string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=0", "POST /t 500 req=7 resp=1"}},
		{"unanswered request", []ev{c(1, get1), s(2, ok5), c(3, get2)},
			false, []string{"GET /a 200 req=0 resp=5", "GET /b?q=1 0 req=0 resp=0"}},
		{"bare LF line ends", []ev{c(1, "GET /lf HTTP/1.1\nHost: x\n\n"), s(2, "HTTP/1.1 200 OK\nContent-Length: 2\n\nok")},
			false, []string{"GET /lf 200 req=0 resp=2"}},
		{"blank lines between requests", []ev{c(1, get1+"\r\n"+get2), s(2, ok5+ok0)},
			false, []string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=0"}},
		{"upgrade stops parsing", []ev{c(1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), s(2, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"), c(3, "\x81\x85garbage frames")},
			false, []string{"GET /ws 101 req=0 resp=0"}},
		{"response before its request (HEAD decided late)", []ev{s(2, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"), c(1, "HEAD /h HTTP/1.1\r\n\r\n"), c(3, get2), s(4, ok5)},
			false, []string{"HEAD /h 200 req=0 resp=0", "GET /b?q=1 200 req=0 resp=5"}},
		{"mid-stream start inside a response body", []ev{s(2, "lo world, the tail of a body\r\n"), c(3, get2), s(4, ok5), c(5, get1), s(6, ok0)},
			true, []string{"GET /b?q=1 200 req=0 resp=5", "GET /a 200 req=0 resp=0"}},
		{"mid-stream start inside a request body", []ev{c(1, "\":1}\r\n"), s(2, ok5), c(3, get2), s(4, ok0)},
			true, []string{"GET /b?q=1 200 req=0 resp=0"}},
		{"mid-stream start at a message boundary", []ev{c(1, get1), s(2, ok5)},
			true, []string{"GET /a 200 req=0 resp=5"}},
		{"garbage then HTTP", []ev{c(1, "\x16\x03\x01 binary junk\n"+get1), s(2, ok5)},
			false, []string{"GET /a 200 req=0 resp=5"}},
		{"request line in a body is not a request", []ev{c(1, "POST /p HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET /x HTTP/1.1\r\n\r\n"), s(2, ok0)},
			false, []string{"POST /p 200 req=18 resp=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := run(tt.evs, tt.mid, 1<<20)
			if !reflect.DeepEqual(k.got, tt.want) {
				t.Errorf("got  %q\nwant %q", k.got, tt.want)
			}
			// The same bytes one at a time give the same exchanges: no
			// state may depend on where packets split the stream.
			var split []ev
			for _, e := range tt.evs {
				for i := 0; i < len(e.data); i++ {
					b := e
					b.data, b.fin = e.data[i:i+1], e.fin && i == len(e.data)-1
					split = append(split, b)
				}
			}
			k2, _ := run(split, tt.mid, 1<<20)
			if !reflect.DeepEqual(k2.got, tt.want) {
				t.Errorf("byte by byte:\ngot  %q\nwant %q", k2.got, tt.want)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	tests := []struct {
		name      string
		evs       []ev
		want      []string
		incompl   int64
		orphans   int64
		lostBytes int64
	}{
		{"hole inside a request body drops that exchange only",
			[]ev{c(1, get1), s(2, ok5),
				c(3, "POST /t HTTP/1.1\r\nContent-Length: 10\r\n\r\nab"), {data: "ghij", skip: 4, at: 3}, s(4, ok0),
				c(5, get2), s(6, ok5)},
			[]string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=5"}, 1, 0, 4},
		{"hole inside a response body drops that exchange only",
			[]ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), {server: true, data: "ghij", skip: 4, at: 2},
				c(3, get2), s(4, ok5)},
			[]string{"GET /b?q=1 200 req=0 resp=5"}, 1, 0, 4},
		{"hole of unknown size in a request head",
			[]ev{c(1, get1), s(2, ok5), c(3, "GET /lost HT"), {data: "tail of it\r\n\r\n", skip: -1, at: 3}, s(4, ok0),
				c(5, get2), s(6, ok5)},
			[]string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=5"}, 1, 1, 0},
		{"whole response lost",
			[]ev{c(1, get1), c(3, get2), {server: true, data: ok5, skip: 38, at: 4}, c(5, post7), s(6, ok0)},
			[]string{"GET /b?q=1 200 req=0 resp=5", "POST /t 200 req=7 resp=0"}, 1, 0, 38},
		{"whole request lost",
			[]ev{c(1, get1), s(2, ok5), {data: post7, skip: 30, at: 3}, s(2, ok0), s(4, ok5)},
			[]string{"GET /a 200 req=0 resp=5", "POST /t 200 req=7 resp=5"}, 0, 1, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, st := run(tt.evs, false, 1<<20)
			if !reflect.DeepEqual(k.got, tt.want) {
				t.Errorf("got  %q\nwant %q", k.got, tt.want)
			}
			if st.Incomplete != tt.incompl || st.Orphans != tt.orphans || st.LostBytes != tt.lostBytes {
				t.Errorf("incomplete=%d orphans=%d lost=%d, want %d %d %d (stats %+v)",
					st.Incomplete, st.Orphans, st.LostBytes, tt.incompl, tt.orphans, tt.lostBytes, st)
			}
		})
	}
}

func TestMessageDetails(t *testing.T) {
	req := "POST /api/tasks?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Dup: a\r\nx-dup: b\r\nX-Fold: one\r\n two\r\nContent-Length: 11\r\n\r\nhello world"
	k, _ := run([]ev{c(100, req), s(250, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")}, false, 5)
	if len(k.raw) != 1 {
		t.Fatalf("got %d exchanges", len(k.raw))
	}
	r, p := k.raw[0][0], k.raw[0][1]
	wantH := []string{"Host=example.com", "X-Dup=a", "x-dup=b", "X-Fold=one two", "Content-Length=11"}
	var gotH []string
	for _, h := range r.Headers {
		gotH = append(gotH, h.Name+"="+h.Value)
	}
	if !reflect.DeepEqual(gotH, wantH) {
		t.Errorf("headers %q, want %q", gotH, wantH)
	}
	if string(r.Body) != "hello" || r.BodySize != 11 || !r.BodyTruncated() {
		t.Errorf("body %q size %d truncated %v", r.Body, r.BodySize, r.BodyTruncated())
	}
	if r.Proto != "HTTP/1.1" || r.Start != 100 || r.End != 100 || p.Start != 250 || p.End != 250 {
		t.Errorf("proto %s times req %d-%d resp %d-%d", r.Proto, r.Start, r.End, p.Start, p.End)
	}
}

func TestMaxPendingBoundsMemory(t *testing.T) {
	k := &collected{}
	st := New(Options{MaxPending: 10}, k)
	conn := st.NewConn(1, "a", "b", false)
	for i := 0; i < 1000; i++ {
		conn.FeedClient([]byte(get1), FixedTime(int64(i)), 0)
	}
	if n := len(conn.reqs); n > 10 {
		t.Fatalf("%d requests pending, bound is 10", n)
	}
	conn.Close()
	if got := st.Stats(); got.Unanswered+got.Incomplete != 1000 {
		t.Errorf("unanswered %d + incomplete %d != 1000", got.Unanswered, got.Incomplete)
	}
}

func TestNonHTTPIsSkippedAndCounted(t *testing.T) {
	junk := strings.Repeat("\x00\x01binary-protocol-bytes", 1000)
	k, st := run([]ev{c(1, junk), s(2, junk)}, false, 0)
	if len(k.got) != 0 || st.SkippedBytes < int64(2*len(junk))-64 {
		t.Errorf("got %q, skipped %d of %d", k.got, st.SkippedBytes, 2*len(junk))
	}
}

// A response lost whole at the end of a connection (the hole is only known
// from the FIN's sequence number) makes its request incomplete, not an
// unanswered request: a response existed.
func TestResponseLostAtClose(t *testing.T) {
	_, st := run([]ev{c(1, get1), s(2, ok5), c(3, get2), {server: true, skip: -1, at: 4}}, false, 0)
	if st.Exchanges != 1 || st.Unanswered != 0 || st.Incomplete != 1 {
		t.Errorf("stats %+v, want 1 exchange, 1 incomplete", st)
	}
}

// The server closes while a response waits to learn its request's method:
// the response is framed without it, and later client bytes are harmless.
// (Found by FuzzCapture: a nil dereference.)
func TestServerClosesWhileResponseWaits(t *testing.T) {
	k, _ := run([]ev{sFin(2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), c(3, get1), c(4, get2)}, false, 0)
	want := []string{"GET /a 200 req=0 resp=5", "GET /b?q=1 0 req=0 resp=0"}
	if !reflect.DeepEqual(k.got, want) {
		t.Errorf("got %q, want %q", k.got, want)
	}
}

// Two waiting responses, then the server closes: the second must not be
// left waiting when the first is forced on. (Found by FuzzCapture.)
func TestServerClosesWithTwoWaitingResponses(t *testing.T) {
	k, st := run([]ev{sFin(2, ok5+"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), c(3, get1), c(4, get2)}, false, 0)
	if len(k.got) != 2 || st.Exchanges != 2 {
		t.Errorf("got %q (stats %+v)", k.got, st)
	}
}
