package record

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root (or CAP_NET_RAW): run the tests as root, as CI does")
	}
}

// testServer is a real HTTP server on 127.0.0.1 whose responses say what
// they got, so sizes can be checked.
func testServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(testHandler())
	t.Cleanup(srv.Close)
	return srv
}

// testHandler is testServer's handler.
func testHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"path":%q,"got":%d}`, r.URL.Path, len(b))
		}
	})
}

// sent is what the test sent, to compare with what was recorded.
type sent struct {
	method, path string
	status       int
	reqSize      int
	session      string // the session the trace must show, "" for client IP
}

// traffic sends a known mix over keep-alive and fresh connections, with
// Go's client and curl, and returns it.
func traffic(t *testing.T, base string, r *redact.Redactor) []sent {
	var out []sent
	keep := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(c *http.Client, method, path, body, key string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		session := ""
		if key != "" {
			req.Header.Set("X-API-Key", key)
			session = "x-api-key:" + r.Hash(key)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, sent{method, path, resp.StatusCode, len(body), session})
	}
	for i := 0; i < 20; i++ {
		do(keep, "GET", "/api/tasks/"+strconv.Itoa(i), "", "key-alice")
	}
	do(keep, "POST", "/api/tasks", `{"title":"one"}`, "key-alice")
	do(keep, "PUT", "/api/tasks/3", strings.Repeat("x", 5000), "key-bob")
	do(keep, "DELETE", "/api/tasks/3", "", "key-bob")
	do(keep, "GET", "/missing", "", "")
	for i := 0; i < 10; i++ {
		do(fresh, "GET", "/health?n="+strconv.Itoa(i), "", "")
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		for _, p := range []string{"/curl/1", "/curl/2"} {
			if err := exec.Command(curl, "-s", "-o", "/dev/null", base+p).Run(); err != nil {
				t.Fatal(err)
			}
			out = append(out, sent{"GET", p, 200, 0, ""})
		}
		if err := exec.Command(curl, "-s", "-o", "/dev/null", "-H", "X-API-Key: key-carol", "-d", "a=1&b=2", base+"/curl/post").Run(); err != nil {
			t.Fatal(err)
		}
		out = append(out, sent{"POST", "/curl/post", 200, 7, "x-api-key:" + r.Hash("key-carol")})
	}
	return out
}

func readTraces(t *testing.T, dir string) []trace.Exchange {
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	var rows []trace.Exchange
	for _, f := range files {
		r, err := tracefile.ReadAll(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// compare checks that rows are exactly what was sent: no exchange lost,
// none twice.
func compare(t *testing.T, want []sent, rows []trace.Exchange) {
	t.Helper()
	key := func(m, p string, st, size int, sess string) string {
		return fmt.Sprintf("%s %s %d req=%d %s", m, p, st, size, sess)
	}
	var w, g []string
	for _, s := range want {
		w = append(w, key(s.method, s.path, s.status, s.reqSize, s.session))
	}
	for _, e := range rows {
		sess := e.Session
		if strings.HasPrefix(sess, "ip:") {
			sess = ""
		}
		g = append(g, key(e.Method, e.Path, int(e.Status), int(e.ReqSize), sess))
	}
	slices.Sort(w)
	slices.Sort(g)
	if !slices.Equal(w, g) {
		t.Errorf("recorded exchanges differ from those sent (%d sent, %d recorded):\n%s", len(w), len(g), diffLines(w, g))
	}
}

func serverPort(t *testing.T, srv *httptest.Server) uint16 {
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// Recording lo while real clients talk to a real server yields exactly the
// exchanges sent: none lost, none twice (AF_PACKET sees each packet twice
// on lo), with the right methods, paths, statuses, sizes and sessions.
func TestLiveCaptureOnLoopback(t *testing.T) {
	needRoot(t)
	for _, mode := range []string{"port", "filter"} {
		t.Run(mode, func(t *testing.T) {
			srv := testServer(t)
			port := serverPort(t, srv)
			src, cfg := LiveSource{Iface: "lo"}, Config{Ports: []uint16{port}}
			if mode == "filter" {
				prog, err := capture.CompileFilter("lo", fmt.Sprintf("tcp port %d", port))
				if err != nil {
					t.Fatal(err) // scripts/test.sh installs tcpdump
				}
				src.Filter, cfg.Ports = prog, nil
			}
			liveRun(t, srv, src, cfg)
		})
	}
}

func liveRun(t *testing.T, srv *httptest.Server, src LiveSource, cfg Config) {
	dir := t.TempDir()
	key := []byte("live-test")
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	cfg.Out, cfg.RedactKey, cfg.MaxBody, cfg.Flush = dir+"/", key, 1<<20, time.Second
	cfg.Ready = func(string) { close(ready) }
	go func() {
		sum, err := Live(ctx, src, cfg)
		done <- result{sum, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("capture did not start: %v", r.err)
	}
	want := traffic(t, srv.URL, redact.New(key, nil))
	time.Sleep(300 * time.Millisecond) // the last packets reach the ring
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	rows := readTraces(t, dir)
	compare(t, want, rows)
	if k := r.sum.Kernel; k == nil || k.Drops != 0 {
		t.Errorf("kernel stats %+v", k)
	}
	if len(r.sum.Files) != 1 {
		t.Errorf("files %v: want one merged file", r.sum.Files)
	}
	for _, e := range rows {
		for _, h := range e.ReqHeaders {
			if strings.Contains(h.Value, "key-") {
				t.Fatalf("credential in the trace: %s: %s", h.Name, h.Value)
			}
		}
	}
}

// The proxy records the same rows for the traffic it forwards, and a
// secret header never reaches the file.
func TestProxyRecords(t *testing.T) {
	srv := testServer(t)
	dir := t.TempDir()
	key := []byte("proxy-test")
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var sum *Summary
	go func() {
		var err error
		sum, err = Proxy(ctx, "127.0.0.1:0", srv.URL, Config{Out: dir + "/", RedactKey: key, MaxBody: 1 << 20,
			Ready: func(addr string) { ready <- addr }})
		done <- err
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	want := traffic(t, "http://"+addr, redact.New(key, nil))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rows := readTraces(t, dir)
	compare(t, want, rows)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, secret := range []string{"key-alice", "key-bob", "key-carol"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds %q", f, secret)
			}
		}
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode().Perm())
		}
	}
	for _, e := range rows {
		if e.Path == "/api/tasks/3" && e.Method == "PUT" && (len(e.ReqBody) != 5000 || e.RespSize == 0 || e.DurationNanos <= 0) {
			t.Errorf("PUT row: body %d, resp %d, duration %d", len(e.ReqBody), e.RespSize, e.DurationNanos)
		}
	}
	if sum.Written != int64(len(want)) {
		t.Errorf("summary says %d written", sum.Written)
	}
}

// A streamed response passes through the proxy as it comes: the client gets
// the first chunk while the upstream is still waiting to send the second.
func TestProxyStreams(t *testing.T) {
	gotFirst := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(5 * time.Second):
			return // the test fails below: the proxy held the chunk back
		}
		io.WriteString(w, "second\n")
	}))
	defer upstream.Close()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Proxy(ctx, "127.0.0.1:0", upstream.URL, Config{Out: t.TempDir() + "/", Ready: func(a string) { ready <- a }})
		done <- err
	}()
	resp, err := http.Get("http://" + <-ready + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	start := time.Now()
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk: %q %v", buf, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("first chunk came after %v: the proxy buffered it", waited)
	}
	close(gotFirst)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A filtered capture records only what its filter takes, from its first
// packet, while other connections on lo are busy: the socket takes every
// packet until a filter is set, and those queued before it are dropped.
func TestFilteredCaptureOnBusyLoopback(t *testing.T) {
	needRoot(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") }))
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var busy sync.WaitGroup
	for range 2 {
		busy.Add(1)
		go func() { // bounded: 20 s or the end of the test
			defer busy.Done()
			c := &http.Client{Timeout: time.Second}
			for end := time.Now().Add(20 * time.Second); ctx.Err() == nil && time.Now().Before(end); {
				req, _ := http.NewRequestWithContext(ctx, "GET", other.URL+"/other", nil)
				req.Header.Set("X-API-Key", "key-alice")
				if resp, err := c.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	defer func() { cancel(); busy.Wait() }()
	for range 3 {
		srv := testServer(t)
		prog, err := capture.CompileFilter("lo", fmt.Sprintf("tcp port %d", serverPort(t, srv)))
		if err != nil {
			t.Fatal(err)
		}
		liveRun(t, srv, LiveSource{Iface: "lo", Filter: prog}, Config{})
	}
}
