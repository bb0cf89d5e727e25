// Command replay re-issues recorded traffic against a target as a load
// test: the seed's scenarios, as virtual users or on a fixed schedule.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/internal/cmdline"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/shard"
	"github.com/replaykit/replaykit/timeline"
	"github.com/replaykit/replaykit/web"
)

const usage = `usage:
  replay list                    the scenarios
  replay [flags] SCENARIO        run one (light_load normal_load high_load spike_test read_heavy write_heavy,
                                 or light normal high spike read write)
  replay [flags] recorded        the recorded timeline: each session when it was recorded
                                 (--speed, --amplify, --jitter, --window, --loop)
  replay --all [flags]           the six scenarios of the seed in turn (not recorded)
  replay --check-only [flags]    is the host reachable, and does the API key work
  replay --web[=ADDR] [flags] [SCENARIO]
                                 a web UI (default 127.0.0.1:8089): start runs, watch them, change
                                 users or rate, stop; the flags and scenario fill in its form

API_KEY, when set, replaces every recorded credential. Results go to
--out/{scenario}_{timestamp}.parquet, then are analyzed as analyze does
(report, CSVs, JSON; thresholds). Exit code: 0 every threshold held, 1 one
failed or a run failed, 2 bad usage or input. Ctrl-C stops the run and
writes every completed request; a second Ctrl-C abandons requests in flight.

flags:
`

func main() { os.Exit(run()) }

func run() int {
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	traces := fs.StringArray("trace", []string{"traces/*.parquet"}, "trace files to replay (a glob; repeatable)")
	host := fs.String("host", "http://localhost:8000", "the target")
	scale := fs.Int("scale", 0, "virtual users at full load (default: the scenario's)")
	duration := fs.Duration("duration", 0, "how long to run (default: the scenario's; recorded: the trace's or window's, divided by --speed)")
	ramp := fs.Duration("ramp", 0, "time over which users start (default: a tenth of the run, at most 30s)")
	pacing := fs.String("pacing", "", "think times: recorded, normal (1-3s), high (0.1-0.5s), stress (0-0.1s), none (default: the scenario's)")
	speed := fs.Float64("speed", 1, "with recorded pacing: divide the recorded think times by this (recorded: the timeline's offsets and gaps)")
	amplify := fs.Float64("amplify", 1, "recorded: send this many copies of each session, each its own user (0.5 keeps half the sessions, chosen by --seed)")
	jitter := fs.Duration("jitter", 100*time.Millisecond, "recorded: spread the starts of a session's extra copies over this much either side of its recorded start")
	window := fs.String("window", "", "recorded: replay only the sessions started in FROM..TO: offsets from the trace's start (+10m..+25m), clock times in $TZ (09:00..09:15) or RFC3339 times")
	loop := fs.Bool("loop", false, "recorded: start the timeline over each time it ends, until --duration")
	rate := fs.Float64("rate", 0, "open model: this many requests a second whatever the server does (latency counts from the schedule)")
	headers := fs.StringArray("header", nil, "'Name: value' added to every request, replacing the recorded one (repeatable)")
	timeout := fs.Duration("timeout", 30*time.Second, "per request, body included")
	caCert := fs.String("ca-cert", "", "PEM file of the CA certificates to trust for a TLS target (besides the system's)")
	insecure := fs.Bool("insecure", false, "do not verify a TLS target's certificate")
	client := fs.String("client", replay.ClientAuto, "what sends the requests: auto (replay's own HTTP/1.1 client for an http:// target, net/http for https://) or net/http (net/http for every target)")
	http1 := fs.Bool("http1", false, "send every request over HTTP/1.1, those recorded over HTTP/2 too (default: each over the protocol it was recorded over)")
	http2 := fs.Bool("http2", false, "send every request over HTTP/2: h2c (prior knowledge) to an http:// target, TLS with ALPN h2 to an https:// one")
	streams := fs.Int("h2-streams", replay.DefaultStreams, "over HTTP/2: how many virtual users share one connection, their requests streams of it")
	noCorrelate := fs.Bool("no-correlate", false, "send every value as recorded: carry no id, token or ETag from the live answers, make no id anew, keep no cookie jar")
	shadow := fs.String("shadow", "", "a second target (the current release beside a candidate) sent every request too, at the same time: both answers are measured and compared, with the recording and with each other; the same load goes to both")
	noCompare := fs.Bool("no-compare", false, "compare no live answer with the recorded one (statuses, shapes, stable values): the results' compared and diff columns stay empty")
	compareAll := fs.Bool("compare-all", false, "compare every answer's body, whatever it costs (by default comparing bodies takes at most a tenth of replay's CPU; past that, answers are compared by status alone and counted)")
	out := fs.String("out", "results", "directory for results files")
	seed := fs.Uint64("seed", 1, "chooses which recorded sessions each virtual user replays; same seed, same requests")
	shard := fs.String("shard", "", "I/N: run shard I (from 0) of N; default: $JOB_COMPLETION_INDEX of $REPLAYKIT_SHARDS (a Kubernetes Indexed Job)")
	startAt := fs.String("start-at", "", "RFC3339 time: wait until then to start (every shard alike)")
	all := fs.Bool("all", false, "run every scenario in turn")
	checkOnly := fs.Bool("check-only", false, "only check the host and the API key")
	thresholds := fs.StringArray("threshold", nil, "add a threshold to the analysis, as analyze --threshold (repeatable)")
	noDefaults := fs.Bool("no-default-thresholds", false, "check only the --threshold ones")
	formats := fs.StringSlice("format", []string{"html", "csv", "json"}, "analysis outputs: html, csv, json, junit")
	webAddr := fs.String("web", "", "serve the web UI at HOST:PORT (--web alone: "+web.DefaultAddr+"; give --web=HOST:PORT): start runs, watch them, change users or rate, stop; the scenario and flags given fill in its form")
	fs.Lookup("web").NoOptDefVal = web.DefaultAddr
	webToken := fs.String("web-token", "", "the token the web UI asks for (default: one made up and printed; needed in the URL on an address other than loopback)")
	metrics := fs.String("metrics", "", "HOST:PORT: serve Prometheus metrics at /metrics there during the run (127.0.0.1:9464 this machine only; :9464 every interface)")
	if code, done := cmdline.Parse(fs, os.Args[1:]); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "replay: "+format+"\n", a...)
		return 2
	}
	args := fs.Args()
	if len(args) == 1 && args[0] == "list" {
		list()
		return 0
	}
	modes := len(args)
	if *all {
		modes++
	}
	if *checkOnly {
		modes++
	}
	if *webAddr != "" {
		if *all || *checkOnly || len(args) > 1 {
			return fail("--web: give at most a scenario, to fill in the form (not --all or --check-only)")
		}
		modes = 1
	}
	if modes != 1 {
		fs.Usage()
		return 2
	}
	cfg := replay.Config{Traces: *traces, Host: *host, APIKey: os.Getenv("API_KEY"), Headers: http.Header{},
		Users: *scale, Duration: *duration, Ramp: *ramp, Pacing: *pacing, Speed: *speed, Rate: *rate,
		Timeout: *timeout, Out: *out, Seed: *seed, CACert: *caCert, Insecure: *insecure, Client: *client, NoCorrelate: *noCorrelate, NoCompare: *noCompare, CompareAll: *compareAll, Shadow: *shadow,
		Streams: *streams}
	switch {
	case *http1 && *http2:
		return fail("--http1 and --http2: give one of them (or neither: each request over the protocol it was recorded over)")
	case *http1:
		cfg.Protocol = replay.ProtocolHTTP1
	case *http2:
		cfg.Protocol = replay.ProtocolHTTP2
	}
	if *streams < 1 {
		return fail("--h2-streams %d: want at least 1", *streams)
	}
	for _, h := range *headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fail("--header %q: want 'Name: value'", h)
		}
		cfg.Headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *speed <= 0 || *timeout <= 0 {
		return fail("--speed and --timeout must be positive")
	}
	var err error
	if fs.Changed("amplify") {
		if !(*amplify > 0) {
			return fail("--amplify %g: want more than 0 (0.5 keeps half the sessions, 3 sends three copies of each)", *amplify)
		}
		cfg.Amplify = *amplify
	}
	if *window != "" {
		if cfg.Window, err = timeline.ParseWindow(*window, time.Local); err != nil {
			return fail("--window: %v", err)
		}
	}
	cfg.Loop = *loop
	if fs.Changed("jitter") || (len(args) == 1 && isTimeline(args[0])) {
		cfg.Jitter = *jitter
	}
	if cfg.Shard, err = parseShard(*shard, os.Getenv("JOB_COMPLETION_INDEX"), os.Getenv("REPLAYKIT_SHARDS")); err != nil {
		return fail("%v", err)
	}
	if *startAt != "" {
		if cfg.StartAt, err = time.Parse(time.RFC3339, *startAt); err != nil {
			return fail("--start-at %q: want an RFC3339 time such as 2026-11-28T12:00:00Z", *startAt)
		}
	}
	names := args
	if *all {
		names = nil
		for _, s := range scenario.Seed() {
			names = append(names, s.Name)
		}
	}
	// Every option is checked before any load is sent, not after.
	for _, name := range names {
		if err := cfg.Check(name); err != nil {
			return fail("%v", flagged(err))
		}
	}
	acfg := analyze.Config{Out: *out, Thresholds: *thresholds, NoDefaults: *noDefaults, Formats: *formats,
		Host: replay.RedactHost(*host), Trace: strings.Join(*traces, ", "), Stdout: os.Stdout}
	ths, err := acfg.Check()
	if err != nil {
		return fail("%v", err)
	}
	for _, t := range ths {
		if t.Abort {
			cfg.Aborts = append(cfg.Aborts, t)
		}
	}

	// First Ctrl-C (or SIGTERM, or SIGHUP: a closed terminal): stop
	// starting requests, let those in flight finish, write everything.
	// Second: abandon them.
	ctx, abandon := context.WithCancelCause(context.Background())
	defer abandon(nil)
	stop, stopStarting := context.WithCancelCause(ctx)
	defer stopStarting(nil)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(os.Stderr, "\nreplay: stopping; requests in flight finish (Ctrl-C again to abandon them)")
		stopStarting(replay.ErrInterrupted)
		select {
		case <-sig:
			abandon(replay.ErrAbandoned)
			// A third signal ends the process as signals do, in case the
			// closing of files is what hangs.
			signal.Stop(sig)
		case <-ctx.Done():
		}
	}()

	if *checkOnly {
		return check(stop, cfg)
	}
	if *metrics != "" {
		// Bound before the trace is read: an address that cannot be used
		// fails now, not after minutes of loading.
		ep, err := replay.ListenMetrics(ctx, *metrics)
		if err != nil {
			return fail("--metrics: %v", err)
		}
		defer func() {
			if err := ep.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "replay:", err)
			}
		}()
		cfg.Metrics = ep
		fmt.Fprintf(os.Stderr, "replay: Prometheus metrics at http://%s/metrics\n", ep.Addr())
	}
	if *insecure {
		fmt.Fprintln(os.Stderr, "replay: warning: --insecure: the target's TLS certificate is not verified")
	}
	if *webAddr != "" {
		return serveWeb(ctx, stop, *webAddr, *webToken, names, cfg, acfg)
	}
	cfg.Progress = progressPrinter()
	code := 0
	for _, name := range names {
		if stop.Err() != nil {
			return max(code, analyze.ExitFail) // interrupted before this scenario
		}
		if sc, err := scenario.Lookup(name); err == nil {
			name = sc.Name
		}
		if wait := time.Until(cfg.StartAt); wait > 0 {
			fmt.Fprintf(os.Stderr, "replay: %s waits until %s (--start-at, in %s)\n", name, cfg.StartAt.Format(time.RFC3339), wait.Round(time.Second))
		}
		sum, err := replay.RunScenario(ctx, stop, name, cfg)
		if sum != nil {
			printSummary(name, sum)
		}
		if err != nil {
			if sum == nil && errors.Is(err, replay.ErrInterrupted) {
				when := "before it started (reading the trace)"
				if time.Until(cfg.StartAt) > 0 {
					when = "before --start-at"
				}
				fmt.Fprintf(os.Stderr, "replay: %s: interrupted %s: nothing was sent\n", name, when)
				return analyze.ExitFail
			}
			fmt.Fprintln(os.Stderr, "replay:", flagged(err))
			if sum == nil {
				return analyze.ExitBad // bad input: nothing was sent
			}
			code = max(code, analyze.ExitFail)
		}
		if sum == nil || sum.Results == "" && sum.Requests > 0 {
			continue // no results file to analyze (the error said why)
		}
		if sum.Requests == 0 {
			// Nothing to analyze, and nothing measured: a failed run.
			switch {
			case sum.Stopped != "":
			case isTimeline(name):
				fmt.Fprintf(os.Stderr, "replay: %s sent no request in %s: no copy of a session (of this shard's) started before the end: lengthen --duration, widen --window, or amplify more\n", name, sum.Elapsed.Round(time.Millisecond))
			default:
				fmt.Fprintf(os.Stderr, "replay: %s sent no request in %s: lengthen --duration or --ramp, or check the trace's mix\n", name, sum.Elapsed.Round(time.Millisecond))
			}
			code = max(code, analyze.ExitFail)
			continue
		}
		// The same analysis as analyze, on this run: its files, its code.
		// A shard's part is shown, not judged: the verdict is the merged
		// run's.
		acfg.Inputs = []string{sum.Results}
		acfg.OneShard = cfg.Shard.Split()
		fmt.Println()
		res, aerr := analyze.Run(acfg)
		if aerr != nil {
			fmt.Fprintln(os.Stderr, "replay: analyze:", aerr)
		}
		for _, f := range res.Files {
			fmt.Println("wrote", f)
		}
		code = max(code, res.Code)
		if cfg.Shard.Split() {
			glob := filepath.Join(filepath.Dir(sum.Results), cfg.Shard.Glob(sum.Run)+".parquet")
			fmt.Printf("shard %s: thresholds are checked on the whole run: analyze %s\n", cfg.Shard, glob)
		}
	}
	return code
}

// serveWeb serves the web UI until the first Ctrl-C, which stops a run
// under way (written and analyzed) and then the UI.
func serveWeb(ctx, stop context.Context, addr, token string, names []string, cfg replay.Config, acfg analyze.Config) int {
	name := ""
	if len(names) == 1 {
		name = names[0]
	}
	acfg.Stdout = nil
	srv, err := web.Listen(ctx, stop, web.Options{Addr: addr, Token: token, Form: web.FormOf(name, cfg, acfg.Thresholds), Config: cfg, Analysis: acfg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay: --web:", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "replay: web UI at %s (Ctrl-C to stop)\n", srv.URL())
	<-stop.Done()
	fmt.Fprintln(os.Stderr, "replay: stopping the web UI (a run under way is written and analyzed first)")
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "replay: web UI:", err)
	}
	return 0
}

// flags are the flags behind replay.Config's fields.
var flags = map[string]string{"Users": "--scale", "Duration": "--duration", "Ramp": "--ramp", "Timeout": "--timeout",
	"Rate": "--rate", "Speed": "--speed", "Pacing": "--pacing", "Shard": "--shard", "Host": "--host", "CACert": "--ca-cert",
	"Amplify": "--amplify", "Jitter": "--jitter", "Window": "--window", "Loop": "--loop", "Shadow": "--shadow", "CompareAll": "--compare-all", "Client": "--client"}

// isTimeline says name is the recorded timeline's scenario.
func isTimeline(name string) bool {
	sc, err := scenario.Lookup(name)
	return err == nil && sc.Timeline()
}

// flagged names the flag behind a library error about one option.
func flagged(err error) error {
	var oe *replay.OptionError
	if errors.As(err, &oe) && flags[oe.Option] != "" {
		return fmt.Errorf("%s: %w", flags[oe.Option], err)
	}
	return err
}

// parseShard reads --shard I/N, or else the Kubernetes Indexed Job's
// completion index with the shard count passed beside it.
func parseShard(flag, index, count string) (shard.Shard, error) {
	spec, what := flag, "--shard"
	if spec == "" {
		if index == "" {
			return shard.Shard{}, nil
		}
		if count == "" {
			return shard.Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX is set (%s) but REPLAYKIT_SHARDS is not: set it to the Job's completions", index)
		}
		spec, what = index+"/"+count, "JOB_COMPLETION_INDEX/REPLAYKIT_SHARDS"
	}
	sh, err := shard.Parse(spec)
	if err != nil {
		return shard.Shard{}, fmt.Errorf("%s: %w", what, err)
	}
	return sh, nil
}

func list() {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tSHORT\tUSERS\tDURATION\tPACING\tSHAPE\tDESCRIPTION")
	for _, s := range scenario.All() {
		users, d := fmt.Sprint(s.Users), s.Duration.String()
		if s.Timeline() {
			users, d = "trace's", "trace's"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Short, users, d, s.Pacing, s.Shape, s.Description)
	}
	w.Flush()
}

func check(ctx context.Context, cfg replay.Config) int {
	target, err := replay.ParseTarget(cfg.Host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		return 2
	}
	target.APIKey, target.Headers, target.Protocol = cfg.APIKey, cfg.Headers, cfg.Protocol
	sessions, _, err := session.Open(cfg.Sessions, cfg.Traces...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "replay: %v (the API key is tried with a recorded request)\n", err)
		sessions = nil
	} else {
		defer sessions.Close()
	}
	lines, err := replay.Check(ctx, target, sessions, replay.ClientOptions{Timeout: cfg.Timeout, CACert: cfg.CACert, Insecure: cfg.Insecure, ServerName: target.TLSServerName(), Client: cfg.Client})
	for _, l := range lines {
		fmt.Println(l)
	}
	if err != nil {
		fmt.Println("FAIL", err)
		return 1
	}
	return 0
}

// progressPrinter draws the live line on a terminal, and a line every 10s
// elsewhere (CI logs).
func progressPrinter() func(string, time.Duration, replay.Progress) {
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	return func(name string, total time.Duration, p replay.Progress) {
		// Off a terminal (CI logs): the first second, then every 10 s.
		if s := int(p.Elapsed.Seconds()); !tty && s != 1 && s%10 != 0 {
			return
		}
		pct := 0.0
		if p.Requests > 0 {
			pct = 100 * float64(p.Failures) / float64(p.Requests)
		}
		line := fmt.Sprintf("%s %s/%s  users %d  rps %.0f  p95 %s  errors %d (%.1f%%)  cpu %.0f%%",
			name, p.Elapsed.Truncate(time.Second), total.Round(time.Millisecond), p.Users, p.RPS, p.P95.Round(time.Millisecond), p.Failures, pct, 100*p.CPU)
		if p.Late > 0 {
			line += fmt.Sprintf("  late p99 %s", p.Late.Round(time.Millisecond))
		}
		if p.Behind > 0 {
			line += fmt.Sprintf("  behind the timeline p99 %s", p.Behind.Round(time.Millisecond))
			if p.Behind > 10*time.Millisecond {
				line += " (the target cannot keep up: sessions wait for its late answers)"
			}
		}
		if p.Overloaded != "" {
			line += "  GENERATOR OVERLOADED (" + p.Overloaded + "): these figures are not the server's"
		}
		if tty {
			fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

// printSummary says what a run did; its figures are the analysis's,
// which follows (one run, one p95).
func printSummary(name string, s *replay.Summary) {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		fmt.Fprint(os.Stderr, "\r\033[K") // clear the live line
	}
	fmt.Printf("%s: %d requests in %s, %d failed\n", name, s.Requests, s.Elapsed.Round(time.Millisecond), s.Failures)
	if s.Stopped != "" {
		fmt.Printf("  stopped: %s\n", s.Stopped)
	}
	if s.OverloadedSeconds > 0 {
		fmt.Printf("  the generator was overloaded for %d s (%s): figures from then are not the server's\n", s.OverloadedSeconds, replay.OverloadCauses(s.Overload))
	}
	switch {
	case s.Unsent > 0 && s.Timeline != nil:
		fmt.Printf("  %d requests due before the end were not sent by then: their sessions were behind the timeline\n", s.Unsent)
	case s.Unsent > 0:
		fmt.Printf("  %d scheduled requests could not be sent before the end: the generator fell behind --rate\n", s.Unsent)
	}
	if s.Abandoned > 0 {
		fmt.Printf("  %d requests in flight were abandoned: they are rows marked abandoned, in no figure\n", s.Abandoned)
	}
	if s.Results != "" {
		fmt.Printf("  results: %s\n", s.Results)
	} else {
		fmt.Println("  results: none (nothing was sent)")
	}
}
