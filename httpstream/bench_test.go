package httpstream

import (
	"strconv"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/observed"
)

type countSink struct{ n int }

func (k *countSink) Exchange(observed.Exchange) { k.n++ }

// BenchmarkConn is the parser alone: one keep-alive connection of
// exchanges as curl and a Go server send them (Content-Length and chunked
// bodies), fed a packet-sized chunk at a time.
func BenchmarkConn(b *testing.B) {
	body := `{"title":"write the report"}`
	req := "POST /api/tasks?page=2 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	resp := "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nDate: Tue, 01 Dec 2026 22:00:00 GMT\r\nContent-Length: 64\r\n\r\n" +
		strings.Repeat("x", 64)
	chunked := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
	const n = 256
	var client, server strings.Builder
	for i := 0; i < n; i++ {
		client.WriteString(req)
		if i%4 == 3 {
			server.WriteString(chunked)
		} else {
			server.WriteString(resp)
		}
	}
	cb, sb := []byte(client.String()), []byte(server.String())
	const mss = 1448
	b.ReportAllocs()
	b.SetBytes(int64(len(cb) + len(sb)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := &countSink{}
		st := New(Options{MaxBody: 1 << 20}, k)
		conn := st.NewConn(1, "127.0.0.1:5000", "127.0.0.1:8000", false)
		for off := 0; off < len(cb) || off < len(sb); off += mss {
			if off < len(cb) {
				conn.FeedClient(cb[off:min(off+mss, len(cb))], FixedTime(off), 0)
			}
			if off < len(sb) {
				conn.FeedServer(sb[off:min(off+mss, len(sb))], FixedTime(off+1), 0)
			}
		}
		conn.Close()
		if k.n != n {
			b.Fatalf("%d exchanges, want %d", k.n, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "exchanges/s")
}
