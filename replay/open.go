package replay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/replaykit/replaykit/session"
)

// maxInFlight bounds the open model's requests in flight: past it, a
// scheduled request is recorded as failed at once instead of piling up
// goroutines (the generator is the bottleneck then, and says so).
const maxInFlight = 20000

// openModel sends requests on a fixed schedule: request i leaves at
// start + i/Rate whatever became of the earlier ones, and its latency
// counts from that moment, so a stalled server shows in the figures (no
// coordinated omission). Requests are the sessions' in recorded order,
// the sessions taken in the walk's order. Only requests scheduled before
// the end are sent, and the run ends at its duration (or its stop)
// however far behind the schedule it is: what was due by then and not
// sent is counted (runState.unsent), not sent late.
type openModel struct{}

func (openModel) run(st *runState) {
	p := st.plan
	// One mix and one draw for the whole schedule, the same in every shard.
	mix := st.newMix(rand.New(rand.NewPCG(p.Seed, 0)))
	// A cursor over the sessions in the walk's order, read one at a time.
	var s *session.Session
	var values *sessionValues // s's, shared by its requests in flight
	place, j, empty := -1, 0, 0
	next := func() (*session.Session, int, bool) {
		for {
			for s != nil && j < len(s.Requests) {
				j++
				if mix.Keep(s.Requests[j-1].Kind) {
					empty = 0
					return s, j - 1, true
				}
			}
			if empty++; empty > p.Walk.Sessions() {
				return nil, 0, false // no session has a request this mix sends
			}
			place++
			var err error
			if s, err = p.Sessions.Session(p.Walk.Place(place)); err != nil {
				st.fail(fmt.Errorf("%w: %w", ErrSession, err))
				return nil, 0, false
			}
			j = 0
			values = st.send.values(s)
		}
	}
	var inflight sync.WaitGroup
	defer inflight.Wait()
	// Request i leaves at base + (i - from) × interval: base is the start
	// and from 0, until a Control changes the rate. Then the schedule
	// goes on at the new rate from the change, or from the last request
	// when that one was due after the change (it was on its way out):
	// it never goes back.
	interval := float64(time.Second) / p.Rate
	base, from := st.start, 0
	var change *rateChange
	var prev time.Time // request i-1's time
	rebase := func(ch *rateChange, i int) time.Time {
		change, interval = ch, float64(time.Second)/ch.rate
		base, from = ch.at, i
		if i > 0 && !prev.Before(ch.at) {
			base, from = prev, i-1
		}
		return base.Add(time.Duration(float64(i-from) * interval))
	}
	end := st.start.Add(p.Duration)
	done := st.starting.Done()
	for i := 0; ; i++ {
		if ch := st.control.rateChanged(); ch != change {
			rebase(ch, i)
		}
		scheduled := base.Add(time.Duration(float64(i-from) * interval))
		if !scheduled.Before(end) {
			if st.control != nil && !waitChange(st, change, end) {
				i--
				continue // a new rate: the schedule goes on from now
			}
			return // the schedule ends with the run
		}
		sess, ri, ok := next()
		if !ok {
			return
		}
		if !p.Shard.Mine(i) {
			prev = scheduled
			continue // another shard sends it
		}
		rq := st.send.request(sess, ri, values)
		// The loop checks for the end at every request: a run far behind
		// its schedule never waits, and must still end on time.
		ended := false
		select {
		case <-done:
			ended = true
		default:
			for st.control != nil && !waitChange(st, change, scheduled) {
				// A new rate: request i goes on the new schedule.
				scheduled = rebase(st.control.rateChanged(), i)
			}
			ended = !scheduled.Before(end) || !waitUntil(scheduled, st.starting)
		}
		prev = scheduled
		if ended {
			// Requests due by now (by the end, once it has passed) that
			// were not sent: the generator was behind its schedule.
			until := end
			if now := time.Now(); now.Before(end) {
				until = now
			}
			st.unsent = unsentFrom(i, p, base.Add(-time.Duration(float64(from)*interval)), interval, until)
			return
		}
		users := st.live.inflight.Load()
		if users >= maxInFlight {
			st.send.skip(i%max(p.Users, 1), users, &rq, scheduled, "generator overloaded: too many requests in flight")
			continue
		}
		st.live.inflight.Add(1)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer st.live.inflight.Add(-1)
			st.send.send(i%max(p.Users, 1), users+1, rq, scheduled)
		}()
	}
}

// waitChange waits, while a Control may change the rate, until a
// millisecond before t (waitUntil takes the rest) or a change other than
// seen: it says whether t is still the time (false: the rate changed).
// It looks every 100 ms, so a change made during a long gap (a rate of
// one request a minute) takes effect within that.
func waitChange(st *runState, seen *rateChange, t time.Time) bool {
	for {
		if st.control.rateChanged() != seen {
			return false
		}
		d := time.Until(t) - time.Millisecond
		if d <= 0 {
			return true
		}
		if !sleep(st.starting, min(d, 100*time.Millisecond)) {
			return true // the run ends: the caller sees it
		}
	}
}

// unsentFrom counts this shard's scheduled requests from i on that fall
// before until: the ones a run that fell behind could not send in time.
func unsentFrom(i int, p *Plan, start time.Time, interval float64, until time.Time) int64 {
	at := func(j int) time.Time { return start.Add(time.Duration(float64(j) * interval)) }
	// n is the first request scheduled at or after until: counted, not
	// walked to (a million a second for an hour is too many to walk).
	n := max(i, int(math.Ceil(float64(until.Sub(start))/interval)))
	for n > i && !at(n-1).Before(until) {
		n--
	}
	for at(n).Before(until) {
		n++
	}
	return int64(p.Shard.Of(n) - p.Shard.Of(i))
}

// waitUntil returns at t, within microseconds, unless ctx ends first.
// Timers wake up as much as a millisecond late, so it sleeps until a
// millisecond before t and yields the processor until t: the open model's
// schedule is only as good as this.
func waitUntil(t time.Time, ctx context.Context) bool {
	if d := time.Until(t); d > 2*time.Millisecond && !sleep(ctx, d-time.Millisecond) {
		return false
	}
	done := ctx.Done()
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
		// Yield, never spin: senders on this processor run between the
		// checks. A pure spin over the last 100 µs held the only core
		// for all of every interval at 10,000 requests/s (100 µs apart):
		// senders starved, in flight grew to thousands (perf: 54% of the
		// core in this loop's clock reads).
		runtime.Gosched()
	}
}

// steadyGC makes garbage collections rarer for the models that send on a
// schedule (open, recorded) and returns what undoes it. On one core a
// collection's mark phase holds the processor for milliseconds a few times
// a second at 5,000 requests/s (the live heap is small, so the default
// target is reached fast), and every send due meanwhile leaves late: that
// was most of the lateness p99. pct times the live heap between
// collections, within a soft limit of limit (or times the live heap at
// the start, when more: a run that holds much from the start must not
// collect without end), costs memory a load generator has. GOGC or
// GOMEMLIMIT set by the user win.
//
// First the garbage of reading the trace is collected and given back:
// left, the first target would be pct times a heap still full of it (the
// recorded run's RSS peaked at 313 MB there, against 250 MB after).
func steadyGC(pct int, limit int64, times uint64) (undo func()) {
	debug.FreeOSMemory()
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // once, before the start: it stops the world
	old := debug.SetGCPercent(pct)
	oldLimit := debug.SetMemoryLimit(max(limit, int64(min(times*ms.HeapAlloc, 1<<40))))
	return func() {
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
	}
}

// spareProcs runs n more Go processors than the process has (unless the
// user set GOMAXPROCS) and returns what undoes it. A goroutine that holds
// a processor for milliseconds (the results writer compressing a row
// group, the collector's dedicated mark worker, which takes a whole
// processor of two for each 15-25 ms mark phase) then shares a core with
// the others by the kernel's time slices, rather than making every send
// due meanwhile wait behind it, up to Go's 10 ms preemption. Measured on
// the recorded timeline at 5,000 requests/s on two cores beside nginx
// (bench/timeline.sh): start lateness p99 2.5-3.8 ms with four processors
// against 7.5-14.5 ms with two, in alternating runs.
func spareProcs(n int) (undo func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	old := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(old + n)
	return func() { runtime.GOMAXPROCS(old) }
}
