// Package record turns captured traffic into trace files: it connects a
// packet source to the HTTP extractor, derives sessions and routes, redacts
// secrets and writes the rows.
package record

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// Config says what to record and how.
type Config struct {
	// Out is the trace file to write (NAME.parquet), or a directory to
	// write into under a name derived from the input (anything else).
	Out string
	// Force replaces a trace file already at the output path (refused
	// otherwise: a recording is not lost to a command run twice).
	Force bool
	// Ports are the server ports to record; empty records every TCP port.
	// A HAR's entries are kept by their URL's port.
	Ports []uint16
	// OnlyHosts keeps the exchanges to these hosts (their Host header);
	// the zero value keeps every one.
	OnlyHosts HostFilter
	// SessionKey groups requests into sessions (see ParseSessionKey).
	SessionKey SessionKey
	// RedactHeaders names headers to redact beside the default secret ones.
	RedactHeaders []string
	// RedactKey keys the hashes of redacted values and sessions. Empty: a
	// random key, so hashes match within this recording only.
	RedactKey []byte
	// MaxBody is how many request body bytes each row keeps.
	MaxBody int
	// Sample keeps this fraction of sessions (0 or 1: all).
	Sample float64
	// MaxExchanges stops after this many rows (0: no limit).
	MaxExchanges int64
	// Writer bounds the trace writer's memory.
	Writer tracefile.WriterOptions
	// Duration stops a live recording after this long (0: until stopped).
	Duration time.Duration
	// Flush is how often a live recording closes the file it writes, so
	// that a hard kill loses at most this much (default 5s).
	Flush time.Duration
	// ProxyProtocol says every connection to the recording proxy begins
	// with a PROXY protocol header (a load balancer's: AWS NLB, HAProxy's
	// send-proxy): its client address is the row's, and a connection
	// without one is refused. Off, a header would be forwarded as bytes
	// of a request (and whoever connects could forge an address).
	ProxyProtocol bool
	// TLSCert and TLSKey, when set, make the recording proxy terminate
	// TLS with this certificate and key (PEM files), offering HTTP/2 and
	// HTTP/1.1 by ALPN.
	TLSCert, TLSKey string
	// UpstreamHTTP1 makes the proxy speak HTTP/1.1 to the upstream even
	// to a client that spoke HTTP/2 to it (an http:// upstream that
	// speaks no h2c); by default a client's HTTP/2 goes on as HTTP/2.
	UpstreamHTTP1 bool
	// Grace is how long a stopping proxy waits for the requests in
	// flight to be answered and recorded (default 10s); those still
	// unanswered then are counted (ProxyStats.InFlight).
	Grace time.Duration
	// RotateEvery and RotateBytes start a new trace file after this long or
	// this many bytes (checked at each flush); 0: one file.
	RotateEvery time.Duration
	RotateBytes int64
	// Ready, when set, is called once the recording can see traffic, with
	// the address it listens on (proxy) or the interface (live capture).
	Ready func(where string)
	// Progress, when set, is called about once a second with the summary so
	// far.
	Progress func(*Summary)
	// Warn, when set, is told at once of a problem the recording goes on
	// with (the proxy cannot write its trace: it keeps forwarding).
	Warn func(msg string)
	// NoCorrelate records no links (package correlate): replay then sends
	// every value as recorded.
	NoCorrelate bool
	// NoSignatures records no answer signatures (package signature):
	// replay then compares only statuses with the recording.
	NoSignatures bool

	sigKey signature.Key // set by keys
}

// keys fixes the recording's redaction key (random unless given) and the
// key of its answer signatures, derived from it, which every file it
// writes carries: recordings made with one REPLAYKIT_REDACT_KEY share it,
// and their values compare across files. Call it before any file is made.
func (cfg *Config) keys() {
	if len(cfg.RedactKey) == 0 {
		cfg.RedactKey = make([]byte, 32)
		rand.Read(cfg.RedactKey)
	}
	m := hmac.New(sha256.New, cfg.RedactKey)
	m.Write([]byte("replaykit answer signatures"))
	var k signature.Key
	copy(k[:], m.Sum(nil))
	cfg.sigKey = k
	cfg.Writer.Meta = maps.Clone(cfg.Writer.Meta)
	if cfg.Writer.Meta == nil {
		cfg.Writer.Meta = map[string]string{}
	}
	if !cfg.NoSignatures {
		cfg.Writer.Meta[trace.MetaSignatureKey] = k.String()
	}
}

// ProxyStats count what the recording proxy saw besides the rows it
// wrote: every exchange is a row or one of these.
type ProxyStats struct {
	// Own counts rows with the proxy's own answer (502: the upstream
	// could not be reached), marked trace.Exchange.ProxyAnswer.
	Own int64
	// Cut counts rows whose answer was cut short: the client left, or
	// the upstream cut its body (the size is what was passed on).
	Cut int64
	// GaveUp counts rows of requests whose client left before any
	// answer came: recorded without one.
	GaveUp int64
	// Upgrades counts rows of a protocol switch (101: WebSocket and
	// others): the handshake is recorded, the tunnel after it is not.
	Upgrades int64
	// InFlight counts requests still unanswered when the proxy stopped,
	// after its grace (Config.Grace): forwarded, not recorded.
	InFlight int64
}

// Summary is what a recording did.
type Summary struct {
	// Input and Output name the capture read and the trace written.
	Input, Output string
	// InputFormat is "pcap", "pcapng", "har", "gor", "live", "proxy" or
	// "tls".
	InputFormat string
	// InputSize and InputRead are the capture file's size and bytes read.
	InputSize, InputRead int64
	// Capture holds the packet and HTTP counters.
	Capture capture.Stats
	// Written is the number of rows in the trace; Unsampled the exchanges
	// left out by --sample; NotWritten those forwarded by the proxy after
	// the trace could not be written.
	Written, Unsampled, NotWritten int64
	// OtherHosts counts the exchanges Config.OnlyHosts left out, and
	// OtherHostNames them by host (the first 32 hosts seen), to tell a
	// user whose pattern matched nothing what the traffic holds.
	OtherHosts     int64
	OtherHostNames map[string]int64
	// ReqBytes and RespBytes add up the body sizes of the rows written.
	ReqBytes, RespBytes int64
	// OutputBytes is the trace file's size.
	OutputBytes int64
	// Elapsed is the wall time spent.
	Elapsed time.Duration
	// Truncated says the capture file ended in the middle of a packet.
	Truncated bool
	// Damaged is set when the capture file could not be read to its end.
	Damaged error
	// Stopped says the recording stopped early: --max-exchanges or a signal.
	Stopped string
	// Kernel holds the capture socket's counters (live capture only).
	Kernel *capture.KernelStats
	// Proxy holds the recording proxy's counters (--proxy only).
	Proxy ProxyStats
	// Files are the trace files written (live capture and proxy).
	Files []string
	// Links counts the links found between responses and requests.
	Links correlate.Stats
	// Import holds the counters of a HAR or GoReplay file (nil otherwise).
	Import *ImportStats
	// TLS holds the counters of a --tls recording (nil otherwise).
	TLS *TLSStats
}

// recorder is the observed.Sink that writes rows: every source of a
// recording feeds one.
type recorder struct {
	cfg      *Config
	redactor *redact.Redactor
	w        rowWriter
	sum      *Summary
	err      error // the first write error; recording stops on it
	full     bool  // MaxExchanges reached
	// nextID is the id of the next row: links name their source by it.
	nextID int64
	// ipSessions caches client-IP sessions by client address: keep-alive
	// connections ask again and again.
	ipSessions map[string]string
	// links finds the values requests reuse; nil with NoCorrelate.
	links *correlate.Finder
	// row is the row being made, reused: rowWriter.Write copies it.
	row trace.Exchange
}

// respBody is how much of a response body the recorder looks into: one
// byte more than correlate and signatures read, to tell a body that was
// cut; none when neither looks.
func respBody(cfg *Config) int {
	if cfg.NoCorrelate && cfg.NoSignatures {
		return 0
	}
	return max(correlate.MaxBody, signature.MaxBody) + 1
}

func newRecorder(cfg *Config, w rowWriter, sum *Summary) *recorder {
	r := &recorder{cfg: cfg, redactor: redact.New(cfg.RedactKey, cfg.RedactHeaders), w: w, sum: sum,
		ipSessions: map[string]string{}}
	if !cfg.NoCorrelate {
		r.links = correlate.NewFinder(correlate.Options{Hash: r.redactor.Hash, SessionCookie: isSessionCookie})
	}
	return r
}

func (r *recorder) Exchange(x observed.Exchange) {
	c, req, resp := x.Conn, x.Req, x.Resp
	seen := resp // what the links are looked for in: not the proxy's own answer
	if x.ProxyAnswer {
		seen = nil
	}
	if r.err != nil || r.full {
		return
	}
	// Before the links: another host's answers hand out no value of this one's.
	if h := host(req); !r.cfg.OnlyHosts.Keeps(h) {
		r.sum.countOtherHost(h)
		return
	}
	// The session and the links come from the credentials before they
	// are redacted.
	session, cred := r.session(c, req)
	route := trace.Route(req.Target)
	var links []trace.Link
	if r.links != nil {
		session, links = r.observe(session, cred, route, req, seen)
	}
	if r.cfg.Sample > 0 && !sampled(session, r.cfg.Sample) {
		r.sum.Unsampled++
		return
	}
	e := &r.row // the writer copies it: no row escapes to the heap
	*e = trace.Exchange{
		ID:         r.nextID,
		Links:      links,
		TS:         time.Unix(0, req.Start).UTC(),
		Session:    session,
		Conn:       c.ID,
		Client:     c.Client,
		Server:     c.Server,
		Method:     req.Method,
		Host:       host(req),
		Path:       req.Target,
		Route:      route,
		Proto:      req.Proto,
		ReqHeaders: r.redactor.Headers(req.Headers),
		ReqSize:    req.BodySize,
		Kind:       trace.KindOf(req.Method),
	}
	if req.BodySize > 0 {
		e.ReqBody, e.ReqBodyTruncated = req.Body, req.BodyTruncated()
		if e.ReqBody == nil {
			e.ReqBody = []byte{} // a body was sent but none kept (--max-body 0)
		}
	}
	if resp != nil {
		e.RespHeaders = r.redactor.Headers(resp.Headers)
		e.RespSize = resp.BodySize
		e.Status = int32(resp.Status)
		// A server may answer before the request ends (an early 401 or 413).
		e.TTFBNanos = max(0, resp.Start-req.End)
		e.DurationNanos = max(0, resp.End-req.Start)
		e.ProxyAnswer = x.ProxyAnswer
		if len(resp.Trailers) > 0 {
			e.RespTrailers = r.redactor.Headers(resp.Trailers)
		}
	}
	if trace.IsGRPC(req.Headers) {
		e.ReqMessages = req.Messages
		if resp != nil {
			e.RespMessages = resp.Messages
			if st, msg, ok := trace.GRPCStatusOf(resp.Headers, resp.Trailers); ok {
				e.GRPCStatus, e.GRPCMessage = &st, msg
			}
		}
	}
	s := sign{key: &r.cfg.sigKey}
	if resp != nil && !r.cfg.NoSignatures && !x.ProxyAnswer {
		s.resp = resp
	}
	if err := r.w.Write(e, s); err != nil {
		r.err = err
		return
	}
	r.nextID++
	r.sum.Written++
	r.sum.ReqBytes += e.ReqSize
	r.sum.RespBytes += e.RespSize
	if r.cfg.MaxExchanges > 0 && r.sum.Written >= r.cfg.MaxExchanges {
		r.full = true
		r.sum.Stopped = fmt.Sprintf("--max-exchanges %d reached", r.cfg.MaxExchanges)
	}
}

// observe finds the links of an exchange and the session it continues.
func (r *recorder) observe(session, cred, route string, req, resp *observed.Message) (string, []trace.Link) {
	x := correlate.Exchange{ID: r.nextID, Session: session, Credential: cred, Method: req.Method, Target: req.Target, Route: route,
		ReqHeaders: req.Headers, ReqBody: req.Body}
	if req.BodyTruncated() {
		x.ReqBody = nil // a cut body's values may be cut too
	}
	if resp != nil {
		x.Status, x.RespHeaders, x.RespBody, x.RespBodyCut = resp.Status, resp.Headers, resp.Body, resp.BodyTruncated()
	}
	s, links := r.links.Observe(&x)
	r.sum.Links = r.links.Stats()
	return s, links
}

func (r *recorder) session(c *observed.Conn, req *observed.Message) (session, cred string) {
	if s, cred, ok := r.cfg.SessionKey.credential(req.Headers, r.redactor); ok {
		return s, cred
	}
	s, ok := r.ipSessions[c.Client]
	if !ok {
		if len(r.ipSessions) >= 4096 {
			clear(r.ipSessions) // bounded: a fresh start costs little
		}
		s = ipSession(c.Client)
		r.ipSessions[c.Client] = s
	}
	return s, ""
}

// host is the Host header, or the authority of an absolute-form target;
// over HTTP/2 the :authority (which RFC 9113 section 8.3.1 says wins).
func host(req *observed.Message) string {
	if req.Authority != "" {
		return req.Authority
	}
	if h, ok := req.Header("Host"); ok {
		return h
	}
	authority, _ := trace.SplitTarget(req.Target)
	return authority
}

// BadInput is an error of what the user gave (a capture file missing or
// not a capture, an output that is in the way): nothing was recorded, and
// the commands exit 2 on it, as on a bad flag.
type BadInput struct{ Err error }

func (e *BadInput) Error() string { return e.Err.Error() }
func (e *BadInput) Unwrap() error { return e.Err }

// IsBadInput says err is a BadInput.
func IsBadInput(err error) bool {
	var b *BadInput
	return errors.As(err, &b)
}

// outputPath resolves Config.Out for an input file: a name ending in
// .parquet is the trace; anything else is a directory (made when
// missing) that gets INPUT.parquet. A trace already there is refused
// unless force.
func outputPath(out, input string, force bool) (string, error) {
	if out == "" {
		out = "traces/"
	}
	isDir := !strings.HasSuffix(out, ".parquet")
	if st, err := os.Stat(out); err == nil {
		switch {
		case st.IsDir():
			isDir = true
		case isDir:
			return "", &BadInput{fmt.Errorf("-o %s is a file, not a directory: give a directory, or NAME.parquet for the trace", out)}
		}
	}
	if isDir {
		base := strings.TrimSuffix(filepath.Base(input), filepath.Ext(input))
		out = filepath.Join(out, base+".parquet")
	}
	if _, err := os.Lstat(out); err == nil && !force {
		return "", &BadInput{fmt.Errorf("%s exists: give another -o, or --force to replace it", out)}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", &BadInput{fmt.Errorf("create output directory: %w", err)}
	}
	return out, nil
}
