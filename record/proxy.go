package record

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replaykit/replaykit/internal/loopback"
	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/proxyproto"
	"github.com/replaykit/replaykit/trace"
)

// Proxy records the traffic it forwards from listen to upstream until ctx
// ends: for traffic passive capture cannot see (TLS terminated in front of
// the app, no root, containers). Rows are the same as a capture's, written
// to the directory cfg.Out as proxy_YYYYMMDDTHHMMSSZ.parquet with the same
// flushing and rotation as Live. A listen address without a host binds to
// loopback only: pass 0.0.0.0:PORT to accept other machines.
//
// Go's HTTP server does not keep header order, so in proxy mode headers
// are recorded Host first, then by name; the values of a repeated header
// keep their order.
func Proxy(ctx context.Context, listen, upstream string, cfg Config) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upstream %q: want an http:// or https:// URL", upstream)
	}
	ln, err := loopback.Listen(listen)
	if err != nil {
		return nil, fmt.Errorf("--proxy %w", err)
	}
	if cfg.ProxyProtocol {
		ln = &proxyproto.Listener{Listener: ln}
	}
	dir := outDir(cfg.Out)
	out, err := newParts(dir, "proxy", cfg.Flush, cfg.RotateEvery, cfg.RotateBytes, cfg.Writer)
	if err != nil {
		ln.Close()
		return nil, err
	}
	sum := &Summary{Input: fmt.Sprintf("proxy %s -> %s", ln.Addr(), u), InputFormat: "proxy", Output: dir}
	rec := newRecorder(&cfg, out, sum)

	p := &proxy{maxBody: cfg.MaxBody, respBody: respBody(&cfg), server: u.Host, rows: make(chan proxied, 4096)}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.FlushInterval = -1 // stream: pass every byte on as it comes
	var warned atomic.Bool
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		t, _ := w.(*responseTap)
		if r.Context().Err() != nil && t != nil {
			t.gaveUp = true // the client left before any answer: nobody to answer
			return
		}
		if t != nil {
			t.own = true
		}
		// The client learns the upstream failed, not where it is.
		http.Error(w, "replaykit proxy: the upstream did not answer", http.StatusBadGateway)
		if cfg.Warn != nil && !warned.Swap(true) {
			cfg.Warn(fmt.Sprintf("the upstream did not answer (%v): answering 502, rows marked proxy_answer (said once; the summary counts them)", err))
		}
	}
	// A protocol switch (101) is recorded when it is answered: the
	// tunnel after it is no HTTP, and may stay open for hours.
	p.rp.ModifyResponse = func(res *http.Response) error {
		if res.StatusCode == http.StatusSwitchingProtocols {
			if t, _ := res.Request.Context().Value(tapKey{}).(*responseTap); t != nil {
				now := time.Now().UnixNano()
				t.msg.Status, t.msg.Start, t.msg.End = res.StatusCode, now, now
				t.msg.Headers = headerList("", res.Header)
				t.queued = true
				p.upgrades.Add(1)
				p.queue(proxied{conn: t.conn, req: t.req, resp: t.msg})
			}
		}
		return nil
	}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		// The client's address is the request's (ServeHTTP): asking the
		// connection here, in the accept loop, would wait for its PROXY
		// header there.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &observed.Conn{ID: p.conns.Add(1) - 1, Server: u.Host})
		},
	}

	// The writer goroutine owns the recorder and the files; it ends when
	// rows is closed, after the server has stopped.
	written := make(chan error, 1)
	// A write error stops the recording, not the forwarding: the proxy
	// stands in front of an application, and its clients come first.
	warn := func(err error) {
		lost := out.Abort()
		sum.Written -= lost
		sum.NotWritten += lost
		if cfg.Warn != nil {
			cfg.Warn(fmt.Sprintf("%v: recording stopped, forwarding goes on; the trace files closed before are complete (%s)", err, out.Describe()))
		}
	}
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		var werr error
		for {
			select {
			case r, ok := <-p.rows:
				if !ok {
					if werr == nil {
						werr = out.Close()
					}
					written <- werr
					return
				}
				switch {
				case werr != nil:
					sum.NotWritten++
				case !rec.full:
					rec.Exchange(observed.Exchange{Conn: r.conn, Req: r.req, Resp: r.resp, ProxyAnswer: r.own})
					if werr = rec.err; werr != nil {
						warn(werr)
					}
				}
			case now := <-tick.C:
				if werr == nil {
					if werr = out.Tick(now); werr != nil {
						warn(werr)
					}
				}
				if cfg.Progress != nil {
					sum.Elapsed, sum.OutputBytes = time.Since(start), out.Bytes()
					cfg.Progress(sum)
				}
			}
		}
	}()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	var stop <-chan time.Time
	if cfg.Duration > 0 {
		stop = time.After(cfg.Duration)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		sum.Stopped = "interrupted"
	case <-stop:
		sum.Stopped = "--duration " + cfg.Duration.String() + " reached"
	case serveErr = <-served:
	}
	// Let requests in flight finish (and be recorded), for a while.
	shutdown, cancel := context.WithTimeout(context.Background(), cmp.Or(cfg.Grace, 10*time.Second))
	late := srv.Shutdown(shutdown)
	cancel()
	inFlight := p.close()
	if late != nil {
		// Past the grace: the handlers still running are stopped (their
		// requests were counted in flight), not left behind.
		srv.Close()
	}
	werr := <-written
	sum.Elapsed, sum.OutputBytes, sum.Files = time.Since(start), out.Bytes(), out.Files()
	sum.Capture.Connections = p.conns.Load()
	sum.Proxy = ProxyStats{Own: p.own.Load(), Cut: p.cut.Load(), GaveUp: p.gaveUp.Load(), Upgrades: p.upgrades.Load(),
		InFlight: inFlight, Refused: p.refused.Load()}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return sum, serveErr
	}
	return sum, werr
}

type connKey struct{}

// tapKey finds an exchange's responseTap from the request's context
// (ReverseProxy's ModifyResponse sees only the outgoing request).
type tapKey struct{}

// proxied is one forwarded exchange on its way to the writer goroutine.
type proxied struct {
	conn      *observed.Conn
	req, resp *observed.Message // resp nil: none came
	own       bool              // resp is the proxy's own answer
}

type proxy struct {
	rp      *httputil.ReverseProxy
	maxBody int
	// respBody is how much of a response body to keep for correlate.
	respBody int
	server   string
	conns    atomic.Int64

	// rows takes exchanges to the writer goroutine until close; mu
	// guards closed, so that a handler still running after the grace
	// drops its exchange (counted in flight) rather than send on a
	// closed channel.
	mu       sync.RWMutex
	closed   bool
	rows     chan proxied
	inFlight atomic.Int64 // requests come in, not yet queued

	own, cut, gaveUp, upgrades, refused atomic.Int64
}

// queue hands an exchange to the writer goroutine, unless the proxy has
// stopped (it was counted in flight then).
func (p *proxy) queue(x proxied) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return
	}
	p.inFlight.Add(-1)
	p.rows <- x
}

// close stops queueing and ends the writer goroutine's input; it returns
// how many requests were still in flight.
func (p *proxy) close() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	close(p.rows)
	return p.inFlight.Load()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && r.Method == "PRI" {
		// HTTP/2 with prior knowledge (h2c): Go's server hands its
		// preface to handlers; forwarded, the application would get a
		// request nobody sent.
		p.refused.Add(1)
		http.Error(w, "replaykit proxy records HTTP/1.x: send HTTP/1.1 to it (a TLS terminator or load balancer in front can speak HTTP/2 to clients)", http.StatusHTTPVersionNotSupported)
		return
	}
	start := time.Now()
	p.inFlight.Add(1)
	conn, _ := r.Context().Value(connKey{}).(*observed.Conn)
	if conn == nil {
		conn = &observed.Conn{Server: p.server}
	}
	if conn.Client == "" {
		// A connection's requests are served one after another: the
		// first sets it, before its row is queued.
		conn.Client = r.RemoteAddr
	}
	req := &observed.Message{
		Method: r.Method, Target: r.RequestURI, Proto: r.Proto,
		Headers: headerList(r.Host, r.Header), Start: start.UnixNano(), End: start.UnixNano(),
	}
	var tap *bodyTap
	if r.Body != nil && r.Body != http.NoBody {
		tap = &bodyTap{rc: r.Body, max: p.maxBody, msg: req}
		r.Body = tap
	}
	rw := &responseTap{ResponseWriter: w, msg: &observed.Message{Proto: r.Proto}, keep: p.respBody, conn: conn, req: req}
	r = r.WithContext(context.WithValue(r.Context(), tapKey{}, rw))
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			panic(v)
		}
		if !rw.queued {
			p.queue(rw.exchange(v != nil, p))
		}
		if v != nil {
			// ReverseProxy aborts a copy that failed (the client left,
			// or the upstream cut its body): the row is queued first.
			panic(v)
		}
	}()
	p.rp.ServeHTTP(rw, r)
	if tap != nil && !rw.queued {
		// The upstream may answer without reading the whole body.
		io.Copy(io.Discard, io.LimitReader(tap, 1<<20))
	}
}

// exchange is the row of an exchange the reverse proxy is done with;
// aborted: its answer's copy failed part way.
func (t *responseTap) exchange(aborted bool, p *proxy) proxied {
	x := proxied{conn: t.conn, req: t.req, resp: t.msg, own: t.own}
	switch {
	case t.gaveUp:
		p.gaveUp.Add(1)
		x.resp = nil
		return x
	case t.own:
		p.own.Add(1)
	case aborted:
		p.cut.Add(1)
	}
	if x.resp.Status == 0 && !aborted {
		t.WriteHeader(http.StatusOK) // a handler that wrote nothing
	}
	x.resp.End = time.Now().UnixNano()
	return x
}

// headerList turns Go's header map into a list: Host, then by name.
func headerList(host string, h http.Header) []trace.Header {
	names := make([]string, 0, len(h))
	n := 0
	for k, vs := range h {
		names = append(names, k)
		n += len(vs)
	}
	slices.Sort(names)
	out := make([]trace.Header, 0, n+1)
	if host != "" {
		out = append(out, trace.Header{Name: "Host", Value: host})
	}
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, trace.Header{Name: k, Value: v})
		}
	}
	return out
}

// bodyTap passes a request body through, keeping its first max bytes.
type bodyTap struct {
	rc  io.ReadCloser
	max int
	msg *observed.Message
}

func (t *bodyTap) Read(b []byte) (int, error) {
	n, err := t.rc.Read(b)
	if n > 0 {
		m := t.msg
		m.BodySize += int64(n)
		if room := t.max - len(m.Body); room > 0 {
			m.Body = append(m.Body, b[:min(n, room)]...)
		}
	}
	if err == io.EOF {
		t.msg.End = time.Now().UnixNano()
	}
	return n, err
}

func (t *bodyTap) Close() error { return t.rc.Close() }

// responseTap passes a response through, noting its status, headers, size
// and the time of its first byte.
type responseTap struct {
	http.ResponseWriter
	msg *observed.Message
	// keep is how many body bytes to keep for correlate (0: none).
	keep int
	// The exchange's connection and request, for its row.
	conn *observed.Conn
	req  *observed.Message
	// own: the answer is the proxy's (the upstream failed); gaveUp: the
	// client left before any answer; queued: the row was queued (a
	// protocol switch's, at its 101).
	own, gaveUp, queued bool
}

func (t *responseTap) WriteHeader(code int) {
	if t.msg.Status == 0 {
		t.msg.Status = code
		t.msg.Start = time.Now().UnixNano()
		t.msg.Headers = headerList("", t.Header())
		if !observed.KeepsBody(t.msg.Headers) {
			t.keep = 0
		}
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *responseTap) Write(b []byte) (int, error) {
	if t.msg.Status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	n, err := t.ResponseWriter.Write(b)
	t.msg.BodySize += int64(n)
	if room := t.keep - len(t.msg.Body); room > 0 {
		t.msg.Body = append(t.msg.Body, b[:min(n, room)]...)
	}
	return n, err
}

// Flush lets the reverse proxy stream through the tap.
func (t *responseTap) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer.
func (t *responseTap) Unwrap() http.ResponseWriter { return t.ResponseWriter }
