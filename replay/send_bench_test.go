package replay

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

// BenchmarkSend is replay's own cost a request, the network left out (a
// transport that answers at once): the sample trace (links, a login, a
// cookie) by 8 users with no think time, with and without correlation,
// and with Prometheus metrics (replay --metrics) and the web UI's live
// view (Observe) on.
//
//	go test -run '^$' -bench Send -count 5 ./replay/
//
// The "own" ones send with replay's own HTTP/1.1 client (Plan.HTTP1) on
// connections that answer at once (instantConn), the sessions prepared
// once as RunScenario's are: the same work but for the client.
func BenchmarkSend(b *testing.B) {
	for _, tt := range []struct {
		name        string
		noCorrelate bool
		metrics     bool
		own         bool
	}{{"correlate", false, false, false}, {"no-correlate", true, false, false}, {"correlate+metrics", false, true, false},
		{"own/correlate", false, false, true}, {"own/no-correlate", true, false, true}} {
		b.Run(tt.name, func(b *testing.B) {
			src := sampleSessions(b)
			n := int64(max(b.N, 1000))
			stop, enough := context.WithCancelCause(context.Background())
			defer enough(nil)
			tr := &instant{limit: n, full: func() { enough(ErrInterrupted) }}
			p := Plan{Sessions: src, Users: 8, Pacing: scenario.Uniform{},
				Duration: 10 * time.Minute, NoCorrelate: tt.noCorrelate, Client: &http.Client{Transport: tr}}
			if tt.metrics {
				p.Metrics = NewMetrics("bench")
			}
			if tt.own {
				tgt, _ := ParseTarget("http://127.0.0.1:9")
				tgt.ownClient = true
				src = sampleSessionsWith(b, session.Options{Ready: tgt.PrepareSession})
				var sent atomic.Int64
				p.Sessions, p.Target, p.HTTP1 = src, tgt, true
				p.dial = func(context.Context, string, time.Time) (net.Conn, error) {
					return &instantConn{sent: &sent, limit: n, full: func() { enough(ErrInterrupted) }, answer: []byte(instantAnswer)}, nil
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			_, err, rows := runPlan(b, context.Background(), stop, p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(rows)), "ns/request")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkSendLoopback is a request's cost through each client to a
// server on 127.0.0.1 that answers at once (16 bytes, as nginx's
// `return 200`): 8 users with no think time send GETs, every request a
// results row. The server runs in the process, so its share is in the
// figures (the same for both clients).
//
//	go test -run '^$' -bench SendLoopback -cpu 1 ./replay/
func BenchmarkSendLoopback(b *testing.B) {
	addr := fastServer(b)
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			n := int64(max(b.N, 1000))
			stop, enough := context.WithCancelCause(context.Background())
			defer enough(nil)
			var rows atomic.Int64
			tgt, _ := ParseTarget("http://" + addr)
			tgt.ownClient = cl.http1
			// Prepared once, as RunScenario's sessions are.
			s, err := faultSessions().Session(0)
			if err != nil {
				b.Fatal(err)
			}
			s.Ready, _ = tgt.PrepareSession(s)
			p := Plan{Sessions: session.FromSessions([]session.Session{*s}), Users: 8, Pacing: scenario.Uniform{}, Duration: 10 * time.Minute,
				Target: tgt, HTTP1: cl.http1, Observe: func(r *results.Result) {
					if r.Error != "" {
						b.Errorf("%s", r.Error)
					}
					if rows.Add(1) == n {
						enough(ErrInterrupted)
					}
				}}
			b.ReportAllocs()
			b.ResetTimer()
			_, err, got := runPlan(b, context.Background(), stop, p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(got)), "ns/request")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// fastServer answers every request head it reads (GETs without bodies)
// with the same 16-byte answer, on 127.0.0.1, until the test ends.
func fastServer(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n0123456789abcdef")
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				go func() { <-tb.Context().Done(); c.Close() }()
				buf := make([]byte, 64<<10)
				var out []byte
				tail := 0 // bytes of a head end seen at the end of the last read
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					heads := bytes.Count(buf[:n], []byte("\r\n\r\n"))
					if tail > 0 && n > 0 && bytes.HasPrefix(buf[:n], []byte("\r\n\r\n"[tail:])) {
						heads++
					}
					tail = 0
					for k := 3; k > 0; k-- {
						if n >= k && bytes.HasSuffix(buf[:n], []byte("\r\n\r\n"[:k])) {
							tail = k
							break
						}
					}
					out = out[:0]
					for range heads {
						out = append(out, answer...)
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// instantConn is a connection to a server that answers every request
// head written to it at once, with an empty 200; after limit heads (over
// all of them: sent) it calls full, once.
type instantConn struct {
	net.Conn // nil: only what the client calls is here
	sent     *atomic.Int64
	limit    int64
	full     func()
	answer   []byte
	due      int // answers to give
	tail     int // bytes of a head's end at the end of the last write
	left     []byte
}

const instantAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

func (c *instantConn) Write(b []byte) (int, error) {
	heads := bytes.Count(b, []byte("\r\n\r\n"))
	if c.tail > 0 && bytes.HasPrefix(b, []byte("\r\n\r\n"[c.tail:])) {
		heads++
	}
	c.tail = 0
	for k := 3; k > 0; k-- {
		if bytes.HasSuffix(b, []byte("\r\n\r\n"[:k])) {
			c.tail = k
			break
		}
	}
	c.due += heads
	for range heads {
		if c.sent.Add(1) == c.limit {
			c.full()
		}
	}
	return len(b), nil
}

func (c *instantConn) Read(b []byte) (int, error) {
	if len(c.left) == 0 {
		if c.due == 0 {
			return 0, io.EOF // nothing asked: as a server closing
		}
		c.due--
		c.left = c.answer
	}
	n := copy(b, c.left)
	c.left = c.left[n:]
	return n, nil
}

func (c *instantConn) Close() error                     { return nil }
func (c *instantConn) SetDeadline(time.Time) error      { return nil }
func (c *instantConn) SetReadDeadline(time.Time) error  { return nil }
func (c *instantConn) SetWriteDeadline(time.Time) error { return nil }
