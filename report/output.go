// Package report writes an analysis's figures as analyze's outputs: the
// terminal table, Locust's CSVs, JSON, JUnit XML and a self-contained
// HTML report that runs no script.
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/replaykit/replaykit/analysis"
)

// printable makes a string from traffic safe for a terminal: control
// characters (escape sequences) are shown quoted, never sent.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

// WriteTable writes the terminal summary: facts, a row per name and the
// total, the top failures and the threshold verdicts.
func WriteTable(w io.Writer, rep *analysis.Report, verdicts []analysis.Verdict) {
	if len(rep.RunSpans) > 1 {
		// Rates are over the time the runs ran, never the gaps between.
		fmt.Fprintf(w, "%s: %d requests in %s of running time (%d runs, %s to %s: %s in all), %s\n", strings.Join(rep.Runs, ", "), rep.Total.Requests,
			rep.Active.Round(time.Millisecond), len(rep.RunSpans), rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339),
			rep.Duration().Round(time.Millisecond), modelText(rep))
		for _, sp := range rep.RunSpans {
			fmt.Fprintf(w, "  %s: %d requests in %s (%s to %s), %.1f req/s\n", printable(sp.Run), sp.Requests, sp.Duration().Round(time.Millisecond),
				sp.Start.Format(time.RFC3339), sp.End.Format(time.RFC3339), sp.RPS())
		}
	} else {
		fmt.Fprintf(w, "%s: %d requests in %s (%s to %s), %s\n", strings.Join(rep.Runs, ", "), rep.Total.Requests,
			rep.Duration().Round(time.Millisecond), rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339), modelText(rep))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Type\tName\t# reqs\t# fails\t429\tAvg ms\tp50\tp95\tp99\tMax\treq/s\t")
	for _, s := range append(rep.Names, rep.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d (%.1f%%)\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", printable(s.Method), printable(s.Name),
			s.Requests, s.Failures, 100*s.ErrorRate(), s.RateLimited, s.Avg(), s.Quantile(50), s.Quantile(95), s.Quantile(99), s.Max(), rep.RPS(s))
	}
	tw.Flush()
	if t := rep.Total; t.Linked() {
		fmt.Fprintf(w, "values carried: %s", analysis.Thousands(t.Carried))
		if t.NotCarried > 0 {
			fmt.Fprintf(w, " (%s not carried: their source did not answer as recorded or lacked the value, so the recorded one went)", analysis.Thousands(t.NotCarried))
		}
		fmt.Fprintln(w)
	}
	writeDifferences(w, rep)
	writeShadow(w, rep)
	if rep.Open {
		t := rep.Total
		fmt.Fprintf(w, "service time (from the actual send): p50 %.1f  p95 %.1f  p99 %.1f ms; sends left late by p99 %.3f ms\n",
			ms(analysis.QuantileOf(t.Service, 50)), ms(analysis.QuantileOf(t.Service, 95)), ms(analysis.QuantileOf(t.Service, 99)), rep.LateP99)
	}
	if rep.Timeline != nil {
		for _, l := range timelineLines(rep.Timeline) {
			fmt.Fprintln(w, l)
		}
		if rep.Unsent > 0 {
			fmt.Fprintf(w, "timeline: %s requests due before the end were not sent by then: their sessions were behind the timeline, waiting for answers\n", analysis.Thousands(rep.Unsent))
		}
	}
	for _, n := range rep.TimelineNotes {
		fmt.Fprintf(w, "timeline: %s\n", printable(n))
	}
	writeChanges(w, rep)
	for _, p := range rep.Problems() {
		fmt.Fprintf(w, "INCOMPLETE: %s\n", printable(p))
	}
	if rep.Overloaded() {
		fmt.Fprintf(w, "GENERATOR OVERLOADED: %s: these figures are the load generator's as much as the server's\n", rep.OverloadReason())
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintln(w, "failures:")
		for i, f := range rep.Failures {
			if i == 10 {
				fmt.Fprintf(w, "  ... %d more in the failures file\n", len(rep.Failures)-10)
				break
			}
			fmt.Fprintf(w, "  %6d  %s %s: %s\n", f.Occurrences, printable(f.Method), printable(f.Name), printable(f.Error))
		}
	}
	writeBaseline(w, rep.Baseline)
	if len(verdicts) > 0 {
		fmt.Fprintln(w, "thresholds:")
		for _, v := range verdicts {
			fmt.Fprintln(w, "  "+printable(v.String()))
		}
	}
	writeScenarios(w, rep)
}

// writeDifferences writes how answers differed from the recorded ones:
// a line per route that had differences, and the total; one line when
// every compared answer agreed; nothing when none was compared (results
// from before the comparison, or replay --no-compare).
func writeDifferences(w io.Writer, rep *analysis.Report) {
	writeDiffs(w, rep, "differences from the recording:", "answers: %s compared with the recording, all agreed\n")
}

// writeDiffs writes rep's differences under heading, or agreed (a format
// of the count) when there were none.
func writeDiffs(w io.Writer, rep *analysis.Report, heading, agreed string) {
	t := rep.Total
	if t.Compared == 0 {
		return
	}
	note := skippedNote(t)
	if t.Mismatched() == 0 {
		fmt.Fprintf(w, agreed, analysis.Thousands(t.Compared))
		if note != "" {
			fmt.Fprintf(w, "  %s\n", note)
		}
		return
	}
	fmt.Fprintln(w, heading)
	if note != "" {
		fmt.Fprintf(w, "  (answers: %s compared, %s)\n", analysis.Thousands(t.Compared), note)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Type\tName\tcompared\tmismatched\tstatus\tshape\tvalue\t  most often")
	for _, s := range append(rep.Names, t) {
		if s.Mismatched() == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%.1f%%)\t%s\t%s\t%s\t  %s\n", printable(s.Method), printable(s.Name), analysis.Thousands(s.Compared),
			analysis.Thousands(s.Mismatched()), 100*s.MismatchRate(), analysis.Thousands(s.StatusDiffs), analysis.Thousands(s.ShapeDiffs), analysis.Thousands(s.ValueDiffs), topDiffsText(s))
	}
	tw.Flush()
}

// topDiffsText is a route's most common differences and their counts:
// "status 200->302 (1,990); value $.state (10)".
func topDiffsText(s *analysis.Stats) string {
	var out []string
	for _, d := range s.TopDiffs(shownDiffs) {
		out = append(out, fmt.Sprintf("%s (%s)", printable(d.Diff), analysis.Thousands(d.Count)))
	}
	return strings.Join(out, "; ")
}

// timelineLines say how a run of the recorded scenario kept to its
// timeline: what it sent against what it planned, how late its requests
// started, and, when that was late, who could not keep up.
func timelineLines(t *analysis.Timeline) []string {
	speed := ""
	if t.Speed != 1 {
		speed = " at speed " + strconv.FormatFloat(t.Speed, 'f', -1, 64)
	}
	sent := analysis.Thousands(t.SentTotal) + " sent"
	var why []string
	if t.Planned > 0 {
		why = append(why, fmt.Sprintf("%.1f%%", 100*t.SentShare()))
	}
	if t.Outside > 0 {
		why = append(why, fmt.Sprintf("%s of them outside the recording's steps", analysis.Thousands(t.Outside)))
	}
	if len(why) > 0 {
		sent += " (" + strings.Join(why, ", ") + ")"
	}
	corr := fmt.Sprintf("%s correlation %.3f", perStep(t.Step), t.Correlation)
	if math.IsNaN(t.Correlation) {
		corr = perStep(t.Step) + " correlation undefined (fewer than 2 steps in common, or a series that does not vary)"
	}
	out := []string{
		fmt.Sprintf("timeline: %s%s: %s requests planned, %s, %s", recordedTimes(t), speed, analysis.Thousands(t.Planned), sent, corr),
		fmt.Sprintf("sessions started late by p50 %s, p99 %s, max %s; requests left late against the timeline by p50 %s, p99 %s, max %s (behind the timeline: p99 %s, %.1f%% over %g ms; the generator: p99 %s)",
			msText(analysis.QuantileOf(t.Starts, 50)), msText(analysis.QuantileOf(t.Starts, 99)), msText(t.Starts.Max()),
			msText(analysis.QuantileOf(t.Late, 50)), msText(analysis.QuantileOf(t.Late, 99)), msText(t.Late.Max()),
			msText(analysis.QuantileOf(t.Behind, 99)), 100*t.BehindOverShare(), analysis.OverloadedLate, msText(analysis.QuantileOf(t.Generator, 99))),
	}
	if who := keepUpText(t); who != "" {
		out = append(out, fmt.Sprintf("requests left late against the timeline by p99 %s, over %g ms: %s", msText(analysis.QuantileOf(t.Late, 99)), analysis.OverloadedLate, who))
	}
	return out
}

// keepUpText says who could not keep to the timeline, or "".
func keepUpText(t *analysis.Timeline) string {
	switch t.CannotKeepUp() {
	case "target":
		return "the target cannot keep up: answers came late and the sessions waited for them"
	case "generator":
		return "the generator cannot keep up"
	}
	return ""
}

// recordedTimes is "recorded × 3".
func recordedTimes(t *analysis.Timeline) string {
	return "recorded × " + strconv.FormatFloat(t.Amplify, 'f', -1, 64)
}

// perStep is "per-second", or "per-5s" for wider steps.
func perStep(step time.Duration) string {
	if step == time.Second {
		return "per-second"
	}
	return "per-" + step.String()
}

// msText is a histogram value (µs) in milliseconds, as the table shows them.
func msText(us int64) string { return fmt.Sprintf("%.1f ms", ms(us)) }

func modelText(rep *analysis.Report) string {
	switch {
	case rep.Timeline != nil:
		return "recorded timeline: latency counts from when each request was ready to leave"
	case rep.Open:
		return "open model: latency counts from the scheduled time"
	}
	return "closed model"
}

// jsonStats is a stats row in {run}.json; times in milliseconds.
type jsonStats struct {
	Method       string             `json:"method"`
	Name         string             `json:"name"`
	Requests     int64              `json:"requests"`
	Failures     int64              `json:"failures"`
	RateLimited  int64              `json:"rate_limited"`
	ErrorRate    float64            `json:"error_rate"`
	Availability float64            `json:"availability"`
	RPS          float64            `json:"rps"`
	FailuresPerS float64            `json:"failures_per_s"`
	AvgBytes     float64            `json:"avg_bytes"`
	Carried      int64              `json:"carried"`
	NotCarried   int64              `json:"not_carried"`
	AvgMs        float64            `json:"avg_ms"`
	MinMs        float64            `json:"min_ms"`
	MaxMs        float64            `json:"max_ms"`
	Percentiles  map[string]float64 `json:"percentiles_ms"`
	Service      map[string]float64 `json:"service_percentiles_ms"`
	TTFB         map[string]float64 `json:"ttfb_percentiles_ms"`
	// Statuses are the requests by status ("200", "no answer" for a
	// transport error, "not HTTP" outside 100..599); Series the name's
	// latency over time (none for the total: the windows are its).
	Statuses map[string]int64 `json:"statuses"`
	Series   *jsonSeries      `json:"series,omitempty"`
	// The differences from the recording, when any answer of the run was
	// compared with the recorded one.
	*jsonDifferences
}

// jsonSeries is a name's latency over time: at most 100 windows of StepS
// seconds, from its first request to its last.
type jsonSeries struct {
	StepS  float64           `json:"step_s"`
	Points []jsonRouteWindow `json:"points"`
}

type jsonRouteWindow struct {
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"`
	Failures int64     `json:"failures"`
	P50      float64   `json:"p50_ms"`
	P95      float64   `json:"p95_ms"`
}

// jsonDifferences are a route's answers compared with the recorded ones:
// how many, how many differed (mismatched, and by family), the rate
// (mismatched over compared, null when none was) and the most common
// differences.
type jsonDifferences struct {
	Compared     int64                `json:"compared"`
	BodySkipped  int64                `json:"body_skipped,omitempty"`
	Mismatched   int64                `json:"mismatched"`
	StatusDiffs  int64                `json:"status_diffs"`
	ShapeDiffs   int64                `json:"shape_diffs"`
	ValueDiffs   int64                `json:"value_diffs"`
	MismatchRate *float64             `json:"mismatch_rate"`
	TopDiffs     []analysis.DiffCount `json:"top_diffs"`
}

func differencesJSON(s *analysis.Stats) *jsonDifferences {
	d := &jsonDifferences{Compared: s.Compared, BodySkipped: s.BodySkipped, Mismatched: s.Mismatched(), StatusDiffs: s.StatusDiffs, ShapeDiffs: s.ShapeDiffs,
		ValueDiffs: s.ValueDiffs, TopDiffs: s.TopDiffs(shownDiffs)}
	if s.Compared > 0 {
		rate := s.MismatchRate()
		d.MismatchRate = &rate
	}
	if d.TopDiffs == nil {
		d.TopDiffs = []analysis.DiffCount{}
	}
	return d
}

type jsonWindow struct {
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"`
	Failures int64     `json:"failures"`
	Users    int32     `json:"users"`
	P50      float64   `json:"p50_ms"`
	P95      float64   `json:"p95_ms"`
	P99      float64   `json:"p99_ms"`
}

// jsonTimeline is a run of the recorded scenario against its timeline:
// the timeline's own facts, what was sent against what was planned, and
// how late requests started (milliseconds).
type jsonTimeline struct {
	// Start, StepS, Amplify and Speed are the timeline's: its steps count
	// from Start, StepS seconds wide.
	Start   time.Time `json:"start"`
	StepS   float64   `json:"step_s"`
	Amplify float64   `json:"amplify"`
	Speed   float64   `json:"speed"`
	// Planned is the sum of Recorded times Amplify, rounded; Sent every
	// request sent (abandoned and never-sent ones left out), SentOutside
	// those of them sent outside the steps; SentPct is Sent over Planned
	// in percent (null when nothing was planned).
	Planned     int64    `json:"planned"`
	Sent        int64    `json:"sent"`
	SentPct     *float64 `json:"sent_pct"`
	SentOutside int64    `json:"sent_outside_steps"`
	// Unsent counts the requests due before the end that were not sent by
	// then: their sessions were behind the timeline, waiting for answers.
	Unsent int64 `json:"unsent"`
	// Correlation is Pearson's r of Recorded and SentSteps over the
	// CorrelationSteps steps both cover (null when it means nothing).
	Correlation      *float64 `json:"correlation"`
	CorrelationSteps int      `json:"correlation_steps"`
	// SessionStarts is how late sessions started (their first request's
	// Sent - Scheduled); Lateness is every request's Sent - Scheduled +
	// behind_ns; Behind is behind_ns (the sessions waiting for late
	// answers), BehindOverPct the percent of requests behind by more than
	// 10 ms; GeneratorP99 is Sent - Scheduled at p99 (the generator's own
	// lateness).
	SessionStarts jsonLateness `json:"session_start_lateness_ms"`
	Lateness      jsonLateness `json:"lateness_ms"`
	Behind        jsonLateness `json:"behind_ms"`
	BehindOverPct float64      `json:"behind_over_10ms_pct"`
	GeneratorP99  float64      `json:"generator_late_p99_ms"`
	// CannotKeepUp is "target" or "generator" when the lateness p99
	// is over 10 ms (who made most of it), else absent.
	CannotKeepUp string `json:"cannot_keep_up,omitempty"`
	// Recorded and SentSteps count, per step from Start, the recorded
	// requests (before amplification: a step plans Recorded × Amplify)
	// and the requests sent.
	Recorded  []int64 `json:"recorded_per_step"`
	SentSteps []int64 `json:"sent_per_step"`
}

type jsonLateness struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func timelineJSON(t *analysis.Timeline) *jsonTimeline {
	late := func(h *hdrhistogram.Histogram) jsonLateness {
		return jsonLateness{P50: ms(analysis.QuantileOf(h, 50)), P99: ms(analysis.QuantileOf(h, 99)), Max: ms(h.Max())}
	}
	j := &jsonTimeline{Start: t.Start, StepS: t.Step.Seconds(), Amplify: t.Amplify, Speed: t.Speed, Planned: t.Planned,
		Sent: t.SentTotal, SentOutside: t.Outside, CorrelationSteps: t.CorrelatedSteps, SessionStarts: late(t.Starts), Lateness: late(t.Late),
		Behind: late(t.Behind), BehindOverPct: 100 * t.BehindOverShare(), GeneratorP99: ms(analysis.QuantileOf(t.Generator, 99)),
		CannotKeepUp: t.CannotKeepUp(), Recorded: t.Recorded, SentSteps: t.Sent}
	if t.Planned > 0 {
		pct := 100 * t.SentShare()
		j.SentPct = &pct
	}
	if !math.IsNaN(t.Correlation) {
		j.Correlation = &t.Correlation
	}
	return j
}

// jsonRun is one run's own span and rate, in {run}.json's runs_detail.
type jsonRun struct {
	Run       string    `json:"run"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	DurationS float64   `json:"duration_s"`
	Requests  int64     `json:"requests"`
	RPS       float64   `json:"rps"`
}

type jsonVerdict struct {
	Threshold string  `json:"threshold"`
	Name      string  `json:"name,omitempty"`
	Metric    string  `json:"metric"`
	Limit     float64 `json:"limit"`
	Actual    float64 `json:"actual"`
	Pass      bool    `json:"pass"`
	Missing   bool    `json:"missing,omitempty"`
	// Detail is Verdict.Detail: for mismatch_rate, how many answers
	// differed and how most often, or why none was compared.
	Detail string `json:"detail,omitempty"`
}

func statsJSON(rep *analysis.Report, s *analysis.Stats) jsonStats {
	pct := func(h *hdrhistogram.Histogram) map[string]float64 {
		m := map[string]float64{}
		for _, p := range analysis.Percentiles {
			m[num(p)] = ms(analysis.QuantileOf(h, p))
		}
		return m
	}
	j := jsonStats{Method: s.Method, Name: s.Name, Requests: s.Requests, Failures: s.Failures, RateLimited: s.RateLimited,
		ErrorRate: s.ErrorRate(), Availability: s.Availability(), RPS: rep.RPS(s), FailuresPerS: rep.FailuresPerSecond(s),
		AvgBytes: s.AvgBytes(), Carried: s.Carried, NotCarried: s.NotCarried, AvgMs: s.Avg(), MinMs: s.Min(), MaxMs: s.Max(),
		Percentiles: pct(s.Latency), Service: pct(s.Service), TTFB: pct(s.TTFB), Statuses: map[string]int64{}}
	for _, sc := range s.Statuses() {
		j.Statuses[statusText(sc.Status)] = sc.Requests
	}
	if s != rep.Total {
		if points, step := s.Series(); len(points) > 0 {
			j.Series = &jsonSeries{StepS: step.Seconds()}
			for _, p := range points {
				j.Series.Points = append(j.Series.Points, jsonRouteWindow{Start: p.Start, Requests: p.Requests, Failures: p.Failures, P50: p.P50, P95: p.P95})
			}
		}
	}
	if rep.Total.Compared > 0 {
		j.jsonDifferences = differencesJSON(s)
	}
	return j
}

// WriteJSON writes {run}.json: everything the report shows, for machines.
func WriteJSON(w io.Writer, rep *analysis.Report, verdicts []analysis.Verdict) error {
	out := struct {
		Runs      []string           `json:"runs"`
		Scenarios []string           `json:"scenarios"`
		Shards    []int32            `json:"shards"`
		Start     time.Time          `json:"start"`
		End       time.Time          `json:"end"`
		RunTimeS  float64            `json:"run_time_s"`
		RunsInfo  []jsonRun          `json:"runs_detail"`
		Open      bool               `json:"open_model"`
		LateP99   float64            `json:"send_late_p99_ms"`
		Overload  bool               `json:"generator_overloaded"`
		OverSecs  int                `json:"generator_overloaded_seconds,omitempty"`
		Problems  []string           `json:"incomplete,omitempty"`
		Users     int32              `json:"max_users"`
		Total     jsonStats          `json:"total"`
		Names     []jsonStats        `json:"names"`
		Failures  []analysis.Failure `json:"failures"`
		WindowS   float64            `json:"window_s"`
		Windows   []jsonWindow       `json:"windows"`
		Timeline  *jsonTimeline      `json:"timeline,omitempty"`
		Shadow    *jsonShadow        `json:"shadow,omitempty"`
		TLNotes   []string           `json:"timeline_notes,omitempty"`
		Changes   []analysis.Change  `json:"changes"`
		ChangesLO int                `json:"changes_left_out,omitempty"`
		Notes     []string           `json:"notes,omitempty"`
		Baseline  *jsonComparison    `json:"baseline,omitempty"`
		Verdicts  []jsonVerdict      `json:"thresholds"`
		Sections  []jsonScenario     `json:"scenarios_detail,omitempty"`
		Suite     string             `json:"suite,omitempty"`
		Pass      bool               `json:"pass"`
	}{Runs: rep.Runs, Scenarios: rep.Scenarios, Shards: rep.Shards, Start: rep.Start, End: rep.End, RunTimeS: rep.RateDuration().Seconds(), Open: rep.Open,
		LateP99: rep.LateP99, Overload: rep.Overloaded(), OverSecs: rep.OverloadedSeconds, Problems: rep.Problems(),
		Users: rep.Users, Total: statsJSON(rep, rep.Total), Failures: rep.Failures, WindowS: rep.Step.Seconds(), TLNotes: rep.TimelineNotes, Pass: true,
		Changes: rep.Changes, ChangesLO: rep.ChangesLeftOut, Notes: rep.Notes,
		Shadow: shadowJSON(rep), Baseline: comparisonJSON(rep.Baseline)}
	if rep.Timeline != nil {
		out.Timeline = timelineJSON(rep.Timeline)
		out.Timeline.Unsent = rep.Unsent
	}
	if out.Shards == nil {
		out.Shards = []int32{}
	}
	if out.Changes == nil {
		out.Changes = []analysis.Change{}
	}
	out.RunsInfo = []jsonRun{}
	for _, sp := range rep.RunSpans {
		out.RunsInfo = append(out.RunsInfo, jsonRun{Run: sp.Run, Start: sp.Start, End: sp.End, DurationS: sp.Duration().Seconds(), Requests: sp.Requests, RPS: sp.RPS()})
	}
	out.Names = []jsonStats{}
	for _, s := range rep.Names {
		out.Names = append(out.Names, statsJSON(rep, s))
	}
	for _, win := range rep.Windows {
		out.Windows = append(out.Windows, jsonWindow{Start: win.Start, Requests: win.Requests, Failures: win.Failures, Users: win.Users,
			P50: ms(analysis.QuantileOf(win.Latency, 50)), P95: ms(analysis.QuantileOf(win.Latency, 95)), P99: ms(analysis.QuantileOf(win.Latency, 99))})
	}
	for _, v := range verdicts {
		out.Verdicts = append(out.Verdicts, jsonVerdict{Threshold: v.Expr, Name: v.Name, Metric: v.Metric, Limit: v.Value,
			Actual: v.Actual, Pass: v.Pass, Missing: v.Missing, Detail: v.Detail})
		out.Pass = out.Pass && v.Pass
	}
	out.Pass = out.Pass && len(rep.Problems()) == 0 && rep.ScenariosPass()
	if len(rep.ScenarioReports) > 0 {
		out.Sections, out.Suite = scenariosJSON(rep), suiteSummary(rep.ScenarioReports)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes the verdicts as JUnit XML: each threshold a test case,
// so CI systems show which one failed.
func WriteJUnit(w io.Writer, rep *analysis.Report, verdicts []analysis.Verdict) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	makeSuite := func(name string, rep *analysis.Report, verdicts []analysis.Verdict) suite {
		s := suite{Name: name, Tests: len(verdicts), Time: fmt.Sprintf("%.3f", rep.RateDuration().Seconds())}
		for _, v := range verdicts {
			c := testcase{Name: v.Expr, Classname: "replaykit.thresholds", Time: "0"}
			if !v.Pass {
				s.Failures++
				c.Failure = &failure{Message: v.String(), Text: v.String()}
			}
			s.Cases = append(s.Cases, c)
		}
		return s
	}
	var doc any = makeSuite("replaykit thresholds: "+strings.Join(rep.Runs, ", "), rep, verdicts)
	if len(rep.ScenarioReports) > 0 {
		// A suite: the whole, then a test suite per scenario.
		all := struct {
			XMLName xml.Name `xml:"testsuites"`
			Suites  []suite  `xml:"testsuite"`
		}{Suites: []suite{doc.(suite)}}
		for _, sc := range rep.ScenarioReports {
			s := makeSuite("replaykit thresholds: scenario "+sc.Scenario+": "+strings.Join(sc.Report.Runs, ", "), sc.Report, sc.Verdicts)
			for i := range s.Cases {
				s.Cases[i].Classname = "replaykit.thresholds." + sc.Scenario
			}
			all.Suites = append(all.Suites, s)
		}
		doc = all
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// shownDiffs is how many of the most common differences the outputs show
// per route.
const shownDiffs = 3

func ms(us int64) float64 { return float64(us) / 1000 }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
