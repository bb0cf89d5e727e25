package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
)

// DefaultAddr is where the UI listens by default, as Locust's does.
const DefaultAddr = "127.0.0.1:8089"

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// csp lets the page run only its own scripts and styles, and talk only to
// its own origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options are what the UI serves.
type Options struct {
	// Addr is HOST:PORT to listen on (DefaultAddr when empty).
	Addr string
	// Token must come with every request but the page's on a loopback
	// address, and with every state change everywhere; "" makes one.
	Token string
	// Form is what the start form holds at first (the command line's).
	Form Form
	// Config and Analysis are the command line's other settings, under
	// every run (headers, timeout, output directory, formats, ...).
	Config   replay.Config
	Analysis analyze.Config
}

// Server is the running UI. Its runs are under the context it was made
// with: when that ends, a run under way stops as after a Ctrl-C.
type Server struct {
	opts     Options
	token    string
	loopback bool
	ln       net.Listener
	srv      *http.Server
	served   chan struct{}
	ctx      context.Context // the runs' (a second Ctrl-C's)
	stop     context.Context // ends every run (the first Ctrl-C)

	mu   sync.Mutex
	form Form
	cur  *run   // the run under way or the last one; nil before any
	runs []*run // this process's, oldest first
	busy sync.WaitGroup
	// prom serves the current run's metrics at /metrics.
	prom atomic.Pointer[http.Handler]
}

// Serve makes m the metrics /metrics shows (replay.MetricsServer), and
// passes it on to the command line's --metrics endpoint, if any.
func (s *Server) Serve(m *replay.Metrics) {
	var h http.Handler = promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	s.prom.Store(&h)
	if s.opts.Config.Metrics != nil {
		s.opts.Config.Metrics.Serve(m)
	}
}

// metrics is the Prometheus text exposition of the current run (none
// before the first): on loopback as it is, elsewhere with the token
// (?token=, a scrape config's params).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if !s.loopback && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s.token)) != 1 &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Replaykit-Token")), []byte(s.token)) != 1 {
		http.Error(w, "a token is needed: ?token=", http.StatusForbidden)
		return
	}
	h := s.prom.Load()
	if h == nil {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		return
	}
	(*h).ServeHTTP(w, r)
}

// Listen binds opts.Addr and serves the UI on it until Close. ctx ends
// the runs' requests in flight (a second Ctrl-C); stop, a child of it,
// stops the runs (a first Ctrl-C).
func Listen(ctx, stop context.Context, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("web UI address %q: want HOST:PORT, such as %s", opts.Addr, DefaultAddr)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("web UI address %q: %w: choose a free port, or an address of this machine", opts.Addr, err)
	}
	s := &Server{opts: opts, token: opts.Token, ln: ln, served: make(chan struct{}), ctx: ctx, stop: stop, form: opts.Form}
	ip := net.ParseIP(host)
	s.loopback = host == "localhost" || ip != nil && ip.IsLoopback()
	if s.token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		s.token = hex.EncodeToString(b)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /assets/", http.FileServerFS(assets))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /api/state", s.authorized(s.state))
	mux.HandleFunc("POST /api/start", s.authorized(s.start))
	mux.HandleFunc("POST /api/users", s.authorized(s.users))
	mux.HandleFunc("POST /api/rate", s.authorized(s.rate))
	mux.HandleFunc("POST /api/stop", s.authorized(s.stopRun))
	mux.HandleFunc("GET /files/{run}/{file}", s.authorized(s.file))
	mux.HandleFunc("GET /metrics", s.metrics)
	s.srv = &http.Server{Handler: s.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// URL is the page's address, with the token when it needs one.
func (s *Server) URL() string {
	u := "http://" + s.ln.Addr().String() + "/"
	if !s.loopback {
		u += "?token=" + s.token
	}
	return u
}

// Close stops a run under way (it is written and analyzed), then the
// server.
func (s *Server) Close() error {
	s.mu.Lock()
	if r := s.cur; r != nil {
		r.end(replay.ErrInterrupted)
	}
	s.mu.Unlock()
	s.busy.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.served
	return err
}

// guard sets the headers every answer carries and refuses a Host this
// server is not (a page elsewhere that rebinds its name to 127.0.0.1).
func (s *Server) guard(h http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		if s.loopback {
			host, p, err := net.SplitHostPort(r.Host)
			ip := net.ParseIP(host)
			if err != nil || p != port || !(host == "localhost" || ip != nil && ip.IsLoopback()) {
				http.Error(w, "replay's web UI answers to its loopback address only", http.StatusMisdirectedRequest)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// authorized lets through the requests that carry the token (header
// X-Replaykit-Token, or ?token= for links), and state changes only as
// JSON posts (a form elsewhere cannot send one).
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Replaykit-Token")
		if tok == "" {
			tok = r.URL.Query().Get("token")
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
			http.Error(w, "a token is needed: open the address replay printed", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "post JSON", http.StatusUnsupportedMediaType)
			return
		}
		h(w, r)
	}
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if !s.loopback && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s.token)) != 1 {
		http.Error(w, "a token is needed: open the address replay printed (with ?token=...)", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, map[string]string{"Token": s.token})
}

// run is one run started from the page.
type run struct {
	id       string // the results' run id, once known; else a placeholder
	form     Form
	total    time.Duration
	control  *replay.Control
	live     *live
	end      context.CancelCauseFunc
	mu       sync.Mutex // guards what follows
	status   string     // running, analyzing, done, failed
	err      string
	progress replay.Progress
	summary  *replay.Summary
	outcome  *analyze.Outcome
	files    []string // paths, the results file first
	open     bool     // the open model
	maxUsers int      // the users at full load (--scale, or the scenario's)
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	var f Form
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&f); err != nil {
		http.Error(w, "the form: "+err.Error(), http.StatusBadRequest)
		return
	}
	cfg, acfg, err := f.run(s.opts.Config, s.opts.Analysis)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.running() {
		http.Error(w, "a run is under way: stop it first", http.StatusConflict)
		return
	}
	if s.stop.Err() != nil {
		http.Error(w, "replay is stopping", http.StatusServiceUnavailable)
		return
	}
	stop, end := context.WithCancelCause(s.stop)
	rn := &run{form: f, control: &replay.Control{}, live: newLive(), end: end, status: "running"}
	rn.open, rn.maxUsers = cfg.Rate > 0, cfg.Users
	if sc, err := scenario.Lookup(f.Scenario); err == nil {
		rn.total, rn.maxUsers = sc.Duration, cmp.Or(cfg.Users, sc.Users)
	}
	if cfg.Duration > 0 {
		rn.total = cfg.Duration
	}
	cfg.Control, cfg.Observe, cfg.Metrics = rn.control, rn.live.add, s
	cfg.Progress = func(_ string, total time.Duration, p replay.Progress) {
		rn.mu.Lock()
		rn.progress, rn.total = p, total
		rn.mu.Unlock()
	}
	s.form, s.cur = f, rn
	s.runs = append(s.runs, rn)
	s.busy.Add(1)
	go func() {
		defer s.busy.Done()
		defer end(nil)
		rn.run(s.ctx, stop, cfg, acfg)
	}()
	w.WriteHeader(http.StatusAccepted)
}

// run replays and analyzes, as replay does from the shell.
func (rn *run) run(ctx, stop context.Context, cfg replay.Config, acfg analyze.Config) {
	sum, err := replay.RunScenario(ctx, stop, rn.form.Scenario, cfg)
	rn.mu.Lock()
	rn.summary = sum
	if sum != nil {
		rn.id = sum.Run
	}
	switch {
	case sum == nil || sum.Results == "":
		rn.status = "failed"
		rn.err = "nothing was sent"
		if err != nil {
			rn.err = err.Error()
		}
		rn.mu.Unlock()
		return
	case err != nil:
		rn.err = err.Error()
	}
	rn.status = "analyzing"
	rn.mu.Unlock()
	acfg.Inputs, acfg.Stdout = []string{sum.Results}, nil
	out, aerr := analyze.Run(acfg)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.outcome, rn.status = out, "done"
	rn.files = append([]string{sum.Results}, out.Files...)
	if aerr != nil {
		rn.err = strings.TrimSpace(rn.err + " analyze: " + aerr.Error())
	}
}

func (rn *run) running() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.status == "running" || rn.status == "analyzing"
}

func (s *Server) current() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	var v struct {
		Users int `json:"users"`
	}
	s.change(w, r, &v, func(c *replay.Control) error { return c.SetUsers(v.Users) })
}

func (s *Server) rate(w http.ResponseWriter, r *http.Request) {
	var v struct {
		Rate float64 `json:"rate"`
	}
	s.change(w, r, &v, func(c *replay.Control) error { return c.SetRate(v.Rate) })
}

func (s *Server) change(w http.ResponseWriter, r *http.Request, v any, set func(*replay.Control) error) {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rn := s.current()
	if rn == nil {
		http.Error(w, "no run under way", http.StatusConflict)
		return
	}
	if err := set(rn.control); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errStopped is why a run stopped from the page stopped.
var errStopped = errors.New("stopped from the web UI")

func (s *Server) stopRun(w http.ResponseWriter, r *http.Request) {
	rn := s.current()
	if rn == nil || !rn.running() {
		http.Error(w, "no run under way", http.StatusConflict)
		return
	}
	rn.end(errStopped)
	w.WriteHeader(http.StatusNoContent)
}

// file serves an output of one of this process's runs, and nothing else.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("run"), r.PathValue("file")
	s.mu.Lock()
	var path string
	for _, rn := range s.runs {
		rn.mu.Lock()
		if rn.id == id {
			for _, f := range rn.files {
				if filepath.Base(f) == name {
					path = f
				}
			}
		}
		rn.mu.Unlock()
	}
	s.mu.Unlock()
	if path == "" {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(name, ".html") {
		// The report is a page of its own, with its own inline script and
		// styles: sandboxed, it has no origin, and so no way to this UI.
		w.Header().Set("Content-Security-Policy", "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:")
	} else {
		w.Header().Set("Content-Disposition", "attachment; filename=\""+name+"\"")
	}
	http.ServeFile(w, r, path)
}

// State is what the page polls every second.
type State struct {
	Form      Form           `json:"form"`
	Scenarios []scenarioLine `json:"scenarios"`
	Run       *RunView       `json:"run"`
	Runs      []RunLine      `json:"runs"`
}

type scenarioLine struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// RunView is the run under way, or the last one.
type RunView struct {
	ID         string           `json:"id"`
	Scenario   string           `json:"scenario"`
	Status     string           `json:"status"`
	Error      string           `json:"error"`
	Open       bool             `json:"open"`
	Elapsed    float64          `json:"elapsed"`
	Total      float64          `json:"total"`
	Users      int              `json:"users"`
	MaxUsers   int              `json:"max_users"`
	Rate       float64          `json:"rate"`
	RPS        float64          `json:"rps"`
	Requests   int64            `json:"requests"`
	Failures   int64            `json:"failures"`
	Overloaded string           `json:"overloaded"`
	Stopped    string           `json:"stopped"`
	Routes     []Route          `json:"routes"`
	Points     []Point          `json:"points"`
	Failed     []Failure        `json:"failed"`
	Changes    []results.Change `json:"changes"`
	Verdicts   []string         `json:"verdicts"`
	Code       int              `json:"code"`
	Files      []FileLink       `json:"files"`
}

// FileLink is an output of a run, and where the page gets it.
type FileLink struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// RunLine is a run of this process, for the list.
type RunLine struct {
	ID       string `json:"id"`
	Scenario string `json:"scenario"`
	Status   string `json:"status"`
	Requests int64  `json:"requests"`
	Code     int    `json:"code"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	st := State{}
	for _, sc := range scenario.All() {
		st.Scenarios = append(st.Scenarios, scenarioLine{sc.Name, sc.Description})
	}
	s.mu.Lock()
	st.Form = s.form
	cur, runs := s.cur, slices.Clone(s.runs)
	s.mu.Unlock()
	for _, rn := range runs {
		rn.mu.Lock()
		l := RunLine{ID: rn.id, Scenario: rn.form.Scenario, Status: rn.status, Requests: rn.progress.Requests}
		if rn.summary != nil {
			l.Requests = rn.summary.Requests
		}
		if rn.outcome != nil {
			l.Code = rn.outcome.Code
		}
		rn.mu.Unlock()
		st.Runs = append(st.Runs, l)
	}
	if cur != nil {
		st.Run = cur.view(s.token)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// view is what the page shows of rn; token goes on its file links.
func (rn *run) view(token string) *RunView {
	rn.mu.Lock()
	v := &RunView{ID: rn.id, Scenario: rn.form.Scenario, Status: rn.status, Error: rn.err, Open: rn.open, MaxUsers: rn.maxUsers, Rate: rn.form.Rate,
		Elapsed: rn.progress.Elapsed.Seconds(), Total: rn.total.Seconds(), Users: rn.progress.Users, RPS: rn.progress.RPS,
		Requests: rn.progress.Requests, Failures: rn.progress.Failures, Overloaded: rn.progress.Overloaded}
	if rn.summary != nil {
		v.Elapsed, v.Requests, v.Failures, v.Users = rn.summary.Elapsed.Seconds(), rn.summary.Requests, rn.summary.Failures, 0
		v.Stopped, v.Overloaded = rn.summary.Stopped, ""
		if rn.summary.OverloadedSeconds > 0 {
			v.Overloaded = fmt.Sprintf("overloaded %d s: %s", rn.summary.OverloadedSeconds, replay.OverloadCauses(rn.summary.Overload))
		}
	}
	if rn.outcome != nil {
		v.Code = rn.outcome.Code
		for _, vd := range rn.outcome.Verdicts {
			v.Verdicts = append(v.Verdicts, vd.String())
		}
	}
	for _, f := range rn.files {
		name := filepath.Base(f)
		v.Files = append(v.Files, FileLink{Name: name, URL: "/files/" + url.PathEscape(rn.id) + "/" + url.PathEscape(name) + "?token=" + token})
	}
	elapsed, running := rn.progress.Elapsed, rn.status == "running"
	rn.mu.Unlock()
	v.Changes = rn.control.Changes()
	for _, c := range v.Changes {
		if c.What == results.ChangeRate {
			v.Rate = c.Value
		}
	}
	v.Routes, v.Points, v.Failed = rn.live.view(elapsed, running)
	return v
}
