package httpstream

import (
	"testing"
)

// FuzzConn feeds arbitrary bytes to both sides of a connection, split and
// holed where the input says. The parser must not panic or loop, and its
// counters must add up.
func FuzzConn(f *testing.F) {
	f.Add([]byte(get1), []byte(ok5), uint8(3), uint8(0))
	f.Add([]byte(get1+get2+post7), []byte(ok5+ok0+"HTTP/1.1 500 x\r\nContent-Length: 1\r\n\r\nx"), uint8(7), uint8(2))
	f.Add([]byte("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: 1\r\n\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), uint8(1), uint8(5))
	f.Add([]byte("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody"), uint8(2), uint8(9))
	f.Add([]byte("GET /ws HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Up\r\n\r\n\x00\x01"), uint8(4), uint8(1))
	f.Add([]byte("CONNECT a:80 HTTP/1.1\r\n\r\n"+get1), []byte("HTTP/1.0 200 OK\r\n\r\n"+ok5), uint8(5), uint8(0))
	f.Add([]byte("GET /ws HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"+get2), []byte(ok5+ok0), uint8(2), uint8(0))
	f.Add([]byte(get1+get2), []byte("HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000000000005\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\nab"), uint8(6), uint8(2))
	f.Add([]byte("POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nab"+get1), []byte("HTTP/1.1 400 Bad\r\nTransfer-Encoding: foo\r\n\r\n"), uint8(9), uint8(0))
	f.Fuzz(func(t *testing.T, client, server []byte, split, holes uint8) {
		k := &collected{}
		st := New(Options{MaxBody: 64, MaxPending: 16}, k)
		conn := st.NewConn(1, "c", "s", holes&1 == 1)
		step := int(split%16) + 1
		var at int64
		for i, j, n := 0, 0, 0; i < len(client) || j < len(server); n++ {
			skip := 0
			if holes != 0 && n%int(holes|1) == 3 {
				skip = int(holes) - 128 // sometimes unknown (negative)
				if skip < 0 {
					skip = -1
				}
			}
			at++
			if i < len(client) {
				e := min(i+step, len(client))
				conn.FeedClient(client[i:e], FixedTime(at), skip)
				i = e
			}
			if j < len(server) {
				e := min(j+step+1, len(server))
				conn.FeedServer(server[j:e], FixedTime(at), skip)
				j = e
				if j == len(server) && holes&2 == 2 {
					conn.ServerClosed() // a FIN while the client may still send
				}
			}
		}
		conn.Close()
		s := st.Stats()
		if int64(len(k.got)) != s.Exchanges+s.Unanswered {
			t.Fatalf("emitted %d, stats say %d+%d", len(k.got), s.Exchanges, s.Unanswered)
		}
		if s.Exchanges+s.Unanswered > s.Requests {
			t.Fatalf("emitted %d exchanges from %d requests", s.Exchanges+s.Unanswered, s.Requests)
		}
		// Every request is counted once: written, lost in capture, or
		// dropped for its framing.
		if n := s.Exchanges + s.Unanswered + s.Incomplete + s.FramingErrors + s.H2C; n != s.Requests+s.headsLost {
			t.Fatalf("%d written + %d incomplete + %d framing != %d requests + %d lost before their head (%+v)",
				s.Exchanges+s.Unanswered, s.Incomplete, s.FramingErrors, s.Requests, s.headsLost, s)
		}
		if s.ShortBodies > s.Exchanges || s.Tunnels > 1 || (s.Tunnels == 0 && s.TunnelBytes > 0) {
			t.Fatalf("short %d of %d exchanges, %d tunnels with %d bytes", s.ShortBodies, s.Exchanges, s.Tunnels, s.TunnelBytes)
		}
		if fed := int64(len(client) + len(server)); s.TunnelBytes+s.SkippedBytes+s.FramingBytes > fed {
			t.Fatalf("%d tunnel + %d skipped + %d unframed bytes of %d fed", s.TunnelBytes, s.SkippedBytes, s.FramingBytes, fed)
		}
		if s.FramingErrors+s.Orphans == 0 && s.FramingBytes > 0 {
			// (A response that cannot be framed and has no request is an
			// orphan.)
			t.Fatalf("%d bytes not parsed after no framing error", s.FramingBytes)
		}
		short := int64(0)
		for _, x := range k.raw {
			if x[1] != nil && x[1].short {
				short++
			}
		}
		if short != s.ShortBodies {
			t.Fatalf("%d short bodies written, stats say %d", short, s.ShortBodies)
		}
		for _, x := range k.raw {
			if req := x[0]; req.Damaged || !req.done || len(req.Body) > 64 || int64(len(req.Body)) > req.BodySize {
				t.Fatalf("bad request emitted: %+v", req)
			}
		}
	})
}
