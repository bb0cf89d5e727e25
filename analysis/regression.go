package analysis

import (
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/replaykit/replaykit/regress"
)

// Comparison is a run judged against a baseline, figure by figure, in
// total and for each name both have (package regress: the change, its
// confidence interval, and a verdict).
type Comparison struct {
	// Runs and Scenarios are the baseline's.
	Runs, Scenarios []string
	// Level is the confidence level of the intervals.
	Level float64
	// Total compares the totals; Names the names both runs have, in the
	// report's order.
	Total *NameChanges
	Names []*NameChanges
	// OnlyRun and OnlyBase count the names only one of them has.
	OnlyRun, OnlyBase int
	// Notes say what makes the comparison doubtful: another scenario.
	Notes []string
	byNow map[*Stats]*NameChanges
	// The reports compared, for thresholds on a name (all its methods).
	now, base *Report
}

// Of is the changes of the run's stats s (nil: not compared, or no
// comparison).
func (c *Comparison) Of(s *Stats) *NameChanges {
	if c == nil {
		return nil
	}
	return c.byNow[s]
}

// NameChanges are the changes of one name's figures (or the total's).
type NameChanges struct {
	Method, Name string
	Changes      []regress.Change
	now, base    *Stats // for figures asked for later (p90, p99.9)
}

// Change is the change of figure ("p95", "avg", "error_rate"...), nil
// when it was not compared.
func (n *NameChanges) Change(figure string) *regress.Change {
	for i := range n.Changes {
		if n.Changes[i].Figure == figure {
			return &n.Changes[i]
		}
	}
	return nil
}

// Compare judges rep against base. Each name's resampling is seeded by a
// hash of its method and name: the same inputs give the same intervals,
// whatever order or cores they were compared on. Names are compared on
// as many goroutines as there are processors (a few ms each).
func Compare(rep, base *Report) *Comparison {
	c := &Comparison{Runs: base.Runs, Scenarios: base.Scenarios, Level: baselineLevel, now: rep, base: base}
	if !slices.Equal(rep.Scenarios, base.Scenarios) {
		c.Notes = append(c.Notes, fmt.Sprintf("the baseline is of scenario %s, this run of %s: their figures may differ for that alone",
			strings.Join(base.Scenarios, ", "), strings.Join(rep.Scenarios, ", ")))
	}
	byKey := make(map[Key]*Stats, len(base.Names))
	for _, s := range base.Names {
		byKey[s.Key] = s
	}
	c.Total = &NameChanges{Name: "Aggregated", now: rep.Total, base: base.Total}
	all := []*NameChanges{c.Total}
	for _, s := range rep.Names {
		b := byKey[s.Key]
		if b == nil {
			c.OnlyRun++
			continue
		}
		delete(byKey, s.Key)
		n := &NameChanges{Method: s.Method, Name: s.Name, now: s, base: b}
		c.Names = append(c.Names, n)
		all = append(all, n)
	}
	c.OnlyBase = len(byKey)
	c.byNow = make(map[*Stats]*NameChanges, len(all))
	for _, n := range all {
		c.byNow[n.now] = n
	}
	var wg sync.WaitGroup
	next := make(chan *NameChanges)
	for range min(runtime.GOMAXPROCS(0), len(all)) {
		wg.Go(func() {
			for n := range next {
				n.Changes = regress.CompareAll(sample(n.base), sample(n.now), n.options())
			}
		})
	}
	for _, n := range all {
		next <- n
	}
	close(next)
	wg.Wait()
	return c
}

// baselineLevel is the intervals' confidence level: 99%, as package
// regress says why (a report holds many verdicts).
const baselineLevel = 0.99

// options seed a name's resampling by its method and name, so that its
// intervals are the same from one analysis to the next.
func (n *NameChanges) options() regress.Options {
	h := fnv.New64a()
	h.Write([]byte(n.Method))
	h.Write([]byte{0})
	h.Write([]byte(n.Name))
	return regress.Options{Level: baselineLevel, Seed: h.Sum64()}
}

func sample(s *Stats) regress.Sample {
	return regress.Sample{Latency: s.Latency, Requests: s.Requests, Failures: s.Failures}
}

// BaselineThreshold is the part of a threshold against the baseline
// (p95<baseline+10%, error_rate<baseline+0.5%).
type BaselineThreshold struct {
	// Allowance is how much worse than the baseline the figure may be:
	// a fraction of it when Relative, else in the figure's unit (ms, or a
	// fraction for error_rate).
	Allowance float64
	Relative  bool
}

// parseBaseline reads a threshold's value "baseline", "baseline+10%",
// "baseline+50ms" (latencies) or "baseline+0.5%" (error_rate: points).
func parseBaseline(metric, val string) (*BaselineThreshold, error) {
	rest, ok := strings.CutPrefix(strings.ToLower(val), "baseline")
	if !ok {
		return nil, nil
	}
	rest = strings.TrimSpace(rest)
	b := &BaselineThreshold{}
	if rest != "" {
		num, ok := strings.CutPrefix(rest, "+")
		if !ok {
			return nil, fmt.Errorf("after baseline, want + and an allowance: baseline+10%%, baseline+50ms")
		}
		num = strings.TrimSpace(num)
		switch {
		case metric == "error_rate":
			p, ok := strings.CutSuffix(num, "%")
			v, err := strconv.ParseFloat(p, 64)
			if !ok || err != nil || !isDecimal(p) || v < 0 || v > 100 {
				return nil, fmt.Errorf("error_rate's allowance is in percentage points from 0%% to 100%%, such as baseline+0.5%%")
			}
			b.Allowance = v / 100
		case strings.HasSuffix(num, "%"):
			v, err := strconv.ParseFloat(strings.TrimSuffix(num, "%"), 64)
			if err != nil || !isDecimal(strings.TrimSuffix(num, "%")) || v < 0 || v > 1e6 {
				return nil, fmt.Errorf("%q is not a percentage of the baseline", num)
			}
			b.Allowance, b.Relative = v/100, true
		default:
			v, err := parseMillis(num)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%q is neither a percentage of the baseline nor a duration", num)
			}
			b.Allowance = v
		}
	}
	return b, nil
}

// checkBaseline fills v, a threshold against the baseline, from c.
func checkBaseline(v *Verdict, c *Comparison) {
	if c == nil {
		v.Missing, v.Detail = true, "no --baseline to compare with"
		return
	}
	n := c.Total
	if v.Name != "" {
		// Every method of the name, as the other thresholds on a name.
		n = nil
		if now, base := c.now.Name(v.Name), c.base.Name(v.Name); now != nil && base != nil {
			n = &NameChanges{Name: v.Name, now: now, base: base}
		}
	}
	var ch *regress.Change
	if n != nil {
		ch = n.figure(v.figure())
	}
	if ch == nil {
		v.Missing, v.Detail = true, "no request of this name in both runs"
		return
	}
	v.Actual = ch.Now
	v.Value = ch.Base + v.Baseline.Allowance // the limit the allowance makes of the baseline
	if v.Baseline.Relative {
		v.Value = ch.Base * (1 + v.Baseline.Allowance)
	}
	v.Pass = !regress.Exceeds(*ch, v.Baseline.Allowance, v.Baseline.Relative)
	v.Detail = ChangeText(ch)
	if ch.Verdict == regress.TooFew {
		v.Detail += "; passes: no change can be told"
	}
}

// figure is the name of the figure a threshold is on, as package regress
// names it.
func (t *Threshold) figure() string {
	if t.Quantile > 0 {
		return "p" + strconv.FormatFloat(t.Quantile, 'f', -1, 64)
	}
	return t.Metric
}

// figure is the change of a figure, compared now if Compare did not.
func (n *NameChanges) figure(name string) *regress.Change {
	if ch := n.Change(name); ch != nil {
		return ch
	}
	ch, err := regress.Compare(sample(n.base), sample(n.now), name, n.options())
	if err != nil {
		return nil
	}
	n.Changes = append(n.Changes, ch)
	return &n.Changes[len(n.Changes)-1]
}

// ChangeText is "p95 280.0 ms -> 312.0 ms: +32.0 ms, +11.4% (99%
// interval +8.1% to +14.9%): worse".
func ChangeText(ch *regress.Change) string {
	if ch.Verdict == regress.TooFew {
		return fmt.Sprintf("%s %s -> %s: %s", ch.Figure, figureText(ch.Figure, ch.Base), figureText(ch.Figure, ch.Now), ch.Verdict)
	}
	return fmt.Sprintf("%s %s -> %s: %s, %s (%.0f%% interval %s to %s): %s", ch.Figure,
		figureText(ch.Figure, ch.Base), figureText(ch.Figure, ch.Now), absText(ch.Figure, ch.Abs), relText(ch.Rel),
		baselineLevel*100, relOrAbs(ch, ch.RelLo, ch.Lo), relOrAbs(ch, ch.RelHi, ch.Hi), ch.Verdict)
}

// relOrAbs is an interval bound: relative, unless the baseline is zero.
func relOrAbs(ch *regress.Change, rel, abs float64) string {
	if ch.Base == 0 || math.IsInf(rel, 0) || math.IsNaN(rel) {
		return absText(ch.Figure, abs)
	}
	return relText(rel)
}

func figureText(figure string, v float64) string {
	if figure == "error_rate" {
		return fmt.Sprintf("%.2f%%", v*100)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func absText(figure string, v float64) string {
	if figure == "error_rate" {
		if math.Abs(v) < 0.00005 {
			return "±0.00 points"
		}
		return fmt.Sprintf("%+.2f points", v*100)
	}
	if math.Abs(v) < 0.05 {
		return "±0.0 ms" // not "-0.0"
	}
	return fmt.Sprintf("%+.1f ms", v)
}

func relText(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "new"
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", v*100)
}
