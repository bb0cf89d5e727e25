package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// golden compares got with testdata/golden/NAME (go test -update rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	resultstest.GoldenFile(t, filepath.Join("..", "testdata", "golden", name), got)
}

// The deterministic outputs of a fixed run are golden files: the HTML
// report (with a baseline), the CSVs, the JSON and the JUnit XML.
func TestGoldenOutputs(t *testing.T) {
	rows := resultstest.Synthetic(3000, 20, 11)
	for i := range rows {
		resultstest.Carry(&rows[i])
	}
	rep := analysistest.Aggregate(rows)
	// Changes made during the run (replay --web), as a results footer
	// gives them (TestChangesFromTheFooter).
	rep.Changes = []analysis.Change{{Run: rep.Runs[0], Change: results.Change{At: resultstest.T0.Add(3 * time.Second), What: results.ChangeUsers, Value: 10}},
		{Run: rep.Runs[0], Change: results.Change{At: resultstest.T0.Add(7500 * time.Millisecond), What: results.ChangeUsers, Value: 4}}}
	base := analysistest.Aggregate(resultstest.Synthetic(3000, 20, 12)[:2500]) // a run without links
	var ths []analysis.Threshold
	for _, e := range append(analysis.DefaultThresholds, "name=/api/v1/search:p95<500ms") {
		th, _ := analysis.ParseThreshold(e)
		ths = append(ths, th)
	}
	vs := analysis.Check(rep, ths)
	compared := analysistest.Aggregate(rows)
	compared.Baseline = analysis.Compare(compared, base)
	var cths []analysis.Threshold
	for _, e := range []string{"p95<baseline+10%", "error_rate<baseline+0.5%", "name=/api/v1/search:p95<baseline+10%", "p99<2s"} {
		th, err := analysis.ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		cths = append(cths, th)
	}
	cvs := analysis.Check(compared, cths)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.html", func(b *bytes.Buffer) error {
			return WriteHTML(b, rep, vs, HTMLOptions{Host: "http://127.0.0.1:8000", Trace: "testdata/sample/demo.parquet", Baseline: base})
		}},
		{"report_stats.csv", func(b *bytes.Buffer) error { return WriteStatsCSV(b, rep) }},
		{"report_failures.csv", func(b *bytes.Buffer) error { return WriteFailuresCSV(b, rep) }},
		{"report_stats_history.csv", func(b *bytes.Buffer) error { return WriteHistoryCSV(b, rep) }},
		{"report.json", func(b *bytes.Buffer) error { return WriteJSON(b, rep, vs) }},
		{"report_junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, rep, vs) }},
		{"report_table.txt", func(b *bytes.Buffer) error { WriteTable(b, rep, vs); return nil }},
		// Against the baseline: every figure's change, and thresholds on it.
		{"baseline_table.txt", func(b *bytes.Buffer) error { WriteTable(b, compared, cvs); return nil }},
		{"baseline.json", func(b *bytes.Buffer) error { return WriteJSON(b, compared, cvs) }},
		{"baseline_junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, compared, cvs) }},
	} {
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, b.Bytes())
	}
}

// A window without requests has no latency: the latency chart leaves it
// out and still scales to the others (max with a NaN is NaN: the lines
// were drawn off the chart).
func TestLatencyChartWithAnEmptyWindow(t *testing.T) {
	rows := resultstest.Synthetic(600, 10, 16)
	for i := range rows {
		if rows[i].Sent.Sub(resultstest.T0) >= 4*time.Second {
			rows[i].Sent = rows[i].Sent.Add(3 * time.Second) // nothing sent from 4 s to 7 s
			rows[i].Scheduled = rows[i].Sent
		}
	}
	chart := string(lineChart("Latency percentiles", "ms", []float64{0, 1, 2}, []series{{name: "p50", color: "#000", ys: []float64{20, math.NaN(), 40}}}))
	if !strings.Contains(chart, ">50ms</text>") || !strings.Contains(chart, `points="56.0,124.8 708.0,57.6"`) {
		t.Errorf("a NaN drew the chart off scale: %s", chart)
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, analysistest.Aggregate(rows), nil, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	_, lat, _ := strings.Cut(h.String(), `aria-label="Latency percentiles"`)
	lat, _, _ = strings.Cut(lat, "</svg>")
	if strings.Contains(lat, `>0.25ms</text>`) {
		t.Error("the latency chart of a run with an empty window is scaled to 1 ms")
	}
}

// Strings from traffic are shown, never run: escaped in HTML, quoted on
// the terminal, and never the start of a spreadsheet formula.
func TestHostileStringsAreInert(t *testing.T) {
	hostile := []string{`/<script>alert(1)</script>`, `/"><img src=x onerror=alert(1)>`, "=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "/\x1b[31mred\x1b[0m"}
	a := analysis.New(0)
	for i, name := range hostile {
		r := results.Result{Run: "r", Method: "GET", Name: name, Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: int64(i+1) * 1e6, Status: 500, Error: "",
			Compared: true, Diff: name}
		a.Add(&r)
		r.Error = "=" + name
		r.Status, r.Compared, r.Diff = 0, false, ""
		a.Add(&r)
	}
	rep := a.Report()
	th, _ := analysis.ParseThreshold("name=" + hostile[0] + ":p95<1ms")
	vs := analysis.Check(rep, []analysis.Threshold{th})

	var h bytes.Buffer
	if err := WriteHTML(&h, rep, vs, HTMLOptions{Host: `<b>host</b>`, Trace: `"><script>x()</script>`}); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	for _, bad := range []string{"<script>", "<img", "<b>host"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile name is not shown escaped")
	}

	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteStatsCSV(b, rep) },
		func(b *bytes.Buffer) error { return WriteFailuresCSV(b, rep) },
		func(b *bytes.Buffer) error { return WriteDifferencesCSV(b, rep) },
	} {
		var b bytes.Buffer
		write(&b)
		for _, line := range strings.Split(b.String(), "\r\n") {
			for _, c := range resultstest.SplitCSV(line) {
				if c != "" && strings.ContainsRune("=+-@", rune(c[0])) && !resultstest.IsNumber(c) {
					t.Errorf("CSV cell %q starts a formula", c)
				}
			}
		}
	}

	var tb bytes.Buffer
	WriteTable(&tb, rep, vs)
	if strings.Contains(tb.String(), "\x1b") {
		t.Error("an escape sequence from traffic reached the terminal")
	}
}

// The JSON and JUnit outputs parse, and say which threshold failed.
func TestJSONAndJUnit(t *testing.T) {
	rep := analysistest.Aggregate(resultstest.Synthetic(1000, 10, 13))
	ok, _ := analysis.ParseThreshold("p50<10s")
	bad, _ := analysis.ParseThreshold("max<1ms")
	vs := analysis.Check(rep, []analysis.Threshold{ok, bad})
	var j bytes.Buffer
	WriteJSON(&j, rep, vs)
	var doc struct {
		Total struct {
			Requests int64 `json:"requests"`
		} `json:"total"`
		Pass       bool `json:"pass"`
		Thresholds []struct {
			Threshold string `json:"threshold"`
			Pass      bool   `json:"pass"`
		} `json:"thresholds"`
	}
	if err := json.Unmarshal(j.Bytes(), &doc); err != nil || doc.Total.Requests != 1000 || doc.Pass || len(doc.Thresholds) != 2 || doc.Thresholds[1].Pass {
		t.Errorf("json: %+v %v", doc, err)
	}
	var x bytes.Buffer
	WriteJUnit(&x, rep, vs)
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(x.Bytes(), &suite); err != nil || suite.Tests != 2 || suite.Failures != 1 || suite.Cases[1].Name != "max<1ms" || suite.Cases[1].Failure == nil {
		t.Errorf("junit: %+v %v", suite, err)
	}
}

// With a baseline, every figure shows its change and regressions stand
// out: marked by their confidence interval, which the cell's title gives.
func TestBaselineMarksRegressions(t *testing.T) {
	old := resultstest.Synthetic(2000, 10, 14)
	now := resultstest.Synthetic(2000, 10, 14)
	for i := range now {
		if now[i].Name == "/api/v1/search" {
			now[i].LatencyNanos *= 2 // twice as slow
		}
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, analysistest.Aggregate(now), nil, HTMLOptions{Baseline: analysistest.Aggregate(old)}); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	i := strings.Index(page, `<td class="name">/api/v1/search</td>`)
	if i < 0 {
		t.Fatal("no search row")
	}
	searchRow := strings.ReplaceAll(page[i:i+strings.Index(page[i:], "</tr>")], "&#43;", "+")
	if !strings.Contains(searchRow, `class="worse" title="p95 `) || !strings.Contains(searchRow, "(99% interval") || !strings.Contains(searchRow, " ms (+100.0%)") {
		t.Errorf("a doubled latency is not marked: %s", searchRow)
	}
	j := strings.Index(page, `<td class="name">/api/v1/tasks</td>`)
	tasksRow := page[j : j+strings.Index(page[j:], "</tr>")]
	if strings.Contains(tasksRow, "worse") {
		t.Errorf("an unchanged name is marked: %s", tasksRow)
	}
}

// In the open model latency counts from the schedule; the service time
// (from the actual send) is shown beside it, and sends far behind their
// schedule mark the generator as overloaded.
func TestOpenModelShowsServiceTimeAndOverload(t *testing.T) {
	for _, tc := range []struct {
		late       time.Duration
		overloaded bool
	}{{200 * time.Microsecond, false}, {50 * time.Millisecond, true}} {
		rows := resultstest.Synthetic(2000, 10, 15)
		for i := range rows {
			rows[i].Sent = rows[i].Scheduled.Add(tc.late)
			rows[i].LatencyNanos += int64(tc.late) // latency counts from the schedule
		}
		rep := analysistest.Aggregate(rows)
		if !rep.Open || rep.Overloaded() != tc.overloaded {
			t.Errorf("late %v: open %v, overloaded %v (late p99 %.3f ms)", tc.late, rep.Open, rep.Overloaded(), rep.LateP99)
		}
		service, latency := ms(analysis.QuantileOf(rep.Total.Service, 50)), rep.Total.Quantile(50)
		if d := latency - service; math.Abs(d-float64(tc.late)/1e6) > 0.05*latency {
			t.Errorf("late %v: latency p50 %.3f, service p50 %.3f", tc.late, latency, service)
		}
		var h, tb bytes.Buffer
		WriteHTML(&h, rep, nil, HTMLOptions{})
		WriteTable(&tb, rep, nil)
		if !strings.Contains(h.String(), "Service time (open model)") || !strings.Contains(tb.String(), "service time") {
			t.Error("no service time shown")
		}
		if got := strings.Contains(h.String(), "GENERATOR OVERLOADED") && strings.Contains(tb.String(), "GENERATOR OVERLOADED"); got != tc.overloaded {
			t.Errorf("late %v: overload shown %v", tc.late, got)
		}
	}
}

// Each threshold is shown once, with what was found and, against a
// baseline, the baseline's figure and the change, absolute and relative.
func TestThresholdShownOnce(t *testing.T) {
	rep, base := analysistest.Aggregate(resultstest.Synthetic(2000, 10, 17)), analysistest.Aggregate(resultstest.Synthetic(2000, 10, 18))
	th, _ := analysis.ParseThreshold("p95<2000ms")
	var h bytes.Buffer
	if err := WriteHTML(&h, rep, analysis.Check(rep, []analysis.Threshold{th}), HTMLOptions{Baseline: base}); err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(strings.ReplaceAll(h.String(), "&#43;", "+"), "<h2>Thresholds</h2>")
	table, _, _ = strings.Cut(table, "</table>")
	if n := strings.Count(table, "p95&lt;2000ms"); n != 1 {
		t.Errorf("the threshold is shown %d times:\n%s", n, table)
	}
	b := analysis.Check(base, []analysis.Threshold{th})[0]
	v := analysis.Check(rep, []analysis.Threshold{th})[0]
	d := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%+.3f", v.Actual-b.Actual), "0"), ".")
	change := fmt.Sprintf("<td>%sms (%+.1f%%)</td>", d, 100*(v.Actual-b.Actual)/b.Actual)
	if !strings.Contains(table, ">total p95 is ") || !strings.Contains(table, ">PASS: total p95 is ") || !strings.Contains(table, change) {
		t.Errorf("no finding, baseline or change %s in:\n%s", change, table)
	}
}

// Past maxRouteCharts routes, the busiest have a chart each and the
// report says how many have none.
func TestRouteChartsAreBounded(t *testing.T) {
	a := analysis.New(0)
	for i := range maxRouteCharts + 10 {
		for j := range i + 1 { // route i has i+1 requests
			r := results.Result{Run: "r", Method: "GET", Name: fmt.Sprintf("/r/%03d", i), Sent: resultstest.T0.Add(time.Duration(j) * time.Second), LatencyNanos: int64(i+1) * 1e6, Status: 200}
			r.Scheduled = r.Sent
			a.Add(&r)
		}
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, a.Report(), nil, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	if n := strings.Count(page, `<details class="route">`); n != maxRouteCharts {
		t.Errorf("%d routes to open, want %d", n, maxRouteCharts)
	}
	if strings.Contains(page, "<summary>GET /r/009<") || !strings.Contains(page, "<summary>GET /r/010<") || !strings.Contains(page, "the other 10 (55 requests) have no chart") {
		t.Error("not the busiest routes charted, or not said which")
	}
	if n := strings.Count(page, `<svg class="chart route"`); n != maxRouteCharts+slowestRoutes {
		t.Errorf("%d route charts", n)
	}
	if !strings.Contains(page, `<rect x=`) || !strings.Contains(page, `class="hover"><title>`) {
		t.Error("no hover values")
	}
}

// With a baseline, every chart draws it dashed beside the run, from its
// own start: the four of the run, the recorded arrivals and each route's.
func TestBaselineOnEveryChart(t *testing.T) {
	rep, base := analysistest.Aggregate(resultstest.Synthetic(2000, 10, 19)), analysistest.Aggregate(resultstest.Synthetic(1000, 20, 20))
	var h bytes.Buffer
	if err := WriteHTML(&h, rep, nil, HTMLOptions{Baseline: base}); err != nil {
		t.Fatal(err)
	}
	charts := strings.Split(h.String(), "<svg ")[1:]
	if len(charts) != 4+slowestRoutes {
		t.Fatalf("%d charts", len(charts))
	}
	for _, c := range charts {
		if !strings.Contains(c, `stroke-dasharray="5 3"`) && !strings.Contains(c, `class="basebar"`) {
			t.Errorf("no baseline in %.80s", c)
		}
	}
	// The baseline ran twice as long: the x axis spans it.
	if !strings.Contains(charts[0], `>19s</text>`) { // its last window starts at 19 s
		t.Error("the requests chart does not span the baseline's 20 s")
	}
	tl := &analysis.Timeline{Step: time.Second, Amplify: 1, Speed: 1, Recorded: []int64{5, 6, 7}, Sent: []int64{5, 6, 7}}
	if c := string(timelineChart(tl, tl)); strings.Count(c, "<polyline") != 3 || !strings.Contains(c, "baseline replayed 6.00/s") {
		t.Errorf("the recorded arrivals with a baseline: %s", c)
	}
}
