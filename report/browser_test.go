package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
	"golang.org/x/net/websocket"
)

// cdp is a minimal Chrome DevTools Protocol client over the browser's
// websocket, with one page session (flat mode).
type cdp struct {
	t       *testing.T
	ws      *websocket.Conn
	id      int
	session string
	events  []map[string]any
}

func (c *cdp) call(method string, params map[string]any) map[string]any {
	c.t.Helper()
	c.id++
	msg := map[string]any{"id": c.id, "method": method, "params": params}
	if c.session != "" {
		msg["sessionId"] = c.session
	}
	if err := websocket.JSON.Send(c.ws, msg); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	for {
		var m map[string]any
		c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := websocket.JSON.Receive(c.ws, &m); err != nil {
			c.t.Fatalf("%s: no answer: %v", method, err)
		}
		if id, ok := m["id"].(float64); ok && int(id) == c.id {
			if e, ok := m["error"]; ok {
				c.t.Fatalf("%s: %v", method, e)
			}
			r, _ := m["result"].(map[string]any)
			return r
		}
		c.events = append(c.events, m)
	}
}

// waitFor reads events until one named method comes, or the timeout.
func (c *cdp) waitFor(method string, timeout time.Duration) bool {
	for _, e := range c.events {
		if e["method"] == method {
			return true
		}
	}
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		var m map[string]any
		c.ws.SetReadDeadline(end)
		if err := websocket.JSON.Receive(c.ws, &m); err != nil {
			return false
		}
		c.events = append(c.events, m)
		if m["method"] == method {
			return true
		}
	}
	return false
}

// The report opened in a real browser: no console error, no exception, no
// network request (it is one self-contained file), no script and the CSP
// that forbids one, the four charts of the run and one per route drawn,
// each route's opening without a script, hover values on every chart, and
// the hostile route from traffic shown but never run. A screenshot is
// kept in the test's artifact directory (go test -artifacts -outputdir DIR
// keeps it), or at REPORT_SCREENSHOT=path.
func TestReportInChromium(t *testing.T) {
	bin := resultstest.FindChromium()
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
	// The profile is outside the test's directory: chromium's helpers may
	// still be writing there when the test ends.
	profile, err := os.MkdirTemp("", "replaykit-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep, analysis.Check(rep, ths), HTMLOptions{Host: "http://127.0.0.1:8000", Baseline: base, Generated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o600)

	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir="+profile, "about:blank")
	// Its own process group, so that its helpers end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	endpoint := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				endpoint <- strings.TrimSpace(url)
			}
		}
	}()
	var url string
	select {
	case url = <-endpoint:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	ws, err := websocket.Dial(url, "", "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &cdp{t: t, ws: ws}
	target := c.call("Target.createTarget", map[string]any{"url": "about:blank"})
	att := c.call("Target.attachToTarget", map[string]any{"targetId": target["targetId"], "flatten": true})
	c.session, _ = att["sessionId"].(string)
	for _, domain := range []string{"Runtime", "Log", "Network", "Page"} {
		c.call(domain+".enable", nil)
	}
	c.events = nil
	pageURL := "file://" + page
	c.call("Page.navigate", map[string]any{"url": pageURL})
	if !c.waitFor("Page.loadEventFired", 30*time.Second) {
		t.Fatal("the report did not finish loading")
	}
	c.waitFor("never", 500*time.Millisecond) // late console messages and requests
	for _, e := range c.events {
		p, _ := e["params"].(map[string]any)
		switch e["method"] {
		case "Runtime.exceptionThrown":
			t.Errorf("exception: %v", p)
		case "Runtime.consoleAPICalled":
			t.Errorf("console %v: %v", p["type"], p["args"])
		case "Log.entryAdded":
			t.Errorf("browser log: %v", p["entry"])
		case "Network.requestWillBeSent":
			req, _ := p["request"].(map[string]any)
			if u, _ := req["url"].(string); u != pageURL {
				t.Errorf("the report fetched %s: it must be self-contained", u)
			}
		}
	}
	eval := func(expr string) any {
		r := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
		v, _ := r["result"].(map[string]any)
		return v["value"]
	}
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
	shot := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(shot["data"]))
	if err != nil {
		t.Fatal(err)
	}
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
