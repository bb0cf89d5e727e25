package record

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
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
// keep their order. Clients may speak HTTP/1.x, HTTP/2 by prior knowledge
// (h2c), and with cfg.TLSCert, TLS with ALPN h2 or http/1.1; a client's
// HTTP/2 goes on to the upstream as HTTP/2 (h2c to an http:// one)
// unless cfg.UpstreamHTTP1.
func Proxy(ctx context.Context, listen, upstream string, cfg Config) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upstream %q: want an http:// or https:// URL", upstream)
	}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, &BadInput{fmt.Errorf("--tls-cert %q and --tls-key %q: %w (want PEM files of a certificate and its private key)", cfg.TLSCert, cfg.TLSKey, err)}
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
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
	p.rp.Transport = upstreamTransport(u, cfg.UpstreamHTTP1)
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
			hint := ""
			if r.ProtoMajor == 2 && !cfg.UpstreamHTTP1 && u.Scheme == "http" {
				hint = "; if it speaks no HTTP/2 without TLS (h2c), give --upstream-http1"
			}
			cfg.Warn(fmt.Sprintf("the upstream did not answer (%v): answering 502, rows marked proxy_answer (said once; the summary counts them)%s", err, hint))
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
		TLSConfig:         tlsConf,
		// HTTP/2 by prior knowledge, and by ALPN over TLS: what gRPC
		// clients and services inside a cluster speak.
		Protocols: new(http.Protocols),
		// The client's address is the request's (ServeHTTP): asking the
		// connection here, in the accept loop, would wait for its PROXY
		// header there.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &proxyConn{conn: &observed.Conn{ID: p.conns.Add(1) - 1, Server: u.Host}})
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

	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
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
	if c, ok := p.rp.Transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections() // the upstream connections are the proxy's own
	}
	if late != nil {
		// Past the grace: the handlers still running are stopped (their
		// requests were counted in flight), not left behind.
		srv.Close()
	}
	werr := <-written
	sum.Elapsed, sum.OutputBytes, sum.Files = time.Since(start), out.Bytes(), out.Files()
	sum.Capture.Connections = p.conns.Load()
	sum.Proxy = ProxyStats{Own: p.own.Load(), Cut: p.cut.Load(), GaveUp: p.gaveUp.Load(), Upgrades: p.upgrades.Load(),
		InFlight: inFlight}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return sum, serveErr
	}
	return sum, werr
}

type connKey struct{}

// proxyConn is a client connection's, in its requests' contexts: its
// client address is learned from its first request (ServeHTTP).
type proxyConn struct {
	conn *observed.Conn
	once sync.Once
}

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

	own, cut, gaveUp, upgrades atomic.Int64
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
	start := time.Now()
	p.inFlight.Add(1)
	pc, _ := r.Context().Value(connKey{}).(*proxyConn)
	if pc == nil {
		pc = &proxyConn{conn: &observed.Conn{Server: p.server}}
	}
	// The first request sets it, before its row is queued; over HTTP/2 a
	// connection's streams are served at once.
	pc.once.Do(func() { pc.conn.Client = r.RemoteAddr })
	conn := pc.conn
	req := &observed.Message{
		Method: r.Method, Target: r.RequestURI, Proto: r.Proto,
		Headers: headerList(r.Host, r.Header), Start: start.UnixNano(), End: start.UnixNano(),
	}
	h2 := r.ProtoMajor == 2
	if h2 {
		// As a capture records HTTP/2: the :authority apart, the header
		// names lower-case as they went on the wire.
		req.Authority, req.Headers = r.Host, lowerNames(headerList("", r.Header))
	}
	var reqMsgs, respMsgs *observed.GRPCMessages
	if trace.IsGRPC(req.Headers) {
		reqMsgs, respMsgs = new(observed.GRPCMessages), new(observed.GRPCMessages)
	}
	var tap *bodyTap
	if r.Body != nil && r.Body != http.NoBody {
		tap = &bodyTap{rc: r.Body, max: p.maxBody, msg: req, grpc: reqMsgs}
		r.Body = tap
	}
	rw := &responseTap{ResponseWriter: w, msg: &observed.Message{Proto: r.Proto}, keep: p.respBody, conn: conn, req: req, h2: h2, grpc: respMsgs}
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
	rw.reqBody = r.Body
	p.rp.ServeHTTP(rw, r)
	if tap != nil && !rw.queued && !h2 {
		// The upstream may answer without reading the whole body. Not
		// over HTTP/2: its transport may still be reading the body on a
		// goroutine of its own (a stream the server ended early), and the
		// two would split the bytes.
		io.Copy(io.Discard, io.LimitReader(tap, 1<<20))
	}
}

// exchange is the row of an exchange the reverse proxy is done with;
// aborted: its answer's copy failed part way.
func (t *responseTap) exchange(aborted bool, p *proxy) proxied {
	if tap, _ := t.reqBody.(*bodyTap); tap != nil {
		// The request's row is the writer goroutine's from here: bytes an
		// HTTP/2 transport still reads are not counted into it.
		tap.seal()
	}
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
	x.resp.Trailers = t.trailers()
	if t.grpc != nil {
		x.resp.Messages = t.grpc.N
		if tap, _ := t.reqBody.(*bodyTap); tap != nil {
			x.req.Messages = tap.grpc.N
		}
	}
	return x
}

// trailers are the trailer fields the answer ended with, as the reverse
// proxy set them once its body was copied: the ones its header announced
// (Trailer), and those set with http.TrailerPrefix.
func (t *responseTap) trailers() []trace.Header {
	h := t.Header()
	var out []trace.Header
	for _, k := range t.announced {
		for _, v := range h[http.CanonicalHeaderKey(k)] {
			out = append(out, trace.Header{Name: http.CanonicalHeaderKey(k), Value: v})
		}
	}
	names := make([]string, 0, len(h))
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, trace.Header{Name: http.CanonicalHeaderKey(strings.TrimPrefix(k, http.TrailerPrefix)), Value: v})
		}
	}
	if t.h2 {
		out = lowerNames(out)
	}
	return out
}

// lowerNames makes header names lower-case, as HTTP/2 sends them.
func lowerNames(hs []trace.Header) []trace.Header {
	for i := range hs {
		hs[i].Name = strings.ToLower(hs[i].Name)
	}
	return hs
}

// upstreamTransport is what the proxy forwards with: net/http's default
// (HTTP/1.1, or HTTP/2 by ALPN to an https:// upstream), and to an
// http:// upstream HTTP/2 by prior knowledge (h2c), unless http1, for a
// client that spoke h2c itself (a service or gRPC client, whose upstream
// speaks it too) and for gRPC calls (which need HTTP/2 end to end). A
// browser's HTTP/2 over TLS goes on as HTTP/1.1, as a TLS terminator
// sends it to the application behind it.
func upstreamTransport(u *url.URL, http1 bool) http.RoundTripper {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if http1 || u.Scheme != "http" {
		return base
	}
	h2c := base.Clone()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	return byProto{h1: base, h2: h2c}
}

// byProto sends h2c clients' requests and gRPC calls by h2, the rest by
// h1 (ReverseProxy's outgoing request keeps the incoming one's protocol
// version and TLS state).
type byProto struct{ h1, h2 http.RoundTripper }

func (b byProto) CloseIdleConnections() {
	for _, t := range []http.RoundTripper{b.h1, b.h2} {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

func (b byProto) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 && (r.TLS == nil || observed.IsGRPCContentType(r.Header.Get("Content-Type"))) {
		return b.h2.RoundTrip(r)
	}
	return b.h1.RoundTrip(r)
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

// bodyTap passes a request body through, keeping its first max bytes
// (and counting a gRPC body's messages, when grpc is set).
type bodyTap struct {
	rc   io.ReadCloser
	max  int
	msg  *observed.Message
	grpc *observed.GRPCMessages
	// mu guards msg and grpc against seal: an HTTP/2 transport may read
	// the body on its own goroutine after the exchange was recorded.
	mu     sync.Mutex
	sealed bool
}

// seal stops the tap from counting into its message (the exchange's row
// was taken).
func (t *bodyTap) seal() {
	t.mu.Lock()
	t.sealed = true
	t.mu.Unlock()
}

func (t *bodyTap) Read(b []byte) (int, error) {
	n, err := t.rc.Read(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sealed {
		return n, err
	}
	if n > 0 {
		if t.grpc != nil {
			t.grpc.Feed(b[:n])
		}
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
	// h2: the client speaks HTTP/2 (header names recorded lower-case);
	// grpc, when set, counts a gRPC answer's messages; announced are the
	// trailers its header announced; reqBody is the request's body.
	h2        bool
	grpc      *observed.GRPCMessages
	announced []string
	reqBody   io.ReadCloser
}

func (t *responseTap) WriteHeader(code int) {
	if t.msg.Status == 0 {
		t.msg.Status = code
		t.msg.Start = time.Now().UnixNano()
		h := t.Header()
		for _, v := range h["Trailer"] {
			for _, k := range strings.Split(v, ",") {
				if k = strings.TrimSpace(k); k != "" {
					t.announced = append(t.announced, k)
				}
			}
		}
		// The announcement is no header of the answer's: HTTP/2 sends
		// none, and the trailers are recorded as trailers.
		hs := headerList("", h)
		hs = slices.DeleteFunc(hs, func(x trace.Header) bool { return x.Name == "Trailer" })
		if t.h2 {
			hs = lowerNames(hs)
		}
		t.msg.Headers = hs
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
	if t.grpc != nil {
		t.grpc.Feed(b[:n])
	}
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
