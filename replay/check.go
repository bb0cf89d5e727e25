package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/session"
)

// CheckLine is one finding of Check.
type CheckLine struct {
	// Warn says the finding fails nothing but should be read before a run.
	Warn bool
	// Text is the finding, one line, the target shown without its password.
	Text string
}

// String is the line as --check-only prints it.
func (l CheckLine) String() string {
	if l.Warn {
		return "WARN " + l.Text
	}
	return "ok   " + l.Text
}

// Check says whether the target answers, serves the recorded paths and
// accepts the credentials, with the client a run would use (o; its
// ServerName defaults to t's). It sends GET / (any HTTP answer means
// reachable), then one recorded GET, chosen to be a fair test: one that
// carried a credential API_KEY replaces, recorded 2xx, on a route without
// an id. It returns what it found, line by line, and an error saying what
// to check when the run would fail.
func Check(ctx context.Context, t *Target, sessions *session.Source, o ClientOptions) ([]CheckLine, error) {
	if o.ServerName == "" {
		o.ServerName = t.TLSServerName()
	}
	client, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	defer client.CloseIdleConnections()
	h2 := newH2Clients(client, 1, 1)
	defer h2.close()
	var fc *fastClient
	if o.Client != ClientNetHTTP && t.Base.Scheme == "http" {
		// The run's own client (Config.Client), as the run would send.
		fc = newFastClient(ctx, o)
		defer fc.close()
	}
	send := func(ctx context.Context, p *Prepared) (int, []byte, error) {
		switch {
		case p.h2:
			return probeOnce(ctx, h2.client(0), p)
		case fc != nil:
			return probeOwn(ctx, fc, p)
		}
		return probeOnce(ctx, client, p)
	}
	var lines []CheckLine
	ok := func(format string, a ...any) { lines = append(lines, CheckLine{Text: fmt.Sprintf(format, a...)}) }
	warn := func(format string, a ...any) {
		lines = append(lines, CheckLine{Warn: true, Text: fmt.Sprintf(format, a...)})
	}
	if o.Insecure {
		warn("--insecure: the certificate of %s is not verified", t)
	}

	probe, sawH2, err := chooseProbe(sessions)
	if err != nil {
		return lines, err
	}
	// GET / over the protocol the recorded GET goes over, or over HTTP/2
	// when some requests do (a trace of gRPC calls has no GET).
	rootReq := &session.Request{Method: "GET", Path: "/"}
	switch {
	case probe != nil:
		rootReq.Proto = probe.Proto
	case sawH2:
		rootReq.Proto = "HTTP/2.0"
	}
	root, err := t.Prepare(rootReq)
	if err != nil {
		return lines, err
	}
	status, body, err := send(ctx, root)
	if err != nil && Classify(err) == LabelH2Unusable {
		// The reason went to no request: once more, for it.
		status, body, err = send(ctx, root)
	}
	if l := labelOf(err); l == LabelNoH2C || l == LabelH2Unusable {
		return lines, fmt.Errorf("%s answers, but %s.%s", t, l, hintFor(err, ""))
	}
	if err != nil {
		return lines, fmt.Errorf("%s is not reachable: %s.%s", t, Classify(err), hintFor(err, " Is the server running, and is --host right?"))
	}
	if status == http.StatusBadRequest && bytes.Contains(body, []byte("HTTPS server")) {
		return lines, fmt.Errorf("%s speaks TLS: use https:// in --host", t)
	}
	ok("reachable: GET %s/ answered %d%s", t, status, over(root))

	if probe == nil {
		warn("the trace has no GET request to try: the paths and credentials are not checked")
		return lines, nil
	}
	p, err := t.Prepare(probe)
	if err != nil {
		return lines, err
	}
	status, _, err = send(ctx, p)
	if err != nil {
		return lines, fmt.Errorf("%s %s failed: %s.%s", probe.Method, probe.Path, Classify(err), hintFor(err, ""))
	}
	asked := fmt.Sprintf("%s %s answered %d (recorded %d)%s", probe.Method, probe.Path, status, probe.Status, over(p))
	cred := hasCredential(probe)
	hashes := sendsRedacted(p) // without API_KEY or a --header in their place
	switch {
	case refused(status) && !refused(int(probe.Status)):
		switch {
		case cred && t.APIKey != "":
			return lines, fmt.Errorf("the API key was refused: %s. Check API_KEY", asked)
		case hashes && t.User != nil:
			return lines, fmt.Errorf("refused: %s. The trace's credentials are redacted hashes: set API_KEY to the key to use, or check the user and password in --host", asked)
		case hashes:
			return lines, fmt.Errorf("refused: %s. The trace's credentials are redacted hashes: set API_KEY to the key to use", asked)
		case t.User != nil:
			return lines, fmt.Errorf("refused: %s. Check the user and password in --host", asked)
		default:
			return lines, fmt.Errorf("refused: %s. Give the target a credential: API_KEY, --header, or --host's user:password", asked)
		}
	case status == http.StatusNotFound && probe.Status/100 == 2:
		if strings.Contains(probe.Route, "{") {
			warn("%s: maybe an id this target does not have (replay sends recorded ids); if every path answers 404, check --host", asked)
			return lines, nil
		}
		return lines, fmt.Errorf("%s: the target does not serve the recorded paths. Check --host's path prefix (this went to %s) and that --host is the recorded service", asked, p.URLString())
	}
	ok("paths: %s", asked)
	switch {
	case refused(status):
	case cred && t.APIKey != "":
		ok("api key: accepted (%s)", asked)
	case hashes:
		warn("API_KEY is unset: the trace's credentials are sent as their redacted hashes, and %s; set API_KEY if the target should check them", asked)
	case t.User != nil:
		ok("basic auth: accepted (%s)", asked)
	}
	return lines, nil
}

// labelOf is err's label, "" for none.
func labelOf(err error) string {
	if err == nil {
		return ""
	}
	return Classify(err)
}

// over says what protocol p went over, when it is HTTP/2 (a TLS target
// without h2 by ALPN is refused at its handshake: see h2Clients).
func over(p *Prepared) string {
	if p.h2 {
		return " over " + protoOf(p)
	}
	return ""
}

// probeOnce sends p once and returns the status and the first bytes of
// the body.
func probeOnce(ctx context.Context, c *http.Client, p *Prepared) (int, []byte, error) {
	resp, err := c.Do(p.Request(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, body, nil
}

// probeOwn is probeOnce by replay's own HTTP/1.1 client.
func probeOwn(ctx context.Context, fc *fastClient, p *Prepared) (int, []byte, error) {
	w := wireOf(new(bytes.Buffer), p, p.Request(ctx), math.MaxInt)
	if w.err != nil {
		return 0, nil, urlError(p.method, p.urlString, w.err)
	}
	c, _, err := fc.roundTrip(p.method, &w, time.Now().Add(fc.timeout))
	if err != nil {
		return 0, nil, urlError(p.method, p.urlString, err)
	}
	body, _, err := c.rd.ReadBody(nil, 512)
	status := c.rd.Status()
	fc.done(c, err == nil, w.closes)
	return status, body, nil
}

// chooseProbe is the recorded GET that tests most: on a route the
// recording saw refuse a request (401, 403: it checks credentials, which
// /health may not), with a credential API_KEY replaces (one it does not,
// X-Auth-Token say, would be sent redacted and look refused), recorded
// 2xx (a 404 now then says the path is wrong), on a route without an id
// (which the target may not have). It reads at most the first 1000
// sessions, fewer when one has all four; it also says whether a request
// among those read was recorded over HTTP/2.
func chooseProbe(sessions *session.Source) (*session.Request, bool, error) {
	refusedRoutes := map[string]bool{}
	var gets []*session.Request
	score := func(r *session.Request) int {
		n := 0
		if refusedRoutes[r.Route] && r.Status/100 == 2 {
			n += 8 // accepted here, refused elsewhere: the credential decides
		}
		if hasCredential(r) {
			n += 4
		}
		if r.Status/100 == 2 {
			n += 2
		}
		if !strings.Contains(r.Route, "{") {
			n++
		}
		return n
	}
	var best *session.Request
	h2 := false
	bestScore := -1
	for i := 0; sessions != nil && i < min(sessions.Len(), 1000) && bestScore < 15; i++ {
		s, err := sessions.Session(i)
		if err != nil {
			return nil, false, err
		}
		for j := range s.Requests {
			r := &s.Requests[j]
			h2 = h2 || recordedOverH2(r.Proto)
			if refused(int(r.Status)) {
				refusedRoutes[r.Route] = true
			}
			if r.Method == "GET" && len(gets) < 100000 {
				gets = append(gets, r)
			}
		}
		for _, r := range gets[max(0, len(gets)-len(s.Requests)):] {
			bestScore = max(bestScore, score(r))
		}
	}
	// Scored again: a route refused later makes an earlier GET better.
	bestScore = -1
	for _, r := range gets {
		if n := score(r); n > bestScore {
			best, bestScore = r, n
		}
	}
	return best, h2, nil
}

// sendsRedacted says p carries a recorded credential as its redacted hash.
func sendsRedacted(p *Prepared) bool {
	for name := range replacedByAPIKey {
		for _, v := range p.header.Values(name) {
			if strings.HasPrefix(v, redact.Prefix) {
				return true
			}
		}
	}
	return false
}

func refused(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// hintFor is what to try for a failed request: the TLS hint for a TLS
// failure, otherwise other.
func hintFor(err error, other string) string {
	if h := Hint(Classify(err)); h != "" {
		return " To fix: " + h + "."
	}
	return other
}

// hasCredential says whether r carries a credential API_KEY replaces. A
// credential an earlier answer handed out (a login's token: a link to
// it) is not the API key's to replace: the run logs in anew and carries
// the live one, which a probe on its own cannot.
func hasCredential(r *session.Request) bool {
	for _, h := range r.Headers {
		if replacedByAPIKey[http.CanonicalHeaderKey(h.Name)] != nil && !linked(r, h.Name) {
			return true
		}
	}
	return false
}

// linked says whether r's header name takes a value from an earlier
// answer.
func linked(r *session.Request, name string) bool {
	for _, l := range r.Links {
		if at, ok := strings.CutPrefix(l.At, "header/"); ok && strings.EqualFold(at, name) && !l.IsFresh() {
			return true
		}
	}
	return false
}
