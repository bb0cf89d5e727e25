package replay

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

// Plan is one run.
type Plan struct {
	// Run is the run id ({scenario}_{timestamp}); Scenario the scenario name.
	Run, Scenario string
	// Sessions are what virtual users replay; Order the seeded order in
	// which they take them (session.Order over Sessions.Len()).
	Sessions *session.Source
	Order    []int
	// Users is the number of virtual users at full load.
	Users int
	// Shape says how many are active over time (closed model).
	Shape scenario.Shape
	// Pacing is the wait between a user's requests (closed model).
	Pacing scenario.Pacing
	// Mix names which requests are sent (scenario.NewMix).
	Mix string
	// Duration is how long requests are started.
	Duration time.Duration
	// Rate, when positive, runs the open model: this many requests a second
	// whatever the server does.
	Rate float64
	// Timeout bounds each request, body included.
	Timeout time.Duration
	// Seed seeds the pacing draws.
	Seed uint64
	// Target is where requests go.
	Target *Target
	// Client sends the requests (NewClient); nil: one from Timeout and Users.
	Client *http.Client
	// Shard and Shards: this process runs shard Shard (from 0) of Shards
	// (0 or 1: not sharded). Closed model: the users v with v % Shards ==
	// Shard; open model: the scheduled requests i with i % Shards == Shard.
	// Together the shards send the requests of one unsharded run.
	Shard, Shards int
	// StartAt, when set, is when the run starts (every shard alike): Run
	// waits for it, and the open model's schedule counts from it.
	StartAt time.Time
}

// mine says whether user (or request) i belongs to this shard.
func (p *Plan) mine(i int) bool { return p.Shards <= 1 || i%p.Shards == p.Shard }

// maxInFlight bounds the open model's requests in flight: past it, a
// scheduled request is recorded as failed at once instead of piling up
// goroutines (the generator is the bottleneck then, and says so).
const maxInFlight = 20000

// Progress is a snapshot of a run, for the live line.
type Progress struct {
	// Elapsed is the time since the start.
	Elapsed time.Duration
	// Users is the number of active virtual users (in flight, open model).
	Users int
	// Requests and Failures count what completed; RPS is the rate over
	// the last second.
	Requests, Failures int64
	RPS                float64
	// P95 is the 95th percentile latency over the last second.
	P95 time.Duration
	// Late is the 99th percentile of how late requests left against their
	// schedule over the last second (open model): when it grows, the
	// generator cannot keep up and the figures are not the server's.
	Late time.Duration
	// CPU is the share of this machine's cores the process used over the
	// last second (0-1).
	CPU float64
	// Overloaded says the generator itself was the bottleneck over the
	// last second: CPU near saturation, or sends running late.
	Overloaded bool
}

// Summary is a finished run.
type Summary struct {
	Progress
	// Results is the file written.
	Results string
	// P50, P95, P99 are latency percentiles over the whole run.
	P50, P95, P99 time.Duration
	// RateLimited counts 429s.
	RateLimited int64
	// Stopped says why the run ended before its duration, if it did.
	Stopped string
	// OverloadedSeconds counts the seconds the generator was the
	// bottleneck: figures measured then are not the server's.
	OverloadedSeconds int
}

type engine struct {
	p        Plan
	client   *http.Client
	reqCtx   context.Context // cancelled only on a hard stop
	results  chan results.Result
	start    time.Time
	active   atomic.Int32
	inflight atomic.Int32

	failOnce sync.Once
	failed   chan struct{} // closed by fail
	failErr  error

	mu                        sync.Mutex // guards the histograms and counters below
	window, all, lateWindow   *hdrhistogram.Histogram
	requests, failures, limit int64
	lastCPU                   time.Duration
	lastTick                  time.Time
	overloaded                int
}

// Run replays p, writing a row per request to out, until the duration is
// over or stop is closed (then requests in flight finish, within the
// timeout). Cancelling ctx abandons requests in flight. progress, if set,
// is called every second.
func Run(ctx context.Context, p Plan, out *results.Writer, stop <-chan struct{}, progress func(Progress)) (*Summary, error) {
	if p.Sessions == nil || p.Sessions.Len() == 0 {
		return nil, errors.New("replay: no sessions to replay")
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Second
	}
	if !p.StartAt.IsZero() {
		// Every shard waits for the same instant; one that comes late
		// starts at once, and its open-model sends show as late.
		select {
		case <-time.After(time.Until(p.StartAt)):
		case <-stop:
			return &Summary{Results: out.Path(), Stopped: "interrupted before --start-at"}, nil
		case <-ctx.Done():
			return &Summary{Results: out.Path(), Stopped: "interrupted before --start-at"}, nil
		}
	}
	e := &engine{
		p:          p,
		reqCtx:     ctx,
		results:    make(chan results.Result, 4096),
		failed:     make(chan struct{}),
		window:     hdrhistogram.New(1, int64(time.Hour), 3),
		all:        hdrhistogram.New(1, int64(time.Hour), 3),
		lateWindow: hdrhistogram.New(1, int64(time.Hour), 3),
	}
	if e.client = p.Client; e.client == nil {
		var err error
		if e.client, err = NewClient(ClientOptions{Timeout: p.Timeout, Users: p.Users}); err != nil {
			return nil, err
		}
	}
	defer e.client.CloseIdleConnections()

	// The writer goroutine owns out; it ends when results is closed. If a
	// row cannot be written (a full disk), the run stops: sending load
	// whose results are lost is worse than stopping.
	var writeErr error
	written := make(chan struct{})
	writeFailed := make(chan struct{})
	go func() {
		defer close(written)
		for r := range e.results {
			if writeErr == nil {
				if writeErr = out.Write(&r); writeErr != nil {
					close(writeFailed)
				}
			}
		}
	}()

	e.start = time.Now()
	if !p.StartAt.IsZero() && e.start.Sub(p.StartAt) < time.Second {
		e.start = p.StartAt
	}
	e.lastTick, e.lastCPU = e.start, cpuTime()
	end := e.start.Add(p.Duration)
	done := make(chan struct{}) // closed when the run stops starting requests
	stopped := ""
	go func() {
		select {
		case <-stop:
			stopped = "interrupted"
		case <-ctx.Done():
			stopped = "interrupted"
		case <-writeFailed:
			stopped = "results could not be written"
		case <-e.failed:
			stopped = "a session could not be read"
		case <-time.After(time.Until(end)):
		}
		close(done)
	}()

	tickDone := make(chan struct{})
	var tickers sync.WaitGroup
	if progress != nil {
		tickers.Add(1)
		go func() {
			defer tickers.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					progress(e.snapshot(true))
				case <-tickDone:
					return
				}
			}
		}()
	}

	var wg sync.WaitGroup
	if p.Rate > 0 {
		e.open(done, &wg)
	} else {
		e.closed(done, &wg)
	}
	wg.Wait()
	close(tickDone)
	tickers.Wait()
	close(e.results)
	<-written
	s := &Summary{Progress: e.snapshot(false), Results: out.Path(), Stopped: stopped}
	e.mu.Lock()
	s.OverloadedSeconds = e.overloaded
	s.P50 = time.Duration(e.all.ValueAtQuantile(50))
	s.P95 = time.Duration(e.all.ValueAtQuantile(95))
	s.P99 = time.Duration(e.all.ValueAtQuantile(99))
	s.RateLimited = e.limit
	e.mu.Unlock()
	if writeErr == nil && e.failErr != nil {
		return s, e.failErr
	}
	return s, writeErr
}

// closed runs virtual users: every 100ms the shape says how many should be
// active; slots start or stop to match. A stopped slot finishes its request
// in flight; started again, it goes on with its own sequence of sessions.
func (e *engine) closed(done <-chan struct{}, wg *sync.WaitGroup) {
	type slot struct {
		stop chan struct{}
		next int // the slot's next session number
	}
	slots := make([]*slot, e.p.Users)
	var slotsMu sync.Mutex
	running := 0 // slots 0..running-1 are active (those of other shards run elsewhere)
	stopSlot := func(v int) {
		if s := slots[v]; s != nil && s.stop != nil {
			close(s.stop)
			s.stop = nil
		}
	}
	adjust := func() {
		want := min(e.p.Shape.Users(time.Since(e.start)), e.p.Users)
		slotsMu.Lock()
		defer slotsMu.Unlock()
		for ; running < want; running++ {
			v := running
			if !e.p.mine(v) {
				continue
			}
			if slots[v] == nil {
				slots[v] = &slot{}
			}
			s := slots[v]
			s.stop = make(chan struct{})
			wg.Add(1)
			e.active.Add(1)
			go func(stop chan struct{}) {
				defer wg.Done()
				defer e.active.Add(-1)
				e.user(v, &s.next, stop, done, &slotsMu)
			}(s.stop)
		}
		for ; running > want; running-- {
			stopSlot(running - 1)
		}
	}
	adjust()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			slotsMu.Lock()
			for ; running > 0; running-- {
				stopSlot(running - 1)
			}
			slotsMu.Unlock()
			return
		case <-t.C:
			adjust()
		}
	}
}

// user is one virtual user: it replays its sessions in order, each request
// after the pacing's wait, until stopped.
func (e *engine) user(v int, next *int, stop, done <-chan struct{}, mu *sync.Mutex) {
	rng := rand.New(rand.NewPCG(e.p.Seed, uint64(v)+1))
	for {
		mu.Lock()
		k := *next
		*next++
		mu.Unlock()
		s, err := e.p.Sessions.Session(session.Nth(e.p.Order, e.p.Users, v, k))
		if err != nil {
			e.fail(err)
			return
		}
		mix, _ := scenario.NewMix(e.p.Mix)
		var prev time.Time
		sent := 0
		for i := range s.Requests {
			r := &s.Requests[i]
			if !mix.Keep(r.Kind) {
				continue
			}
			var gap time.Duration
			if !prev.IsZero() {
				gap = r.TS.Sub(prev)
			}
			prev = r.TS
			if !sleep(e.p.Pacing.Wait(gap, rng), stop, done) {
				return
			}
			prep, prepErr := e.p.Target.prepared(s, i)
			e.send(v, r, prep, prepErr, time.Now(), false)
			sent++
		}
		if sent == 0 && !sleep(10*time.Millisecond, stop, done) {
			// A session with nothing this mix sends: do not spin.
			return
		}
	}
}

// sleep waits d unless stop or done comes first; it says whether to go on.
func sleep(d time.Duration, stop, done <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	case <-done:
		return false
	default:
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-done:
		return false
	}
}

// waitUntil returns at t, within microseconds, unless done comes first.
// Timers wake up as much as a millisecond late, so it sleeps until a
// millisecond before t and yields the processor until t: the open model's
// schedule is only as good as this.
func waitUntil(t time.Time, done <-chan struct{}) bool {
	if d := time.Until(t); d > 2*time.Millisecond && !sleep(d-time.Millisecond, nil, done) {
		return false
	}
	for {
		left := time.Until(t)
		if left <= 0 {
			return true
		}
		select {
		case <-done:
			return false
		default:
		}
		// Yield while there is time for others to run; spin the last
		// 100µs, or a yield could hand the processor away past t.
		if left > 100*time.Microsecond {
			runtime.Gosched()
		}
	}
}

// open sends requests on a fixed schedule: request i leaves at
// start + i/Rate whatever became of the earlier ones, and its latency
// counts from that moment, so a stalled server shows in the figures
// (no coordinated omission). Requests are the sessions' in recorded
// order, taken round the sessions in the seeded order.
func (e *engine) open(done <-chan struct{}, wg *sync.WaitGroup) {
	mix, _ := scenario.NewMix(e.p.Mix)
	// A cursor over the sessions in the seeded order, read one at a time.
	var s *session.Session
	oi, j, empty := -1, 0, 0
	next := func() *session.Request {
		for {
			for s != nil && j < len(s.Requests) {
				r := &s.Requests[j]
				j++
				if mix.Keep(r.Kind) {
					empty = 0
					return r // request j-1 of s
				}
			}
			if empty++; empty > len(e.p.Order) {
				return nil // no session has a request this mix sends
			}
			oi = (oi + 1) % len(e.p.Order)
			var err error
			if s, err = e.p.Sessions.Session(e.p.Order[oi]); err != nil {
				e.fail(err)
				return nil
			}
			j = 0
		}
	}
	defer steadyGC()()
	interval := float64(time.Second) / e.p.Rate
	for i := 0; ; i++ {
		r := next()
		if r == nil {
			return
		}
		if !e.p.mine(i) {
			continue // another shard sends it
		}
		prep, prepErr := e.p.Target.prepared(s, j-1)
		scheduled := e.start.Add(time.Duration(float64(i) * interval))
		if !waitUntil(scheduled, done) {
			return
		}
		if e.inflight.Load() >= maxInFlight {
			e.record(results.Result{Run: e.p.Run, Scenario: e.p.Scenario, Shard: int32(e.p.Shard), Scheduled: scheduled.UTC(), Sent: time.Now().UTC(), Error: "generator overloaded: too many requests in flight",
				TraceID: r.ID, Method: r.Method, Name: r.Route, RecordedStatus: r.Status})
			continue
		}
		e.inflight.Add(1)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer e.inflight.Add(-1)
			e.send(i%max(e.p.Users, 1), r, prep, prepErr, scheduled, true)
		}(i)
	}
}

// steadyGC makes garbage collections rarer for the open model and returns
// what undoes it. On one core a collection's mark phase holds the
// processor for milliseconds a few times a second at 5,000 requests/s
// (the live heap is small, so the default target is reached fast), and
// every send due meanwhile leaves late: that was most of the lateness p99.
// Ten times the live heap between collections, within a 1 GiB soft limit,
// costs memory a load generator has. GOGC or GOMEMLIMIT set by the user win.
func steadyGC() (undo func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(1000)
	limit := debug.SetMemoryLimit(1 << 30)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}

// fail stops the run for an error that is not a request's (a session that
// cannot be read back): Run returns it.
func (e *engine) fail(err error) {
	e.failOnce.Do(func() {
		e.failErr = err
		close(e.failed)
	})
}

// send sends one request and records its result.
func (e *engine) send(v int, r *session.Request, prep *Prepared, prepErr error, scheduled time.Time, open bool) {
	res := results.Result{
		Run: e.p.Run, Scenario: e.p.Scenario, Shard: int32(e.p.Shard), VU: int32(v), TraceID: r.ID, Method: r.Method, Name: r.Route,
		Scheduled: scheduled.UTC(), ReqSize: int64(len(r.Body)), RecordedStatus: r.Status,
		Users: e.active.Load(),
	}
	if open {
		res.Users = e.inflight.Load()
	}
	if prepErr != nil {
		res.Sent, res.Error = time.Now().UTC(), "cannot replay: "+prepErr.Error()
		if !open {
			res.Scheduled = res.Sent
		}
		e.record(res)
		return
	}
	req := prep.Request(e.reqCtx)
	res.URL = prep.URLString()
	var first atomic.Int64 // set on the transport's goroutine
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first.Store(time.Now().UnixNano()) },
	}))
	sent := time.Now()
	resp, err := e.client.Do(req)
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res.Status, res.RespSize = int32(resp.StatusCode), n
	}
	end := time.Now()
	if err != nil {
		res.Status, res.Error = 0, Classify(err)
	}
	res.Sent = sent.UTC()
	from := sent
	if open {
		from = scheduled
	} else {
		// A virtual user means to send when it sends: sent - scheduled is
		// then zero, and latency minus it is the service time in both models.
		res.Scheduled = res.Sent
	}
	res.LatencyNanos = int64(end.Sub(from))
	if f := first.Load(); f != 0 {
		res.TTFBNanos = f - sent.UnixNano()
	}
	e.record(res)
}

func (e *engine) record(res results.Result) {
	e.mu.Lock()
	e.requests++
	if res.Failed() {
		e.failures++
	}
	if res.RateLimited() {
		e.limit++
	}
	lat := max(res.LatencyNanos, 1)
	e.window.RecordValue(lat)
	e.all.RecordValue(lat)
	if late := res.Sent.Sub(res.Scheduled); e.p.Rate > 0 && late > 0 {
		e.lateWindow.RecordValue(int64(late)) // only the open model has a schedule
	}
	e.mu.Unlock()
	e.results <- res
}

// snapshot reads the counters; reset starts a new one-second window.
func (e *engine) snapshot(reset bool) Progress {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := Progress{Elapsed: time.Since(e.start), Users: int(e.active.Load()), Requests: e.requests, Failures: e.failures}
	if e.p.Rate > 0 {
		p.Users = int(e.inflight.Load())
	}
	if reset {
		now, cpu := time.Now(), cpuTime()
		if wall := now.Sub(e.lastTick); wall > 0 {
			p.CPU = float64(cpu-e.lastCPU) / float64(wall) / float64(runtime.NumCPU())
		}
		e.lastTick, e.lastCPU = now, cpu
		p.RPS = float64(e.window.TotalCount())
		p.P95 = time.Duration(e.window.ValueAtQuantile(95))
		p.Late = time.Duration(e.lateWindow.ValueAtQuantile(99))
		p.Overloaded = p.CPU > 0.9 || p.Late > 10*time.Millisecond
		if p.Overloaded {
			e.overloaded++
		}
		e.window.Reset()
		e.lateWindow.Reset()
	} else if secs := p.Elapsed.Seconds(); secs > 0 {
		p.RPS = float64(e.requests) / secs
		p.P95 = time.Duration(e.all.ValueAtQuantile(95))
	}
	return p
}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
