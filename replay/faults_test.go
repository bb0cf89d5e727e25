package replay

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/session"
)

// badServer is a TCP server the tests drive into misbehaving: it reads
// each request head and answers with behave, connection by connection.
type badServer struct {
	t      *testing.T
	ln     net.Listener
	addr   string
	behave func(c net.Conn, req *http.Request)
	// serve, when set, serves each connection instead (an HTTP/2 one).
	serve  func(c net.Conn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func newBadServer(t *testing.T, behave func(c net.Conn, req *http.Request)) *badServer {
	s := &badServer{t: t, behave: behave, conns: map[net.Conn]bool{}}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

func (s *badServer) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.ln, s.addr, s.closed = ln, ln.Addr().String(), false
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if s.serve != nil {
					s.serve(c)
					return
				}
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					s.behave(c, req)
				}
			}()
		}
	}()
}

// stop closes the listener and every connection, and waits for them.
func (s *badServer) stop() {
	s.mu.Lock()
	if !s.closed {
		s.ln.Close()
		s.closed = true
	}
	for c := range s.conns {
		c.Close()
	}
	s.conns = map[net.Conn]bool{}
	s.mu.Unlock()
	s.wg.Wait()
}

func ok(c net.Conn, body string) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n%s", len(body), body)
}

// faultSessions is one recorded session of GETs.
func faultSessions() *session.Source {
	var reqs []session.Request
	for i := range 5 {
		reqs = append(reqs, session.Request{ID: int64(i), TS: time.Unix(int64(i), 0), Session: "s", Method: "GET",
			Path: fmt.Sprintf("/api/v1/tasks/%d", i), Route: "/api/v1/tasks/{id}", Kind: "read", Status: 200})
	}
	return session.FromSessions([]session.Session{{Key: "s", Requests: reqs}})
}

// clients are the two ways replay sends to a plain http:// target
// (Plan.HTTP1): every fault test runs on both.
var clients = []struct {
	name  string
	http1 bool
}{{"net-http", false}, {"own", true}}

// Every misbehaviour gives every request a results row with the right
// error; timeouts hold; the run ends on time; goroutines come back to
// where they were.
func TestMisbehavingServers(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { misbehavingServers(t, cl.http1) })
	}
}

func misbehavingServers(t *testing.T, http1 bool) {
	const timeout = 300 * time.Millisecond
	// Only the cases that test the timeout have one of 300 ms: in every
	// other, the server's answer (its reset, garbage or status) is what is
	// checked, and must come however loaded the machine (5 s; a garbage
	// answer came after 300 ms once under the race detector).
	timesOut := map[string]bool{"accepts and never answers": true, "trickles the body": true, "answers far more than recorded": true}
	const duration = 800 * time.Millisecond
	for _, tc := range []struct {
		name   string
		behave func(c net.Conn, req *http.Request)
		// check looks at every row; it returns what is wrong with one.
		check func(r results.Result) string
	}{
		{"reset", func(c net.Conn, _ *http.Request) {
			c.(*net.TCPConn).SetLinger(0) // close with RST
			c.Close()
		}, wantError("connection reset", "connection closed before the response ended")},
		{"accepts and never answers", func(c net.Conn, _ *http.Request) {
			io.Copy(io.Discard, c) // until the client or the server closes it
		}, wantError("timeout")},
		{"trickles the body", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
			for range 1000 {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, wantError("timeout")},
		{"answers far more than recorded", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 8<<20)
			c.Write(make([]byte, 8<<20))
		}, func(r results.Result) string {
			if r.Error != "" && r.Error != "timeout" {
				return "error " + r.Error
			}
			if r.Error == "" && (r.Status != 200 || r.RespSize != 8<<20) {
				return fmt.Sprintf("status %d, %d bytes", r.Status, r.RespSize)
			}
			return ""
		}},
		{"5xx storm", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
		}, func(r results.Result) string {
			if r.Status != 503 || r.Error != "" || !r.Failed() || !r.Unavailable() {
				return fmt.Sprintf("status %d error %q", r.Status, r.Error)
			}
			return ""
		}},
		{"429 with Retry-After", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
		}, func(r results.Result) string {
			if r.Status != 429 || !r.RateLimited() || r.Unavailable() {
				return fmt.Sprintf("status %d error %q", r.Status, r.Error)
			}
			return ""
		}},
		{"garbage instead of HTTP", func(c net.Conn, _ *http.Request) {
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02 not http at all\r\n\r\n"))
			c.Close()
		}, wantError("malformed HTTP response")},
		{"100 Continue before the answer", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 100 Continue\r\n\r\n")
			ok(c, `{"ok":true}`)
		}, wantStatus(200, 11)},
		{"chunked answers", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		}, wantStatus(200, 11)},
		{"closes after each answer, unannounced", func(c net.Conn, _ *http.Request) {
			ok(c, `{}`)
			c.Close()
		}, wantStatus(200, 2)},
		{"answers until it closes", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\nuntil the close")
			c.Close()
		}, wantStatus(200, 15)},
		{"cuts the body short", func(c net.Conn, _ *http.Request) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
			c.Close()
		}, wantError("connection closed before the response ended")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			heapBefore := heapAfterGC()
			srv := newBadServer(t, tc.behave)
			tgt, _ := ParseTarget("http://" + srv.addr)
			start := time.Now()
			timeout := timeout
			if !timesOut[tc.name] {
				timeout = 5 * time.Second
			}
			rows, sum := run(t, "http://"+srv.addr, Plan{Users: 4, Duration: duration, Timeout: timeout, Target: tgt,
				Sessions: faultSessions(), Seed: 1, HTTP1: http1})
			checkFaultRun(t, rows, sum, time.Since(start), duration, timeout, tc.check)
			srv.stop()
			if leaked := settledGoroutines(before); leaked > 0 {
				t.Errorf("%d goroutines more than before the run", leaked)
			}
			// The results are in the test's hands; nothing else stays.
			if grew := int64(heapAfterGC()) - int64(heapBefore); grew > 16<<20 {
				t.Errorf("the heap grew by %d MB over the run", grew>>20)
			}
		})
	}
}

// checkFaultRun checks a fault test's run, which took took: rows, each
// as check wants it (it returns what is wrong with one) and in its
// timeout, the run in its duration and timeout, the summary's count the
// rows'. It returns the rows' count by "status error".
func checkFaultRun(t *testing.T, rows []results.Result, sum *Summary, took, duration, timeout time.Duration, check func(results.Result) string) map[string]int {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("no results rows")
	}
	errs := map[string]int{}
	for _, r := range rows {
		errs[fmt.Sprintf("%d %s", r.Status, r.Error)]++
	}
	t.Logf("%d rows in %v: %v", len(rows), took.Round(time.Millisecond), errs)
	for _, r := range rows {
		if why := check(r); why != "" {
			t.Fatalf("row %+v: %s", r, why)
		}
		// Slack for a loaded machine; without the timeout these
		// requests take 50 s (the trickle) or forever.
		if r.LatencyNanos > int64(timeout+2*time.Second) {
			t.Errorf("a request took %v, past the %v timeout", time.Duration(r.LatencyNanos), timeout)
		}
	}
	if took > duration+timeout+3*time.Second {
		t.Errorf("the run took %v for %v with a %v timeout", took, duration, timeout)
	}
	if sum.Requests != int64(len(rows)) {
		t.Errorf("summary %d requests, %d rows", sum.Requests, len(rows))
	}
	return errs
}

// wantStatus wants every request answered with status and a body of
// size bytes.
func wantStatus(status int32, size int64) func(results.Result) string {
	return func(r results.Result) string {
		if r.Error != "" || r.Status != status || r.RespSize != size {
			return fmt.Sprintf("status %d error %q, %d bytes; want %d, %d bytes", r.Status, r.Error, r.RespSize, status, size)
		}
		return ""
	}
}

func wantError(labels ...string) func(results.Result) string {
	return func(r results.Result) string {
		for _, l := range labels {
			if r.Error == l && r.Status == 0 {
				return ""
			}
		}
		return fmt.Sprintf("error %q status %d, want one of %q", r.Error, r.Status, labels)
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// settledGoroutines waits up to 2 s for goroutines to end and says how
// many more there are than before.
func settledGoroutines(before int) int {
	var n int
	for range 40 {
		if n = runtime.NumGoroutine() - before; n <= 0 {
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// A server that dies mid-run and comes back: refused connections are rows
// with their error, and the users carry on once it is back.
func TestServerDiesAndComesBack(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { serverDiesAndComesBack(t, cl.http1) })
	}
}

func serverDiesAndComesBack(t *testing.T, http1 bool) {
	var answered atomic.Int64
	srv := newBadServer(t, func(c net.Conn, _ *http.Request) {
		answered.Add(1)
		ok(c, `{"ok":true}`)
	})
	addr := srv.addr
	go func() {
		time.Sleep(400 * time.Millisecond)
		srv.stop()
		time.Sleep(400 * time.Millisecond)
		srv.listen(addr)
	}()
	tgt, _ := ParseTarget("http://" + addr)
	rows, _ := run(t, "http://"+addr, Plan{Users: 3, Duration: 1500 * time.Millisecond, Timeout: 300 * time.Millisecond,
		Target: tgt, Sessions: faultSessions(), Pacing: nil, Seed: 2, HTTP1: http1})
	var before, down, after int
	start := earliest(rows)
	for _, r := range rows {
		at := r.Sent.Sub(start)
		switch {
		case r.Status == 200 && at < 400*time.Millisecond:
			before++
		case r.Error != "" && at > 450*time.Millisecond && at < 750*time.Millisecond:
			down++
			if r.Error != "connection refused" && r.Error != "connection reset" && !strings.Contains(r.Error, "closed") {
				t.Errorf("while down: %q", r.Error)
			}
		case r.Status == 200 && at > 900*time.Millisecond:
			after++
		}
	}
	if before == 0 || down == 0 || after == 0 {
		t.Errorf("answered before %d, failed while down %d, answered after %d", before, down, after)
	}
	if int64(before+after) > answered.Load() {
		t.Errorf("%d successes recorded, the server answered %d", before+after, answered.Load())
	}
}
