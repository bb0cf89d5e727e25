package tlsprobe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/replaykit/replaykit/httpstream"
)

// tapConn records what a client writes and reads on a connection, in
// the order of the calls, as the probe's chunks of its SSL object would
// come.
type tapConn struct {
	net.Conn
	mu     sync.Mutex
	chunks []*Chunk
}

func (c *tapConn) note(dir Dir, b []byte) {
	c.mu.Lock()
	c.chunks = append(c.chunks, chunk(1, 10, dir, client, server, string(b)))
	c.mu.Unlock()
}

func (c *tapConn) Write(b []byte) (int, error) {
	c.note(Sent, b)
	return c.Conn.Write(b)
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.note(Received, b[:n])
	}
	return n, err
}

// h2Chunks are the chunks of Go's HTTP/2 client talking to Go's HTTP/2
// server (h2c: the bytes TLS would carry with ALPN h2): three requests on
// one connection.
func h2Chunks(t *testing.T) []*Chunk {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	var tap *tapConn
	tr := &http.Transport{Protocols: new(http.Protocols), DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tap = &tapConn{Conn: c}
		return tap, nil
	}}
	tr.Protocols.SetUnencryptedHTTP2(true)
	for _, r := range []struct{ method, path, body string }{{"GET", "/a", ""}, {"POST", "/b", "a body"}, {"GET", "/missing", ""}} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.CloseIdleConnections()
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return slices.Clone(tap.chunks)
}

// HTTP/2 inside TLS (ALPN h2) is decoded as a capture's h2c is: from the
// client's view (its preface first) and from the server's (its SETTINGS
// written before it read the preface), each stream one exchange.
func TestAssemblerHTTP2(t *testing.T) {
	chunks := h2Chunks(t)
	// The server's view: every chunk the other way round, its SETTINGS
	// (the client's first read) first.
	var serverView []*Chunk
	first := slices.IndexFunc(chunks, func(c *Chunk) bool { return c.Dir == Received })
	for _, i := range append([]int{first}, slices.Collect(func(yield func(int) bool) {
		for i := range chunks {
			if i != first && !yield(i) {
				return
			}
		}
	})...) {
		c := *chunks[i]
		c.PID, c.SSL, c.Local, c.Remote = 2, 20, server, client
		c.Dir = Sent
		if chunks[i].Dir == Sent {
			c.Dir = Received
		}
		serverView = append(serverView, &c)
	}
	want := []string{"0 127.0.0.1:40000->127.0.0.1:8443 GET /a 200", "0 127.0.0.1:40000->127.0.0.1:8443 POST /b 200",
		"0 127.0.0.1:40000->127.0.0.1:8443 GET /missing 404"}
	for name, view := range map[string][]*Chunk{"client": chunks, "server": serverView} {
		var got rows
		a := NewAssembler(httpstream.Options{}, 0, &got)
		for _, c := range view {
			a.Chunk(c)
		}
		a.Close()
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		st, h1, h2 := a.Stats()
		if !slices.Equal(got, w) || st.MissedStart != 0 || h1.Requests != 0 || h2.Exchanges != 3 || h2.NoStart != 0 {
			t.Errorf("%s's view: %q, want %q; stats %+v, HTTP/1 %+v, HTTP/2 %+v", name, got, w, st, h1, h2)
		}
	}
}
