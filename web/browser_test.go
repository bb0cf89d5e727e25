package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/internal/chromium"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
)

// screenshot keeps a PNG of the page at path.
func screenshot(t *testing.T, c *chromium.Page, path string) {
	t.Helper()
	if err := os.WriteFile(path, c.Screenshot(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// The UI in a real browser: the command line's values fill in the form,
// a hostile trace glob comes back as text, a run starts against the demo
// API, its numbers move, its users are changed and it is stopped; at the
// end its analysis and outputs are linked, the results file has the
// change in its footer, no console error came and no request left the
// origin. Screenshots are kept in the test's artifact directory (go test
// -artifacts -outputdir DIR keeps them).
func TestWebUIInChromium(t *testing.T) {
	bin := chromium.Find()
	if bin == "" {
		t.Skip("chromium is not installed (scripts/test.sh installs Debian's): the web UI is not checked in a browser")
	}
	dir := t.ArtifactDir()
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 1}))
	defer api.Close()
	out := t.TempDir()
	sample, _ := filepath.Abs("../testdata/sample/demo.parquet")
	ctx, abandon := context.WithCancel(context.Background())
	defer abandon()
	stop, stopAll := context.WithCancel(ctx)
	defer stopAll()
	base := replay.Config{Traces: []string{sample}, Host: api.URL, APIKey: "demo-key-alice", Users: 4, Pacing: "stress", Duration: 10 * time.Minute, Ramp: time.Millisecond,
		Timeout: 10 * time.Second, Out: out, Seed: 1}
	acfg := analyze.Config{Formats: []string{"html", "csv", "json"}, NoDefaults: true, Thresholds: []string{"p99<10s"}}
	srv, err := Listen(ctx, stop, Options{Addr: "127.0.0.1:0", Form: FormOf("light", base, acfg.Thresholds), Config: base, Analysis: acfg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	origin := strings.TrimSuffix(srv.URL(), "/")

	// Its answers carry the CSP; the API wants the token.
	resp, err := http.Get(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe") {
		t.Errorf("CSP %q", got)
	}
	if resp, err := http.Post(origin+"/api/stop", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a post without the token: %v %v", resp.Status, err)
	}

	c := chromium.Start(t, bin, "1280,2400")
	c.Navigate(srv.URL())

	// The command line filled in the form.
	c.Until("the form filled in", fmt.Sprintf(`document.getElementById("host").value === %q && document.getElementById("scenario").value === "light_load"`, api.URL))
	if v := c.Eval(`[document.getElementById("users").value, document.getElementById("pacing").value, document.getElementById("thresholds").value]`); fmt.Sprint(v) != "[4 stress p99<10s]" {
		t.Errorf("form %v", v)
	}
	// A hostile glob comes back in the error as text.
	hostile := `/nowhere/<img src=x onerror="window.pwned=1">*.parquet`
	c.Eval(fmt.Sprintf(`document.getElementById("traces").value = %q; document.getElementById("start-run").click()`, hostile))
	c.Until("the error", `document.getElementById("message").textContent.includes("<img src=x")`)
	if v := c.Eval(`typeof window.pwned + " " + document.querySelectorAll("#message img").length`); v != "undefined 0" {
		t.Errorf("the hostile glob ran or was parsed: %v", v)
	}

	// A run, its numbers moving.
	c.Eval(fmt.Sprintf(`document.getElementById("traces").value = %q; document.getElementById("start-run").click()`, sample))
	c.Until("requests counted", `Number(document.getElementById("requests").textContent) > 0 && document.getElementById("users-now").textContent === "4"`)
	c.Until("the routes table", `document.querySelectorAll("#routes tbody tr").length > 2`)
	first := c.Eval(`document.getElementById("requests").textContent`)
	c.Until("more requests", fmt.Sprintf(`Number(document.getElementById("requests").textContent) > %v`, first))

	// Fewer users, while it runs.
	c.Eval(`document.getElementById("set-users-value").value = "2"; document.getElementById("set-users").click()`)
	c.Until("2 users", `document.getElementById("users-now").textContent === "2" && document.querySelectorAll("#changes li").length === 1`)
	c.Until("a chart drawn", `document.getElementById("chart-rps").toDataURL() !== document.createElement("canvas").toDataURL()`)
	screenshot(t, c, filepath.Join(dir, "web-running.png"))

	// Stopped: the analysis, and its outputs linked.
	c.Eval(`document.getElementById("stop").click()`)
	c.Until("the analysis", `document.getElementById("code").textContent.startsWith("exit code")`)
	c.Until("the outputs", `document.querySelectorAll("#files a").length >= 5`)
	if v := c.Eval(`document.querySelector("#verdicts li").textContent`); !strings.HasPrefix(fmt.Sprint(v), "PASS p99<10s") {
		t.Errorf("verdict %v", v)
	}
	if v := c.Eval(`document.getElementById("status").textContent`); !strings.Contains(fmt.Sprint(v), "stopped: stopped from the web UI") {
		t.Errorf("status %v", v)
	}
	if v := c.Eval(`document.querySelectorAll("#runs tbody tr").length`); v != float64(1) {
		t.Errorf("%v runs listed", v)
	}
	link := fmt.Sprint(c.Eval(`[...document.querySelectorAll("#files a")].find(a => a.textContent.endsWith("_stats.csv")).href`))
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the stats CSV link %s: %v %v", link, resp, err)
	} else {
		resp.Body.Close()
	}
	screenshot(t, c, filepath.Join(dir, "web-done.png"))

	files, _ := filepath.Glob(filepath.Join(out, "light_load_*.parquet"))
	if len(files) != 1 {
		t.Fatalf("results files %v", files)
	}
	f, err := results.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.Meta(results.MetaChanges)
	f.Close()
	if ch, err := results.DecodeChanges(v); err != nil || len(ch) != 1 || ch[0].Value != 2 {
		t.Errorf("the results footer's changes: %q %v", v, err)
	}
	for _, suffix := range []string{".html", ".json", "_stats.csv"} {
		if _, err := os.Stat(strings.TrimSuffix(files[0], ".parquet") + suffix); err != nil {
			t.Errorf("analysis output: %v", err)
		}
	}
	// The change shows in the report: listed in its facts.
	if page, err := os.ReadFile(strings.TrimSuffix(files[0], ".parquet") + ".html"); err != nil || !strings.Contains(string(page), "UTC): users 2") {
		t.Errorf("the HTML report does not list the change to 2 users (%v)", err)
	}

	c.Call("Runtime.evaluate", map[string]any{"expression": "1"}) // the events so far
	// The refused start's 400 is the one log entry expected.
	startRefused := func(entry map[string]any) bool { return strings.Contains(fmt.Sprint(entry["url"]), "/api/start") }
	for _, p := range c.Problems(func(u string) bool { return strings.HasPrefix(u, origin+"/") }, startRefused) {
		t.Error(p)
	}
}
