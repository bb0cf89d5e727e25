// Package replay re-issues recorded sessions against a target as virtual
// users (the closed model) or on a fixed schedule (the open model), and
// streams one results row per request.
//
// A run's lifecycle is two contexts: the one passed to Run as ctx, whose
// end abandons the requests in flight (a second Ctrl-C), and stop, a
// child of it, whose end stops starting requests (the first Ctrl-C). Run
// derives from stop the context its model starts requests under, which
// also ends at the run's duration, when results cannot be written, when a
// session cannot be read, or when the target answers nothing: its cause
// is why the run stopped.
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/shard"
)

// Plan is one run, every value checked and parsed (RunScenario makes one
// from a Config).
type Plan struct {
	// Run is the run id ({scenario}_{timestamp}); Scenario the scenario name.
	Run, Scenario string
	// Sessions are what virtual users replay; Walk the seeded order in
	// which each user takes them (NewWalk).
	Sessions *session.Source
	Walk     *session.Walk
	// Users is the number of virtual users at full load, over all shards.
	Users int
	// Shape says how many are active over time (closed model).
	Shape scenario.Shape
	// Pacing is the wait between a user's requests (closed model);
	// FirstWait the recorded gap passed to it before a session's first
	// request (ThinkTime).
	Pacing    scenario.Pacing
	FirstWait time.Duration
	// Mix says which requests are sent.
	Mix scenario.MixKind
	// Duration is how long requests are started.
	Duration time.Duration
	// Rate, when positive, runs the open model: this many requests a second
	// whatever the server does.
	Rate float64
	// Timeout bounds each request, body included.
	Timeout time.Duration
	// Seed seeds the pacing draws.
	Seed uint64
	// Target is where requests go; Client sends them (NewClient when
	// nil), but to plain http:// targets when HTTP1 is set.
	Target *Target
	Client *http.Client
	// HTTP1 sends to plain http:// targets with replay's own HTTP/1.1
	// client instead of Client (--client auto, RunScenario's default):
	// each request's bytes made once, its answer read by
	// httpstream.ResponseReader. Client still sends to https:// ones.
	HTTP1 bool
	// Streams is how many virtual users share one HTTP/2 connection, for
	// the requests that go over HTTP/2 (Target.Protocol; 0:
	// DefaultStreams). They are sent by clients made from Client.
	Streams int
	// dial, when set, is how that client connects (a benchmark's
	// connections that answer at once).
	dial func(ctx context.Context, addr string, deadline time.Time) (net.Conn, error)
	// Shard is the part of the run this process sends. Closed model: the
	// users v with v mod N = I; open model: the scheduled requests i with
	// i mod N = I. Together the shards send the requests of one
	// unsharded run.
	Shard shard.Shard
	// StartAt, when set, is when the run starts (every shard alike): Run
	// waits for it, and the open model's schedule counts from it (from
	// the real start, for a shard that comes more than a second late).
	StartAt time.Time
	// Aborts are thresholds checked every second on the figures so far
	// (once each one's AbortAfter has passed): the first that fails stops
	// the run.
	Aborts []analysis.Threshold
	// NoCorrelate sends every recorded value as recorded: no value is
	// carried from a live response, none made anew, no cookie jar.
	NoCorrelate bool
	// Answers, when set, compares every live answer with the recorded
	// one (the results' compared and diff columns).
	Answers *Answers
	// Shadow, when set, is sent every request too, at the same time as
	// Target, and its answers are measured and compared (the results'
	// shadow_* columns): the same load on both.
	Shadow *Target
	// Timeline, when set, replays the recorded timeline (the recorded
	// scenario) instead of virtual users or a rate.
	Timeline *TimelinePlan
	// Metrics, when set, counts every row for Prometheus as it is
	// written (NewMetrics; a MetricsEndpoint serves them).
	Metrics *Metrics
	// Control, when set, changes the users (closed model) or the rate
	// (open model) while the run runs; the changes are the Summary's.
	Control *Control
	// Observe, when set, is given every row as it is written, on the
	// writer's goroutine (it must not keep the pointer): a live view of
	// the run (the web UI's table) without reading the file back.
	Observe func(*results.Result)
}

// Limits below which a value cannot mean what it says.
const (
	// MinTimeout: no HTTP exchange completes in less.
	MinTimeout = time.Millisecond
	// MinDuration: a run shorter than this sends next to nothing.
	MinDuration = 100 * time.Millisecond
)

// check says what is wrong with p, if anything.
func (p *Plan) check() error {
	switch {
	case p.Sessions == nil || p.Sessions.Len() == 0:
		return errors.New("no sessions to replay")
	case p.Target == nil:
		return errors.New("no target")
	case p.Timeout < MinTimeout:
		return tooShortTimeout(p.Timeout)
	case p.Duration < MinDuration:
		return tooShortRun(p.Duration)
	case p.Timeline != nil:
		return p.checkTimeline()
	case p.Walk == nil || p.Walk.Sessions() != p.Sessions.Len():
		return errors.New("the plan's walk does not match its sessions")
	case p.Rate < 0:
		return fmt.Errorf("a rate cannot be negative (%g)", p.Rate)
	case p.Rate == 0 && (p.Shape == nil || p.Pacing == nil):
		return errors.New("the closed model needs a shape and a pacing")
	case p.Rate == 0 && p.Walk.Users() != p.Users:
		return errors.New("the plan's walk is not for its users")
	case p.Rate == 0 && p.Shard.Of(p.Users) == 0:
		return tooFewUsers(p.Users, p.Shard)
	}
	if _, err := scenario.ParseMix(string(p.Mix)); err != nil {
		return err
	}
	return nil
}

// tooShortTimeout and tooShortRun say a value is under its limit.
func tooShortTimeout(d time.Duration) error {
	return fmt.Errorf("a request timeout of %s is shorter than any request takes: give at least %s", d, MinTimeout)
}

func tooShortRun(d time.Duration) error {
	return fmt.Errorf("a run of %s would send next to nothing: give at least %s", d, MinDuration)
}

// tooFewUsers says a shard would have no user of the closed model.
func tooFewUsers(users int, sh shard.Shard) error {
	return fmt.Errorf("%d users cannot be split into %d shards: shard %d would have none (use at least %d users)", users, sh.Count, sh.Index, sh.Count)
}

// Why a run stopped starting requests: the cause of its context.
var (
	// ErrInterrupted is the cause to give stop on a first Ctrl-C.
	ErrInterrupted = errors.New("interrupted")
	// ErrAbandoned is the cause to give ctx on a second one: requests
	// in flight are abandoned, and their rows say so.
	ErrAbandoned = errors.New("interrupted; requests in flight abandoned")
	// errDuration is the end of a run that went its whole length.
	errDuration = errors.New("duration reached")
	// ErrResults says results could not be written: load whose results
	// are lost is not sent.
	ErrResults = errors.New("results could not be written")
	// ErrSession says a session could not be read back.
	ErrSession = errors.New("a session could not be read")
	// ErrUnreachable says the target answered nothing.
	ErrUnreachable = errors.New("the target answered no request")
	// ErrAborted says an abort threshold failed.
	ErrAborted = errors.New("aborted by a threshold")
)

// Summary is a finished run.
type Summary struct {
	Progress
	// Run is the run id; Results the file written.
	Run, Results string
	// Stopped says why the run ended before its duration ("" when it
	// went its whole length).
	Stopped string
	// Overload counts, by cause, the seconds the generator was the
	// bottleneck (figures measured then are not the server's);
	// OverloadedSeconds adds them up.
	Overload          map[string]int
	OverloadedSeconds int
	// Unsent counts open-model requests scheduled before the end that
	// could not be sent by then (the generator fell behind its schedule);
	// in the recorded timeline, requests due before the end that were
	// not sent by then (also when they waited for a late answer).
	Unsent int64
	// Timeline is, for the recorded scenario, the recorded arrivals the
	// run replayed (results.MetaTimeline).
	Timeline *results.Timeline
	// Abandoned counts requests in flight when ctx ended: they are rows
	// marked abandoned, not failures.
	Abandoned int64
	// Changes are the changes a Control made while the run ran.
	Changes []results.Change
}

// Run replays p, writing a row per request to out, until the duration is
// over or stop ends (then requests in flight finish, within the
// timeout). Ending ctx, stop's parent, abandons requests in flight.
// progress, if set, is called every second. When it returns, every
// goroutine it started has ended and every request it sent is a row.
func Run(ctx, stop context.Context, p Plan, out *results.Writer, progress func(Progress)) (*Summary, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	// Before the start (and --start-at's wait): it collects once.
	switch {
	case p.Rate > 0:
		defer steadyGC(1000, 1<<30, 0)()
	case p.Timeline != nil:
		// The live heap is the sessions in flight and the index (12 MB
		// at the start, 30-60 MB during the run at a million sessions
		// and 5,000 requests/s): four times it, within 192 MiB, keeps
		// the process under 256 MB (bench/timeline.sh: 229-251 MB
		// without the limit).
		defer steadyGC(300, 192<<20, 4)()
		defer spareProcs(2)()
	}
	if !p.StartAt.IsZero() {
		// Every shard waits for the same instant. One that comes less
		// than a second late keeps the shared schedule (its first sends
		// show as late); later than that, it starts its own at once.
		t := time.NewTimer(time.Until(p.StartAt))
		select {
		case <-t.C:
		case <-stop.Done():
			t.Stop()
			return &Summary{Run: p.Run, Results: out.Path(), Stopped: context.Cause(stop).Error() + " before --start-at"}, nil
		}
	}
	var control *controlled
	if p.Control != nil {
		var err error
		if control, err = p.Control.attach(&p); err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		defer p.Control.detach()
	}
	client := p.Client
	if client == nil {
		var err error
		if client, err = NewClient(ClientOptions{Timeout: p.Timeout, Users: p.Users}); err != nil {
			return nil, err
		}
		defer client.CloseIdleConnections()
	}
	start := time.Now()
	if !p.StartAt.IsZero() && start.Sub(p.StartAt) < time.Second {
		start = p.StartAt
	}
	open := p.Rate > 0
	live := newMeter(start, open, open || p.Timeline != nil)
	end, cancelEnd := context.WithCancelCause(stop)
	defer cancelEnd(nil)
	starting, cancelDeadline := context.WithDeadlineCause(end, start.Add(p.Duration), errDuration)
	defer cancelDeadline()

	// The writer goroutine owns out; it ends when rows is closed. If a
	// row cannot be written (a full disk), the run stops: sending load
	// whose results are lost is worse than stopping.
	// It also keeps the figures abort thresholds are checked on.
	var series *timelineSeries
	var steps *results.Timeline // the aborter's: the same steps, none of the counts the model is adding
	if p.Timeline != nil {
		series = newTimelineSeries(start, p.Duration, p.Timeline)
		steps = &results.Timeline{Start: series.t.Start, Step: series.t.Step, Recorded: make([]int64, len(series.t.Recorded)), Amplify: series.t.Amplify, Speed: series.t.Speed}
	}
	rows := make(chan results.Result, 4096)
	var writeErr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		ab := newAborter(p.Aborts, start, steps)
		// One variable for every row: none of its users keeps the
		// pointer, and a new one each row went to the heap.
		var r results.Result
		for r = range rows {
			if writeErr == nil {
				if writeErr = out.Write(&r); writeErr != nil {
					cancelEnd(fmt.Errorf("%w: %w", ErrResults, writeErr))
				}
			}
			if why := ab.add(&r); why != "" {
				cancelEnd(fmt.Errorf("%w: %s", ErrAborted, why))
			}
			if p.Metrics != nil {
				p.Metrics.observe(&r)
			}
			if p.Observe != nil {
				p.Observe(&r)
			}
		}
	}()

	// The ticker goroutine draws the live line and stops a run whose
	// target answers nothing; it ends with ticking.
	ticking, stopTicking := context.WithCancel(context.Background())
	var tickers sync.WaitGroup
	tickers.Add(1)
	go func() {
		defer tickers.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				pr := live.tick()
				if why := live.unreachable(); why != "" {
					cancelEnd(fmt.Errorf("%w: %s", ErrUnreachable, why))
				}
				if progress != nil {
					progress(pr)
				}
				if p.Metrics != nil {
					p.Metrics.tick(pr)
				}
			case <-ticking.Done():
				return
			}
		}
	}()

	pool := p.Users
	if p.Timeline != nil {
		pool = 1000 // as RunScenario's Client: as many sessions at once as the timeline has
	}
	var fast *fastClient
	if p.HTTP1 {
		fast = newFastClient(ctx, ClientOptions{Timeout: p.Timeout, Users: pool})
		fast.dial = p.dial
		defer fast.close()
	}
	h2 := newH2Clients(client, pool, cmp.Or(p.Streams, DefaultStreams))
	defer h2.close()
	snd := &sender{client: client, fast: fast, h2: h2, target: p.Target, abandon: ctx, fromSchedule: open || p.Timeline != nil, live: live, rows: rows, correlate: !p.NoCorrelate, answers: p.Answers, shadow: p.Shadow,
		base: results.Result{Run: p.Run, Scenario: p.Scenario, Shard: int32(p.Shard.Index)}}
	if p.Metrics != nil {
		users := live.users
		p.Metrics.users.Store(&users)
		snd.inflight = &p.Metrics.inflight
		defer p.Metrics.tick(Progress{}) // the run is over: not overloaded
	}
	st := &runState{plan: &p, starting: starting, fail: cancelEnd, send: snd, live: live, start: start, timeline: series, control: control}
	for i := range p.Sessions.Len() {
		in := p.Sessions.Info(i)
		st.writes, st.reads = st.writes+in.Writes, st.reads+in.Reads
	}
	var m model = &closedModel{}
	switch {
	case open:
		m = &openModel{}
	case p.Timeline != nil:
		m = &timelineModel{}
	}
	m.run(st)

	stopTicking()
	tickers.Wait()
	close(rows)
	<-written
	s := &Summary{Progress: live.total(), Run: p.Run, Results: out.Path(), Unsent: st.unsent, Abandoned: live.abandoned.Load()}
	if p.Control != nil {
		s.Changes = p.Control.Changes()
	}
	if st.timeline != nil {
		s.Timeline = &st.timeline.t
	}
	s.Overload, s.OverloadedSeconds = live.overloadSeconds()
	if cause := context.Cause(starting); cause != nil && !errors.Is(cause, errDuration) {
		s.Stopped = cause.Error()
		if s.Abandoned > 0 && errors.Is(context.Cause(ctx), ErrAbandoned) {
			s.Stopped = fmt.Sprintf("interrupted; %d requests in flight abandoned", s.Abandoned)
		}
	}
	// A session that cannot be read stops the run like any other cause:
	// what was sent is kept, and the stop says why. Only results that
	// cannot be written are an error: there is no file to keep.
	return s, writeErr
}

// A model starts requests until st.starting ends, and returns once every
// request it started is a row.
type model interface {
	run(st *runState)
}

// runState is what a model works with.
type runState struct {
	plan     *Plan
	starting context.Context         // ends when no more requests may start
	fail     context.CancelCauseFunc // stops the run for an error that is not a request's
	send     *sender
	live     *meter
	start    time.Time
	mu       sync.Mutex // guards unsent in the timeline model
	unsent   int64      // set by the open and timeline models
	timeline *timelineSeries
	control  *controlled // nil without a Control
	// writes and reads count the trace's requests, for the write mix.
	writes, reads int
}

// newMix is the mix of one user (or of the open model's schedule).
func (st *runState) newMix(rng *rand.Rand) scenario.Mix {
	return st.plan.Mix.New(st.writes, st.reads, rng)
}
