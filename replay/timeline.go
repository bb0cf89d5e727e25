package replay

import (
	"container/heap"
	"errors"
	"fmt"
	"iter"
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
// ready: reading is never what makes a start late.
const lookahead = time.Second

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
	for {
		// Read what may start within the lookahead.
		now := time.Since(st.start)
		for {
			at, ok := earliest()
			if !ok || at >= p.Duration || at > now+lookahead {
				break
			}
			i, s, ok := pull()
			if !ok || i != next {
				if err := failed(); err != nil {
					st.fail(fmt.Errorf("%w: %w", ErrSession, err))
				} else {
					st.fail(fmt.Errorf("%w: session %d came where %d was due", ErrSession, i, next))
				}
				return
			}
			next++
			st.timeline.add(s, round)
			for c := range tp.Copies(s.Key) {
				if at := tp.Offset(s.Key, s.Requests[0].TS.Sub(tp.From), tp.Period, c, round); at < p.Duration && p.Shard.Mine(vu) {
					heap.Push(starts, copyStart{at: at, s: s, vu: vu, seq: vu})
				}
				vu++
			}
		}
		if starts.Len() == 0 {
			at, ok := earliest()
			if !ok || at >= p.Duration {
				return // nothing more starts before the end
			}
			if !sleep(st.starting, time.Until(st.start.Add(at-lookahead))) {
				return
			}
			continue
		}
		first := (*starts)[0]
		wake := first.at
		if at, ok := earliest(); ok && at < p.Duration && at-lookahead < wake {
			wake = max(at-lookahead, now) // read ahead before this start
		}
		if !sleep(st.starting, time.Until(st.start.Add(wake))) {
			return
		}
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
	}
}

// replayCopy sends the requests of one copy of a session on its timeline.
func (st *runState) replayCopy(c copyStart) {
	p := st.plan
	tp := p.Timeline
	s := c.s
	// Times on the timeline are wall-clock times (Round(0) drops the
	// monotonic reading): a row's Scheduled - BehindNanos is then its
	// time on the timeline to the nanosecond.
	start := st.start.Round(0).Add(c.at)
	end := st.start.Round(0).Add(p.Duration)
	first := s.Requests[0].TS
	values := st.send.values(s)
	// answered[i] closes when request i's answer is read; at[i] is then when.
	answered := make([]chan struct{}, len(s.Requests))
	at := make([]time.Time, len(s.Requests))
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for j := range s.Requests {
		r := &s.Requests[j]
		due := start.Add(tp.Scale(r.TS.Sub(first)))
		if !r.TS.Before(tp.To) || !due.Before(end) {
			return // cut at the slice's end, or after the run's
		}
		ready := due
		for i := range j {
			q := &s.Requests[i]
			recordedEnd := q.TS.Add(time.Duration(q.DurationNanos))
			if recordedEnd.After(r.TS) {
				continue // the recorded client sent r before this answer came
			}
			select {
			case <-answered[i]:
			case <-st.starting.Done():
				st.countUnsent(s, j, due, start, end)
				return
			}
			// Its time on the timeline, or that answer's if later. (Not
			// that answer's plus the recorded gap after it: every answer
			// a little slower than recorded would then push the rest of
			// the session later and later, off the timeline.)
			if at[i].After(ready) {
				ready = at[i]
			}
		}
		rq := st.send.request(s, j, values)
		rq.behind = ready.Sub(due)
		if !sleep(st.starting, time.Until(ready)) {
			st.countUnsent(s, j, due, start, end)
			return
		}
		answered[j] = make(chan struct{})
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			st.send.send(c.vu, st.live.users(), rq, ready)
			at[j] = time.Now()
			close(answered[j])
		}()
	}
}

// countUnsent counts the requests of s from j on that were due before
// the end and were not sent: the run ended first.
func (st *runState) countUnsent(s *session.Session, j int, due, start, end time.Time) {
	tp := st.plan.Timeline
	first := s.Requests[0].TS
	n := int64(0)
	for ; j < len(s.Requests); j++ {
		r := &s.Requests[j]
		if !r.TS.Before(tp.To) || !start.Add(tp.Scale(r.TS.Sub(first))).Before(end) {
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
	start, end := st.start.Round(0).Add(c.at), st.start.Round(0).Add(st.plan.Duration)
	first := c.s.Requests[0].TS
	for j := range c.s.Requests {
		r := &c.s.Requests[j]
		due := start.Add(tp.Scale(r.TS.Sub(first)))
		if !r.TS.Before(tp.To) || !due.Before(end) {
			return
		}
		rq := request{r: r, seq: j}
		st.send.skip(c.vu, st.live.users(), &rq, due, why)
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
