package httpstream

import (
	"reflect"
	"strings"
	"testing"
)

// counts is the part of Stats the edge cases are about.
type counts struct {
	Incomplete, Unanswered, Orphans, FramingErrors, ShortBodies, Tunnels, TunnelBytes, Skipped int64
}

func countsOf(s Stats) counts {
	return counts{s.Incomplete, s.Unanswered, s.Orphans, s.FramingErrors, s.ShortBodies, s.Tunnels, s.TunnelBytes, s.SkippedBytes}
}

// Edge cases that real captures hold (testdata/edges has a capture of
// each, made with real programs): what is written, and what is counted.
func TestEdges(t *testing.T) {
	long := func(digits int, v string) string { return strings.Repeat("0", digits-len(v)) + v }
	body50 := strings.Repeat("z", 50)
	inner := get1 + get2
	innerResp := ok5 + ok0
	frames := "\x81\x85\x01\x02\x03\x04GET / HTTP/1.1\r\n\r\n"
	tests := []struct {
		name string
		evs  []ev
		want []string
		n    counts
	}{
		// 1. The server promised 1000 bytes, sent 100 and closed: the
		// exchange is kept with the 100.
		{"short body, server closed", []ev{c(1, get1), sFin(2, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))},
			[]string{"GET /a 200 req=0 resp=100"}, counts{ShortBodies: 1}},
		{"short chunked body, server closed", []ev{c(1, get1), sFin(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc")},
			[]string{"GET /a 200 req=0 resp=8"}, counts{ShortBodies: 1}},
		{"short body after a whole one, keep-alive", []ev{c(1, get1), s(2, ok5), c(3, get2), sFin(4, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")},
			[]string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=3"}, counts{ShortBodies: 1}},
		// The capture ended, not the server: the rest may have been sent.
		{"body cut by the capture, no FIN", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")},
			nil, counts{Incomplete: 1}},
		{"body with a hole, then FIN", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nabc"), {server: true, data: "def", skip: 4, at: 3, fin: true}},
			nil, counts{Incomplete: 1}},

		// 2. Leading zeros, any number of digits.
		{"Content-Length 000050", []ev{c(1, "POST /z HTTP/1.1\r\nContent-Length: 000050\r\n\r\n"+body50+get2), s(2, ok0+ok5)},
			[]string{"POST /z 200 req=50 resp=0", "GET /b?q=1 200 req=0 resp=5"}, counts{}},
		{"Content-Length of 22 digits", []ev{c(1, "POST /z HTTP/1.1\r\nContent-Length: "+long(22, "50")+"\r\n\r\n"+body50+get2), s(2, ok0+ok5)},
			[]string{"POST /z 200 req=50 resp=0", "GET /b?q=1 200 req=0 resp=5"}, counts{}},
		{"response Content-Length of 40 digits", []ev{c(1, get1+get2), s(2, "HTTP/1.1 200 OK\r\nContent-Length: "+long(40, "5")+"\r\n\r\nhello"+ok0)},
			[]string{"GET /a 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=0"}, counts{}},
		{"largest Content-Length", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nabc")},
			nil, counts{Incomplete: 1}},
		{"chunk size with leading zeros", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+long(30, "5")+"\r\nhello\r\n0\r\n\r\n")},
			[]string{"GET /a 200 req=0 resp=5"}, counts{}},

		// 4. Framing errors: counted as such; the side that sent one is
		// not parsed after it (the peer must close), pairing stays exact.
		{"request Content-Length over 63 bits", []ev{c(1, "POST /o HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\nabc"+get2), s(2, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")},
			nil, counts{FramingErrors: 1}},
		{"request Content-Lengths that disagree", []ev{c(1, "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc\r\n"+get2), s(2, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n"), s(4, ok5)},
			nil, counts{FramingErrors: 1, Orphans: 1}},
		{"request Content-Length with letters", []ev{c(1, "POST /x HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc"), sFin(2, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")},
			nil, counts{FramingErrors: 1}},
		{"request transfer coding unknown", []ev{c(1, "POST /x HTTP/1.1\r\nTransfer-Encoding: foo\r\n\r\nabc"), s(2, "HTTP/1.1 501 No\r\nContent-Length: 0\r\n\r\n")},
			nil, counts{FramingErrors: 1}},
		{"request chunk size over 63 bits", []ev{c(1, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n"), s(2, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")},
			nil, counts{FramingErrors: 1}},
		{"request chunk longer than its size", []ev{c(1, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), s(2, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")},
			nil, counts{FramingErrors: 1}},
		{"response Content-Length over 63 bits", []ev{c(1, get1), sFin(2, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello"), c(3, get2)},
			nil, counts{FramingErrors: 2}},
		{"response transfer coding unknown", []ev{c(1, get1), s(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: br2\r\n\r\nhello")},
			nil, counts{FramingErrors: 1}},
		{"response gzip coding runs to the close", []ev{c(1, get1), sFin(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello")},
			[]string{"GET /a 200 req=0 resp=5"}, counts{}},

		// 3. Tunnels: the switch is one row, nothing inside is parsed.
		{"CONNECT then HTTP inside", []ev{c(1, "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), s(2, "HTTP/1.1 200 Connection established\r\n\r\n"), c(3, inner), s(4, innerResp)},
			[]string{"CONNECT example.com:80 200 req=0 resp=0"}, counts{Tunnels: 1, TunnelBytes: int64(len(inner) + len(innerResp))}},
		{"CONNECT, client sends before the answer", []ev{c(1, "CONNECT example.com:80 HTTP/1.1\r\n\r\n"+inner), s(2, "HTTP/1.0 200 Connection established\r\n\r\n"+innerResp)},
			[]string{"CONNECT example.com:80 200 req=0 resp=0"}, counts{Tunnels: 1, TunnelBytes: int64(len(inner) + len(innerResp))}},
		{"CONNECT refused, then allowed", []ev{c(1, "CONNECT a:443 HTTP/1.1\r\n\r\n"), s(2, "HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno"), c(3, "CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n"), s(4, "HTTP/1.1 200 OK\r\n\r\n"), c(5, "\x16\x03\x01tls")},
			[]string{"CONNECT a:443 407 req=0 resp=2", "CONNECT a:443 200 req=0 resp=0"}, counts{Tunnels: 1, TunnelBytes: 6}},
		{"websocket upgrade, frames look like HTTP", []ev{c(1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), s(2, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"+ok5), c(3, frames)},
			[]string{"GET /ws 101 req=0 resp=0"}, counts{Tunnels: 1, TunnelBytes: int64(len(ok5) + len(frames))}},
		{"upgrade refused: HTTP goes on", []ev{c(1, "GET /h2 HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"+get2), s(2, ok5+ok0)},
			[]string{"GET /h2 200 req=0 resp=5", "GET /b?q=1 200 req=0 resp=0"}, counts{}},
		{"upgrade after 100 Continue", []ev{c(1, "POST /u HTTP/1.1\r\nUpgrade: x\r\nContent-Length: 2\r\n\r\nab"+get2), s(2, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Up\r\n\r\n")},
			[]string{"POST /u 101 req=2 resp=0"}, counts{Tunnels: 1, TunnelBytes: int64(len(get2))}},
		// The answer was not seen: what followed may be the tunnel's.
		{"CONNECT never answered", []ev{c(1, "CONNECT a:80 HTTP/1.1\r\n\r\n"+get2)},
			[]string{"CONNECT a:80 0 req=0 resp=0"}, counts{Unanswered: 1, Skipped: int64(len(get2))}},
		{"upgrade answer lost", []ev{c(1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"+get2), {server: true, data: "\x81\x02hi", skip: -1, at: 2}, c(3, get1)},
			nil, counts{Incomplete: 1, Skipped: int64(len(get2) + len(get1) + 4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				evs := tt.evs
				if split {
					// One byte at a time: no count may depend on where
					// packets split the stream.
					evs = nil
					for _, e := range tt.evs {
						for i := 0; i < len(e.data); i++ {
							b := e
							b.data, b.fin, b.skip = e.data[i:i+1], e.fin && i == len(e.data)-1, 0
							if i == 0 {
								b.skip = e.skip
							}
							evs = append(evs, b)
						}
					}
				}
				k, st := run(evs, false, 1<<20)
				if !reflect.DeepEqual(k.got, tt.want) {
					t.Errorf("split=%v: got  %q\nwant %q", split, k.got, tt.want)
				}
				if got := countsOf(st); got != tt.n {
					t.Errorf("split=%v: counts %+v\nwant   %+v", split, got, tt.n)
				}
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"50", 50, true}, {"000050", 50, true},
		{strings.Repeat("0", 100) + "7", 7, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false}, {"99999999999999999999", 0, false},
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1 2", 0, false}, {"3x", 0, false},
	}
	for _, tt := range tests {
		if n, ok := parseDecimal(tt.in); n != tt.want || ok != tt.ok {
			t.Errorf("parseDecimal(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.want, tt.ok)
		}
	}
}

func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"a", 10, true}, {"1F;ext=1", 31, true}, {"0000000000000000000005", 5, true},
		{"7fffffffffffffff", 1<<63 - 1, true}, {"8000000000000000", 0, false}, {"10000000000000000", 0, false},
		{"", 0, false}, {"g", 0, false}, {"-1", 0, false},
	}
	for _, tt := range tests {
		if n, ok := parseChunkSize([]byte(tt.in)); n != tt.want || ok != tt.ok {
			t.Errorf("parseChunkSize(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.want, tt.ok)
		}
	}
}
