package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The histograms analysis builds: microseconds, 1 µs to 1 hour, 3
// significant digits.
const histMax = int64(time.Hour / time.Microsecond)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, 3) }

// lognormal is a run of n requests whose latencies are log-normal as real
// ones are (median 50 ms, σ 0.6: p99 is 4 times the median), scaled by
// scale, each failing with probability failRate. seed and stream choose
// the draw: two streams of one seed are two runs of one system.
func lognormal(seed, stream uint64, n int, scale, failRate float64) Sample {
	rng := rand.New(rand.NewPCG(seed, stream))
	h := newHist()
	var fails int64
	for range n {
		us := int64(math.Round(scale * 50000 * math.Exp(0.6*rng.NormFloat64())))
		h.RecordValue(min(max(us, 1), histMax))
		if rng.Float64() < failRate {
			fails++
		}
	}
	return Sample{Latency: h, Requests: int64(n), Failures: fails}
}

// failing is a run of n requests each failing with probability failRate,
// without latencies: all an error rate needs, drawn faster.
func failing(seed, stream uint64, n int, failRate float64) Sample {
	rng := rand.New(rand.NewPCG(seed, stream))
	var fails int64
	for range n {
		if rng.Float64() < failRate {
			fails++
		}
	}
	return Sample{Requests: int64(n), Failures: fails}
}

// readPair is a pair of runs whose histograms are read already: a test
// that compares one run many times reads it once.
func readPair(base, now Sample) *pair {
	return &pair{base: base, now: now, lb: latenciesOf(base), ln: latenciesOf(now)}
}

// spread is a run of n requests without sampling noise: the log-normal's
// quantiles at (i-½)/n, scaled by scale, and failures failures.
func spread(n int, scale float64, failures int64) Sample {
	h := newHist()
	for i := range n {
		z := math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(n)-1)
		h.RecordValue(min(max(int64(math.Round(scale*50000*math.Exp(0.6*z))), 1), histMax))
	}
	return Sample{Latency: h, Requests: int64(n), Failures: failures}
}

// values is a run whose requests took these milliseconds, none failed.
func values(ms ...float64) Sample {
	h := newHist()
	for _, v := range ms {
		h.RecordValue(int64(v * 1000))
	}
	return Sample{Latency: h, Requests: int64(len(ms))}
}

func compare(t *testing.T, base, now Sample, figure string, o Options) Change {
	t.Helper()
	c, err := Compare(base, now, figure, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two runs of one system, 10,000 requests each: over 200 seeds, every
// figure says "no detectable change" in 95% of them at least. And the
// level is what it says, neither too narrow nor merely wide: at 0.95,
// some 5% of the seeds see a change; at 0.5, half of them.
func TestNoChangeIsNoDetectableChange(t *testing.T) {
	t.Parallel() // the slow ones: seconds each, more under -race
	const seeds = 200
	levels := []struct {
		level float64
		// The seeds flagged worse or better, as many as from seeds·(1-level)
		// within 2.6 standard deviations (1.5% at 0.95, 3.5% at 0.5).
		atLeast, atMost int
		// resamples: the default at the default level; 500 leave 12 in
		// each tail at 0.95, enough, at a quarter of the time.
		resamples int
	}{
		{level: 0, atLeast: 0, atMost: seeds / 20}, // the default, 0.99
		{level: 0.95, atLeast: seeds * 1 / 100, atMost: seeds * 9 / 100, resamples: 500},
		{level: 0.5, atLeast: seeds * 41 / 100, atMost: seeds * 59 / 100, resamples: 500},
	}
	flagged := make([]map[string]int, len(levels))
	for i := range flagged {
		flagged[i] = map[string]int{}
	}
	for seed := range uint64(seeds) {
		p := readPair(lognormal(seed, 1, 10000, 1, 0.01), lognormal(seed, 2, 10000, 1, 0.01))
		for i, l := range levels {
			for _, name := range figures {
				f, _ := parseFigure(name)
				c := f.compare(p, Options{Seed: seed, Level: l.level, Resamples: l.resamples})
				switch c.Verdict {
				case TooFew:
					t.Fatalf("seed %d: %s: too few requests of 10,000", seed, c.Figure)
				case Worse, Better:
					flagged[i][c.Figure]++
				}
			}
		}
	}
	for _, f := range figures {
		t.Logf("%s: worse or better in %d, %d and %d of %d seeds at levels 0.99, 0.95 and 0.5", f, flagged[0][f], flagged[1][f], flagged[2][f], seeds)
		for i, l := range levels {
			if got := flagged[i][f]; got < l.atLeast || got > l.atMost {
				t.Errorf("%s at level %g: worse or better in %d of %d runs without a change, want %d to %d", f, Options{Level: l.level}.level(), got, seeds, l.atLeast, l.atMost)
			}
		}
	}
}

// Known changes on 10,000 requests are found.
func TestKnownChangeIsFound(t *testing.T) {
	t.Parallel() // the slow ones: seconds each, more under -race
	const seeds = 100
	bases := make([]*latencies, seeds)
	for seed := range bases {
		bases[seed] = latenciesOf(lognormal(uint64(seed), 1, 10000, 1, 0))
	}
	for _, tc := range []struct {
		figure         string
		scale, failNow float64
		level          float64
		want           Verdict
		// atLeast is the share of seeds (%) that must find it: all but
		// chance for a 20% shift (some 10 standard errors for p95);
		// +0.5 point on a 1% error rate is 3.2 standard errors, found
		// 73% of the time at level 0.99, 89% at 0.95.
		atLeast int
	}{
		{figure: "p95", scale: 1.2, want: Worse, atLeast: 99},
		{figure: "p95", scale: 0.8, want: Better, atLeast: 99},
		{figure: "p99", scale: 1.2, want: Worse, atLeast: 99},
		{figure: "avg", scale: 1.2, want: Worse, atLeast: 99},
		{figure: "error_rate", failNow: 0.015, want: Worse, atLeast: 60},
		{figure: "error_rate", failNow: 0.015, level: 0.95, want: Worse, atLeast: 80},
		{figure: "error_rate", failNow: 0.005, want: Better, atLeast: 60},
	} {
		f, _ := parseFigure(tc.figure)
		what := fmt.Sprintf("%s ×%g", tc.figure, tc.scale)
		if f.kind == errorRate {
			what = fmt.Sprintf("%s 1%% to %g%%", tc.figure, 100*tc.failNow)
		}
		what += fmt.Sprintf(" at level %g", Options{Level: tc.level}.level())
		found := 0
		for seed := range uint64(seeds) {
			var p *pair
			if f.kind == errorRate {
				p = &pair{base: failing(seed, 1, 10000, 0.01), now: failing(seed, 2, 10000, tc.failNow)}
			} else {
				p = &pair{lb: bases[seed], ln: latenciesOf(lognormal(seed, 2, 10000, tc.scale, 0))}
			}
			if c := f.compare(p, Options{Seed: seed, Level: tc.level}); c.Verdict == tc.want {
				found++
			} else if c.Verdict != NoChange {
				t.Errorf("%s: seed %d says %v, want %v", what, seed, c.Verdict, tc.want)
			}
		}
		t.Logf("%s: %v in %d of %d seeds", what, tc.want, found, seeds)
		if found*100 < tc.atLeast*seeds {
			t.Errorf("%s: %v in %d of %d seeds, want %d%% at least", what, tc.want, found, seeds, tc.atLeast)
		}
	}
}

// Three requests each: the old report marked p95's +78% red; here every
// figure is too few to tell, and no threshold fails on it.
func TestThreeRequestsAreTooFew(t *testing.T) {
	base, now := values(10, 20, 30), values(10, 20, 53.4)
	now.Failures = 3
	for _, c := range CompareAll(base, now, Options{}) {
		if c.Verdict != TooFew || !math.IsNaN(c.Lo) || !math.IsNaN(c.RelHi) {
			t.Errorf("%s: %v [%g, %g], want too few, without an interval", c.Figure, c.Verdict, c.Lo, c.Hi)
		}
		if Exceeds(c, 0.10, true) || Exceeds(c, 0, false) {
			t.Errorf("%s: a threshold fails on too few requests", c.Figure)
		}
	}
	if c := compare(t, base, now, "p95", Options{}); math.Abs(c.Rel-0.78) > 0.001 {
		t.Errorf("p95 changed %+.3f, want the +0.78 still said", c.Rel)
	}
}

// The small-sample rule is as documented, in either run.
func TestTooFewRule(t *testing.T) {
	for _, tc := range []struct {
		figure  string
		n       int
		tooFew  bool
		failing int64
	}{
		{"p50", 29, true, 0}, {"p50", 30, false, 0},
		{"median", 29, true, 0}, {"median", 30, false, 0},
		{"p95", 199, true, 0}, {"p95", 200, false, 0},
		{"p99", 999, true, 0}, {"p99", 1000, false, 0},
		{"p99.9", 9999, true, 0}, {"p99.9", 10000, false, 0},
		{"avg", 29, true, 0}, {"avg", 30, false, 0},
		{"error_rate", 29, true, 1}, {"error_rate", 30, false, 1},
	} {
		short, long := spread(tc.n, 1, tc.failing), spread(20000, 1, tc.failing)
		for _, p := range []struct{ base, now Sample }{{short, long}, {long, short}} {
			c := compare(t, p.base, p.now, tc.figure, Options{Resamples: 200})
			if got := c.Verdict == TooFew; got != tc.tooFew {
				t.Errorf("%s of %d requests against %d: %v, want too few %v", tc.figure, p.base.Requests, p.now.Requests, c.Verdict, tc.tooFew)
			}
		}
	}
}

// A threshold against the baseline fails when the change is
// significantly past its allowance, not when it is only observed past
// it.
func TestExceeds(t *testing.T) {
	t.Parallel() // the slow ones: seconds each, more under -race
	const seeds = 3
	bases := make([]*latencies, seeds)
	for seed := range bases {
		bases[seed] = latenciesOf(lognormal(uint64(seed), 1, 100000, 1, 0))
	}
	for _, tc := range []struct {
		name                string
		figure              string
		scale, fail         float64
		allowance           float64
		relative, wantFails bool
	}{
		{"p95 +5% < baseline+10%", "p95", 1.05, 0, 0.10, true, false},
		{"p95 +30% < baseline+10%", "p95", 1.30, 0, 0.10, true, true},
		{"p95 -10% < baseline+0%", "p95", 0.90, 0, 0, true, false},
		{"avg +30% < baseline+10%", "avg", 1.30, 0, 0.10, true, true},
		{"avg +5% < baseline+20ms", "avg", 1.05, 0, 20, false, false},
		{"avg +100% < baseline+20ms", "avg", 2, 0, 20, false, true},
		{"error_rate 1% to 1.2% < baseline+0.5%", "error_rate", 0, 0.012, 0.005, false, false},
		{"error_rate 1% to 2% < baseline+0.5%", "error_rate", 0, 0.02, 0.005, false, true},
		{"error_rate 1% to 1.05% < baseline+10% of it", "error_rate", 0, 0.0105, 0.10, true, false},
		{"error_rate 1% to 1.5% < baseline+10% of it", "error_rate", 0, 0.015, 0.10, true, true},
	} {
		f, _ := parseFigure(tc.figure)
		for seed := range uint64(seeds) {
			var p *pair
			if f.kind == errorRate {
				p = &pair{base: failing(seed, 1, 100000, 0.01), now: failing(seed, 2, 100000, tc.fail)}
			} else {
				p = &pair{lb: bases[seed], ln: latenciesOf(lognormal(seed, 2, 100000, tc.scale, 0))}
			}
			c := f.compare(p, Options{Seed: seed})
			if got := Exceeds(c, tc.allowance, tc.relative); got != tc.wantFails {
				t.Errorf("%s, seed %d: fails %v, want %v (%+v)", tc.name, seed, got, tc.wantFails, c)
			}
		}
	}
	// An observed +15% on 1,000 requests is past +10%, but not
	// significantly: p95's interval is some ±17% wide there. +30% is.
	c := compare(t, spread(1000, 1, 0), spread(1000, 1.15, 0), "p95", Options{})
	if c.Rel <= 0.10 || Exceeds(c, 0.10, true) {
		t.Errorf("+15%% of 1,000 requests against +10%%: %+.3f [%+.3f, %+.3f], fails %v; want observed past 10%%, not failing", c.Rel, c.RelLo, c.RelHi, Exceeds(c, 0.10, true))
	}
	if c := compare(t, spread(1000, 1, 0), spread(1000, 1.3, 0), "p95", Options{}); !Exceeds(c, 0.10, true) {
		t.Errorf("+30%% of 1,000 requests against +10%%: [%+.3f, %+.3f], want failing", c.RelLo, c.RelHi)
	}
}

// Same inputs and seed, same Change; another seed, other resamples;
// Compare gives what CompareAll gives.
func TestDeterministic(t *testing.T) {
	base, now := lognormal(7, 1, 10000, 1, 0.01), lognormal(7, 2, 10000, 1.02, 0.012)
	all := CompareAll(base, now, Options{Seed: 42})
	if !reflect.DeepEqual(all, CompareAll(base, now, Options{Seed: 42})) {
		t.Error("two comparisons with one seed differ")
	}
	for _, c := range all {
		if got := compare(t, base, now, c.Figure, Options{Seed: 42}); got != c {
			t.Errorf("%s: Compare %+v, CompareAll %+v", c.Figure, got, c)
		}
	}
	a, b := compare(t, base, now, "p95", Options{Seed: 42}), compare(t, base, now, "p95", Options{Seed: 43})
	if a.Lo == b.Lo && a.Hi == b.Hi {
		t.Errorf("seeds 42 and 43 give one interval [%g, %g]: is the seed used?", a.Lo, a.Hi)
	}
	if a.Base != b.Base || a.Now != b.Now {
		t.Errorf("the figures themselves depend on the seed: %+v, %+v", a, b)
	}
}

// The figures are the report's: nearest-rank percentiles at the bucket's
// highest value (analysis's quantile), HDR's mean, failures over
// requests.
func TestFiguresAreTheReports(t *testing.T) {
	s := lognormal(3, 1, 5000, 1, 0.02)
	h := s.Latency
	n := float64(h.TotalCount())
	for _, q := range []float64{50, 90, 95, 99, 99.9} {
		c := compare(t, s, s, "p"+strconv.FormatFloat(q, 'g', -1, 64), Options{Resamples: 100})
		rank := math.Ceil(q / 100 * n * (1 - 1e-12))
		if want := float64(h.ValueAtQuantile(100*(rank-0.25)/n)) / 1000; c.Base != want || c.Now != want {
			t.Errorf("p%g: %g ms, want %g ms", q, c.Base, want)
		}
	}
	if c := compare(t, s, s, "avg", Options{}); c.Base != h.Mean()/1000 {
		t.Errorf("avg: %g ms, want %g ms", c.Base, h.Mean()/1000)
	}
	if c := compare(t, s, s, "error_rate", Options{}); c.Base != float64(s.Failures)/float64(s.Requests) {
		t.Errorf("error_rate: %g, want %d/%d", c.Base, s.Failures, s.Requests)
	}
}

func TestEdgeCases(t *testing.T) {
	ten := spread(10000, 1, 0)
	hour := Sample{Latency: newHist(), Requests: 10000}
	hour.Latency.RecordValues(histMax, 10000)
	zero := Sample{Latency: newHist(), Requests: 10000}
	zero.Latency.RecordValues(0, 10000) // analysis records 1 µs at least; others may not
	const hourMs = 3.6e6
	nan := math.NaN()
	for _, tc := range []struct {
		name      string
		base, now Sample
		figure    string
		want      Verdict
		// rel is the relative change, wantBase and wantNow the figures
		// (within HDR's 0.1%); NaN: not checked.
		rel, wantBase, wantNow float64
		relHiInf               bool
	}{
		{"empty histograms", Sample{Latency: newHist()}, Sample{Latency: newHist()}, "p95", TooFew, 0, 0, 0, false},
		{"nil histograms", Sample{Requests: 100}, Sample{Requests: 100}, "avg", TooFew, 0, 0, 0, false},
		{"no requests", Sample{}, Sample{}, "error_rate", TooFew, 0, 0, 0, false},
		{"no failures either", ten, ten, "error_rate", NoChange, 0, 0, 0, true},
		{"failures from none", ten, withFailures(ten, 100), "error_rate", Worse, math.Inf(1), 0, 0.01, true},
		{"a failure from none", ten, withFailures(ten, 1), "error_rate", NoChange, math.Inf(1), 0, 0.0001, true},
		{"all failing", withFailures(ten, 10000), withFailures(ten, 10000), "error_rate", NoChange, 0, 1, 1, false},
		{"all failing from none", ten, withFailures(ten, 10000), "error_rate", Worse, math.Inf(1), 0, 1, true},
		{"more failures than requests", ten, withFailures(ten, 20000), "error_rate", Worse, math.Inf(1), 0, 1, true},
		{"an hour each", hour, hour, "p99", NoChange, 0, hourMs, hourMs, false},
		{"an hour each, mean", hour, hour, "avg", NoChange, 0, hourMs, hourMs, false},
		{"to an hour", ten, hour, "p50", Worse, nan, 50, hourMs, false},
		{"from an hour", hour, ten, "avg", Better, nan, hourMs, nan, false},
		{"0 µs each", zero, zero, "p95", NoChange, 0, 0, 0, false},
		{"from 0 µs", zero, ten, "p95", Worse, math.Inf(1), 0, nan, true},
	} {
		c := compare(t, tc.base, tc.now, tc.figure, Options{Resamples: 500})
		if c.Verdict != tc.want {
			t.Errorf("%s: %v, want %v (%+v)", tc.name, c.Verdict, tc.want, c)
		}
		if !math.IsNaN(tc.rel) && c.Rel != tc.rel {
			t.Errorf("%s: relative change %g, want %g", tc.name, c.Rel, tc.rel)
		}
		if !near(c.Base, tc.wantBase) || !near(c.Now, tc.wantNow) {
			t.Errorf("%s: %g to %g, want %g to %g", tc.name, c.Base, c.Now, tc.wantBase, tc.wantNow)
		}
		if tc.relHiInf != math.IsInf(c.RelHi, 1) {
			t.Errorf("%s: relative interval [%g, %g], want an infinite upper bound %v", tc.name, c.RelLo, c.RelHi, tc.relHiInf)
		}
		if c.Verdict != TooFew && (math.IsNaN(c.Lo) || math.IsNaN(c.Hi) || math.IsNaN(c.RelLo) || math.IsNaN(c.RelHi) ||
			c.Lo > c.Abs || c.Hi < c.Abs || (c.RelLo > c.Rel && !math.IsInf(c.Rel, 1)) || c.RelHi < c.Rel) {
			t.Errorf("%s: %g [%g, %g], relative %g [%g, %g]: the interval does not hold the change", tc.name, c.Abs, c.Lo, c.Hi, c.Rel, c.RelLo, c.RelHi)
		}
	}
}

// near says got is want within HDR's precision (0.1%), or want is NaN.
func near(got, want float64) bool {
	return math.IsNaN(want) || math.Abs(got-want) <= 1e-3*math.Abs(want)
}

func withFailures(s Sample, f int64) Sample { s.Failures = f; return s }

func TestUnknownFigures(t *testing.T) {
	for _, f := range []string{"", "p", "p0", "p100", "p101", "p-5", "pabc", "max", "rps", "latency", "p95ms"} {
		if _, err := Compare(Sample{}, Sample{}, f, Options{}); err == nil {
			t.Errorf("%q: no error", f)
		}
	}
	for _, f := range []string{"p50", "P95", "p99.9", "median", "avg", "error_rate", " p99 "} {
		if _, err := Compare(Sample{}, Sample{}, f, Options{}); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{NoChange: "no detectable change", Worse: "worse", Better: "better", TooFew: "too few requests to tell", 9: "Verdict(9)"} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", int(v), v.String(), want)
		}
	}
}
