package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is one check on the figures: [name=NAME:]METRIC OP VALUE.
type Threshold struct {
	// Expr is the threshold as written.
	Expr string
	// Name limits it to one name (route); "" is the total.
	Name string
	// Metric is avg, min, max, median, pNN, error_rate, availability, rps,
	// lateness_p99 (a recorded run's start lateness against its
	// timeline, the whole run's) or mismatch_rate (the share of the
	// answers compared with the recorded ones that differed).
	Metric string
	// Quantile is the percentile for pNN and median.
	Quantile float64
	// Op is <, <=, > or >=.
	Op string
	// Value is in milliseconds for latencies, a fraction for rates, and
	// requests per second for rps.
	Value float64
	// Abort (",abort" after the expression) stops a replay as soon as the
	// threshold fails on the figures so far, once AbortAfter has passed
	// since the start (",abort=30s"; default DefaultAbortAfter), as k6's
	// abortOnFail and delayAbortEval do. It is checked at the end too.
	Abort      bool
	AbortAfter time.Duration
	// Baseline, when set, makes it a threshold against the baseline
	// (p95<baseline+10%): it fails only when the figure is significantly
	// worse than the baseline's by more than the allowance; Value is
	// then unused.
	Baseline *BaselineThreshold
}

// DefaultAbortAfter is how long a run goes before an abort threshold is
// checked: the first requests (connections opening, caches cold) are no
// verdict on a run.
const DefaultAbortAfter = 5 * time.Second

// DefaultThresholds are the seed's five (mismatch_rate is not among
// them: runs of traces recorded before signatures compare nothing).
var DefaultThresholds = []string{"avg<500ms", "p95<2000ms", "error_rate<1%", "rps>50", "availability>99.9%"}

const thresholdHelp = "write [name=ROUTE:]METRIC OP VALUE[,abort[=DELAY]], e.g. p95<2s, avg<=500ms, error_rate<1%, availability>99.9%, rps>50, name=/api/v1/tasks/{id}:p99<300ms, mismatch_rate<1%; METRIC is avg, min, max, median, p50..p99.99, error_rate, availability, rps, lateness_p99 or mismatch_rate"

// ParseThreshold reads a threshold expression.
func ParseThreshold(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	s := strings.TrimSpace(expr)
	bad := func(why string) (Threshold, error) {
		return Threshold{}, fmt.Errorf("threshold %q: %s (%s)", expr, why, thresholdHelp)
	}
	if i := strings.LastIndex(s, ","); i >= 0 {
		if opt := strings.TrimSpace(s[i+1:]); opt == "abort" || strings.HasPrefix(opt, "abort=") {
			t.Abort, t.AbortAfter = true, DefaultAbortAfter
			if d, ok := strings.CutPrefix(opt, "abort="); ok {
				v, err := time.ParseDuration(d)
				if err != nil || v < 0 {
					return bad(fmt.Sprintf("abort=%s: want how long to wait before checking, such as abort=30s", d))
				}
				t.AbortAfter = v
			}
			s = strings.TrimSpace(s[:i])
		}
	}
	if rest, ok := strings.CutPrefix(s, "name="); ok {
		// The name ends at the last ':' before the metric: names may hold ':'.
		i := strings.LastIndex(rest, ":")
		if i <= 0 {
			return bad("name= needs a route and a ':' before the metric")
		}
		t.Name, s = rest[:i], strings.TrimSpace(rest[i+1:])
	}
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return bad("no comparison")
	}
	t.Metric = strings.ToLower(strings.TrimSpace(s[:i]))
	t.Op = s[i : i+1]
	val := s[i+1:]
	if strings.HasPrefix(val, "=") {
		t.Op += "="
		val = val[1:]
	}
	val = strings.TrimSpace(val)
	if val == "" {
		return bad("no value")
	}
	if strings.ContainsAny(strings.TrimPrefix(val, "baseline"), "<>=") {
		return bad("one comparison: <, <=, > or >=")
	}
	if b, err := parseBaseline(t.Metric, val); err != nil {
		return bad(err.Error())
	} else if b != nil {
		if t.Op[0] != '<' || t.Abort {
			return bad("a threshold against the baseline is METRIC<baseline+ALLOWANCE, checked at the end (no abort)")
		}
		t.Baseline = b
	}
	latency := false
	switch m := t.Metric; {
	case m == LatenessP99 && t.Baseline != nil, m == "min" && t.Baseline != nil, m == "max" && t.Baseline != nil:
		return bad("only latencies (avg, median, pNN) and error_rate compare with the baseline")
	case m == LatenessP99:
		if t.Name != "" {
			return bad(m + " is the whole run's: it takes no name=")
		}
		latency = true
	case m == "avg" || m == "min" || m == "max" || m == "median":
		if m == "median" {
			t.Quantile = 50
		}
		latency = true
	case strings.HasPrefix(m, "p") && isDecimal(m[1:]):
		q, err := strconv.ParseFloat(m[1:], 64)
		if err != nil || q <= 0 || q > 100 {
			return bad(fmt.Sprintf("unknown metric %q: a percentile is p followed by a number above 0, up to 100", m))
		}
		t.Quantile = q
		latency = true
	case t.Baseline != nil && m != "error_rate":
		return bad("only latencies (avg, median, pNN) and error_rate compare with the baseline")
	case t.Baseline != nil:
	case m == "error_rate" || m == "availability" || m == MismatchRate:
		num, ok := strings.CutSuffix(val, "%")
		if !ok {
			return bad(m + " takes a percentage, such as 1% or 99.9%")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || !isDecimal(strings.TrimSpace(num)) || v < 0 || v > 100 {
			return bad(fmt.Sprintf("%q is not a percentage from 0%% to 100%%", val))
		}
		t.Value = math.Round(v/100*1e12) / 1e12 // 99.9% is 0.999, not 0.9990000000000001
		if t.Op == ">" && t.Value == 1 || t.Op == "<=" && t.Value == 1 {
			return bad(fmt.Sprintf("%s %s 100%% always or never holds", m, t.Op))
		}
	case m == "rps":
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || !isDecimal(val) || v < 0 {
			return bad(fmt.Sprintf("%q is not a number of requests per second", val))
		}
		t.Value = v
	default:
		return bad(fmt.Sprintf("unknown metric %q", t.Metric))
	}
	if t.Baseline != nil {
		return t, nil // its allowance is checked by parseBaseline
	}
	if latency {
		v, err := parseMillis(val)
		if err != nil {
			return bad(err.Error())
		}
		t.Value = v
	}
	// Every figure is 0 or more: < 0 never holds, >= 0 always does.
	if t.Value == 0 && (t.Op == "<" || t.Op == ">=") {
		return bad(fmt.Sprintf("%s %s 0 always or never holds", t.Metric, t.Op))
	}
	return t, nil
}

// isDecimal says s is a plain decimal number, digits with at most one
// point (and an exponent): not inf, NaN, hexadecimal or with
// underscores, which strconv reads too.
func isDecimal(s string) bool {
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		exp = strings.TrimLeft(exp, "+-")
		if exp == "" || strings.Trim(exp, "0123456789") != "" {
			return false
		}
	}
	if mant == "" || mant == "." || strings.Count(mant, ".") > 1 {
		return false
	}
	return strings.Trim(mant, "0123456789.") == ""
}

// maxLatency is the largest latency a threshold may name (the histograms'
// top): past it, a latency cannot be told apart from it.
const maxLatency = float64(histMax) / 1000

// String writes the threshold back in the form ParseThreshold reads, its
// value in full: [name=NAME:]METRIC OP VALUE[,abort=DELAY].
func (t Threshold) String() string {
	var b strings.Builder
	if t.Name != "" {
		b.WriteString("name=" + t.Name + ":")
	}
	scale, unit := t.Display()
	if unit == "ms" {
		unit = "" // a bare number of milliseconds reads back exactly
	}
	switch bt := t.Baseline; {
	case bt == nil:
		b.WriteString(t.Metric + t.Op + strconv.FormatFloat(t.Value*scale, 'f', -1, 64) + unit)
	case bt.Allowance == 0:
		b.WriteString(t.Metric + t.Op + "baseline")
	case bt.Relative:
		b.WriteString(t.Metric + t.Op + "baseline+" + strconv.FormatFloat(bt.Allowance*100, 'f', -1, 64) + "%")
	default:
		b.WriteString(t.Metric + t.Op + "baseline+" + strconv.FormatFloat(bt.Allowance*scale, 'f', -1, 64) + unit)
	}
	if t.Abort {
		b.WriteString(",abort=" + t.AbortAfter.String())
	}
	return b.String()
}

// parseMillis reads a latency: a Go duration (500ms, 2s, 1m) or a bare
// number of milliseconds, as Locust writes them.
func parseMillis(s string) (float64, error) {
	var v float64
	switch {
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("%q is negative: not a duration", s)
	case isDecimal(s):
		var err error
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		v = float64(d) / float64(time.Millisecond)
	}
	if v > maxLatency {
		return 0, fmt.Errorf("%q is past an hour, the longest latency measured", s)
	}
	return v, nil
}

// LatenessP99 is the metric of a recorded run's start lateness against
// its timeline (Timeline.LateP99), in milliseconds.
const LatenessP99 = "lateness_p99"

// MismatchRate is the metric of the answers that differed from the
// recorded ones, over those compared (Stats.MismatchRate), a fraction.
const MismatchRate = "mismatch_rate"

// Verdict is a threshold checked against a report.
type Verdict struct {
	Threshold
	// Actual is the measured value, in the threshold's unit.
	Actual float64
	// Pass says the threshold holds; Missing says its name had no request
	// (a failure: a route that never ran cannot be said to be fast), or,
	// for lateness_p99, that the run had no recorded timeline, or, for
	// mismatch_rate, that no answer was compared with the recording.
	Pass, Missing bool
	// Detail says more of what was found: for mismatch_rate, how many
	// answers differed and how most often, or, when Missing, why none was
	// compared ("" for the other metrics).
	Detail string
}

// Check evaluates thresholds against a report.
func Check(rep *Report, ts []Threshold) []Verdict {
	var out []Verdict
	for _, t := range ts {
		v := Verdict{Threshold: t}
		if t.Baseline != nil {
			checkBaseline(&v, rep.Baseline)
			out = append(out, v)
			continue
		}
		s := rep.Total
		if t.Name != "" {
			s = rep.Name(t.Name)
		}
		if s == nil || s.Requests == 0 {
			v.Missing = true
			out = append(out, v)
			continue
		}
		switch t.Metric {
		case "avg":
			v.Actual = s.Avg()
		case "min":
			v.Actual = s.Min()
		case "max":
			v.Actual = s.Max()
		case "error_rate":
			v.Actual = s.ErrorRate()
		case "availability":
			v.Actual = s.Availability()
		case "rps":
			v.Actual = rep.RPS(s)
		case LatenessP99:
			if rep.Timeline == nil || rep.Timeline.SentTotal == 0 {
				v.Missing = true
				out = append(out, v)
				continue
			}
			v.Actual = rep.Timeline.LateP99()
		case MismatchRate:
			if s.Compared == 0 {
				v.Missing, v.Detail = true, notComparedText(t.Name)
				out = append(out, v)
				continue
			}
			v.Actual = s.MismatchRate()
			v.Detail = mismatchDetail(s)
		default:
			v.Actual = s.Quantile(t.Quantile)
		}
		v.Pass = t.holds(v.Actual)
		out = append(out, v)
	}
	return out
}

// mismatchDetail says how many compared answers differed and how most
// often: `2,000 of 2,000 answers differed from the recording, most often
// "status 200->302" (2,000)`.
func mismatchDetail(s *Stats) string {
	d := fmt.Sprintf("%s of %s answers differed from the recording", Thousands(s.Mismatched()), Thousands(s.Compared))
	if top := s.TopDiffs(1); len(top) > 0 {
		d += fmt.Sprintf(", most often %q (%s)", top[0].Diff, Thousands(top[0].Count))
	}
	return d
}

// notComparedText says why a run (or a route: name) had no answer
// compared with the recording.
func notComparedText(name string) string {
	what := "no answer"
	if name != "" {
		what = "no answer of " + name
	}
	return what + " was compared with the recording: the trace holds no signatures of its recorded answers (record it again with this version of replaykit), or replay ran with --no-compare"
}

// holds says whether the value x, in the threshold's unit, passes it.
func (t Threshold) holds(x float64) bool {
	switch t.Op {
	case "<":
		return x < t.Value
	case "<=":
		return x <= t.Value
	case ">":
		return x > t.Value
	case ">=":
		return x >= t.Value
	}
	return false
}

// Format writes a value in the threshold's unit, as a person reads it:
// 4 significant digits (4.4304% is 4.43%, 318.207ms is 318.2ms, 146.729 rps
// is 146.7), never an exponent, never fewer digits than the integer part.
func (t Threshold) Format(v float64) string {
	return t.format(v, 4)
}

func (t Threshold) format(v float64, digits int) string {
	scale, unit := t.Display()
	return strconv.FormatFloat(roundFigure(v*scale, digits), 'f', -1, 64) + unit
}

// Display is how a value in the threshold's unit is shown: rates as
// percentages, latencies in milliseconds, rps bare.
func (t Threshold) Display() (scale float64, unit string) {
	switch t.Metric {
	case "error_rate", "availability", MismatchRate:
		return 100, "%"
	case "rps":
		return 1, ""
	}
	return 1, "ms"
}

// roundFigure rounds v to digits significant digits, or to a whole number
// when it has more integer digits than that. The rounding is decimal
// (strconv's), so the result prints without binary noise such as
// 4.430400000000001.
func roundFigure(v float64, digits int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	decimals := max(digits-1-int(math.Floor(math.Log10(math.Abs(v)))), 0)
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals, 64), 64)
	return r
}

// shown is the verdict's figure as printed: 4 significant digits, or as
// many more as it takes for the printed figure to agree with the verdict
// (availability 99.9951% against >99.999% is shown so, not as 100%), and
// 100% only when it is.
func (v Verdict) shown() string {
	scale, unit := v.Display()
	digits := 4
	for ; digits < 17; digits++ {
		r := roundFigure(v.Actual*scale, digits)
		whole := unit == "%" && r == 100 && v.Actual != 1
		if v.holds(r/scale) == v.Pass && !whole {
			break
		}
	}
	return v.format(v.Actual, digits)
}

// String says what was checked and what was found.
func (v Verdict) String() string {
	verdict := "FAIL"
	if v.Pass {
		verdict = "PASS"
	}
	where := "total"
	if v.Name != "" {
		where = v.Name
	}
	if v.Missing && v.Metric == LatenessP99 {
		return fmt.Sprintf("%s %s: the run has no recorded timeline (only the recorded scenario has one)", verdict, v.Expr)
	}
	if v.Missing && v.Detail != "" {
		return fmt.Sprintf("%s %s: %s", verdict, v.Expr, v.Detail)
	}
	if v.Missing {
		return fmt.Sprintf("%s %s: %s had no request", verdict, v.Expr, where)
	}
	if v.Baseline != nil {
		return fmt.Sprintf("%s %s: %s %s", verdict, v.Expr, where, v.Detail)
	}
	s := fmt.Sprintf("%s %s: %s %s is %s", verdict, v.Expr, where, v.Metric, v.shown())
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	return s
}

// Thousands writes n with commas between groups of three digits.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
