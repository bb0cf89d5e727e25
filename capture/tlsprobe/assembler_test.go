package tlsprobe

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/observed"
)

type rows []string

func (r *rows) Exchange(x observed.Exchange) {
	status := 0
	if x.Resp != nil {
		status = x.Resp.Status
	}
	*r = append(*r, fmt.Sprintf("%d %s->%s %s %s %d", x.Conn.ID, x.Conn.Client, x.Conn.Server, x.Req.Method, x.Req.Target, status))
}

var (
	client = netip.MustParseAddrPort("127.0.0.1:40000")
	server = netip.MustParseAddrPort("127.0.0.1:8443")
	t0     = time.Unix(1_700_000_000, 0)
)

func chunk(pid uint32, ssl uint64, dir Dir, local, remote netip.AddrPort, data string) *Chunk {
	return &Chunk{Time: t0, PID: pid, SSL: ssl, Dir: dir, Local: local, Remote: remote, Data: []byte(data)}
}

const (
	req  = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
)

// A client's view and a server's view of one connection each give its
// exchange, with the client and server the right way round.
func TestAssemblerEitherEnd(t *testing.T) {
	for _, view := range []struct {
		name          string
		first, second *Chunk
	}{
		{"client", chunk(1, 10, Sent, client, server, req), chunk(1, 10, Received, client, server, resp)},
		{"server", chunk(2, 20, Received, server, client, req), chunk(2, 20, Sent, server, client, resp)},
	} {
		var got rows
		a := NewAssembler(httpstream.Options{}, 0, &got)
		a.Chunk(view.first)
		a.Chunk(view.second)
		a.Close()
		if want := "0 127.0.0.1:40000->127.0.0.1:8443 GET /a 200"; len(got) != 1 || got[0] != want {
			t.Errorf("%s's view: %q, want %q", view.name, got, want)
		}
	}
}

// Both ends traced on one host: the connection is recorded once, from the
// end seen first, and the other end's bytes are counted.
func TestAssemblerBothEnds(t *testing.T) {
	var got rows
	a := NewAssembler(httpstream.Options{}, 0, &got)
	a.Chunk(chunk(1, 10, Sent, client, server, req))
	a.Chunk(chunk(2, 20, Received, server, client, req))
	a.Chunk(chunk(2, 20, Sent, server, client, resp))
	a.Chunk(chunk(1, 10, Received, client, server, resp))
	a.Chunk(&Chunk{PID: 2, SSL: 20, Freed: true})
	a.Chunk(&Chunk{PID: 1, SSL: 10, Freed: true})
	st, _, _ := a.Stats()
	if len(got) != 1 || st.OtherEnd != 1 || st.OtherEndBytes != int64(len(req)+len(resp)) || st.Connections != 2 {
		t.Fatalf("rows %q, stats %+v", got, st)
	}
}

// Bytes lost in the ring buffer are a gap: the exchange they were in is
// dropped and counted, the next one is parsed.
func TestAssemblerLost(t *testing.T) {
	var got rows
	a := NewAssembler(httpstream.Options{}, 0, &got)
	at := func(c *Chunk, s int) *Chunk { c.Time = t0.Add(time.Duration(s) * time.Second); return c }
	a.Chunk(at(chunk(1, 10, Sent, client, server, req), 0))
	a.Chunk(at(chunk(1, 10, Sent, client, server, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"), 2))
	// The first answer is lost whole; the second comes.
	lost := at(chunk(1, 10, Received, client, server, resp), 3)
	lost.Lost = int64(len(resp))
	a.Chunk(lost)
	a.Close()
	_, hs, _ := a.Stats()
	if len(got) != 1 || got[0] != "0 127.0.0.1:40000->127.0.0.1:8443 GET /b 200" || hs.Gaps != 1 || hs.Incomplete != 1 {
		t.Fatalf("rows %q, http %+v", got, hs)
	}
}

// An SSL object reused for a new connection (its SSL_free not seen) is a
// new connection; one idle too long is closed by Tick.
func TestAssemblerReuseAndIdle(t *testing.T) {
	var got rows
	a := NewAssembler(httpstream.Options{}, time.Minute, &got)
	a.Chunk(chunk(1, 10, Sent, client, server, req))
	other := netip.MustParseAddrPort("127.0.0.1:40001")
	a.Chunk(chunk(1, 10, Sent, other, server, req))
	a.Chunk(chunk(1, 10, Received, other, server, resp))
	a.Tick(t0.Add(2 * time.Minute))
	st, _, _ := a.Stats()
	want := rows{"0 127.0.0.1:40000->127.0.0.1:8443 GET /a 0", "1 127.0.0.1:40001->127.0.0.1:8443 GET /a 200"}
	if fmt.Sprint(got) != fmt.Sprint(want) || st.Idle != 1 || st.Connections != 2 {
		t.Fatalf("rows %q, stats %+v", got, st)
	}
}

// A connection first seen in the middle of a message is parsed from the
// next message start, and counted.
func TestAssemblerMissedStart(t *testing.T) {
	var got rows
	a := NewAssembler(httpstream.Options{}, 0, &got)
	a.Chunk(chunk(1, 10, Received, client, server, "ody of an earlier answer"))
	a.Chunk(chunk(1, 10, Sent, client, server, req))
	a.Chunk(chunk(1, 10, Received, client, server, resp))
	a.Close()
	st, _, _ := a.Stats()
	if len(got) != 1 || st.MissedStart != 1 {
		t.Fatalf("rows %q, stats %+v", got, st)
	}
}
