package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/regress"
)

// HTMLOptions say what the report shows besides the figures.
type HTMLOptions struct {
	// Host and Trace are run facts the results do not hold (optional).
	Host, Trace string
	// Baseline is an older run to compare every figure with (optional).
	Baseline *analysis.Report
	// Generated is the time written in the footer (zero: left out, as the
	// golden files need).
	Generated time.Time
}

// cmpCell is a figure and its change against the baseline.
type cmpCell struct {
	Text   string
	Change string // "+5.2 ms (+12.0%)", "" without a baseline
	Class  string // "worse", "better" or "": the interval's verdict
	Title  string // the change's interval and verdict, on hover
}

type nameRow struct {
	Method, Name                                              string
	Requests, Failures, Limited, Avg, P50, P95, P99, Max, RPS cmpCell
	ErrRate                                                   cmpCell
	// Carried is the values carried, and "(N not)" when links were not.
	Carried string
}

// compare is v against the baseline's figure: the change in absolute
// terms (delta says it in the figure's unit) and relative ones. Which
// changes are worse or better is the comparison's to say (judged).
func compare(v, base float64, hasBase bool, text string, delta func(float64) string) cmpCell {
	c := cmpCell{Text: text}
	if !hasBase {
		return c
	}
	if base == 0 {
		if v == 0 {
			c.Change = "±0"
		} else {
			c.Change = delta(v) + " (new)"
		}
		return c
	}
	ch := (v - base) / math.Abs(base)
	c.Change = fmt.Sprintf("%s (%+.1f%%)", delta(v-base), ch*100)
	return c
}

// judged marks c by the verdict of its figure's change (nil: not
// compared): worse or better only when its confidence interval says so,
// never for a change within the noise of the sample.
func judged(c cmpCell, n *analysis.NameChanges, figure string) cmpCell {
	if n == nil || c.Change == "" {
		return c
	}
	ch := n.Change(figure)
	if ch == nil {
		return c
	}
	c.Title = analysis.ChangeText(ch)
	switch ch.Verdict {
	case regress.Worse:
		c.Class = "worse"
	case regress.Better:
		c.Class = "better"
	}
	return c
}

func row(rep, base *analysis.Report, s, b *analysis.Stats) nameRow {
	has := b != nil && b.Requests > 0
	if b == nil {
		b = analysis.EmptyStats(s.Key)
	}
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	carried := fmt.Sprint(s.Carried)
	if s.NotCarried > 0 {
		carried += fmt.Sprintf(" (%d not)", s.NotCarried)
	}
	n := func(d float64) string { return signed(int64(math.Round(d))) }
	lat := func(d float64) string { return fmt.Sprintf("%+.1f ms", d) }
	nc := rep.Baseline.Of(s)
	return nameRow{Method: s.Method, Name: s.Name, Carried: carried,
		Requests: compare(float64(s.Requests), float64(b.Requests), has, fmt.Sprint(s.Requests), n),
		Failures: compare(float64(s.Failures), float64(b.Failures), has, fmt.Sprint(s.Failures), n),
		Limited:  compare(float64(s.RateLimited), float64(b.RateLimited), has, fmt.Sprint(s.RateLimited), n),
		ErrRate: judged(compare(s.ErrorRate(), b.ErrorRate(), has, fmt.Sprintf("%.2f%%", 100*s.ErrorRate()),
			func(d float64) string { return fmt.Sprintf("%+.2f pp", 100*d) }), nc, "error_rate"),
		Avg: judged(compare(s.Avg(), b.Avg(), has, f(s.Avg()), lat), nc, "avg"),
		P50: judged(compare(s.Quantile(50), b.Quantile(50), has, f(s.Quantile(50)), lat), nc, "p50"),
		P95: judged(compare(s.Quantile(95), b.Quantile(95), has, f(s.Quantile(95)), lat), nc, "p95"),
		P99: judged(compare(s.Quantile(99), b.Quantile(99), has, f(s.Quantile(99)), lat), nc, "p99"),
		Max: compare(s.Max(), b.Max(), has, f(s.Max()), lat),
		RPS: compare(rep.RPS(s), baseRPS(base, b), has, f(rep.RPS(s)), func(d float64) string { return fmt.Sprintf("%+.1f/s", d) }),
	}
}

// signed is n with its sign and thousands separated: "+1,250", "-3", "±0".
func signed(n int64) string {
	switch {
	case n > 0:
		return "+" + analysis.Thousands(n)
	case n < 0:
		return analysis.Thousands(n)
	}
	return "±0"
}

func baseRPS(base *analysis.Report, b *analysis.Stats) float64 {
	if base == nil {
		return 0
	}
	return base.RPS(b)
}

// distribution buckets the total latency by powers of ten in fifths,
// and the baseline's (b, nil without one) in the same buckets: the edges
// are one more than the counts.
func distribution(s, b *analysis.Stats) (edges []string, counts, base []int64) {
	if s.Requests == 0 {
		return nil, nil, nil
	}
	minUs, maxUs := s.Latency.Min(), s.Latency.Max()
	if b != nil && b.Requests > 0 {
		minUs, maxUs = min(minUs, b.Latency.Min()), max(maxUs, b.Latency.Max())
	}
	lo := math.Floor(math.Log10(float64(max(minUs, 1))) * 5)
	hi := math.Floor(math.Log10(float64(max(maxUs, 1)))*5) + 1
	for k := lo; k <= hi; k++ {
		edges = append(edges, fmtTick(math.Pow(10, k/5)/1000)+"ms")
	}
	bucket := func(st *analysis.Stats) []int64 {
		counts := make([]int64, len(edges)-1)
		for _, bar := range st.Latency.Distribution() {
			if bar.Count == 0 {
				continue
			}
			k := math.Floor(math.Log10(float64(max(bar.From, 1)))*5) - lo
			i := int(min(max(k, 0), float64(len(counts)-1)))
			counts[i] += bar.Count
		}
		return counts
	}
	counts = bucket(s)
	if b != nil && b.Requests > 0 {
		base = bucket(b)
	}
	return edges, counts, base
}

type htmlData struct {
	Title                string
	Runs, Scenarios      string
	Shards               string
	Host, Trace, Model   string
	Start, End, Duration string
	Users                int32
	Total                nameRow
	Names                []nameRow
	Failures             []analysis.Failure
	Verdicts             []thresholdRow
	Pass                 bool
	// Parameters say how the run was made (the results' footers).
	Parameters []figure
	// Statuses are the answers by status per route.
	Statuses *htmlStatuses
	// Slowest are the latency charts of the slowest routes; Routes those
	// of the busiest, each one to open.
	Slowest                       []routeChart
	Routes                        []routeChart
	RoutesLeft                    string
	Baseline                      string
	RPSChart, LatChart, UserChart template.HTML
	DistChart                     template.HTML
	Generated                     string
	Open, Overloaded              bool
	Problems                      []string
	LateP99, OverloadReason       string
	Service                       []serviceRow
	// Linked shows the Carried column: the run had links to carry.
	Linked bool
	// Timeline is a recorded run against its timeline (nil for other
	// runs); TimelineNotes what was wrong with the files' timelines.
	Timeline      *htmlTimeline
	TimelineNotes []string
	// Changes are the users or rate changes made during the runs, as
	// lines; Notes what could not be read of the footers.
	Changes, Notes []string
	// Differences are the answers compared with the recorded ones (nil
	// when none was).
	Differences *htmlDifferences
	// Shadow is the shadow target beside the target (nil without one).
	Shadow *htmlShadow
}

// thresholdRow is a threshold once: what was found, and with a
// baseline what the baseline had and the change.
type thresholdRow struct {
	Expr, Verdict, Found string
	Pass                 bool
	Base, Change         string
}

// thresholdRows are the verdicts, and the baseline's for the same
// thresholds (base nil: none).
func thresholdRows(verdicts []analysis.Verdict, base *analysis.Report) []thresholdRow {
	var out []thresholdRow
	for _, v := range verdicts {
		r := thresholdRow{Expr: v.Expr, Pass: v.Pass, Verdict: "FAIL", Found: verdictFound(v)}
		if v.Pass {
			r.Verdict = "PASS"
		}
		if base != nil {
			b := analysis.Check(base, []analysis.Threshold{v.Threshold})[0]
			bv := "FAIL"
			if b.Pass {
				bv = "PASS"
			}
			r.Base = bv + ": " + verdictFound(b)
			if !v.Missing && !b.Missing {
				d := v.Actual - b.Actual
				scale, unit := v.Display()
				if unit == "%" {
					unit = " pp" // a change of a rate is in percentage points
				}
				r.Change = strings.TrimRight(strings.TrimRight(fmt.Sprintf("%+.3f", d*scale), "0"), ".") + unit
				if b.Actual != 0 {
					r.Change += fmt.Sprintf(" (%+.1f%%)", 100*d/math.Abs(b.Actual))
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// verdictFound is what a verdict found, without the verdict and the
// expression its row shows already.
func verdictFound(v analysis.Verdict) string {
	s := v.String()
	for _, word := range []string{"PASS ", "FAIL "} {
		if f, ok := strings.CutPrefix(s, word+v.Expr+": "); ok {
			return f
		}
	}
	return s
}

// htmlStatuses is the table of answers by status: a column per status
// among the most common (maxStatusColumns), the others together.
type htmlStatuses struct {
	Columns []string
	Other   bool
	Rows    []statusRow
}

type statusRow struct {
	Total        bool
	Method, Name string
	Cells        []string
	Other        string
}

// maxStatusColumns bounds the status table's columns.
const maxStatusColumns = 8

func statusesHTML(rep *analysis.Report) *htmlStatuses {
	all := rep.Total.Statuses()
	if len(all) == 0 {
		return nil
	}
	shown := all[:min(len(all), maxStatusColumns)]
	codes := make([]int32, len(shown))
	for i, c := range shown {
		codes[i] = c.Status
	}
	// Statuses in order, then no answer, then the others.
	slices.SortFunc(codes, func(x, y int32) int {
		rank := func(c int32) int32 {
			if c <= 0 {
				return 1000 - c
			}
			return c
		}
		return cmp.Compare(rank(x), rank(y))
	})
	h := &htmlStatuses{Other: len(all) > len(shown)}
	for _, c := range codes {
		h.Columns = append(h.Columns, statusText(c))
	}
	for _, s := range append(slices.Clone(rep.Names), rep.Total) {
		r := statusRow{Total: s == rep.Total, Method: s.Method, Name: s.Name, Cells: make([]string, len(codes))}
		var other int64
		for _, sc := range s.Statuses() {
			if i := slices.Index(codes, sc.Status); i >= 0 {
				r.Cells[i] = analysis.Thousands(sc.Requests)
			} else {
				other += sc.Requests
			}
		}
		if other > 0 {
			r.Other = analysis.Thousands(other)
		}
		h.Rows = append(h.Rows, r)
	}
	return h
}

func statusText(c int32) string {
	switch c {
	case analysis.NoStatus:
		return "no answer"
	case analysis.OtherStatus:
		return "not HTTP"
	}
	return fmt.Sprint(c)
}

// routeChart is a route's latency over time, to open.
type routeChart struct {
	Method, Name, Summary string
	Chart                 template.HTML
}

// Bounds of the charts per route: the slowest few by p95 are shown, the
// busiest maxRouteCharts are each one click away.
const (
	slowestRoutes  = 4
	maxRouteCharts = 50
)

// routeLatencyChart draws a route's p50 and p95 over time, from origin
// (the run's first window), with the baseline's p95 dashed (b nil: none).
func routeLatencyChart(s *analysis.Stats, origin time.Time, b *analysis.Stats, baseOrigin time.Time) template.HTML {
	ws, _ := s.Series()
	var xs, p50, p95 []float64
	for _, w := range ws {
		xs = append(xs, max(w.Start.Sub(origin).Seconds(), 0))
		if w.Requests == 0 {
			p50, p95 = append(p50, math.NaN()), append(p95, math.NaN())
			continue
		}
		p50, p95 = append(p50, w.P50), append(p95, w.P95)
	}
	ss := []series{{name: "p50", color: "#16a34a", ys: p50}, {name: "p95", color: "#d97706", ys: p95}}
	if b != nil {
		bws, _ := b.Series()
		var bxs, bp95 []float64
		for _, w := range bws {
			bxs = append(bxs, max(w.Start.Sub(baseOrigin).Seconds(), 0))
			if w.Requests == 0 {
				bp95 = append(bp95, math.NaN())
			} else {
				bp95 = append(bp95, w.P95)
			}
		}
		if len(bxs) > 0 {
			ss = append(ss, series{name: "p95", color: "#d97706", ys: bp95, xs: bxs, dashed: true})
		}
	}
	return lineChartIn(smallChart, strings.TrimSpace(s.Method+" "+s.Name), "ms", xs, ss, nil)
}

// routeCharts are the slowest routes' charts and the busiest ones'.
func routeCharts(rep, base *analysis.Report, baseByKey map[analysis.Key]*analysis.Stats) (slowest, routes []routeChart, left string) {
	origin := rep.Start
	if len(rep.Windows) > 0 {
		origin = rep.Windows[0].Start
	}
	var baseOrigin time.Time
	if base != nil {
		baseOrigin = base.Start
		if len(base.Windows) > 0 {
			baseOrigin = base.Windows[0].Start
		}
	}
	chart := func(s *analysis.Stats) routeChart {
		return routeChart{Method: s.Method, Name: s.Name, Chart: routeLatencyChart(s, origin, baseByKey[s.Key], baseOrigin),
			Summary: fmt.Sprintf("%s requests, %.1f%% failed, p95 %.1f ms", analysis.Thousands(s.Requests), 100*s.ErrorRate(), s.Quantile(95))}
	}
	p95 := make(map[*analysis.Stats]float64, len(rep.Names)) // a quantile walks the histogram: once each
	for _, s := range rep.Names {
		p95[s] = s.Quantile(95)
	}
	bySlow := slices.Clone(rep.Names)
	slices.SortStableFunc(bySlow, func(x, y *analysis.Stats) int { return cmp.Compare(p95[y], p95[x]) })
	for _, s := range bySlow[:min(len(bySlow), slowestRoutes)] {
		slowest = append(slowest, chart(s))
	}
	if len(rep.Names) <= slowestRoutes {
		return slowest, nil, "" // every route is shown
	}
	busy := slices.Clone(rep.Names)
	slices.SortStableFunc(busy, func(x, y *analysis.Stats) int { return cmp.Compare(y.Requests, x.Requests) })
	kept := busy[:min(len(busy), maxRouteCharts)]
	if n := len(busy) - len(kept); n > 0 {
		left = fmt.Sprintf("The %d busiest of %d routes; the other %d (%s requests) have no chart.", len(kept), len(busy), n, analysis.Thousands(rep.Total.Requests-sumRequests(kept)))
	}
	charted := map[*analysis.Stats]bool{}
	for _, s := range kept {
		charted[s] = true
	}
	for _, s := range rep.Names { // in the table's order
		if !charted[s] {
			continue
		}
		routes = append(routes, chart(s))
	}
	return slowest, routes, left
}

func sumRequests(ss []*analysis.Stats) int64 {
	var n int64
	for _, s := range ss {
		n += s.Requests
	}
	return n
}

// parameterFacts are the run's parameters, each with the baseline's
// when it differs.
func parameterFacts(rep, base *analysis.Report) []figure {
	var out []figure
	for _, p := range rep.Parameters {
		v := p.Value
		if base != nil {
			if i := slices.IndexFunc(base.Parameters, func(b analysis.Parameter) bool { return b.Name == p.Name }); i >= 0 && base.Parameters[i].Value != v {
				v += " (baseline: " + base.Parameters[i].Value + ")"
			}
		}
		out = append(out, figure{p.Name, v})
	}
	if base != nil {
		for _, b := range base.Parameters {
			if !slices.ContainsFunc(rep.Parameters, func(p analysis.Parameter) bool { return p.Name == b.Name }) && len(rep.Parameters) > 0 {
				out = append(out, figure{b.Name, "none (baseline: " + b.Value + ")"}) // a speed of recorded pacing, say
			}
		}
	}
	return out
}

// windowSeries are a report's time series per second: offsets, rates,
// percentiles and users.
type windowSeries struct {
	xs, rps, p50, p95, p99, users, errs []float64
}

func seriesOf(rep *analysis.Report) windowSeries {
	var w windowSeries
	secs := rep.Step.Seconds()
	for i, win := range rep.Windows {
		w.xs = append(w.xs, float64(i)*secs)
		w.rps = append(w.rps, float64(win.Requests)/secs)
		w.errs = append(w.errs, float64(win.Failures)/secs)
		w.users = append(w.users, float64(win.Users))
		q := func(p float64) float64 {
			if win.Requests == 0 {
				return math.NaN()
			}
			return ms(analysis.QuantileOf(win.Latency, p))
		}
		w.p50, w.p95, w.p99 = append(w.p50, q(50)), append(w.p95, q(95)), append(w.p99, q(99))
	}
	return w
}

// htmlShadow is the report's section on the shadow target (replay
// --shadow): both targets' latencies side by side, the shadow's
// differences from the recording, and between the two.
type htmlShadow struct {
	Rows               []shadowRow
	Recording, Between *htmlDifferences
}

type shadowRow struct {
	Total                                        bool
	Method, Name, Requests                       string
	Fails, P50, P95, P99                         string
	ShadowFails, ShadowP50, ShadowP95, ShadowP99 string
	Differ                                       string
}

func shadowHTML(rep *analysis.Report) *htmlShadow {
	sh, bt := rep.Shadow, rep.Between
	if sh == nil {
		return nil
	}
	out := &htmlShadow{Recording: differencesHTML(sh), Between: differencesHTML(bt)}
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	row := func(m, s, b *analysis.Stats) {
		out.Rows = append(out.Rows, shadowRow{Total: m == rep.Total, Method: m.Method, Name: m.Name, Requests: analysis.Thousands(m.Requests),
			Fails: analysis.Thousands(m.Failures), P50: f(m.Quantile(50)), P95: f(m.Quantile(95)), P99: f(m.Quantile(99)),
			ShadowFails: analysis.Thousands(s.Failures), ShadowP50: f(s.Quantile(50)), ShadowP95: f(s.Quantile(95)), ShadowP99: f(s.Quantile(99)),
			Differ: fmt.Sprintf("%s (%.1f%%)", analysis.Thousands(b.Mismatched()), 100*b.MismatchRate())})
	}
	for _, m := range rep.Names {
		if s, b := sh.Key(m.Key), bt.Key(m.Key); s != nil && b != nil {
			row(m, s, b)
		}
	}
	row(rep.Total, sh.Total, bt.Total)
	return out
}

// htmlDifferences is the report's section on the differences from the
// recording: a row per route that had some, and the total, or Agreed.
type htmlDifferences struct {
	Rows []diffRow
	// Agreed says every compared answer agreed ("" when some differed).
	Agreed string
	// Skipped says how many were compared by status alone ("" none).
	Skipped string
}

type diffRow struct {
	Total                                            bool
	Method, Name                                     string
	Compared, Mismatched, Rate, Status, Shape, Value string
	// Top are the most common differences: "status 200->302 (1,990)".
	Top []string
}

func differencesHTML(rep *analysis.Report) *htmlDifferences {
	t := rep.Total
	if t.Compared == 0 {
		return nil
	}
	note := skippedNote(t)
	if note != "" {
		note = fmt.Sprintf("%s answers compared, %s.", analysis.Thousands(t.Compared), note)
	}
	if t.Mismatched() == 0 {
		return &htmlDifferences{Agreed: fmt.Sprintf("%s answers compared with the recording, all agreed.", analysis.Thousands(t.Compared)), Skipped: note}
	}
	d := &htmlDifferences{Skipped: note}
	for _, s := range append(rep.Names, t) {
		if s.Mismatched() == 0 {
			continue
		}
		d.Rows = append(d.Rows, diffRow{Total: s == t, Method: s.Method, Name: s.Name, Compared: analysis.Thousands(s.Compared),
			Mismatched: analysis.Thousands(s.Mismatched()), Rate: fmt.Sprintf("%.1f%%", 100*s.MismatchRate()), Status: analysis.Thousands(s.StatusDiffs),
			Shape: analysis.Thousands(s.ShapeDiffs), Value: analysis.Thousands(s.ValueDiffs)})
		for _, top := range s.TopDiffs(shownDiffs) {
			r := &d.Rows[len(d.Rows)-1]
			r.Top = append(r.Top, fmt.Sprintf("%s (%s)", top.Diff, analysis.Thousands(top.Count)))
		}
	}
	return d
}

// htmlTimeline is the report's section on a recorded run's timeline.
type htmlTimeline struct {
	Chart   template.HTML
	Figures []figure
	// KeepUp says who could not keep up, "" when the run kept to it.
	KeepUp string
}

// figure is a labelled value of a two-column table.
type figure struct{ Label, Value string }

func timelineHTML(t, base *analysis.Timeline) *htmlTimeline {
	late := func(h *hdrhistogram.Histogram) string {
		return fmt.Sprintf("p50 %s, p99 %s, max %s", msText(analysis.QuantileOf(h, 50)), msText(analysis.QuantileOf(h, 99)), msText(h.Max()))
	}
	var recorded int64
	for _, n := range t.Recorded {
		recorded += n
	}
	sent := analysis.Thousands(t.SentTotal)
	if t.Planned > 0 {
		sent += fmt.Sprintf(" (%.1f%% of planned)", 100*t.SentShare())
	}
	corr := "undefined (fewer than 2 steps in common, or a series that does not vary)"
	if !math.IsNaN(t.Correlation) {
		corr = fmt.Sprintf("%.3f over %d steps of %s", t.Correlation, t.CorrelatedSteps, t.Step)
	}
	h := &htmlTimeline{Chart: timelineChart(t, base), KeepUp: keepUpText(t), Figures: []figure{
		{"planned", fmt.Sprintf("%s (%s recorded × %s)", analysis.Thousands(t.Planned), analysis.Thousands(recorded), strconv.FormatFloat(t.Amplify, 'f', -1, 64))},
		{"speed", strconv.FormatFloat(t.Speed, 'f', -1, 64)},
		{"sent", sent},
		{"sent outside the recording's steps", analysis.Thousands(t.Outside)},
		{perStep(t.Step) + " correlation", corr},
		{"sessions started late (sent - recorded start)", late(t.Starts)},
		{"requests left late (sent - timeline)", late(t.Late)},
		{"behind the timeline (waiting for late answers)", late(t.Behind)},
		{fmt.Sprintf("behind by more than %g ms", analysis.OverloadedLate), fmt.Sprintf("%.1f%% (%s requests)", 100*t.BehindOverShare(), analysis.Thousands(t.BehindOver))},
		{"the generator's lateness (sent - ready)", "p99 " + msText(analysis.QuantileOf(t.Generator, 99))},
	}}
	return h
}

// timelineChart draws the recorded arrivals, amplified, beside the
// replayed ones, per second, and the baseline's replayed ones dashed
// (base nil: none); past analysis.MaxWindows steps, steps are merged in pairs as
// the time series' windows are.
func timelineChart(t, base *analysis.Timeline) template.HTML {
	xs, recorded, replayed := timelineRates(t)
	name := recordedTimes(t)
	ss := []series{{name: name, color: "#6b7280", ys: recorded}, {name: "replayed", color: "#2563eb", ys: replayed}}
	if base != nil {
		bxs, _, breplayed := timelineRates(base)
		ss = append(ss, series{name: "replayed", color: "#2563eb", ys: breplayed, xs: bxs, dashed: true})
	}
	return lineChart("Arrivals: "+name+" and replayed", "/s", xs, ss)
}

// timelineRates are a timeline's steps and its recorded (amplified) and
// replayed arrivals per second.
func timelineRates(t *analysis.Timeline) (xs, recorded, replayed []float64) {
	step, rec, sent := t.Step, t.Recorded, t.Sent
	for len(rec) > analysis.MaxWindows {
		pairs := func(v []int64) []int64 {
			out := make([]int64, (len(v)+1)/2)
			for i, n := range v {
				out[i/2] += n
			}
			return out
		}
		step, rec, sent = 2*step, pairs(rec), pairs(sent)
	}
	secs := step.Seconds()
	for i := range rec {
		xs = append(xs, float64(i)*secs)
		recorded = append(recorded, float64(rec[i])*t.Amplify/secs)
		replayed = append(replayed, float64(sent[i])/secs)
	}
	return xs, recorded, replayed
}

type serviceRow struct {
	Method, Name  string
	P50, P95, P99 string
}

// WriteHTML writes the self-contained report. Every string from traffic
// goes through html/template, which escapes it for where it lands.
func WriteHTML(w io.Writer, rep *analysis.Report, verdicts []analysis.Verdict, opts HTMLOptions) error {
	if opts.Baseline != nil && rep.Baseline == nil {
		// Judged here when the caller did not (Run does it once for
		// every output).
		r := *rep
		r.Baseline = analysis.Compare(rep, opts.Baseline)
		rep = &r
	}
	d := htmlData{Title: strings.Join(rep.Runs, ", "), Runs: strings.Join(rep.Runs, ", "), Scenarios: strings.Join(rep.Scenarios, ", "),
		Host: opts.Host, Trace: opts.Trace, Model: modelText(rep), Users: rep.Users, Failures: rep.Failures, Verdicts: thresholdRows(verdicts, opts.Baseline), Pass: true,
		Start: rep.Start.Format(time.RFC3339), End: rep.End.Format(time.RFC3339), Duration: rep.Duration().Round(time.Millisecond).String()}
	var shards []string
	for _, s := range rep.Shards {
		shards = append(shards, fmt.Sprint(s))
	}
	d.Shards = strings.Join(shards, ", ")
	if len(rep.RunSpans) > 1 {
		// Runs apart in time: their running time, which rates are over,
		// beside the span that holds them all.
		d.Duration = fmt.Sprintf("%s running, %d runs over %s", rep.RateDuration().Round(time.Millisecond), len(rep.RunSpans),
			rep.Duration().Round(time.Millisecond))
	}
	for _, v := range verdicts {
		d.Pass = d.Pass && v.Pass
	}
	base := opts.Baseline
	var baseTotal *analysis.Stats
	if base != nil {
		d.Baseline = strings.Join(base.Runs, ", ")
		baseTotal = base.Total
	}
	d.Total = row(rep, base, rep.Total, baseTotal)
	d.Linked = rep.Total.Linked()
	baseByKey := map[analysis.Key]*analysis.Stats{}
	if base != nil {
		for _, bs := range base.Names {
			baseByKey[bs.Key] = bs
		}
	}
	for _, s := range rep.Names {
		d.Names = append(d.Names, row(rep, base, s, baseByKey[s.Key]))
	}
	ws := seriesOf(rep)
	rps := []series{{name: "requests/s", color: "#2563eb", ys: ws.rps}}
	lat := []series{{name: "p50", color: "#16a34a", ys: ws.p50}, {name: "p95", color: "#d97706", ys: ws.p95}, {name: "p99", color: "#dc2626", ys: ws.p99}}
	users := []series{{name: "users", color: "#7c3aed", ys: ws.users}, {name: "errors/s", color: "#dc2626", ys: ws.errs}}
	if base != nil && len(base.Windows) > 0 {
		// The baseline beside the run, dashed, by offset from each one's start.
		b := seriesOf(base)
		dash := func(like series, ys []float64) series {
			like.ys, like.xs, like.dashed = ys, b.xs, true
			return like
		}
		rps = append(rps, dash(rps[0], b.rps))
		lat = append(lat, dash(lat[0], b.p50), dash(lat[1], b.p95), dash(lat[2], b.p99))
		users = append(users, dash(users[0], b.users), dash(users[1], b.errs))
	}
	marks := changeMarks(rep)
	d.RPSChart = lineChart("Requests per second", "", ws.xs, rps, marks...)
	d.LatChart = lineChart("Latency percentiles", "ms", ws.xs, lat, marks...)
	d.UserChart = lineChart("Users and errors", "", ws.xs, users, marks...)
	edges, counts, baseCounts := distribution(rep.Total, baseTotal)
	d.DistChart = barChart("Latency distribution (requests)", edges, counts, baseCounts)
	d.Parameters = parameterFacts(rep, base)
	for _, p := range rep.Parameters {
		// What the files say of the run comes before what analyze was told.
		switch {
		case p.Name == "target" && p.Value == d.Host:
			d.Host = ""
		case p.Name == "trace files":
			d.Trace = ""
		}
	}
	d.Statuses = statusesHTML(rep)
	d.Slowest, d.Routes, d.RoutesLeft = routeCharts(rep, base, baseByKey)
	if !opts.Generated.IsZero() {
		d.Generated = opts.Generated.UTC().Format(time.RFC3339)
	}
	d.Problems = rep.Problems()
	d.Pass = d.Pass && len(rep.Problems()) == 0
	d.Open, d.Overloaded, d.LateP99, d.OverloadReason = rep.Open, rep.Overloaded(), fmt.Sprintf("%.3f ms", rep.LateP99), rep.OverloadReason()
	if rep.Timeline != nil {
		var bt *analysis.Timeline
		if base != nil {
			bt = base.Timeline
		}
		d.Timeline = timelineHTML(rep.Timeline, bt)
	}
	d.TimelineNotes = rep.TimelineNotes
	d.Notes = rep.Notes
	for _, c := range rep.Changes {
		d.Changes = append(d.Changes, changeLine(rep, c))
	}
	if rep.ChangesLeftOut > 0 {
		d.Changes = append(d.Changes, fmt.Sprintf("and %d more (a report lists the first 1,000)", rep.ChangesLeftOut))
	}
	d.Differences = differencesHTML(rep)
	d.Shadow = shadowHTML(rep)
	if rep.Open {
		for _, s := range append(rep.Names, rep.Total) {
			f := func(q float64) string { return fmt.Sprintf("%.1f", ms(analysis.QuantileOf(s.Service, q))) }
			d.Service = append(d.Service, serviceRow{s.Method, s.Name, f(50), f(95), f(99)})
		}
	}
	return reportTemplate.Execute(w, d)
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>replaykit report: {{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}td.name{white-space:normal;word-break:break-all}
tr.total td{font-weight:600;border-top:2px solid #111}
.change{display:block;font-size:11px;color:#6b7280;white-space:normal}.worse{background:#fee2e2}.worse .change{color:#b91c1c;font-weight:600}.better .change{color:#15803d}
.pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}.facts dt{color:#6b7280}.facts dd{margin:0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
svg.chart{width:100%;height:auto;border:1px solid #e5e7eb}svg .grid{stroke:#e5e7eb}svg .tick{font-size:11px;fill:#6b7280}svg .title{font-size:13px;font-weight:600}svg .bar{fill:#2563eb}
svg .basebar{fill:none;stroke:#111;stroke-width:1;stroke-dasharray:4 2;stroke-opacity:.6}svg .hover{fill:transparent}svg .hover:hover{fill:rgba(37,99,235,.1)}
.routes{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:12px}
.cap{font-weight:600;word-break:break-all}.cap span{font-weight:400;color:#6b7280;margin-left:8px}details.route{border-bottom:1px solid #e5e7eb;padding:2px 0}details.route summary{cursor:pointer}details.route summary span{color:#6b7280;margin-left:8px}details.route svg{max-width:480px;display:block;margin:4px 0}
</style>
</head>
<body>
<h1>replaykit report: {{.Title}}
{{if or .Verdicts .Problems}}{{if .Pass}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}{{end}}</h1>
<dl class="facts">
<dt>scenario</dt><dd>{{.Scenarios}}</dd>
<dt>runs</dt><dd>{{.Runs}}</dd>
{{if .Shards}}<dt>shards</dt><dd>{{.Shards}}</dd>{{end}}
{{if .Host}}<dt>host</dt><dd>{{.Host}}</dd>{{end}}
{{if .Trace}}<dt>trace</dt><dd>{{.Trace}}</dd>{{end}}
<dt>model</dt><dd>{{.Model}}</dd>
{{range .Parameters}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>
{{end}}
<dt>users</dt><dd>{{.Users}} at most</dd>
<dt>duration</dt><dd>{{.Duration}} ({{.Start}} to {{.End}})</dd>
{{if .Changes}}<dt>changes during the run</dt><dd>{{range $i, $c := .Changes}}{{if $i}}<br>{{end}}{{$c}}{{end}}</dd>
{{end}}{{if .Baseline}}<dt>baseline</dt><dd>{{.Baseline}}: every figure shows its change, absolute and relative; p50, p95, p99, avg and the error rate are marked worse or better when their 99% confidence interval says so (hover a change for its interval), never for a change within the noise of the sample; charts draw the baseline dashed, from its own start</dd>{{end}}
</dl>

{{range .Problems}}<p class="fail">INCOMPLETE: {{.}}</p>
{{end}}{{range .Notes}}<p>note: {{.}}</p>
{{end}}{{if .Overloaded}}<p class="fail">GENERATOR OVERLOADED: {{.OverloadReason}}. These figures are the load generator's as much as the server's: run with fewer users or a lower rate, or on more cores.</p>{{end}}
<h2>Thresholds</h2>
{{if .Verdicts}}<table><tr><th>threshold</th><th style="text-align:left">verdict</th><th style="text-align:left">found</th>{{if .Baseline}}<th style="text-align:left">baseline</th><th>change</th>{{end}}</tr>
{{range .Verdicts}}<tr><td>{{.Expr}}</td><td class="{{if .Pass}}pass{{else}}fail{{end}}" style="text-align:left">{{.Verdict}}</td><td style="text-align:left;white-space:normal">{{.Found}}</td>{{if $.Baseline}}<td style="text-align:left;white-space:normal">{{.Base}}</td><td>{{.Change}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>none checked</p>{{end}}

<h2>Charts</h2>
<div class="charts">{{.RPSChart}}{{.LatChart}}{{.UserChart}}{{.DistChart}}</div>
{{with .Timeline}}
<h2>Recorded timeline</h2>
{{if .KeepUp}}<p class="fail">{{.KeepUp}}.</p>{{end}}
<div class="charts">{{.Chart}}<table>
{{range .Figures}}<tr><td style="white-space:normal">{{.Label}}</td><td style="white-space:normal">{{.Value}}</td></tr>
{{end}}</table></div>
{{end}}{{range .TimelineNotes}}<p>timeline: {{.}}</p>
{{end}}
<h2>Requests by name</h2>
<table>
<tr><th>Type</th><th>Name</th><th># reqs</th><th># fails</th><th>error rate</th><th>429</th><th>avg ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>req/s</th>{{if .Linked}}<th title="values taken from the session's live responses, or made anew, in place of the recorded ones; (N not): links whose source did not answer as recorded or lacked the value, so the recorded value went">Carried</th>{{end}}</tr>
{{define "cell"}}<td class="{{.Class}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}{{if .Change}}<span class="change">{{.Change}}</span>{{end}}</td>{{end}}
{{range .Names}}<tr><td>{{.Method}}</td><td class="name">{{.Name}}</td>{{template "cell" .Requests}}{{template "cell" .Failures}}{{template "cell" .ErrRate}}{{template "cell" .Limited}}{{template "cell" .Avg}}{{template "cell" .P50}}{{template "cell" .P95}}{{template "cell" .P99}}{{template "cell" .Max}}{{template "cell" .RPS}}{{if $.Linked}}<td>{{.Carried}}</td>{{end}}</tr>
{{end}}{{with .Total}}<tr class="total"><td></td><td>{{.Name}}</td>{{template "cell" .Requests}}{{template "cell" .Failures}}{{template "cell" .ErrRate}}{{template "cell" .Limited}}{{template "cell" .Avg}}{{template "cell" .P50}}{{template "cell" .P95}}{{template "cell" .P99}}{{template "cell" .Max}}{{template "cell" .RPS}}{{if $.Linked}}<td>{{.Carried}}</td>{{end}}</tr>{{end}}
</table>
{{with .Statuses}}
<h2>Answers by status</h2>
<table>
<tr><th>Type</th><th>Name</th>{{range .Columns}}<th>{{.}}</th>{{end}}{{if .Other}}<th>other</th>{{end}}</tr>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><td>{{.Method}}</td><td{{if not .Total}} class="name"{{end}}>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}{{if $.Statuses.Other}}<td>{{.Other}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{if .Slowest}}<h2>Latency over time by route</h2>
<p>p50 and p95 in ms of the slowest routes by p95:</p>
<div class="routes">{{range .Slowest}}<div><div class="cap">{{.Method}} {{.Name}}<span>{{.Summary}}</span></div>{{.Chart}}</div>{{end}}</div>
{{if .Routes}}<p>Every route{{if .RoutesLeft}} ({{.RoutesLeft}}){{end}}: open one to see its chart.</p>
{{end}}{{range .Routes}}<details class="route"><summary>{{.Method}} {{.Name}}<span>{{.Summary}}</span></summary>{{.Chart}}</details>
{{end}}{{end}}
{{with .Differences}}
<h2>Differences from the recording</h2>
{{if .Skipped}}<p>{{.Skipped}}</p>{{end}}{{if .Agreed}}<p>{{.Agreed}}</p>{{else}}<table>
<tr><th>Type</th><th style="min-width:10em">Name</th><th title="answers compared with the recorded ones: both answered, and the trace held the recorded answer's signature">compared</th><th>mismatched</th><th>mismatch rate</th><th title="the status differed">status</th><th title="the content type, the body's kind, a field missing, added or of another type, or the size class differed">shape</th><th title="a field's value, or the body's bytes, differed">value</th><th style="text-align:left">most common differences</th></tr>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><td>{{.Method}}</td><td{{if not .Total}} class="name"{{end}}>{{.Name}}</td><td>{{.Compared}}</td><td>{{.Mismatched}}</td><td>{{.Rate}}</td><td>{{.Status}}</td><td>{{.Shape}}</td><td>{{.Value}}</td><td style="text-align:left;white-space:normal">{{range $i, $d := .Top}}{{if $i}}<br>{{end}}{{$d}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{end}}
{{with .Shadow}}
<h2>Shadow target</h2>
<p>Every request was sent to the shadow target too, at the same time as to the target: the same load on both. Latencies in ms.</p>
<table>
<tr><th>Type</th><th style="min-width:10em">Name</th><th># reqs</th><th>target fails</th><th>p50</th><th>p95</th><th>p99</th><th>shadow fails</th><th>p50</th><th>p95</th><th>p99</th><th title="answers of the two targets that differed from each other">answers differ</th></tr>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><td>{{.Method}}</td><td{{if not .Total}} class="name"{{end}}>{{.Name}}</td><td>{{.Requests}}</td><td>{{.Fails}}</td><td>{{.P50}}</td><td>{{.P95}}</td><td>{{.P99}}</td><td>{{.ShadowFails}}</td><td>{{.ShadowP50}}</td><td>{{.ShadowP95}}</td><td>{{.ShadowP99}}</td><td>{{.Differ}}</td></tr>
{{end}}</table>
{{with .Recording}}<h3>The shadow's differences from the recording</h3>
{{if .Agreed}}<p>{{.Agreed}}</p>{{else}}<table>
<tr><th>Type</th><th style="min-width:10em">Name</th><th title="answers compared with the recorded ones: both answered, and the trace held the recorded answer's signature">compared</th><th>mismatched</th><th>mismatch rate</th><th title="the status differed">status</th><th title="the content type, the body's kind, a field missing, added or of another type, or the size class differed">shape</th><th title="a field's value, or the body's bytes, differed">value</th><th style="text-align:left">most common differences</th></tr>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><td>{{.Method}}</td><td{{if not .Total}} class="name"{{end}}>{{.Name}}</td><td>{{.Compared}}</td><td>{{.Mismatched}}</td><td>{{.Rate}}</td><td>{{.Status}}</td><td>{{.Shape}}</td><td>{{.Value}}</td><td style="text-align:left;white-space:normal">{{range $i, $d := .Top}}{{if $i}}<br>{{end}}{{$d}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{end}}{{with .Between}}<h3>Differences between the target and the shadow (the target's answer first)</h3>
{{if .Agreed}}<p>{{.Agreed}}</p>{{else}}<table>
<tr><th>Type</th><th style="min-width:10em">Name</th><th title="answers compared with the recorded ones: both answered, and the trace held the recorded answer's signature">compared</th><th>mismatched</th><th>mismatch rate</th><th title="the status differed">status</th><th title="the content type, the body's kind, a field missing, added or of another type, or the size class differed">shape</th><th title="a field's value, or the body's bytes, differed">value</th><th style="text-align:left">most common differences</th></tr>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><td>{{.Method}}</td><td{{if not .Total}} class="name"{{end}}>{{.Name}}</td><td>{{.Compared}}</td><td>{{.Mismatched}}</td><td>{{.Rate}}</td><td>{{.Status}}</td><td>{{.Shape}}</td><td>{{.Value}}</td><td style="text-align:left;white-space:normal">{{range $i, $d := .Top}}{{if $i}}<br>{{end}}{{$d}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{end}}
{{end}}
{{if .Open}}<h2>Service time (open model)</h2>
<p>The table above counts latency from each request's scheduled time, as users felt it. Below: from the moment it was actually sent (sends left {{.LateP99}} late at p99).</p>
<table><tr><th>Type</th><th>Name</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>
{{range .Service}}<tr><td>{{.Method}}</td><td class="name">{{.Name}}</td><td>{{.P50}}</td><td>{{.P95}}</td><td>{{.P99}}</td></tr>
{{end}}</table>{{end}}

<h2>Failures</h2>
{{if .Failures}}<table><tr><th>Method</th><th>Name</th><th style="text-align:left">Error</th><th>Occurrences</th></tr>
{{range .Failures}}<tr><td>{{.Method}}</td><td class="name">{{.Name}}</td><td style="text-align:left">{{.Error}}</td><td>{{.Occurrences}}</td></tr>
{{end}}</table>{{else}}<p>none</p>{{end}}
{{if .Generated}}<p style="color:#6b7280">written by replaykit analyze at {{.Generated}}</p>{{end}}
</body>
</html>
`))
