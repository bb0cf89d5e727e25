package analysis

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/HdrHistogram/hdrhistogram-go"
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
func WriteTable(w io.Writer, rep *Report, verdicts []Verdict) {
	fmt.Fprintf(w, "%s: %d requests in %s (%s to %s), %s\n", strings.Join(rep.Runs, ", "), rep.Total.Requests,
		rep.Duration().Round(time.Millisecond), rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339), modelText(rep))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Type\tName\t# reqs\t# fails\t429\tAvg ms\tp50\tp95\tp99\tMax\treq/s\t")
	for _, s := range append(rep.Names, rep.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d (%.1f%%)\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", printable(s.Method), printable(s.Name),
			s.Requests, s.Failures, 100*s.ErrorRate(), s.RateLimited, s.Avg(), s.Quantile(50), s.Quantile(95), s.Quantile(99), s.Max(), rep.RPS(s))
	}
	tw.Flush()
	if t := rep.Total; t.Linked() {
		fmt.Fprintf(w, "values carried: %s", thousands(t.Carried))
		if t.NotCarried > 0 {
			fmt.Fprintf(w, " (%s not carried: their source did not answer as recorded or lacked the value, so the recorded one went)", thousands(t.NotCarried))
		}
		fmt.Fprintln(w)
	}
	if rep.Open {
		t := rep.Total
		fmt.Fprintf(w, "service time (from the actual send): p50 %.1f  p95 %.1f  p99 %.1f ms; sends left late by p99 %.3f ms\n",
			ms(quantile(t.Service, 50)), ms(quantile(t.Service, 95)), ms(quantile(t.Service, 99)), rep.LateP99)
	}
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
	if len(verdicts) > 0 {
		fmt.Fprintln(w, "thresholds:")
		for _, v := range verdicts {
			fmt.Fprintln(w, "  "+printable(v.String()))
		}
	}
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func modelText(rep *Report) string {
	if rep.Open {
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

type jsonVerdict struct {
	Threshold string  `json:"threshold"`
	Name      string  `json:"name,omitempty"`
	Metric    string  `json:"metric"`
	Limit     float64 `json:"limit"`
	Actual    float64 `json:"actual"`
	Pass      bool    `json:"pass"`
	Missing   bool    `json:"missing,omitempty"`
}

func statsJSON(rep *Report, s *Stats) jsonStats {
	pct := func(h *hdrhistogram.Histogram) map[string]float64 {
		m := map[string]float64{}
		for _, p := range Percentiles {
			m[num(p)] = ms(quantile(h, p))
		}
		return m
	}
	return jsonStats{Method: s.Method, Name: s.Name, Requests: s.Requests, Failures: s.Failures, RateLimited: s.RateLimited,
		ErrorRate: s.ErrorRate(), Availability: s.Availability(), RPS: rep.RPS(s), FailuresPerS: rep.FailuresPerSecond(s),
		AvgBytes: s.AvgBytes(), Carried: s.Carried, NotCarried: s.NotCarried, AvgMs: s.Avg(), MinMs: s.Min(), MaxMs: s.Max(),
		Percentiles: pct(s.Latency), Service: pct(s.Service), TTFB: pct(s.TTFB)}
}

// WriteJSON writes {run}.json: everything the report shows, for machines.
func WriteJSON(w io.Writer, rep *Report, verdicts []Verdict) error {
	out := struct {
		Runs      []string      `json:"runs"`
		Scenarios []string      `json:"scenarios"`
		Shards    []int32       `json:"shards"`
		Start     time.Time     `json:"start"`
		End       time.Time     `json:"end"`
		Open      bool          `json:"open_model"`
		LateP99   float64       `json:"send_late_p99_ms"`
		Overload  bool          `json:"generator_overloaded"`
		OverSecs  int           `json:"generator_overloaded_seconds,omitempty"`
		Problems  []string      `json:"incomplete,omitempty"`
		Users     int32         `json:"max_users"`
		Total     jsonStats     `json:"total"`
		Names     []jsonStats   `json:"names"`
		Failures  []Failure     `json:"failures"`
		WindowS   float64       `json:"window_s"`
		Windows   []jsonWindow  `json:"windows"`
		Verdicts  []jsonVerdict `json:"thresholds"`
		Pass      bool          `json:"pass"`
	}{Runs: rep.Runs, Scenarios: rep.Scenarios, Shards: rep.Shards, Start: rep.Start, End: rep.End, Open: rep.Open,
		LateP99: rep.LateP99, Overload: rep.Overloaded(), OverSecs: rep.OverloadedSeconds, Problems: rep.Problems(),
		Users: rep.Users, Total: statsJSON(rep, rep.Total), Failures: rep.Failures, WindowS: rep.Step.Seconds(), Pass: true}
	out.Names = []jsonStats{}
	for _, s := range rep.Names {
		out.Names = append(out.Names, statsJSON(rep, s))
	}
	for _, win := range rep.Windows {
		out.Windows = append(out.Windows, jsonWindow{Start: win.Start, Requests: win.Requests, Failures: win.Failures, Users: win.Users,
			P50: ms(quantile(win.Latency, 50)), P95: ms(quantile(win.Latency, 95)), P99: ms(quantile(win.Latency, 99))})
	}
	for _, v := range verdicts {
		out.Verdicts = append(out.Verdicts, jsonVerdict{Threshold: v.Expr, Name: v.Name, Metric: v.Metric, Limit: v.Value,
			Actual: v.Actual, Pass: v.Pass, Missing: v.Missing})
		out.Pass = out.Pass && v.Pass
	}
	out.Pass = out.Pass && len(rep.Problems()) == 0
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes the verdicts as JUnit XML: each threshold a test case,
// so CI systems show which one failed.
func WriteJUnit(w io.Writer, rep *Report, verdicts []Verdict) error {
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
	s := suite{Name: "replaykit thresholds: " + strings.Join(rep.Runs, ", "), Tests: len(verdicts),
		Time: fmt.Sprintf("%.3f", rep.Duration().Seconds())}
	for _, v := range verdicts {
		c := testcase{Name: v.Expr, Classname: "replaykit.thresholds", Time: "0"}
		if !v.Pass {
			s.Failures++
			c.Failure = &failure{Message: v.String(), Text: v.String()}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
