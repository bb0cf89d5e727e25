// Package regress judges a run against a baseline: for a figure (a
// latency percentile, the mean latency, the error rate), of a route or of
// the total, the change, its confidence interval and a verdict: worse,
// better, no detectable change, or too few requests to tell. Exceeds
// checks a threshold against the baseline ("p95 < baseline+10%") that
// fails only when the change is significantly past its allowance.
//
// It is pure statistics over HDR histograms and counts: no files, no
// output.
//
// # Method
//
// Percentiles (p50, p95, p99.9 ...) are the nearest-rank ones the report
// shows: the latency at rank ⌈q·n⌉, at its histogram bucket's highest
// value. Their interval is a bootstrap percentile interval. A resample
// draws n latencies with replacement from a run's histogram buckets (the
// ordinary nonparametric bootstrap), and its percentile is drawn
// directly, in one step: the r-th smallest of n draws from the buckets is
// the buckets' inverse distribution function at the r-th smallest of n
// uniforms, which is Beta(r, n-r+1). A resample thus costs two gamma
// draws and a look-up in a guide table of the non-empty buckets, however
// many requests there were. Each run is resampled R times (Options.Resamples,
// 2000 by default), independently, and the resamples are paired: the
// interval of the change is the α/2 and 1-α/2 percentiles of the R
// differences (now - baseline), that of the relative change the same of
// the R ratios less one (α = 1 - Options.Level).
//
// The mean latency's interval is in closed form: the mean's sampling
// distribution is normal enough at the 30 requests it takes (see below)
// that resampling it would cost R passes over the buckets for the same
// answer. Each run's mean has its t interval, mean ± t(n-1)·s/√n, s the
// standard deviation of its histogram; the change's interval combines the
// two by MOVER (Zou and Donner 2008; over t intervals, close to Welch's),
// the relative change's by MOVER-R (Donner and Zou 2012, a closed-form
// relative of Fieller's).
//
// The error rate is failures over requests. Each run's has its Wilson
// score interval; the change's is Newcombe's hybrid score interval
// (Newcombe 1998, method 10: MOVER over Wilson intervals), the relative
// change's MOVER-R over the same.
//
// The verdict is Worse when the whole interval of the change is above
// zero (for every figure here, higher is worse), Better when it is below,
// and NoChange ("no detectable change") otherwise: with this many
// requests, a change, if any, is too small to tell from noise. It is
// TooFew ("too few requests to tell") when either run has fewer than 30
// requests, or, for a percentile, fewer than 10 beyond it (n·(1-q) < 10:
// 200 requests for p95, 1,000 for p99, 10,000 for p99.9), below which its
// interval would rest on a handful of the slowest requests.
//
// The level is 99% by default (Options.Level), not the customary 95%:
// each verdict is one test, and a report holds many. In a run with no
// change, a 95% level flags about one figure in 40 as worse and one in
// 40 as better: 1,000 routes of 5 figures would show some 250 flags by
// chance; at 99%, some 50. (Measured, over 2,000 pairs of runs of 10,000
// requests without a change: at 95%, 4.0% to 5.1% of them flagged by
// figure; at 99%, 0.45% to 1.05%.) It costs power: a rise of the error
// rate from 1% to 1.5% over 10,000 requests is found 3 times in 4 at
// 99%, 9 in 10 at 95%.
//
// A threshold against the baseline fails (Exceeds) only when the
// interval's lower bound is past the allowance: at the default level, a
// one-sided test at 99.5%.
//
// The resampling is seeded (PCG with Options.Seed, one stream per
// figure): the same histograms, options and seed give the same Change,
// on the same platform and Go release.
//
// What it assumes: that requests are independent. A load test's are not
// quite (a garbage collection or a noisy neighbour slows many requests in
// a row), which makes every interval here narrower than the truth.
package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Sample is one run's figures of a route, or of the total, as the
// analysis package's Stats holds them.
type Sample struct {
	// Latency counts the latencies in microseconds (nil: none). It is
	// only read: comparisons may run concurrently on one histogram.
	Latency *hdrhistogram.Histogram
	// Requests and Failures count requests; Failures beyond Requests
	// count as Requests.
	Requests, Failures int64
}

// Verdict is what a change says of the run.
type Verdict int

const (
	// NoChange: the interval holds zero; the change, if any, is too small
	// to tell at this sample size.
	NoChange Verdict = iota
	// Worse: the whole interval is above zero.
	Worse
	// Better: the whole interval is below zero.
	Better
	// TooFew: either run has too few requests for the figure to judge.
	TooFew
)

func (v Verdict) String() string {
	switch v {
	case NoChange:
		return "no detectable change"
	case Worse:
		return "worse"
	case Better:
		return "better"
	case TooFew:
		return "too few requests to tell"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Change is a figure's change from the baseline to the run.
type Change struct {
	// Figure is the figure's name as asked for: "p95", "avg",
	// "error_rate" ...
	Figure string
	// Base and Now are the figure in the baseline and in the run:
	// milliseconds for latencies (as the report shows them), a fraction
	// for the error rate. 0 without requests.
	Base, Now float64
	// Abs is Now - Base. Rel is Abs/Base: 0 when both are 0, +Inf when
	// Base alone is 0.
	Abs, Rel float64
	// Lo and Hi bound the confidence interval of Abs (in Base's unit),
	// RelLo and RelHi that of Rel (RelHi may be +Inf: a baseline error
	// rate that may be 0). All four are NaN when the verdict is TooFew.
	Lo, Hi, RelLo, RelHi float64
	// Verdict says what the interval says.
	Verdict Verdict
}

// Options tune the comparison. The zero value is the default.
type Options struct {
	// Level is the intervals' two-sided confidence level, in (0, 1);
	// other values mean 0.99 (see the package comment for why not 0.95).
	Level float64
	// Resamples is the number of bootstrap resamples of each run for a
	// percentile; below 1, 2000.
	Resamples int
	// Seed seeds the resampling.
	Seed uint64
}

func (o Options) level() float64 {
	if o.Level > 0 && o.Level < 1 {
		return o.Level
	}
	return 0.99
}

func (o Options) resamples() int {
	if o.Resamples >= 1 {
		return o.Resamples
	}
	return 2000
}

// The small-sample rule (TooFew): a run needs minRequests requests, and a
// percentile minBeyond of them beyond it.
const (
	minRequests = 30
	minBeyond   = 10
)

// figures are CompareAll's.
var figures = [...]string{"p50", "p95", "p99", "avg", "error_rate"}

// Compare compares figure between the baseline and the run: "pNN" (a
// latency percentile, 0 < NN < 100, such as p95 or p99.9; "median" is
// p50), "avg" (the mean latency) or "error_rate". The error says the
// figure is none of these.
func Compare(base, now Sample, figure string, o Options) (Change, error) {
	f, err := parseFigure(figure)
	if err != nil {
		return Change{}, err
	}
	return f.compare(&pair{base: base, now: now}, o), nil
}

// CompareAll compares the figures a report shows: p50, p95, p99, avg and
// error_rate, in this order. It reads each histogram once for all of
// them, and gives for each what Compare gives.
func CompareAll(base, now Sample, o Options) []Change {
	p := &pair{base: base, now: now}
	out := make([]Change, len(figures))
	for i, name := range figures {
		f, _ := parseFigure(name)
		out[i] = f.compare(p, o)
	}
	return out
}

// Exceeds says whether a threshold against the baseline fails: whether
// the change is significantly beyond allowance, that is, its interval's
// lower bound past it. Relative, allowance is a fraction of the baseline
// (`p95 < baseline+10%` is Exceeds(c, 0.10, true)); absolute, it is in
// the figure's unit: milliseconds for latencies, a fraction for the error
// rate (`error_rate < baseline+0.5%`, 0.5 percentage points, is
// Exceeds(c, 0.005, false)). With too few requests to tell, it does not
// fail.
func Exceeds(c Change, allowance float64, relative bool) bool {
	if c.Verdict == TooFew {
		return false
	}
	if relative {
		return c.RelLo > allowance
	}
	return c.Lo > allowance
}

// pair is the two samples compared, with their histograms read when a
// figure first needs them.
type pair struct {
	base, now Sample
	lb, ln    *latencies
}

func (p *pair) latencies() (base, now *latencies) {
	if p.lb == nil {
		p.lb, p.ln = latenciesOf(p.base), latenciesOf(p.now)
	}
	return p.lb, p.ln
}

// figure is a parsed figure name.
type figure struct {
	name string
	kind kind
	q    float64 // the percentile (0-100), for a percentile
}

type kind int

const (
	percentile kind = iota
	mean
	errorRate
)

func parseFigure(name string) (figure, error) {
	switch s := strings.ToLower(strings.TrimSpace(name)); {
	case s == "avg":
		return figure{name: name, kind: mean}, nil
	case s == "error_rate":
		return figure{name: name, kind: errorRate}, nil
	case s == "median":
		return figure{name: name, kind: percentile, q: 50}, nil
	case strings.HasPrefix(s, "p"):
		q, err := strconv.ParseFloat(s[1:], 64)
		if err == nil && q > 0 && q < 100 {
			return figure{name: name, kind: percentile, q: q}, nil
		}
		if err == nil && q == 100 {
			// The maximum is one request: no bootstrap says how it varies.
			return figure{}, fmt.Errorf("figure %q: the maximum cannot be judged against a baseline; use a percentile below 100, such as p99.9", name)
		}
	}
	return figure{}, fmt.Errorf("figure %q: want pNN (0 < NN < 100, such as p95 or p99.9), median, avg or error_rate", name)
}

func (f figure) compare(p *pair, o Options) Change {
	switch f.kind {
	case percentile:
		return f.comparePercentile(p, o)
	case mean:
		return f.compareMean(p, o)
	}
	return f.compareErrorRate(p, o)
}

// enough says whether a run of n requests is enough for f (the TooFew
// rule).
func (f figure) enough(n int64) bool {
	if n < minRequests {
		return false
	}
	// n·(100-q)/100 >= minBeyond, within float error: 10,000·(100-99.9)
	// is 999.9999999999432.
	return f.kind != percentile || float64(n)*(100-f.q) >= 100*minBeyond*(1-1e-9)
}

// change fills Abs and Rel from Base and Now, and the rest for TooFew.
func (f figure) change(base, now float64, enough bool) Change {
	c := Change{Figure: f.name, Base: base, Now: now, Abs: now - base, Rel: relative(base, now)}
	if !enough {
		nan := math.NaN()
		c.Lo, c.Hi, c.RelLo, c.RelHi, c.Verdict = nan, nan, nan, nan, TooFew
	}
	return c
}

func (f figure) comparePercentile(p *pair, o Options) Change {
	lb, ln := p.latencies()
	c := f.change(ms(lb.percentile(f.q)), ms(ln.percentile(f.q)), f.enough(lb.n) && f.enough(ln.n))
	if c.Verdict == TooFew {
		return c
	}
	// A stream per percentile: p95's answer does not depend on which
	// figures were asked for before it.
	rng := rand.New(rand.NewPCG(o.Seed, math.Float64bits(f.q)))
	rb, rn := rank(f.q, lb.n), rank(f.q, ln.n)
	r := o.resamples()
	diffs, ratios := newPercentiles(r, o.level()), newPercentiles(r, o.level())
	for range r {
		vb, vn := lb.resample(rng, rb), ln.resample(rng, rn)
		diffs.add(ms(vn - vb))
		ratios.add(relative(ms(vb), ms(vn)))
	}
	c.Lo, c.Hi = diffs.bounds()
	c.RelLo, c.RelHi = ratios.bounds()
	c.Verdict = verdict(c.Lo, c.Hi)
	return c
}

func (f figure) compareMean(p *pair, o Options) Change {
	lb, ln := p.latencies()
	c := f.change(lb.mean/1000, ln.mean/1000, f.enough(lb.n) && f.enough(ln.n))
	if c.Verdict == TooFew {
		return c
	}
	z := normalQuantile(o.level())
	eb := meanInterval(c.Base, lb.sd/1000, lb.n, z)
	en := meanInterval(c.Now, ln.sd/1000, ln.n, z)
	return f.closed(c, eb, en)
}

func (f figure) compareErrorRate(p *pair, o Options) Change {
	b, n := p.base, p.now
	fb, fn := min(max(b.Failures, 0), b.Requests), min(max(n.Failures, 0), n.Requests)
	c := f.change(ratio(fb, b.Requests), ratio(fn, n.Requests), f.enough(b.Requests) && f.enough(n.Requests))
	if c.Verdict == TooFew {
		return c
	}
	z := normalQuantile(o.level())
	return f.closed(c, wilson(fb, b.Requests, z), wilson(fn, n.Requests, z))
}

// closed fills c's intervals and verdict from the runs' own intervals.
func (f figure) closed(c Change, base, now estimate) Change {
	c.Lo, c.Hi = moverDiff(base, now)
	lo, hi := moverRatio(base, now)
	c.RelLo, c.RelHi = lo-1, hi-1
	c.Verdict = verdict(c.Lo, c.Hi)
	return c
}

func verdict(lo, hi float64) Verdict {
	switch {
	case lo > 0:
		return Worse
	case hi < 0:
		return Better
	}
	return NoChange
}

// relative is (now-base)/base: 0 when both are 0, +Inf when only base is
// (a histogram that recorded 0 µs; analysis records 1 µs at least).
func relative(base, now float64) float64 {
	switch {
	case base != 0:
		return (now - base) / base
	case now != 0:
		return math.Inf(1)
	}
	return 0
}

func ms(us int64) float64 { return float64(us) / 1000 }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
