package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/chromium"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// The report opened in a real browser: no console error, no exception, no
// network request (it is one self-contained file), no script and the CSP
// that forbids one, the four charts of the run and one per route drawn,
// each route's opening without a script, hover values on every chart, and
// the hostile route from traffic shown but never run. A screenshot is
// kept in the test's artifact directory (go test -artifacts -outputdir DIR
// keeps it), or at REPORT_SCREENSHOT=path.
func TestReportInChromium(t *testing.T) {
	bin := chromium.Find()
	if bin == "" {
		t.Skip("chromium is not installed (scripts/test.sh installs Debian's): the report is not checked in a browser")
	}
	dir := t.ArtifactDir()
	rows := resultstest.Differing(3000, 20, 21)
	rows = append(rows, results.Result{Run: rows[0].Run, Method: "GET", Name: `/<script>window.pwned=1</script>`, Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 5e6, Status: 200,
		Compared: true, Diff: `missing $.<script>window.pwned=2</script>`})
	rep := analysistest.Aggregate(rows)
	base := analysistest.Aggregate(resultstest.Synthetic(3000, 20, 22))
	var ths []analysis.Threshold
	for _, e := range analysis.DefaultThresholds {
		th, _ := analysis.ParseThreshold(e)
		ths = append(ths, th)
	}
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, rep, analysis.Check(rep, ths), HTMLOptions{Host: "http://127.0.0.1:8000", Baseline: base, Generated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o600)

	c := chromium.Start(t, bin, "")
	pageURL := "file://" + page
	c.Navigate(pageURL)
	if !c.WaitFor("Page.loadEventFired", 30*time.Second) {
		t.Fatal("the report did not finish loading")
	}
	c.WaitFor("never", 500*time.Millisecond) // late console messages and requests
	// One self-contained file: it fetches nothing.
	for _, p := range c.Problems(func(u string) bool { return u == pageURL }, nil) {
		t.Error(p)
	}
	eval := c.Eval
	if n := eval(`document.querySelectorAll("svg.chart:not(.route)").length`); n != float64(4) {
		t.Errorf("%v charts of the run drawn, want 4", n)
	}
	names := float64(len(rep.Names))
	if n := eval(`document.querySelectorAll("details.route svg.chart.route").length`); n != names {
		t.Errorf("%v routes to open, want %v", n, names)
	}
	if n := eval(`document.querySelectorAll(".routes svg.chart.route").length`); n != float64(slowestRoutes) {
		t.Errorf("%v charts of the slowest routes, want %d", n, slowestRoutes)
	}
	// Hover values: every chart has titles over its points or bars.
	if v := eval(`[...document.querySelectorAll("svg.chart")].every(c => c.querySelector("rect.hover title, rect.bar title"))`); v != true {
		t.Error("a chart has no hover values")
	}
	if v := eval(`document.querySelector("svg rect.hover title").textContent`); !strings.Contains(fmt.Sprint(v), "s: requests/s ") || !strings.Contains(fmt.Sprint(v), "baseline requests/s ") {
		t.Errorf("first hover value %q", v)
	}
	// No script at all, nor a handler attribute, and the CSP that would
	// stop one.
	if v := eval(`document.scripts.length + [...document.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length`); v != float64(0) {
		t.Errorf("%v scripts or handlers in the report", v)
	}
	if v := eval(`document.querySelector('meta[http-equiv="Content-Security-Policy"]').content`); !strings.HasPrefix(fmt.Sprint(v), "default-src 'none';") || strings.Contains(fmt.Sprint(v), "script-src") {
		t.Errorf("CSP %q", v)
	}
	// A route's chart opens with its <details>, no script needed.
	shown := `document.querySelector("details.route svg").checkVisibility()`
	if v := eval(shown); v != false {
		t.Error("a closed route's chart is shown")
	}
	eval(`document.querySelector("details.route summary").click()`)
	if v := eval(shown); v != true {
		t.Error("an opened route's chart is not shown")
	}
	if v := eval(`typeof window.pwned`); v != "undefined" {
		t.Error("a script from a recorded route ran in the report")
	}
	if v := eval(`document.body.innerText.includes("/<script>window.pwned=1</script>")`); v != true {
		t.Error("the hostile route is not shown as text")
	}
	if v := eval(`document.body.innerText.includes("missing $.<script>window.pwned=2</script> (1)")`); v != true {
		t.Error("the hostile difference is not shown as text in the differences from the recording")
	}
	data := c.Screenshot()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
		t.Fatalf("screenshot: %v", err)
	}
	out := os.Getenv("REPORT_SCREENSHOT")
	if out == "" {
		out = filepath.Join(dir, "report.png")
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %dx%d (the first route opened): %s", img.Bounds().Dx(), img.Bounds().Dy(), out)
}
