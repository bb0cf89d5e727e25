package web

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
)

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cdp is a minimal Chrome DevTools Protocol client over the browser's
// websocket, with one page session (flat mode), as analysis's report
// test has it.
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

func (c *cdp) eval(expr string) any {
	c.t.Helper()
	r := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	v, _ := r["result"].(map[string]any)
	return v["value"]
}

// until evaluates expr until it is true, at most a minute (what must
// come, not a timing).
func (c *cdp) until(what, expr string) {
	c.t.Helper()
	for deadline := time.Now().Add(time.Minute); c.eval(expr) != true; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			for _, e := range c.events {
				if m := e["method"]; m == "Runtime.exceptionThrown" || m == "Runtime.consoleAPICalled" || m == "Log.entryAdded" {
					c.t.Logf("%v: %v", m, e["params"])
				}
			}
			c.t.Fatalf("waited a minute for %s (%s); the page says: %v", what, expr, c.eval(`document.body.innerText.slice(0, 600)`))
		}
	}
}

func (c *cdp) screenshot(path string) {
	c.t.Helper()
	shot := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(shot["data"]))
	if err != nil || len(data) < 1000 {
		c.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s", path)
}

// The UI in a real browser: the command line's values fill in the form,
// a hostile trace glob comes back as text, a run starts against the demo
// API, its numbers move, its users are changed and it is stopped; at the
// end its analysis and outputs are linked, the results file has the
// change in its footer, no console error came and no request left the
// origin. Screenshots are kept in the test's artifact directory (go test
// -artifacts -outputdir DIR keeps them).
func TestWebUIInChromium(t *testing.T) {
	bin := findChromium()
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

	profile, err := os.MkdirTemp("", "replaykit-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir="+profile, "--window-size=1280,2400", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers end with it
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
	c.call("Page.navigate", map[string]any{"url": srv.URL()})

	// The command line filled in the form.
	c.until("the form filled in", fmt.Sprintf(`document.getElementById("host").value === %q && document.getElementById("scenario").value === "light_load"`, api.URL))
	if v := c.eval(`[document.getElementById("users").value, document.getElementById("pacing").value, document.getElementById("thresholds").value]`); fmt.Sprint(v) != "[4 stress p99<10s]" {
		t.Errorf("form %v", v)
	}
	// A hostile glob comes back in the error as text.
	hostile := `/nowhere/<img src=x onerror="window.pwned=1">*.parquet`
	c.eval(fmt.Sprintf(`document.getElementById("traces").value = %q; document.getElementById("start-run").click()`, hostile))
	c.until("the error", `document.getElementById("message").textContent.includes("<img src=x")`)
	if v := c.eval(`typeof window.pwned + " " + document.querySelectorAll("#message img").length`); v != "undefined 0" {
		t.Errorf("the hostile glob ran or was parsed: %v", v)
	}

	// A run, its numbers moving.
	c.eval(fmt.Sprintf(`document.getElementById("traces").value = %q; document.getElementById("start-run").click()`, sample))
	c.until("requests counted", `Number(document.getElementById("requests").textContent) > 0 && document.getElementById("users-now").textContent === "4"`)
	c.until("the routes table", `document.querySelectorAll("#routes tbody tr").length > 2`)
	first := c.eval(`document.getElementById("requests").textContent`)
	c.until("more requests", fmt.Sprintf(`Number(document.getElementById("requests").textContent) > %v`, first))

	// Fewer users, while it runs.
	c.eval(`document.getElementById("set-users-value").value = "2"; document.getElementById("set-users").click()`)
	c.until("2 users", `document.getElementById("users-now").textContent === "2" && document.querySelectorAll("#changes li").length === 1`)
	c.until("a chart drawn", `document.getElementById("chart-rps").toDataURL() !== document.createElement("canvas").toDataURL()`)
	c.screenshot(filepath.Join(dir, "web-running.png"))

	// Stopped: the analysis, and its outputs linked.
	c.eval(`document.getElementById("stop").click()`)
	c.until("the analysis", `document.getElementById("code").textContent.startsWith("exit code")`)
	c.until("the outputs", `document.querySelectorAll("#files a").length >= 5`)
	if v := c.eval(`document.querySelector("#verdicts li").textContent`); !strings.HasPrefix(fmt.Sprint(v), "PASS p99<10s") {
		t.Errorf("verdict %v", v)
	}
	if v := c.eval(`document.getElementById("status").textContent`); !strings.Contains(fmt.Sprint(v), "stopped: stopped from the web UI") {
		t.Errorf("status %v", v)
	}
	if v := c.eval(`document.querySelectorAll("#runs tbody tr").length`); v != float64(1) {
		t.Errorf("%v runs listed", v)
	}
	link := fmt.Sprint(c.eval(`[...document.querySelectorAll("#files a")].find(a => a.textContent.endsWith("_stats.csv")).href`))
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the stats CSV link %s: %v %v", link, resp, err)
	} else {
		resp.Body.Close()
	}
	c.screenshot(filepath.Join(dir, "web-done.png"))

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

	c.call("Runtime.evaluate", map[string]any{"expression": "1"}) // the events so far
	for _, e := range c.events {
		p, _ := e["params"].(map[string]any)
		switch e["method"] {
		case "Runtime.exceptionThrown":
			t.Errorf("exception: %v", p)
		case "Runtime.consoleAPICalled":
			t.Errorf("console %v: %v", p["type"], p["args"])
		case "Log.entryAdded":
			if entry, _ := p["entry"].(map[string]any); !strings.Contains(fmt.Sprint(entry["url"]), "/api/start") {
				t.Errorf("browser log: %v", p["entry"]) // the refused start's 400 is the one expected
			}
		case "Network.requestWillBeSent":
			req, _ := p["request"].(map[string]any)
			if u, _ := req["url"].(string); !strings.HasPrefix(u, origin+"/") {
				t.Errorf("the page fetched %s, outside its origin", u)
			}
		}
	}
}
