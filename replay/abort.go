package replay

import (
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
)

// aborter checks abort thresholds on the rows of a run as they are
// written: the figures so far are analyze's own (an analysis.Aggregate of
// every row), checked at most once a second. It belongs to the results
// writer's goroutine.
type aborter struct {
	ths   []analysis.Threshold
	start time.Time
	agg   *analysis.Aggregate
	next  time.Time // when to check again
	done  bool      // one failed already: the run is stopping
}

// tl, when set, is the run's recorded timeline (lateness_p99 is checked
// on it); only its steps are used.
func newAborter(ths []analysis.Threshold, start time.Time, tl *results.Timeline) *aborter {
	a := &aborter{start: start, next: start}
	for _, t := range ths {
		if t.Abort {
			a.ths = append(a.ths, t)
		}
	}
	if len(a.ths) > 0 {
		a.agg = analysis.New(0)
		a.agg.SetTimeline(tl)
	}
	return a
}

// add counts a row; it returns, once, the verdict of the first abort
// threshold that fails.
func (a *aborter) add(r *results.Result) string {
	if a.agg == nil || a.done {
		return ""
	}
	a.agg.Add(r)
	now := time.Now()
	if now.Before(a.next) {
		return ""
	}
	a.next = now.Add(time.Second)
	var due []analysis.Threshold
	for _, t := range a.ths {
		if now.Sub(a.start) >= t.AbortAfter {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return ""
	}
	for _, v := range a.agg.Check(due) {
		// A route that has had no request yet is no reason to stop.
		if !v.Pass && !v.Missing {
			a.done = true
			return v.String() + " after " + now.Sub(a.start).Round(time.Second).String()
		}
	}
	return ""
}
