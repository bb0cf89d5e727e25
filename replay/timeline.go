package replay

import (
	"container/heap"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/timeline"
)

// TimelinePlan is the recorded scenario's part of a Plan: which slice of
// the trace is replayed, and how.
type TimelinePlan struct {
	timeline.Options
	// From..To is the recorded slice replayed; Lo..Hi the sessions of
	// Plan.Sessions that started in it (their requests from To on are
	// cut, as a recording of the slice would have cut them).
	From, To time.Time
	Lo, Hi   int
	// Loop starts the slice over each time it ends, until the duration;
	// Period is the recorded time from one round's start to the next.
	Loop   bool
	Period time.Duration
}

// timelineModel replays the recorded timeline: each copy of each recorded
// session starts at its recorded offset from the slice's start (divided
// by the speed, plus its jitter), whatever the target does, and is a
// virtual user of its own (its own cookies and carried values). Within a
// copy, a request leaves at its recorded offset from the session's start,
// divided by the speed, or, when an answer its recorded client had by
// then (of an earlier request of the session) has not come yet, as soon
// as it comes: a request that may carry a value from that answer cannot
// go before it. Requests the recorded client sent before an answer came
// do not wait for it.
// Sessions are read in order of their first request, as they come due:
// the trace is never held whole.
type timelineModel struct{}

// lookahead is how far ahead of its start a session is read and made
// ready: reading is never what makes a start late. maxReadAhead bounds
// the sessions read at once, between starts.
const (
	lookahead    = time.Second
	maxReadAhead = 1000
	readSlice    = time.Millisecond
)

// copyStart is one copy of a session, due to start at from the run's start.
type copyStart struct {
	at      time.Duration
	s       *session.Session
	vu, seq int // vu: the copy's number over every shard, in the order laid out
}

type startHeap []copyStart

func (h startHeap) Len() int { return len(h) }
func (h startHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h startHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *startHeap) Push(x any)   { *h = append(*h, x.(copyStart)) }
func (h *startHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = copyStart{}
	*h = old[:len(old)-1]
	return x
}

// due is when request j of copy c is due, from the run's start, and
// whether it is sent at all: before the slice's end as recorded, and
// due before until.
func (tp *TimelinePlan) due(c copyStart, j int, until time.Duration) (time.Duration, bool) {
	r := &c.s.Requests[j]
	at := c.at + tp.Scale(r.TS.Sub(c.s.Requests[0].TS))
	return at, r.TS.Before(tp.To) && at < until
}

func (timelineModel) run(st *runState) {
	p := st.plan
	tp := p.Timeline
	var copies sync.WaitGroup
	defer copies.Wait()

	// The sessions of the slice, round after round; next is the index
	// of the next one to read.
	round, next := 0, tp.Lo
	var pull func() (int, *session.Session, bool)
	var stopPull func()
	var failed func() error
	open := func() {
		var seq iter.Seq2[int, *session.Session]
		seq, failed = p.Sessions.From(tp.Lo)
		pull, stopPull = iter.Pull2(seq)
	}
	open()
	defer func() { stopPull() }()
	roundAt := func(k int) time.Duration { return tp.Offset("", 0, tp.Period, 0, k) }
	// earliest is when the next session to read may start at the earliest.
	earliest := func() (time.Duration, bool) {
		if next >= tp.Hi {
			if !tp.Loop || roundAt(round+1) >= p.Duration {
				return 0, false
			}
			round, next = round+1, tp.Lo
			stopPull()
			open()
		}
		return roundAt(round) + tp.Scale(p.Sessions.Info(next).First.Sub(tp.From)) - tp.Jitter, true
	}
	starts := &startHeap{}
	vu := 0
	// read reads the next session, lays out its copies and says whether
	// it could.
	read := func() bool {
		i, s, ok := pull()
		if !ok || i != next {
			if err := failed(); err != nil {
				st.fail(fmt.Errorf("%w: %w", ErrSession, err))
			} else {
				st.fail(fmt.Errorf("%w: session %d came where %d was due", ErrSession, i, next))
			}
			return false
		}
		next++
		st.timeline.add(s, round)
		for c := range tp.Copies(s.Key) {
			if at := tp.Offset(s.Key, s.Requests[0].TS.Sub(tp.From), tp.Period, c, round); at < p.Duration && p.Shard.Mine(vu) {
				heap.Push(starts, copyStart{at: at, s: s, vu: vu, seq: vu})
			}
			vu++
		}
		return true
	}
	defer func() {
		// Stopped early (Ctrl-C, a failure, a threshold) or woken late:
		// what was due by then and not started is counted, not lost.
		until := min(p.Duration, time.Since(st.start))
		for starts.Len() > 0 {
			if c := heap.Pop(starts).(copyStart); c.at < until {
				st.countUnsent(c, 0)
			}
		}
		for k := 0; k < maxReadAhead; k++ {
			if at, ok := earliest(); !ok || at >= until || !read() {
				break
			}
			for starts.Len() > 0 {
				if c := heap.Pop(starts).(copyStart); c.at < until {
					st.countUnsent(c, 0)
				}
			}
		}
	}()
	for st.starting.Err() == nil {
		// Copies due start first: reading never makes a start late.
		for starts.Len() > 0 && (*starts)[0].at <= time.Since(st.start) {
			c := heap.Pop(starts).(copyStart)
			if st.live.active.Load() >= maxInFlight {
				st.skipCopy(c, "generator overloaded: too many sessions at once")
				continue
			}
			st.live.active.Add(1)
			copies.Add(1)
			go func() {
				defer copies.Done()
				defer st.live.active.Add(-1)
				st.replayCopy(c)
			}()
		}
		// Then read what may start within the lookahead, in slices of
		// work short enough not to hold up the copies' sends (on one
		// core, a goroutine runs until it blocks or 10 ms pass).
		now, began := time.Since(st.start), time.Now()
		for k := 0; k < maxReadAhead; k++ {
			at, ok := earliest()
			if !ok || at >= p.Duration || at > now+lookahead {
				break
			}
			if !read() {
				return
			}
			if time.Since(began) >= readSlice || (starts.Len() > 0 && (*starts)[0].at <= time.Since(st.start)) {
				break
			}
		}
		wake, more := time.Duration(0), false
		if starts.Len() > 0 {
			wake, more = (*starts)[0].at, true
		}
		if at, ok := earliest(); ok && at < p.Duration && (!more || at-lookahead < wake) {
			wake, more = at-lookahead, true // read ahead before this start
		}
		if !more {
			return // nothing more starts before the end
		}
		if d := time.Until(st.start.Add(wake)); d <= 0 {
			runtime.Gosched() // more to do at once: let the copies run first
		} else if !sleep(st.starting, d) {
			return
		}
	}
}

// replayCopy sends the requests of one copy of a session on its timeline.
// Times are offsets from the run's start: sleeps are on the monotonic
// clock, and a row's Scheduled is the wall-clock start plus its offset,
// so that Scheduled - BehindNanos is its time on the timeline to the
// nanosecond.
func (st *runState) replayCopy(c copyStart) {
	p := st.plan
	tp := p.Timeline
	s := c.s
	wall := st.start.Round(0)
	values := st.send.values(s)
	// answered[i] closes when request i's answer is read; at[i] is then
	// when, from the run's start.
	answered := make([]chan struct{}, len(s.Requests))
	at := make([]time.Duration, len(s.Requests))
	// The answers a request waits for are those whose recorded end came
	// before it was sent: as requests are in time order, that set only
	// grows. pending holds the requests sent and not yet waited for, by
	// recorded end; answeredBy is when the latest one waited for came.
	pending := &endHeap{}
	var answeredBy time.Duration
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for j := range s.Requests {
		r := &s.Requests[j]
		due, ok := tp.due(c, j, p.Duration)
		if !ok {
			return // cut at the slice's end, or after the run's
		}
		for pending.Len() > 0 && !(*pending)[0].end.After(r.TS) {
			i := heap.Pop(pending).(pendingAnswer).i
			select {
			case <-answered[i]:
			case <-st.starting.Done():
				st.countUnsent(c, j)
				return
			}
			// Its time on the timeline, or that answer's if later. (Not
			// that answer's plus the recorded gap after it: every answer
			// a little slower than recorded would then push the rest of
			// the session later and later, off the timeline.)
			answeredBy = max(answeredBy, at[i])
		}
		ready := max(due, answeredBy)
		rq := st.send.request(s, j, values)
		rq.behind = ready - due
		if !sleep(st.starting, time.Until(st.start.Add(ready))) {
			st.countUnsent(c, j)
			return
		}
		// A recorded request that got no answer held up nothing.
		if r.Status != 0 || r.DurationNanos != 0 {
			heap.Push(pending, pendingAnswer{end: r.TS.Add(time.Duration(r.DurationNanos)), i: j})
		}
		answered[j] = make(chan struct{})
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			st.send.send(c.vu, st.live.users(), rq, wall.Add(ready))
			at[j] = time.Since(st.start)
			close(answered[j])
		}()
	}
}

// pendingAnswer is a request of a copy whose answer a later one may wait
// for, by its recorded end.
type pendingAnswer struct {
	end time.Time
	i   int
}

type endHeap []pendingAnswer

func (h endHeap) Len() int { return len(h) }
func (h endHeap) Less(i, j int) bool {
	return h[i].end.Before(h[j].end) || (h[i].end.Equal(h[j].end) && h[i].i < h[j].i)
}
func (h endHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)   { *h = append(*h, x.(pendingAnswer)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// countUnsent counts the requests of copy c from j on that were due
// before the run stopped (its end, or earlier when it was stopped) and
// were not sent.
func (st *runState) countUnsent(c copyStart, j int) {
	tp := st.plan.Timeline
	until := min(st.plan.Duration, time.Since(st.start))
	n := int64(0)
	for ; j < len(c.s.Requests); j++ {
		if _, ok := tp.due(c, j, until); !ok {
			break
		}
		n++
	}
	st.mu.Lock()
	st.unsent += n
	st.mu.Unlock()
}

// skipCopy records the requests of a copy the generator could not start.
func (st *runState) skipCopy(c copyStart, why string) {
	tp := st.plan.Timeline
	for j := range c.s.Requests {
		due, ok := tp.due(c, j, st.plan.Duration)
		if !ok {
			return
		}
		rq := request{r: &c.s.Requests[j], seq: j}
		st.send.skip(c.vu, st.live.users(), &rq, st.start.Round(0).Add(due), why)
	}
}

// timelineSeries counts the recorded requests the run replays, by step of
// the run's time, before amplification: the report puts them beside what
// was sent.
type timelineSeries struct {
	tp   *TimelinePlan
	step time.Duration
	t    results.Timeline
}

func newTimelineSeries(start time.Time, d time.Duration, tp *TimelinePlan) *timelineSeries {
	step := time.Second
	for d/step >= results.MaxTimelineSteps {
		step += time.Second
	}
	n := int((d + step - 1) / step)
	return &timelineSeries{tp: tp, step: step, t: results.Timeline{Start: start.UTC(), Step: int(step / time.Second),
		Recorded: make([]int64, n), Amplify: tp.Amplify, Speed: tp.Speed}}
}

// add counts the requests of s in round k of the slice.
func (ts *timelineSeries) add(s *session.Session, k int) {
	round := ts.tp.Offset("", 0, ts.tp.Period, 0, k)
	for j := range s.Requests {
		r := &s.Requests[j]
		if !r.TS.Before(ts.tp.To) {
			return
		}
		if i := int((round + ts.tp.Scale(r.TS.Sub(ts.tp.From))) / ts.step); i < len(ts.t.Recorded) {
			ts.t.Recorded[i]++
		}
	}
}

// checkTimeline says what is wrong with a plan of the recorded timeline.
func (p *Plan) checkTimeline() error {
	tp := p.Timeline
	switch {
	case p.Rate != 0:
		return errors.New("the recorded timeline has no rate: its sessions start when they were recorded")
	case tp.Lo < 0 || tp.Hi > p.Sessions.Len() || tp.Lo >= tp.Hi:
		return fmt.Errorf("the recorded timeline's sessions %d..%d are not of the trace's %d", tp.Lo, tp.Hi, p.Sessions.Len())
	case !tp.To.After(tp.From):
		return errors.New("the recorded timeline's slice ends before it starts")
	}
	return tp.Options.Check()
}
