package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/shard"
	"github.com/replaykit/replaykit/timeline"
)

// Config is what the replay command was asked; zero fields take the
// scenario's values.
type Config struct {
	// Traces are the trace file globs.
	Traces []string
	// Host is the target; APIKey replaces recorded credentials; Headers
	// are added to every request.
	Host    string
	APIKey  string
	Headers http.Header
	// Users, Duration and Ramp override the scenario's.
	Users          int
	Duration, Ramp time.Duration
	// Pacing overrides the scenario's profile; Speed divides recorded
	// think times (0: 1).
	Pacing string
	Speed  float64
	// Rate, when positive, runs the open model.
	Rate float64
	// Timeout bounds each request (0: 30 s).
	Timeout time.Duration
	// CACert and Insecure: see ClientOptions.
	CACert   string
	Insecure bool
	// Client is what sends to plain http:// targets (--client):
	// ClientAuto ("" too) replay's own HTTP/1.1 client (Plan.HTTP1),
	// ClientNetHTTP net/http's, as https:// targets always are.
	Client string
	// Protocol is what requests go over (--http1, --http2): ProtocolRecorded
	// ("") each as recorded, ProtocolHTTP1 or ProtocolHTTP2 every one.
	Protocol string
	// Streams is how many virtual users share one HTTP/2 connection
	// (--h2-streams; 0: DefaultStreams).
	Streams int
	// Out is the directory of results files (default results).
	Out string
	// Seed chooses the sessions' order and the pacing draws.
	Seed uint64
	// Progress, when set, gets a snapshot every second.
	Progress func(name string, total time.Duration, p Progress)
	// Sessions bound the memory the trace's sessions take.
	Sessions session.Options
	// Shard, StartAt, Aborts and NoCorrelate: see Plan.
	Shard       shard.Shard
	StartAt     time.Time
	Aborts      []analysis.Threshold
	NoCorrelate bool
	// NoCompare compares no live answer with the recorded one.
	NoCompare bool
	// CompareAll compares every answer's body, whatever it costs; by
	// default comparing bodies takes at most CompareShare of replay's
	// cores, and past that answers are compared by status alone.
	CompareAll bool
	// Shadow is a second target sent every request too (Plan.Shadow);
	// it takes APIKey and Headers as Host does.
	Shadow string
	// Amplify (0: 1), Jitter, Window and Loop lay out the recorded
	// timeline (the recorded scenario only): see timeline.Options and
	// TimelinePlan. Speed divides its offsets and gaps.
	Amplify float64
	Jitter  time.Duration
	Window  timeline.Window
	Loop    bool
	// Metrics, when set, serves each run's Metrics while it runs (and
	// until the next run starts): a MetricsEndpoint, or the web UI.
	Metrics MetricsServer
	// Control, when set, changes each run while it runs (Plan.Control).
	Control *Control
	// Observe, when set, is given every row as it is written
	// (Plan.Observe).
	Observe func(*results.Result)
}

// The clients Config.Client names.
const (
	ClientAuto    = "auto"
	ClientNetHTTP = "net/http"
)

// OptionError says which value of a Config is wrong (its field's name),
// so that a command can name its own flag.
type OptionError struct {
	// Option is the Config field: Users, Duration, Timeout, Host, ...
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionErr(option string, format string, a ...any) error {
	return &OptionError{Option: option, Err: fmt.Errorf(format, a...)}
}

// Check says what is wrong with the values of c that do not need the
// trace, for the scenario name: everything a run could refuse after its
// load was sent is refused here first. Errors are *OptionError.
func (c Config) Check(name string) error {
	sc, err := scenario.Lookup(name)
	if err != nil {
		return &OptionError{Option: "Scenario", Err: err}
	}
	if _, err := ParseTarget(c.Host); err != nil {
		return &OptionError{Option: "Host", Err: err}
	}
	if c.Shadow != "" {
		if _, err := ParseTarget(c.Shadow); err != nil {
			return &OptionError{Option: "Shadow", Err: err}
		}
		if strings.TrimSuffix(c.Shadow, "/") == strings.TrimSuffix(c.Host, "/") {
			return &OptionError{Option: "Shadow", Err: fmt.Errorf("%s is the target itself: give the other release's URL", RedactHost(c.Shadow))}
		}
	}
	switch {
	case c.Client != "" && c.Client != ClientAuto && c.Client != ClientNetHTTP:
		return optionErr("Client", "unknown client %q: want %s (replay's own HTTP/1.1 client for http:// targets, net/http for https://) or %s (net/http for every target)", c.Client, ClientAuto, ClientNetHTTP)
	case c.CompareAll && c.NoCompare:
		return optionErr("CompareAll", "compares every answer's body and --no-compare (NoCompare) none: give one of them")
	case c.Protocol != ProtocolRecorded && c.Protocol != ProtocolHTTP1 && c.Protocol != ProtocolHTTP2:
		return optionErr("Protocol", "unknown protocol %q: want %s or %s (or none: each request as recorded)", c.Protocol, ProtocolHTTP1, ProtocolHTTP2)
	case c.Streams < 0:
		return optionErr("Streams", "the HTTP/2 streams a connection carries cannot be negative (%d)", c.Streams)
	case c.Users < 0:
		return optionErr("Users", "the number of users cannot be negative (%d)", c.Users)
	case c.Rate < 0:
		return optionErr("Rate", "the rate cannot be negative (%g)", c.Rate)
	case c.Speed < 0:
		return optionErr("Speed", "the speed must be positive (%g)", c.Speed)
	case c.Ramp < 0:
		return optionErr("Ramp", "the ramp cannot be negative (%s)", c.Ramp)
	case c.Duration < 0 || (c.Duration > 0 && c.Duration < MinDuration):
		return &OptionError{Option: "Duration", Err: tooShortRun(c.Duration)}
	case c.Timeout < 0 || (c.Timeout > 0 && c.Timeout < MinTimeout):
		return &OptionError{Option: "Timeout", Err: tooShortTimeout(c.Timeout)}
	}
	if _, err := scenario.NewPacing(cmp.Or(c.Pacing, sc.Pacing), cmp.Or(c.Speed, 1)); err != nil {
		return &OptionError{Option: "Pacing", Err: err}
	}
	if sc.Timeline() {
		return c.checkTimeline()
	}
	switch {
	case c.Amplify != 0:
		return optionErr("Amplify", "only the recorded scenario amplifies the timeline (replay recorded --amplify %g)", c.Amplify)
	case c.Jitter != 0:
		return optionErr("Jitter", "only the recorded scenario has copies to jitter")
	case !c.Window.IsZero():
		return optionErr("Window", "only the recorded scenario replays a window of the trace")
	case c.Loop:
		return optionErr("Loop", "only the recorded scenario loops its timeline (the others walk through the sessions until their duration)")
	}
	users := cmp.Or(c.Users, sc.Users)
	if c.Rate == 0 && c.Shard.Of(users) == 0 {
		return &OptionError{Option: "Shard", Err: tooFewUsers(users, c.Shard)}
	}
	return nil
}

// checkTimeline says what is wrong with c for the recorded scenario.
func (c Config) checkTimeline() error {
	switch {
	case c.Users != 0:
		return optionErr("Users", "the recorded timeline replays the trace's own sessions when they were recorded, not a number of users: --amplify N sends N copies of each")
	case c.Rate != 0:
		return optionErr("Rate", "the recorded timeline has no rate of its own: its sessions start when they were recorded (--speed, --amplify)")
	case c.Ramp != 0:
		return optionErr("Ramp", "the recorded timeline has no ramp: its sessions start when they were recorded")
	case c.Pacing != "" && c.Pacing != "recorded":
		return optionErr("Pacing", "the recorded timeline keeps the recorded gaps (divide them with --speed)")
	case c.Loop && c.Duration == 0:
		return optionErr("Loop", "a looped timeline has no end of its own: give --duration")
	}
	o := timeline.Options{Speed: cmp.Or(c.Speed, 1), Amplify: cmp.Or(c.Amplify, 1), Jitter: c.Jitter}
	if err := o.Check(); err != nil {
		option := "Amplify"
		if o.Jitter < 0 {
			option = "Jitter"
		}
		return &OptionError{Option: option, Err: err}
	}
	return nil
}

// timelinePlan lays out the recorded scenario's run over sessions:
// the slice of the trace cfg's window says, and the run's duration
// (cfg's, or the slice's at the speed, the jitter included).
func timelinePlan(sessions *session.Source, cfg Config) (*TimelinePlan, time.Duration, error) {
	tp := &TimelinePlan{Options: cfg.timelineOptions(), Loop: cfg.Loop}
	first, last := sessions.Span()
	tp.From, tp.To = cfg.timelineSlice(first, last)
	tp.Lo, tp.Hi = sessions.Search(tp.From), sessions.Search(tp.To)
	// A window's rounds follow one another; the whole trace's leave the
	// mean gap between session starts after the last request, so that a
	// looped run goes on at the recorded rate.
	tp.Period = tp.To.Sub(tp.From)
	if n := sessions.Len(); cfg.Window.IsZero() && n > 1 {
		tp.Period += sessions.Info(n-1).First.Sub(first) / time.Duration(n-1)
	}
	const at = "2006-01-02T15:04:05.000Z07:00"
	if tp.Lo >= tp.Hi {
		return nil, 0, &OptionError{Option: "Window", Err: fmt.Errorf("no recorded session starts in the window %s (%s to %s): the trace runs from %s to %s",
			cfg.Window, tp.From.Format(at), tp.To.Format(at), first.Format(at), last.Format(at))}
	}
	kept := false
	for i := tp.Lo; i < tp.Hi && !kept; i++ {
		kept = tp.Copies(sessions.Info(i).Key) > 0
	}
	if !kept {
		return nil, 0, &OptionError{Option: "Amplify", Err: fmt.Errorf("--amplify %g keeps none of the %d sessions (which ones is drawn from --seed): amplify more, or try another seed", tp.Amplify, tp.Hi-tp.Lo)}
	}
	if tp.Loop && tp.Scale(tp.Period) < time.Millisecond {
		return nil, 0, &OptionError{Option: "Loop", Err: fmt.Errorf("a round of the timeline lasts %s at --speed %g: too short to loop (at least 1ms)", tp.Scale(tp.Period), tp.Speed)}
	}
	d := cfg.Duration
	if d == 0 {
		d = max(tp.Scale(tp.To.Sub(tp.From))+tp.Jitter, MinDuration)
		if d > maxTimeline {
			// A stray timestamp (a clock reset while recording) would make
			// a run that waits for years.
			return nil, 0, &OptionError{Option: "Duration", Err: fmt.Errorf("the timeline would last %s (the trace runs from %s to %s): give --window or --duration, or more --speed",
				d.Round(time.Minute), tp.From.Format(time.RFC3339), tp.To.Format(time.RFC3339))}
		}
	}
	return tp, d, nil
}

func (cfg Config) timelineOptions() timeline.Options {
	return timeline.Options{Speed: cmp.Or(cfg.Speed, 1), Amplify: cmp.Or(cfg.Amplify, 1), Jitter: cfg.Jitter, Seed: cfg.Seed}
}

// timelineSlice is the recorded slice a recorded run replays, of a trace
// from first to last: the window, or the whole trace.
func (cfg Config) timelineSlice(first, last time.Time) (from, to time.Time) {
	if cfg.Window.IsZero() {
		return first, last.Add(time.Nanosecond)
	}
	return cfg.Window.Resolve(first)
}

// timelineReads is what session.Open needs read of a trace for a
// recorded run (nil: all of it): the sessions that start in the slice,
// and, when the run does not loop, only those that start before its
// duration ends (jitter included), cut there.
func (cfg Config) timelineReads() func(first time.Time) (from, to time.Time) {
	cut := cfg.Duration > 0 && !cfg.Loop
	if cfg.Window.IsZero() && !cut {
		return nil
	}
	return func(first time.Time) (from, to time.Time) {
		from, to = first, time.Unix(1<<62, 0) // no end but the run's
		if !cfg.Window.IsZero() {
			from, to = cfg.Window.Resolve(first)
		}
		if d := cfg.timelineOptions().Recorded(cfg.Duration + cfg.Jitter); cut && d < to.Sub(from) {
			to = from.Add(d)
		}
		return from, to
	}
}

// timelineMemory is what a recorded run holds of its trace in memory
// before it spills (session.Options.Memory).
const timelineMemory = 48 << 20

// maxTimeline is the longest a recorded timeline runs without being told
// to: a week.
const maxTimeline = 7 * 24 * time.Hour

// RunScenario runs one scenario and writes
// Out/{scenario}_{timestamp}.parquet (never over an existing file). ctx
// and stop are Run's.
func RunScenario(ctx, stop context.Context, name string, cfg Config) (*Summary, error) {
	if err := cfg.Check(name); err != nil {
		return nil, err
	}
	sc, _ := scenario.Lookup(name)
	target, _ := ParseTarget(cfg.Host)
	target.APIKey = cfg.APIKey
	if cfg.Headers != nil {
		target.Headers = cfg.Headers
	}
	users, d := cmp.Or(cfg.Users, sc.Users), cmp.Or(cfg.Duration, sc.Duration)
	timeout := cmp.Or(cfg.Timeout, 30*time.Second)
	pool := users
	if sc.Timeline() {
		pool = 1000 // copies of sessions, as many at once as the timeline has
	}
	client, err := NewClient(ClientOptions{Timeout: timeout, Users: pool, CACert: cfg.CACert, Insecure: cfg.Insecure, ServerName: target.TLSServerName()})
	if err != nil {
		return nil, &OptionError{Option: "CACert", Err: err}
	}
	defer client.CloseIdleConnections()
	http1 := cfg.Client != ClientNetHTTP
	// Before the sessions are prepared: their wire form is made with them.
	target.ownClient = http1 && target.Base.Scheme == "http"
	target.Protocol = cfg.Protocol
	opts := cfg.Sessions
	opts.Ready = target.PrepareSession // each request prepared once per session read
	var answers *Answers
	if !cfg.NoCompare {
		answers = NewAnswers()
		if !cfg.CompareAll {
			answers.Limit(CompareShare)
		}
		opts.Observe = answers.Learn // every recorded answer, as the trace is read
	}
	if sc.Timeline() {
		opts.Slice = cfg.timelineReads()
		// The timeline reads its sessions once, in order, a second
		// ahead: a trace larger than this is streamed from the spilled
		// file rather than held whole (with its prepared requests, that
		// was twice the trace's size for the whole run).
		opts.Memory = cmp.Or(opts.Memory, timelineMemory)
	}
	sessions, st, err := session.OpenContext(stop, opts, cfg.Traces...) // Ctrl-C while a large trace is read
	if err != nil {
		return nil, err
	}
	defer sessions.Close()
	if answers != nil {
		answers.Keys(sessions, st.Files)
	}
	if sc.Mix == scenario.MixWrite && st.Writes == 0 {
		return nil, fmt.Errorf("%s needs write requests, and the traces %q have none", sc.Name, cfg.Traces)
	}
	if sc.Mix == scenario.MixRead && st.Reads == 0 {
		return nil, fmt.Errorf("%s needs read requests, and the traces %q have none", sc.Name, cfg.Traces)
	}
	plan := Plan{
		Scenario: sc.Name, Sessions: sessions, Users: users, Mix: sc.Mix, Duration: d, Rate: cfg.Rate,
		Timeout: timeout, Seed: cfg.Seed, Target: target, Client: client, HTTP1: http1, Shard: cfg.Shard, StartAt: cfg.StartAt, Aborts: cfg.Aborts, NoCorrelate: cfg.NoCorrelate, Answers: answers,
		Control: cfg.Control, Observe: cfg.Observe, Streams: cfg.Streams,
	}
	if cfg.Shadow != "" {
		shadow, err := ParseTarget(cfg.Shadow)
		if err != nil {
			return nil, &OptionError{Option: "Shadow", Err: err}
		}
		shadow.APIKey, shadow.Headers, shadow.Protocol = target.APIKey, target.Headers, target.Protocol
		plan.Shadow = shadow
	}
	var ramp time.Duration // users start over it (a ramp shape)
	if sc.Timeline() {
		if plan.Timeline, plan.Duration, err = timelinePlan(sessions, cfg); err != nil {
			return nil, err
		}
		d = plan.Duration
	} else {
		ramp = cfg.Ramp
		if ramp == 0 && sc.Shape == "ramp" {
			ramp = min(d/10, 30*time.Second) // users start over the first tenth
		}
		if plan.Shape, err = scenario.NewShape(sc.Shape, users, d, ramp); err != nil {
			return nil, err
		}
		plan.Pacing, _ = scenario.NewPacing(cmp.Or(cfg.Pacing, sc.Pacing), cmp.Or(cfg.Speed, 1))
		plan.FirstWait = ThinkTime(sessions)
		plan.Walk = NewWalk(sessions, sc.Mix, plan.Pacing, plan.FirstWait, users, cfg.Seed)
	}
	if err := plan.check(); err != nil {
		return nil, err
	}
	out := cmp.Or(cfg.Out, "results")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, fmt.Errorf("create results directory: %w", err)
	}
	// Shards of one run share its id: the start they wait for names it.
	at := cmp.Or(cfg.StartAt, time.Now())
	w, run, err := createResults(out, fmt.Sprintf("%s_%s", sc.Name, at.UTC().Format("20060102T150405Z")), cfg.Shard)
	if err != nil {
		return nil, err
	}
	plan.Run = run
	if cfg.Metrics != nil {
		plan.Metrics = NewMetrics(run)
		cfg.Metrics.Serve(plan.Metrics)
	}
	if cfg.Shard.Split() {
		w.SetMeta(results.MetaShard, cfg.Shard.String())
	}
	if sc.Shape != "ramp" {
		ramp = 0 // a spike has no ramp
	}
	for k, v := range runMeta(cfg, sc, &plan, st, ramp) {
		w.SetMeta(k, v)
	}
	var progress func(Progress)
	if cfg.Progress != nil {
		progress = func(p Progress) { cfg.Progress(sc.Name, d, p) }
	}
	sum, err := Run(ctx, stop, plan, w, progress)
	if err != nil {
		w.Abort()
		if sum != nil {
			sum.Results = "" // nothing is left of it
		}
		return sum, err
	}
	if sum.Requests == 0 && sum.Abandoned == 0 {
		// Nothing was sent: no file, rather than an empty one that would
		// stand for a run among the others.
		w.Abort()
		sum.Results = ""
		return sum, nil
	}
	if sum.Stopped != "" {
		w.SetMeta(results.MetaStopped, sum.Stopped)
	}
	if sum.OverloadedSeconds > 0 {
		w.SetMeta(results.MetaOverloaded, strconv.Itoa(sum.OverloadedSeconds))
		w.SetMeta(results.MetaOverloadCause, OverloadCauses(sum.Overload))
	}
	if sum.Unsent > 0 {
		w.SetMeta(results.MetaUnsent, strconv.FormatInt(sum.Unsent, 10))
	}
	if sum.Timeline != nil {
		w.SetMeta(results.MetaTimeline, sum.Timeline.Encode())
	}
	if len(sum.Changes) > 0 {
		w.SetMeta(results.MetaChanges, results.EncodeChanges(sum.Changes))
	}
	// Every completed request is in the file, even after Ctrl-C.
	if err := w.Close(); err != nil {
		return sum, err
	}
	return sum, nil
}

// createResults creates the results file of a run named base in dir,
// never over an existing one: when two unsharded runs start in the same
// second, the later one's id gets a suffix (_2, _3, ...). Shards share
// their run's id, so a shard whose file exists is refused.
func createResults(dir, base string, sh shard.Shard) (*results.Writer, string, error) {
	for n := 1; ; n++ {
		run := base
		if n > 1 {
			run = fmt.Sprintf("%s_%d", base, n)
		}
		w, err := results.Create(filepath.Join(dir, sh.FileName(run)+".parquet"), results.WriterOptions{FlushInterval: -1})
		switch {
		case err == nil:
			return w, run, nil
		case !errors.Is(err, os.ErrExist):
			return nil, "", err
		case sh.Split():
			return nil, "", fmt.Errorf("%w: shard %s of this run has already been run here (same start time and shard)", err, sh)
		case n >= 1000:
			return nil, "", err
		}
	}
}

// OverloadCauses says how long each cause made the generator the
// bottleneck, most first: "replay's own CPU 12 s, sends late 3 s".
func OverloadCauses(m map[string]int) string {
	causes := make([]string, 0, len(m))
	for c := range m {
		causes = append(causes, c)
	}
	slices.SortFunc(causes, func(a, b string) int { return m[b] - m[a] })
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = fmt.Sprintf("%s %d s", c, m[c])
	}
	return strings.Join(parts, ", ")
}

// NewWalk lays out how users walk through the sessions of src
// (session.Walk). Users are placed as the recorded users were spread:
// each session weighs the time a user spends in it. With recorded pacing
// that is its recorded length (and the wait before its first request,
// firstWait); with any other pacing every request takes about as long,
// and a session weighs the requests mix sends of it. (Weighing by
// requests under recorded pacing put as many users in a session of 201
// requests a minute as in six of 31 a minute: it then sent 88% of the
// requests instead of its recorded 54%.)
func NewWalk(src *session.Source, mix scenario.MixKind, pacing scenario.Pacing, firstWait time.Duration, users int, seed uint64) *session.Walk {
	_, recorded := pacing.(scenario.Recorded)
	weights := make([]int, src.Len())
	for i := range weights {
		in := src.Info(i)
		kept := in.Requests
		switch mix {
		case scenario.MixRead:
			kept = in.Reads
		case scenario.MixWrite:
			kept = min(in.Requests, in.Writes+in.Writes/4) // every write, reads up to a fifth
		}
		if !recorded {
			weights[i] = kept
			continue
		}
		// Milliseconds of the session, for the share mix keeps of it.
		length := float64((in.Last.Sub(in.First) + firstWait).Milliseconds())
		weights[i] = int(math.Ceil(length * float64(kept) / float64(max(in.Requests, 1))))
	}
	return session.NewWalk(weights, users, seed)
}

// ThinkTime is how long recorded pacing waits before a session's first
// request, where the trace has no gap to give: the median over sessions
// of their mean gap between requests, or a second when no session has
// two requests.
func ThinkTime(src *session.Source) time.Duration {
	var gaps []time.Duration
	for i := range src.Len() {
		if in := src.Info(i); in.Requests > 1 {
			gaps = append(gaps, in.Last.Sub(in.First)/time.Duration(in.Requests-1))
		}
	}
	if len(gaps) == 0 {
		return time.Second
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}
