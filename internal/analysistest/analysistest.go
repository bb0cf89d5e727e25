// Package analysistest holds what the tests of analyze's packages share
// that needs analysis's figures: expected differences and timelines
// computed the plain way, and a report of rows.
package analysistest

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// diffCounts are the figures of differences a route has.
type DiffCounts struct {
	Compared, Status, Shape, Value int64
	Top                            string // TopDiffs(3) as "text=count, ..."
}

func CountsOf(s *analysis.Stats) DiffCounts {
	var top []string
	for _, d := range s.TopDiffs(3) {
		top = append(top, fmt.Sprintf("%s=%d", d.Diff, d.Count))
	}
	return DiffCounts{s.Compared, s.StatusDiffs, s.ShapeDiffs, s.ValueDiffs, strings.Join(top, ", ")}
}

// plainCounts counts the differences of rows per route and in total
// (Aggregated) the plain way: every text, then the three most common.
func PlainCounts(rows []results.Result) map[analysis.Key]DiffCounts {
	family := map[string]int{"status": 0, "missing": 1, "added": 1, "type": 1, "value": 2, "body": 2}
	texts := map[analysis.Key]map[string]int64{}
	want := map[analysis.Key]DiffCounts{}
	for _, r := range rows {
		for _, k := range []analysis.Key{{Method: r.Method, Name: r.Name}, {Name: "Aggregated"}} {
			c := want[k]
			if r.Compared {
				c.Compared++
			}
			if r.Diff != "" {
				kind, _, _ := strings.Cut(r.Diff, " ")
				*[]*int64{&c.Status, &c.Shape, &c.Value}[family[kind]]++
				if texts[k] == nil {
					texts[k] = map[string]int64{}
				}
				texts[k][strings.TrimSuffix(r.Diff, " (+2 more)")]++
			}
			want[k] = c
		}
	}
	for k, m := range texts {
		var top []string
		for _, text := range slices.SortedFunc(maps.Keys(m), func(x, y string) int { return cmp.Or(cmp.Compare(m[y], m[x]), cmp.Compare(x, y)) })[:3] {
			top = append(top, fmt.Sprintf("%s=%d", text, m[text]))
		}
		c := want[k]
		c.Top = strings.Join(top, ", ")
		want[k] = c
	}
	return want
}

// wantTimeline is the timeline figures computed straight from the rows.
type WantTimeline struct {
	Planned, Sent, Outside, Over int64
	PerStep                      []int64
	Corr                         float64
	Late, Behind, Gen, Starts    []int64 // nanoseconds, sorted
}

func ExpectTimeline(tl *results.Timeline, rows []results.Result) WantTimeline {
	var w WantTimeline
	var recorded int64
	for _, n := range tl.Recorded {
		recorded += n
	}
	w.Planned = int64(math.Round(float64(recorded) * tl.Amplify))
	w.PerStep = make([]int64, len(tl.Recorded))
	step := time.Duration(tl.Step) * time.Second
	first, last := math.MaxInt, math.MinInt
	for _, r := range rows {
		if r.Error == results.Abandoned || r.Error == resultstest.UnsentError {
			continue
		}
		w.Sent++
		since := r.Sent.Sub(tl.Start)
		k := int(since / step)
		if since < 0 {
			k = -1 // the tests send nothing that early
		}
		first, last = min(first, k), max(last, k)
		if k >= 0 && k < len(w.PerStep) {
			w.PerStep[k]++
		} else {
			w.Outside++
		}
		gen := int64(r.Sent.Sub(r.Scheduled))
		w.Late = append(w.Late, gen+r.BehindNanos)
		w.Behind = append(w.Behind, r.BehindNanos)
		w.Gen = append(w.Gen, gen)
		if r.Seq == 0 {
			w.Starts = append(w.Starts, gen+r.BehindNanos)
		}
		if r.BehindNanos > 10e6 {
			w.Over++
		}
	}
	for _, s := range [][]int64{w.Late, w.Behind, w.Gen, w.Starts} {
		slices.Sort(s)
	}
	// Pearson's r over the steps from the first send to the last, within
	// the recording's.
	lo, hi := max(first, 0), min(last, len(tl.Recorded)-1)
	var xs, ys []float64
	for k := lo; k <= hi; k++ {
		xs, ys = append(xs, float64(tl.Recorded[k])), append(ys, float64(w.PerStep[k]))
	}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	mx, my := mean(xs), mean(ys)
	var cov, vx, vy float64
	for i := range xs {
		cov += (xs[i] - mx) * (ys[i] - my)
		vx += (xs[i] - mx) * (xs[i] - mx)
		vy += (ys[i] - my) * (ys[i] - my)
	}
	w.Corr = cov / math.Sqrt(vx*vy)
	return w
}

// compareTimeline compares a report's timeline with the figures computed
// from the rows: counts and the correlation exactly, lateness within
// HDR's 3 significant digits and the microsecond.
func CompareTimeline(t *testing.T, got *analysis.Timeline, want WantTimeline) {
	t.Helper()
	if got == nil {
		t.Fatal("no timeline in the report")
	}
	if got.Planned != want.Planned || got.SentTotal != want.Sent || got.Outside != want.Outside || got.BehindOver != want.Over {
		t.Errorf("planned %d, sent %d, outside %d, behind over 10 ms %d; want %d, %d, %d, %d",
			got.Planned, got.SentTotal, got.Outside, got.BehindOver, want.Planned, want.Sent, want.Outside, want.Over)
	}
	if !slices.Equal(got.Sent, want.PerStep) {
		t.Errorf("sent per step %v\nwant %v", got.Sent, want.PerStep)
	}
	if math.Abs(got.Correlation-want.Corr) > 1e-12 {
		t.Errorf("correlation %.15f, want %.15f", got.Correlation, want.Corr)
	}
	near := func(what string, gotMs float64, wantNanos int64) {
		t.Helper()
		w := float64(wantNanos) / 1e6
		if math.Abs(gotMs-w) > w*0.001+0.001 {
			t.Errorf("%s: %.4f ms, exact %.4f ms", what, gotMs, w)
		}
	}
	for _, h := range []struct {
		name string
		got  func(q float64) float64
		max  float64
		vals []int64
	}{
		{"lateness", func(q float64) float64 { return ms(analysis.QuantileOf(got.Late, q)) }, ms(got.Late.Max()), want.Late},
		{"session starts", func(q float64) float64 { return ms(analysis.QuantileOf(got.Starts, q)) }, ms(got.Starts.Max()), want.Starts},
		{"behind", func(q float64) float64 { return ms(analysis.QuantileOf(got.Behind, q)) }, ms(got.Behind.Max()), want.Behind},
		{"generator", func(q float64) float64 { return ms(analysis.QuantileOf(got.Generator, q)) }, ms(got.Generator.Max()), want.Gen},
	} {
		if len(h.vals) == 0 {
			if h.max != 0 {
				t.Errorf("%s: max %.4f ms of no request", h.name, h.max)
			}
			continue
		}
		for _, q := range []float64{50, 99} {
			near(h.name+" p"+resultstest.Num(q), h.got(q), resultstest.ExactQuantile(h.vals, q))
		}
		near(h.name+" max", h.max, h.vals[len(h.vals)-1])
	}
}

// Aggregate is the report of rows added one by one.
func Aggregate(rows []results.Result) *analysis.Report {
	a := analysis.New(time.Second)
	for i := range rows {
		a.Add(&rows[i])
	}
	return a.Report()
}

func ms(us int64) float64 { return float64(us) / 1000 }
