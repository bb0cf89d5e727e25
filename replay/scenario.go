package replay

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

// Config is what the replay command was asked; zero fields take the
// scenario's values.
type Config struct {
	// Traces are the trace file globs (--trace).
	Traces []string
	// Host is the target (--host); APIKey replaces recorded credentials
	// (API_KEY); Headers are added to every request (--header).
	Host    string
	APIKey  string
	Headers http.Header
	// Users (--scale), Duration and Ramp override the scenario's.
	Users          int
	Duration, Ramp time.Duration
	// Pacing (--pacing) overrides the scenario's profile; Speed divides
	// recorded think times.
	Pacing string
	Speed  float64
	// Rate, when positive, runs the open model (--rate).
	Rate float64
	// Timeout bounds each request.
	Timeout time.Duration
	// CACert (--ca-cert) and Insecure (--insecure): see ClientOptions.
	CACert   string
	Insecure bool
	// Out is the directory of results files.
	Out string
	// Seed chooses the sessions' order and the pacing draws.
	Seed uint64
	// Progress, when set, gets a snapshot every second.
	Progress func(name string, total time.Duration, p Progress)
	// Stop ends the run early; requests in flight finish.
	Stop <-chan struct{}
	// Sessions bound the memory the trace's sessions take.
	Sessions session.Options
	// Shard and Shards (--shard I/N) and StartAt (--start-at): see Plan.
	Shard, Shards int
	StartAt       time.Time
}

// RunScenario runs one scenario and writes
// Out/{scenario}_{timestamp}.parquet.
func RunScenario(ctx context.Context, name string, cfg Config) (*Summary, error) {
	sc, err := scenario.Lookup(name)
	if err != nil {
		return nil, err
	}
	target, err := ParseTarget(cfg.Host)
	if err != nil {
		return nil, err
	}
	target.APIKey = cfg.APIKey
	if cfg.Headers != nil {
		target.Headers = cfg.Headers
	}
	client, err := NewClient(ClientOptions{Timeout: cfg.Timeout, Users: cmp.Or(cfg.Users, sc.Users), CACert: cfg.CACert, Insecure: cfg.Insecure, ServerName: target.TLSServerName()})
	if err != nil {
		return nil, err
	}
	opts := cfg.Sessions
	opts.Ready = target.PrepareSession // each request prepared once per session read
	sessions, st, err := session.Open(opts, cfg.Traces...)
	if err != nil {
		return nil, err
	}
	defer sessions.Close()
	if sc.Mix == "write" && st.Writes == 0 {
		return nil, fmt.Errorf("%s needs write requests, and the traces %q have none", sc.Name, cfg.Traces)
	}
	if sc.Mix == "read" && st.Reads == 0 {
		return nil, fmt.Errorf("%s needs read requests, and the traces %q have none", sc.Name, cfg.Traces)
	}
	users, d := sc.Users, sc.Duration
	if cfg.Users > 0 {
		users = cfg.Users
	}
	if cfg.Duration > 0 {
		d = cfg.Duration
	}
	ramp := cfg.Ramp
	if ramp == 0 && sc.Shape == "ramp" {
		ramp = min(d/10, 30*time.Second) // users start over the first tenth
	}
	shape, err := scenario.NewShape(sc.Shape, users, d, ramp)
	if err != nil {
		return nil, err
	}
	pacingName := sc.Pacing
	if cfg.Pacing != "" {
		pacingName = cfg.Pacing
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	pacing, err := scenario.NewPacing(pacingName, cfg.Speed)
	if err != nil {
		return nil, err
	}
	out := cfg.Out
	if out == "" {
		out = "results"
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, fmt.Errorf("create results directory: %w", err)
	}
	// Shards of one run share its id: the start they wait for names it.
	at := time.Now()
	if !cfg.StartAt.IsZero() {
		at = cfg.StartAt
	}
	run := fmt.Sprintf("%s_%s", sc.Name, at.UTC().Format("20060102T150405Z"))
	file := run
	if cfg.Shards > 1 {
		file = fmt.Sprintf("%s_shard%dof%d", run, cfg.Shard, cfg.Shards)
	}
	// No row groups by time: the file has no footer until the run ends,
	// so they would buy nothing, and each one adds to the footer held in
	// memory (a long run grew by 0.4 MB a minute).
	w, err := results.Create(filepath.Join(out, file+".parquet"), results.WriterOptions{FlushInterval: -1})
	if err != nil {
		return nil, err
	}
	if cfg.Shards > 1 {
		w.SetMeta(results.MetaShard, fmt.Sprintf("%d/%d", cfg.Shard, cfg.Shards))
	}
	plan := Plan{
		Run: run, Scenario: sc.Name, Sessions: sessions, Order: session.Order(sessions.Len(), cfg.Seed),
		Users: users, Shape: shape, Pacing: pacing, Mix: sc.Mix, Duration: d, Rate: cfg.Rate,
		Timeout: cfg.Timeout, Seed: cfg.Seed, Target: target, Client: client, Shard: cfg.Shard, Shards: cfg.Shards, StartAt: cfg.StartAt,
	}
	var progress func(Progress)
	if cfg.Progress != nil {
		progress = func(p Progress) { cfg.Progress(sc.Name, d, p) }
	}
	sum, err := Run(ctx, plan, w, cfg.Stop, progress)
	if err != nil {
		w.Abort()
		return sum, err
	}
	if sum.Stopped != "" {
		w.SetMeta(results.MetaStopped, sum.Stopped)
	}
	if sum.OverloadedSeconds > 0 {
		w.SetMeta(results.MetaOverloaded, strconv.Itoa(sum.OverloadedSeconds))
	}
	// Every completed request is in the file, even after Ctrl-C.
	if err := w.Close(); err != nil {
		return sum, err
	}
	return sum, nil
}
