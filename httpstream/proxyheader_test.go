package httpstream

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/observed"
)

// byClient collects "client method target status start" of each exchange.
type byClient []string

func (k *byClient) Exchange(x observed.Exchange) {
	status := 0
	if x.Resp != nil {
		status = x.Resp.Status
	}
	*k = append(*k, fmt.Sprintf("%s %s %s %d @%d", x.Conn.Client, x.Req.Method, x.Req.Target, status, x.Req.Start))
}

const (
	ppV1 = "PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\n"
	// HAProxy's send-proxy-v2 for 203.0.113.7:51234 -> 10.0.0.5:80, with
	// the NOOP TLV it pads with.
	ppV2 = "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0f" +
		"\xcb\x00\x71\x07" + "\x0a\x00\x00\x05" + "\xc8\x22" + "\x00\x50" + "\x04\x00\x00"
	ppLocal = "\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
)

func TestProxyHeader(t *testing.T) {
	const lb = "10.0.0.2:40000" // the load balancer: the connection's own client
	tests := []struct {
		name string
		// client is the client's bytes, fed in chunks cut at each "|", the
		// i-th chunk at time i+1. A chunk "~N" is a hole of N bytes.
		client  string
		want    []string
		headers int64 // Stats.ProxyHeaders
		bad     int64 // Stats.ProxyBad
	}{
		{name: "no header", client: get1 + get2,
			want: []string{lb + " GET /a 200 @1", lb + " GET /b?q=1 200 @1"}},
		{name: "v1 with the first request", client: ppV1 + get1 + "|" + get2, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @1", "203.0.113.7:51234 GET /b?q=1 200 @2"}},
		{name: "v1 alone in its segment", client: ppV1 + "|" + get1 + get2, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @2", "203.0.113.7:51234 GET /b?q=1 200 @2"}},
		{name: "v1 in pieces", client: "P|ROXY TCP4 203.0.|113.7 10.0.0.5 51234 80\r|\nGET /a HTTP/1.1\r\n\r\n|" + get2, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @4", "203.0.113.7:51234 GET /b?q=1 200 @5"}},
		{name: "v2", client: ppV2 + get1 + get2, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @1", "203.0.113.7:51234 GET /b?q=1 200 @1"}},
		{name: "v2 a byte at a time", client: strings.Join(strings.Split(ppV2, ""), "|") + "|" + get1 + get2, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @32", "203.0.113.7:51234 GET /b?q=1 200 @32"}},
		{name: "v2 LOCAL keeps the connection's address", client: ppLocal + get1 + get2, headers: 1,
			want: []string{lb + " GET /a 200 @1", lb + " GET /b?q=1 200 @1"}},
		{name: "v1 TCP6 with an IPv4 client", client: "PROXY TCP6 ::ffff:203.0.113.7 ::ffff:10.0.0.5 51234 80\r\n" + get1, headers: 1,
			want: []string{"203.0.113.7:51234 GET /a 200 @1"}},
		{name: "v1 TCP6", client: "PROXY TCP6 2001:db8::7 2001:db8::5 51234 80\r\n" + get1, headers: 1,
			want: []string{"[2001:db8::7]:51234 GET /a 200 @1"}},
		{name: "v1 UNKNOWN keeps the connection's address", client: "PROXY UNKNOWN\r\n" + get1 + get2, headers: 1,
			want: []string{lb + " GET /a 200 @1", lb + " GET /b?q=1 200 @1"}},
		// Only a connection's start may hold a header: later, it is bytes
		// the HTTP parser skips (and pairs by time after).
		{name: "a header later on is not one", client: get1 + "|" + ppV1 + get2,
			want: []string{lb + " GET /a 200 @1"}},
		{name: "POST begins like PROXY", client: "P|OST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}|" + get2,
			want: []string{lb + " POST /t 200 @1", lb + " GET /b?q=1 200 @3"}},
		{name: "bad v1 line is stripped, its address not used", client: "PROXY TCP4 203.0.113.7 10.0.0.5 51234\r\n" + get1 + get2, bad: 1,
			want: []string{lb + " GET /a 200 @1", lb + " GET /b?q=1 200 @1"}},
		// The parser skips the line, and pairs by time from there: with
		// both answers after both requests, the first is taken as lost.
		{name: "bad v1 without its end goes to the HTTP parser", client: "PROXY TCP4 203.0.113.7 \x00\x01\r\n" + get1 + get2, bad: 1,
			want: []string{lb + " GET /b?q=1 200 @1"}},
		{name: "a hole in a header", client: "PROXY TCP4 203.0.|~20|80\r\n" + get1 + "|" + get2,
			want: []string{lb + " GET /b?q=1 200 @4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got byClient
			st := New(Options{}, &got)
			conn := st.NewConn(1, lb, "10.0.0.5:80", false)
			for i, chunk := range strings.Split(tt.client, "|") {
				if n := 0; strings.HasPrefix(chunk, "~") {
					fmt.Sscanf(chunk, "~%d", &n)
					conn.FeedClient(nil, FixedTime(i+1), n)
					continue
				}
				conn.FeedClient([]byte(chunk), FixedTime(i+1), 0)
			}
			conn.FeedServer([]byte(ok0+ok0), FixedTime(100), 0)
			conn.Close()
			if !reflect.DeepEqual([]string(got), tt.want) {
				t.Errorf("exchanges\n got %q\nwant %q", got, tt.want)
			}
			s := st.Stats()
			if s.ProxyHeaders != tt.headers || s.ProxyBad != tt.bad {
				t.Errorf("ProxyHeaders, ProxyBad = %d, %d; want %d, %d", s.ProxyHeaders, s.ProxyBad, tt.headers, tt.bad)
			}
		})
	}
}

// TestProxyHeaderCutShort: a connection that ends inside a header counts
// a bad one, and its bytes are the HTTP parser's.
func TestProxyHeaderCutShort(t *testing.T) {
	var got byClient
	st := New(Options{}, &got)
	conn := st.NewConn(1, "10.0.0.2:40000", "10.0.0.5:80", false)
	conn.FeedClient([]byte("PROXY TCP4 203.0.113.7 10.0"), FixedTime(1), 0)
	conn.Close()
	if s := st.Stats(); s.ProxyBad != 1 || s.ProxyHeaders != 0 || len(got) != 0 {
		t.Fatalf("stats %+v, exchanges %q", s, got)
	}

	// "PRO" may as well be a POST's start: the parser's (a request cut
	// short), not a bad header.
	st = New(Options{}, &got)
	conn = st.NewConn(1, "10.0.0.2:40000", "10.0.0.5:80", false)
	conn.FeedClient([]byte("PRO"), FixedTime(1), 0)
	conn.Close()
	if s := st.Stats(); s.ProxyBad != 0 || s.Incomplete != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestProxyHeaderAllocations: stripping a header that came whole costs one
// allocation, the client address's string.
func TestProxyHeaderAllocations(t *testing.T) {
	measure := func(first string) float64 {
		var got byClient
		st := New(Options{}, &got)
		data := []byte(first + get1)
		return testing.AllocsPerRun(200, func() {
			conn := st.NewConn(1, "10.0.0.2:40000", "10.0.0.5:80", false)
			conn.FeedClient(data, FixedTime(1), 0)
		})
	}
	plain, v1, v2 := measure(""), measure(ppV1), measure(ppV2)
	if v1 > plain+1 || v2 > plain+1 {
		t.Errorf("allocations: %v with a v1 header, %v with v2, %v without", v1, v2, plain)
	}
}
