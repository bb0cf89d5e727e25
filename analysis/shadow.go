package analysis

import (
	"github.com/replaykit/replaykit/results"
)

// The shadow target (replay --shadow): every request went to it too, at
// the same time as to the target. Its answers are counted as a run of
// their own (Report.Shadow: latency, failures, differences from the
// recording), and the two targets' answers compared with each other
// (Report.Between: only the differences mean anything there).
// addShadow counts the shadow's answer to r, and how the two differed.
func (a *Aggregate) addShadow(rows *results.Batch, i int) {
	if a.shadow == nil {
		a.shadow, a.between = New(a.windows.step), New(a.windows.step)
		a.shadow.keep, a.between.keep = a.keep, a.keep // the same rows: the same names kept
	}
	var r results.Result
	rows.Row(i, &r)
	s := r
	s.Status, s.Error, s.LatencyNanos, s.TTFBNanos, s.RespSize = r.ShadowStatus, r.ShadowError, r.ShadowLatencyNanos, 0, 0
	s.Compared, s.Diff = r.RecordedStatus != 0 && r.ShadowStatus != 0, r.ShadowDiff
	s.Carried, s.NotCarried = 0, 0
	s.ShadowStatus, s.ShadowError = 0, ""
	a.shadow.Add(&s)
	b := s
	b.Compared, b.Diff = r.Status != 0 && r.ShadowStatus != 0, r.TargetsDiff
	a.between.Add(&b)
}

func (a *Aggregate) mergeShadow(o *Aggregate) {
	switch {
	case o.shadow == nil:
	case a.shadow == nil:
		a.shadow, a.between = o.shadow, o.between
	default:
		a.shadow.Merge(o.shadow)
		a.between.Merge(o.between)
	}
}

// Key is the stats of k, or nil.
func (r *Report) Key(k Key) *Stats {
	for _, s := range r.Names {
		if s.Key == k {
			return s
		}
	}
	return nil
}
