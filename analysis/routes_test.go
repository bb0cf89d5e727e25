package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// A route's statuses add up to its requests, and its latency over time
// is within its buckets' width of an exact computation, whatever the
// order the rows come in and however they are split and merged.
func TestRouteStatusesAndSeries(t *testing.T) {
	rows := resultstest.Synthetic(6000, 300, 31) // 300 s: past maxRoutePoints one-second windows
	rep := aggregate(rows)
	shuffled := slices.Clone(rows)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	a, b := New(time.Second), New(time.Second)
	for i := range shuffled {
		if i%3 == 0 {
			a.Add(&shuffled[i])
		} else {
			b.Add(&shuffled[i])
		}
	}
	a.Merge(b)
	merged := a.Report()
	for i, s := range rep.Names {
		var n int64
		for _, sc := range s.Statuses() {
			n += sc.Requests
		}
		if n != s.Requests {
			t.Errorf("%s: statuses add up to %d of %d requests", s.Name, n, s.Requests)
		}
		if got, want := merged.Names[i].Statuses(), s.Statuses(); !slices.Equal(got, want) {
			t.Errorf("%s: statuses %v merged in another order, %v in order", s.Name, got, want)
		}
		ws, step := s.Series()
		mws, mstep := merged.Names[i].Series()
		if len(ws) > maxRoutePoints || step != 4*time.Second || !slices.Equal(ws, mws) || step != mstep {
			t.Errorf("%s: %d windows of %s; merged in another order %d of %s", s.Name, len(ws), step, len(mws), mstep)
		}
		// The exact p95 of one window.
		w := ws[len(ws)/2]
		var lats []int64
		for _, r := range rows {
			if r.Name == s.Name && r.Method == s.Method && !r.Sent.Before(w.Start) && r.Sent.Before(w.Start.Add(step)) {
				lats = append(lats, micros(r.LatencyNanos))
			}
		}
		slices.Sort(lats)
		if int64(len(lats)) != w.Requests {
			t.Fatalf("%s: window of %d requests, %d sent in it", s.Name, w.Requests, len(lats))
		}
		if exact := ms(resultstest.ExactQuantile(lats, 95)); math.Abs(w.P95-exact) > exact/16 {
			t.Errorf("%s: window p95 %.2f ms, exactly %.2f", s.Name, w.P95, exact)
		}
	}
	var sc []StatusCount
	for _, s := range rep.Names {
		sc = append(sc, s.Statuses()...)
	}
	if !slices.ContainsFunc(sc, func(c StatusCount) bool { return c.Status == NoStatus }) {
		t.Error("no route counts its transport errors as no answer")
	}
}

// Statuses outside 100..599 are counted together.
func TestOtherStatuses(t *testing.T) {
	a := New(0)
	for _, st := range []int32{200, 200, 999, 42, 0, 599, 100} {
		a.Add(&results.Result{Method: "GET", Name: "/", Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 1e6, Status: st})
	}
	got := a.Report().Names[0].Statuses()
	want := []StatusCount{{OtherStatus, 2}, {200, 2}, {NoStatus, 1}, {100, 1}, {599, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// Buckets are an eighth of an octave: every latency is within 1/16 of
// its bucket's middle.
func TestLatencyBuckets(t *testing.T) {
	for us := int64(1); us < histMax; us = us*9/8 + 1 {
		b := latencyBucket(us)
		if mid := bucketMid(b); math.Abs(mid-float64(us)) > float64(us)/16+0.5 {
			t.Errorf("%d µs: bucket %d, middle %.1f", us, b, mid)
		}
		if b > 0 && latencyBucket(us-1) > b {
			t.Errorf("%d µs: buckets not in order", us)
		}
	}
}
