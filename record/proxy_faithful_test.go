package record

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/replaykit/replaykit/trace"
)

// runProxy records through a proxy to upstream while fn sends to it; it
// returns the summary and the rows written.
func runProxy(t *testing.T, upstream string, grace time.Duration, fn func(addr string)) (*Summary, []trace.Exchange) {
	t.Helper()
	return runProxyWith(t, upstream, Config{Grace: grace}, fn)
}

// runProxyWith is runProxy with cfg (Out and Ready are its own).
func runProxyWith(t *testing.T, upstream string, cfg Config, fn func(addr string)) (*Summary, []trace.Exchange) {
	t.Helper()
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg.Out, cfg.Ready = dir+"/", func(a string) { ready <- a }
		sum, err := Proxy(ctx, "127.0.0.1:0", upstream, cfg)
		done <- result{sum, err}
	}()
	fn(<-ready)
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.sum, readTraces(t, dir)
}

// Every exchange through the proxy is a row or a counted loss, and a row
// says when the answer is the proxy's own: an upstream that cannot be
// reached, one that cuts its body, a client that leaves mid-answer or
// before it, a WebSocket upgrade, a request still in flight at shutdown
// (HTTP/2: proxy_h2_test.go).
func TestProxyIsFaithful(t *testing.T) {
	t.Run("upstream down", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		down := "http://" + ln.Addr().String()
		ln.Close() // nobody listens there now
		var body string
		sum, rows := runProxy(t, down, time.Second, func(addr string) {
			resp, err := http.Get("http://" + addr + "/api/items/1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502", resp.StatusCode)
			}
		})
		if strings.Contains(body, strings.TrimPrefix(down, "http://")) || strings.Contains(body, "127.0.0.1") {
			t.Errorf("the client's answer names the upstream: %q", body)
		}
		if len(rows) != 1 || !rows[0].ProxyAnswer || rows[0].Status != 502 || sum.Proxy.Own != 1 {
			t.Errorf("rows %+v, proxy stats %+v: want one row marked proxy_answer", rows, sum.Proxy)
		}
	})
	t.Run("upstream cuts its body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		}))
		defer srv.Close()
		sum, rows := runProxy(t, srv.URL, time.Second, func(addr string) {
			resp, err := http.Get("http://" + addr + "/big")
			if err == nil {
				io.Copy(io.Discard, resp.Body) // ends in an error: the body is short
				resp.Body.Close()
			}
		})
		if len(rows) != 1 || rows[0].Status != 200 || rows[0].RespSize != 100 || rows[0].ProxyAnswer || sum.Proxy.Cut != 1 {
			t.Errorf("rows %+v, proxy stats %+v: want one row of 100 bytes, counted cut", rows, sum.Proxy)
		}
	})
	t.Run("client leaves mid-answer and before it", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				select { // no answer before the client leaves
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			for i := 0; i < 1000; i++ { // 64 MiB, never all read
				if _, err := w.Write(make([]byte, 64<<10)); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		sum, rows := runProxy(t, srv.URL, time.Second, func(addr string) {
			resp, err := http.Get("http://" + addr + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			io.CopyN(io.Discard, resp.Body, 1<<20)
			resp.Body.Close() // leaves mid-answer
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/slow", nil)
			if _, err := http.DefaultClient.Do(req); err == nil {
				t.Error("the slow request was answered")
			}
			cancel()
		})
		byPath := map[string]trace.Exchange{}
		for _, r := range rows {
			byPath[r.Path] = r
		}
		if s := byPath["/stream"]; s.Status != 200 || s.RespSize < 1<<20 || s.RespSize >= 64<<20 {
			t.Errorf("the stream's row %+v: want 200 with the bytes passed on", s)
		}
		if s, ok := byPath["/slow"]; !ok || s.Status != 0 {
			t.Errorf("the slow request's row %+v (there: %v): want one without an answer", s, ok)
		}
		if len(rows) != 2 || sum.Proxy.Cut != 1 || sum.Proxy.GaveUp != 1 {
			t.Errorf("%d rows, proxy stats %+v: want 2 rows, one cut, one given up", len(rows), sum.Proxy)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		srv := httptest.NewServer(websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
		defer srv.Close()
		var held time.Duration
		sum, rows := runProxy(t, srv.URL, time.Second, func(addr string) {
			ws, err := websocket.Dial("ws://"+addr+"/echo", "", "http://"+addr)
			if err != nil {
				t.Fatal(err)
			}
			opened := time.Now()
			for i := range 5 { // the tunnel stays open a while
				fmt.Fprintf(ws, "GET /phantom/%d HTTP/1.1\r\n\r\n", i)
				buf := make([]byte, 64)
				ws.Read(buf)
				time.Sleep(100 * time.Millisecond)
			}
			ws.Close()
			held = time.Since(opened)
		})
		if len(rows) != 1 || rows[0].Status != 101 || rows[0].Path != "/echo" || sum.Proxy.Upgrades != 1 {
			t.Fatalf("rows %+v, proxy stats %+v: want the handshake's row only, status 101", rows, sum.Proxy)
		}
		if d := time.Duration(rows[0].DurationNanos); d >= held {
			t.Errorf("the handshake's row lasts %v, the tunnel's life (%v): want the handshake's", d, held)
		}
	})
	t.Run("in flight at shutdown", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // answers long after the proxy's grace, if at all
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		defer srv.Close()
		started := make(chan struct{})
		sum, rows := runProxy(t, srv.URL, 200*time.Millisecond, func(addr string) {
			go func() {
				close(started)
				resp, err := http.Get("http://" + addr + "/stuck")
				if err == nil {
					resp.Body.Close()
				}
			}()
			<-started
			time.Sleep(200 * time.Millisecond) // the request reaches the upstream
		})
		if len(rows) != 0 || sum.Proxy.InFlight != 1 {
			t.Errorf("%d rows, proxy stats %+v: want none written, one counted in flight", len(rows), sum.Proxy)
		}
	})
}

// Behind a load balancer that sends PROXY protocol headers
// (--proxy-protocol), each row's client is the one the header carries;
// a connection without a header reaches nothing; curl's own header
// (--haproxy-protocol) works as HAProxy's does.
func TestProxyProtocolOnTheProxy(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	curl, curlErr := exec.LookPath("curl")
	sum, rows := runProxyWith(t, srv.URL, Config{ProxyProtocol: true, SessionKey: SessionKey{kind: "client-ip"}}, func(addr string) {
		send := func(raw string) string {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, raw)
			line, _ := bufio.NewReader(c).ReadString('\n')
			return line
		}
		if got := send("PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\nGET /lb HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"); !strings.Contains(got, "200") {
			t.Errorf("through the header: %q", got)
		}
		// Go's server answers a connection it cannot read 400 and closes it.
		if got := send("GET /direct HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"); got != "" && !strings.Contains(got, " 400 ") {
			t.Errorf("without a header, answered %q: want it refused", got)
		}
		if curlErr == nil {
			if out, err := exec.Command(curl, "-sS", "--fail", "--haproxy-protocol", "http://"+addr+"/curl").CombinedOutput(); err != nil {
				t.Errorf("curl --haproxy-protocol: %v: %s", err, out)
			}
		}
	})
	byPath := map[string]trace.Exchange{}
	for _, r := range rows {
		byPath[r.Path] = r
	}
	if r := byPath["/lb"]; r.Client != "203.0.113.7:51234" || r.Session != "ip:203.0.113.7" {
		t.Errorf("the balanced request's row: client %q, session %q; want the header's", r.Client, r.Session)
	}
	if _, ok := byPath["/direct"]; ok || seen.Load() != int64(len(rows)) {
		t.Errorf("rows %v; %d requests reached the application: want none without a header", byPath, seen.Load())
	}
	if curlErr == nil {
		if r, ok := byPath["/curl"]; !ok || !strings.HasPrefix(r.Client, "127.0.0.1:") {
			t.Errorf("curl's row %+v (there: %v)", r, ok)
		}
	}
	t.Logf("%d rows; summary proxy stats %+v", len(rows), sum.Proxy)
}
