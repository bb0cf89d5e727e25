package analysis

import (
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

// A run of the recorded scenario replays the recorded timeline: each
// session starts at its recorded offset (divided by --speed), --amplify
// times over. Its results files' footers hold that timeline
// (results.Timeline: the recorded requests per step, before
// amplification, the same in every shard), and each row says how late
// its request started against it:
//
//	its time on the timeline      ready (Scheduled)        left (Sent)
//	         |------ BehindNanos ------|---- the generator ----|
//	         |------------ lateness against the timeline ------|
//
// BehindNanos is the target's doing: the request waited for an earlier
// answer of its session that came late. Sent - Scheduled is the
// generator's own lateness. A session's first request (Seq 0) waits for
// no answer: its lateness is how late the session started.

// behindOver is how far behind the timeline a request counts as behind
// (OverloadedLate, the lateness that marks a generator overloaded).
const behindOver = int64(OverloadedLate * float64(time.Millisecond))

// Timeline is how a run of the recorded scenario kept to its recorded
// timeline: what it sent in each step beside what the recording had, and
// how late its requests started.
type Timeline struct {
	// Start is the run's start, from which the steps count; Step is their
	// width.
	Start time.Time
	Step  time.Duration
	// Amplify and Speed are the run's --amplify and --speed.
	Amplify, Speed float64
	// Recorded counts the recorded requests in each step (before
	// amplification: the run means to send Recorded × Amplify). Sent
	// counts the requests sent in each step, by their send time, all
	// shards together; abandoned requests and requests never sent are in
	// no figure of the timeline.
	Recorded, Sent []int64
	// Planned is what the run meant to send, the sum of Recorded times
	// Amplify, rounded. SentTotal is every request sent, Outside those of
	// them sent before Start or past the last step.
	Planned, SentTotal, Outside int64
	// Correlation is Pearson's r between Recorded and Sent over the steps
	// both cover (those from the first send to the last, within the
	// recording's), CorrelatedSteps how many they are. It is NaN when it
	// means nothing: fewer than two steps, or a series that does not vary.
	Correlation     float64
	CorrelatedSteps int
	// Late, Behind and Generator hold, in microseconds, for every
	// request sent: how late it left against the timeline (Sent -
	// Scheduled + BehindNanos), how much of that was its session waiting
	// for late answers (BehindNanos), and how much the generator's own
	// lateness (Sent - Scheduled). Starts holds how late each session
	// (each copy) started: the lateness of its first request.
	Late, Behind, Generator, Starts *hdrhistogram.Histogram
	// BehindOver counts the requests sent more than OverloadedLate behind
	// the timeline.
	BehindOver int64
}

// SentShare is SentTotal over Planned (0 when nothing was planned).
func (t *Timeline) SentShare() float64 { return ratio(t.SentTotal, t.Planned) }

// BehindOverShare is the share of requests sent more than OverloadedLate
// behind the timeline.
func (t *Timeline) BehindOverShare() float64 { return ratio(t.BehindOver, t.SentTotal) }

// LateP99 is the requests' lateness against the timeline at p99, in
// milliseconds.
func (t *Timeline) LateP99() float64 { return ms(QuantileOf(t.Late, 99)) }

// CannotKeepUp says who could not keep to the timeline when the start
// lateness p99 is past OverloadedLate: "target" when its late answers made
// most of it (the sessions waited for them), "generator" when the
// generator's own lateness did; "" when the run kept to its timeline.
func (t *Timeline) CannotKeepUp() string {
	switch {
	case t.LateP99() <= OverloadedLate:
		return ""
	case QuantileOf(t.Behind, 99) >= QuantileOf(t.Generator, 99):
		return "target"
	}
	return "generator"
}

// timelineCounts accumulates a timeline's figures from the rows of the
// files that hold it.
type timelineCounts struct {
	tl   *results.Timeline
	step time.Duration
	// sent counts sends per step of tl; outside those before tl.Start or
	// past its last step; total all of them. lo and hi are the first and
	// last step a request was sent in (outside ones too), when total > 0.
	sent           []int64
	outside, total int64
	lo, hi         int64

	late, behind, generator, starts *hdrhistogram.Histogram
	behindOver                      int64
}

func newTimelineCounts(tl *results.Timeline) *timelineCounts {
	return &timelineCounts{tl: tl, step: time.Duration(tl.Step) * time.Second, sent: make([]int64, len(tl.Recorded)),
		late: newHist(), behind: newHist(), generator: newHist(), starts: newHist()}
}

// empty is a new accumulator on the same timeline (a worker's).
func (c *timelineCounts) empty() *timelineCounts { return newTimelineCounts(c.tl) }

// notSent says replay never sent r: it records a request it could not
// send (too many in flight, or one it could not build) with its reason
// as the error, no status and no time taken, where a request sent, even
// one refused at once, took some.
func notSent(b *results.Batch, i int) bool {
	return b.Status[i] == 0 && b.Error[i] != "" && b.LatencyNanos[i] == 0 && b.TTFBNanos[i] == 0
}

// lateMicros turns a lateness in nanoseconds (at most a few hours) into
// a histogram value: on time is 0, and at most an hour.
func lateMicros(ns int64) int64 { return min((max(ns, 0)+500)/1000, histMax) }

// add counts row i of b.
func (c *timelineCounts) add(b *results.Batch, i int) {
	if notSent(b, i) {
		return
	}
	sent := b.Sent[i]
	c.count(time.Duration(since(sent, c.tl.Start.UnixNano())), 1)
	// Each part at most an hour, so that their sum cannot overflow.
	gen := min(max(since(sent, b.Scheduled[i]), 0), int64(time.Hour))
	behind := min(max(b.BehindNanos[i], 0), int64(time.Hour))
	c.late.RecordValue(lateMicros(gen + behind))
	c.behind.RecordValue(lateMicros(behind))
	c.generator.RecordValue(lateMicros(gen))
	if b.Seq[i] == 0 {
		c.starts.RecordValue(lateMicros(gen + behind))
	}
	if behind > behindOver {
		c.behindOver++
	}
}

// count adds n requests sent at since from the timeline's start.
func (c *timelineCounts) count(since time.Duration, n int64) {
	k := floorDiv(int64(since), int64(c.step))
	if c.total == 0 {
		c.lo, c.hi = k, k
	}
	c.lo, c.hi = min(c.lo, k), max(c.hi, k)
	c.total += n
	if k >= 0 && k < int64(len(c.sent)) {
		c.sent[k] += n
	} else {
		c.outside += n
	}
}

// sameBase says o counts in the same steps as c.
func (c *timelineCounts) sameBase(o *timelineCounts) bool {
	return c.tl.Start.Equal(o.tl.Start) && c.step == o.step
}

// merge adds what o counted. On another timeline's steps (files that
// disagree), each of o's steps goes into the step of c its start falls
// in, and what o counted outside its steps stays outside.
func (c *timelineCounts) merge(o *timelineCounts) {
	if o.total == 0 {
		return
	}
	step := func(k int64) int64 { return k }
	if !c.sameBase(o) {
		step = func(k int64) int64 {
			return floorDiv(int64(o.tl.Start.Add(time.Duration(k)*o.step).Sub(c.tl.Start)), int64(c.step))
		}
	}
	for k, n := range o.sent {
		if j := step(int64(k)); n > 0 && j >= 0 && j < int64(len(c.sent)) {
			c.sent[j] += n
		} else {
			c.outside += n
		}
	}
	c.outside += o.outside
	lo, hi := step(o.lo), step(o.hi)
	if c.total == 0 {
		c.lo, c.hi = lo, hi
	}
	c.lo, c.hi = min(c.lo, lo), max(c.hi, hi)
	c.total += o.total
	c.late.Merge(o.late)
	c.behind.Merge(o.behind)
	c.generator.Merge(o.generator)
	c.starts.Merge(o.starts)
	c.behindOver += o.behindOver
}

// report is the figures so far (its histograms copies when copied).
func (c *timelineCounts) report(copied bool) *Timeline {
	t := &Timeline{Start: c.tl.Start, Step: c.step, Amplify: c.tl.Amplify, Speed: c.tl.Speed,
		Recorded: append([]int64(nil), c.tl.Recorded...), Sent: append([]int64(nil), c.sent...),
		SentTotal: c.total, Outside: c.outside, Late: c.late, Behind: c.behind, Generator: c.generator, Starts: c.starts,
		BehindOver: c.behindOver, Correlation: math.NaN()}
	if copied {
		t.Late, t.Behind, t.Generator, t.Starts = c.late.Clone(), c.behind.Clone(), c.generator.Clone(), c.starts.Clone()
	}
	var recorded float64
	for _, n := range t.Recorded {
		recorded += float64(n)
	}
	t.Planned = int64(math.Round(recorded * t.Amplify))
	if c.total > 0 {
		lo, hi := max(c.lo, 0), min(c.hi, int64(len(t.Recorded))-1)
		if lo <= hi {
			t.CorrelatedSteps = int(hi - lo + 1)
			t.Correlation = pearson(t.Recorded[lo:hi+1], t.Sent[lo:hi+1])
		}
	}
	return t
}

// pearson is the correlation coefficient of two series of one length:
// NaN for fewer than two values or a series that does not vary.
func pearson(xs, ys []int64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += float64(xs[i])
		my += float64(ys[i])
	}
	mx, my = mx/n, my/n
	var sxx, syy, sxy float64
	for i := range xs {
		dx, dy := float64(xs[i])-mx, float64(ys[i])-my
		sxx, syy, sxy = sxx+dx*dx, syy+dy*dy, sxy+dx*dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// fileTimeline reads the timeline in a file's footer, if it has one. The
// first becomes the report's; a later one that starts elsewhere is noted
// (the first is used). It says whether the file's rows count in the
// timeline figures. A damaged timeline is noted, not an error: the rows
// are whole and every other figure stands; only the comparison with the
// recording is lost, for that file's requests.
func (a *Aggregate) fileTimeline(info results.RunInfo, name string) bool {
	tl, err := info.Timeline, info.TimelineErr
	if tl == nil && err == nil {
		return false
	}
	if err == nil {
		err = checkTimeline(tl)
	}
	if err != nil {
		a.timelineNotes = append(a.timelineNotes, fmt.Sprintf("%s: %v: its requests are in no timeline figure", name, err))
		return false
	}
	c := newTimelineCounts(tl)
	if a.timeline == nil {
		a.timeline, a.timelineFrom = c, name
		return true
	}
	a.noteDisagreement(a.timeline, c, name)
	return true
}

// Bounds of a timeline's values beyond results.ParseTimeline's, so that
// the figures' arithmetic holds: steps of a day at most (20,000 of them
// are 55 years), a plan of at most 10^15 requests.
const (
	maxTimelineStep    = 24 * 3600
	maxTimelinePlanned = 1e15
)

// checkTimeline says what makes tl unusable that ParseTimeline lets by.
func checkTimeline(tl *results.Timeline) error {
	damaged := func(why string, args ...any) error {
		return fmt.Errorf("the results file's %s is damaged: %s", results.MetaTimeline, fmt.Sprintf(why, args...))
	}
	if tl.Step > maxTimelineStep {
		return damaged("steps of %d s", tl.Step)
	}
	// Rows' times are nanoseconds since 1970 in an int64: a start outside
	// them (before 1678, after 2262) is no run's.
	if ns := tl.Start.UnixNano(); !time.Unix(0, ns).Equal(tl.Start) {
		return damaged("a start of %s", tl.Start.Format(time.RFC3339))
	}
	var recorded float64
	for _, n := range tl.Recorded {
		if n < 0 {
			return damaged("a count of %d requests", n)
		}
		recorded += float64(n)
	}
	if recorded*tl.Amplify > maxTimelinePlanned {
		return damaged("%g requests planned", recorded*tl.Amplify)
	}
	return nil
}

// noteDisagreement notes that o, from name, is not c's timeline.
func (a *Aggregate) noteDisagreement(c, o *timelineCounts, name string) {
	if c.sameBase(o) {
		return
	}
	a.timelineNotes = append(a.timelineNotes, fmt.Sprintf("%s's timeline (start %s, steps of %s) is not %s's (start %s, steps of %s): the figures use the first",
		name, o.tl.Start.Format(time.RFC3339Nano), o.step, a.timelineFrom, c.tl.Start.Format(time.RFC3339Nano), c.step))
}

// SetTimeline makes tl the timeline that the rows Add counts from now on
// are put against (AddFile takes it from a file's footer; replay's live
// figures are given it). A timeline already set is kept.
func (a *Aggregate) SetTimeline(tl *results.Timeline) {
	if a.timeline == nil && tl != nil && tl.Step > 0 && checkTimeline(tl) == nil {
		a.timeline = newTimelineCounts(tl)
	}
}

// mergeTimeline moves o's timeline figures into a.
func (a *Aggregate) mergeTimeline(o *Aggregate) {
	a.timelineNotes = append(a.timelineNotes, o.timelineNotes...)
	switch {
	case o.timeline == nil:
	case a.timeline == nil:
		a.timeline, a.timelineFrom = o.timeline, o.timelineFrom
	default:
		if o.timelineFrom != "" && o.timelineFrom != a.timelineFrom {
			a.noteDisagreement(a.timeline, o.timeline, o.timelineFrom)
		}
		a.timeline.merge(o.timeline)
	}
}
