// Package chromium drives a headless Chromium over the DevTools protocol
// for tests: the HTML report's and the web UI's, which open pages in a
// real browser and look at what it ran, fetched and logged.
package chromium

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// Find is the path of a Chromium on PATH, "" without one.
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Page is one page of a headless Chromium the test started, with its
// Runtime, Log, Network and Page events since the last navigation.
type Page struct {
	t       testing.TB
	ws      *websocket.Conn
	id      int
	session string
	// Events are the browser's messages that answered no call, in order.
	Events []map[string]any
}

// Start starts Chromium at bin with a blank page of the given window
// size ("1280,2400"; "" for the default) and attaches to it. The browser
// and its helpers (its own process group) end with the test.
func Start(t testing.TB, bin, window string) *Page {
	t.Helper()
	// The profile is outside the test's directory: chromium's helpers may
	// still be writing there when the test ends.
	profile, err := os.MkdirTemp("", "replaykit-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	args := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=" + profile}
	if window != "" {
		args = append(args, "--window-size="+window)
	}
	cmd := exec.Command(bin, append(args, "about:blank")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	endpoint := make(chan string, 1)
	go func() { // ends with the browser's stderr
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				select {
				case endpoint <- strings.TrimSpace(url):
				default:
				}
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
	t.Cleanup(func() { ws.Close() })
	p := &Page{t: t, ws: ws}
	target := p.Call("Target.createTarget", map[string]any{"url": "about:blank"})
	att := p.Call("Target.attachToTarget", map[string]any{"targetId": target["targetId"], "flatten": true})
	p.session, _ = att["sessionId"].(string)
	for _, domain := range []string{"Runtime", "Log", "Network", "Page"} {
		p.Call(domain+".enable", nil)
	}
	p.Events = nil
	return p
}

// Call calls a DevTools method on the page and returns its result; the
// test fails on an error or no answer in 30 s.
func (p *Page) Call(method string, params map[string]any) map[string]any {
	p.t.Helper()
	p.id++
	msg := map[string]any{"id": p.id, "method": method, "params": params}
	if p.session != "" {
		msg["sessionId"] = p.session
	}
	if err := websocket.JSON.Send(p.ws, msg); err != nil {
		p.t.Fatalf("%s: %v", method, err)
	}
	for {
		var m map[string]any
		p.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			p.t.Fatalf("%s: no answer: %v", method, err)
		}
		if id, ok := m["id"].(float64); ok && int(id) == p.id {
			if e, ok := m["error"]; ok {
				p.t.Fatalf("%s: %v", method, e)
			}
			r, _ := m["result"].(map[string]any)
			return r
		}
		p.Events = append(p.Events, m)
	}
}

// Navigate loads url, with the events of the page before it forgotten.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.Events = nil
	p.Call("Page.navigate", map[string]any{"url": url})
}

// Eval is the value of a JavaScript expression on the page.
func (p *Page) Eval(expr string) any {
	p.t.Helper()
	r := p.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	v, _ := r["result"].(map[string]any)
	return v["value"]
}

// Until evaluates expr until it is true, at most a minute (what must
// come, not a timing).
func (p *Page) Until(what, expr string) {
	p.t.Helper()
	for deadline := time.Now().Add(time.Minute); p.Eval(expr) != true; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			for _, e := range p.Events {
				if m := e["method"]; m == "Runtime.exceptionThrown" || m == "Runtime.consoleAPICalled" || m == "Log.entryAdded" {
					p.t.Logf("%v: %v", m, e["params"])
				}
			}
			p.t.Fatalf("waited a minute for %s (%s); the page says: %v", what, expr, p.Eval(`document.body.innerText.slice(0, 600)`))
		}
	}
}

// WaitFor reads events until one named method comes, or the timeout.
func (p *Page) WaitFor(method string, timeout time.Duration) bool {
	for _, e := range p.Events {
		if e["method"] == method {
			return true
		}
	}
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		var m map[string]any
		p.ws.SetReadDeadline(end)
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			return false
		}
		p.Events = append(p.Events, m)
		if m["method"] == method {
			return true
		}
	}
	return false
}

// Screenshot is a PNG of the whole page.
func (p *Page) Screenshot() []byte {
	p.t.Helper()
	shot := p.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(shot["data"]))
	if err != nil || len(data) < 1000 {
		p.t.Fatalf("screenshot: %v", err)
	}
	return data
}

// Problems are what the page's events show went wrong: exceptions,
// console messages, browser log entries (but those expected says are),
// and requests to a URL allowed does not take.
func (p *Page) Problems(allowed func(url string) bool, expected func(entry map[string]any) bool) []string {
	var out []string
	for _, e := range p.Events {
		params, _ := e["params"].(map[string]any)
		switch e["method"] {
		case "Runtime.exceptionThrown":
			out = append(out, fmt.Sprintf("exception: %v", params))
		case "Runtime.consoleAPICalled":
			out = append(out, fmt.Sprintf("console %v: %v", params["type"], params["args"]))
		case "Log.entryAdded":
			if entry, _ := params["entry"].(map[string]any); expected == nil || !expected(entry) {
				out = append(out, fmt.Sprintf("browser log: %v", params["entry"]))
			}
		case "Network.requestWillBeSent":
			req, _ := params["request"].(map[string]any)
			if u, _ := req["url"].(string); !allowed(u) {
				out = append(out, "a request to "+u)
			}
		}
	}
	return out
}
