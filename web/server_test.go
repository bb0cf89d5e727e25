package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/replay"
)

// listen serves a UI for a test; loopback false makes it act as on
// another address (token on every request).
func listen(t *testing.T, loopback bool, base replay.Config) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Listen(ctx, ctx, Options{Addr: "127.0.0.1:0", Token: "secret", Form: FormOf("light", base, nil), Config: base,
		Analysis: analyze.Config{Formats: []string{"json"}, NoDefaults: true}})
	if err != nil {
		t.Fatal(err)
	}
	s.loopback = loopback // before any request
	t.Cleanup(func() { s.Close() })
	return s
}

// What the UI lets through, and what it refuses.
func TestWebRefuses(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true}))
	defer api.Close()
	base := replay.Config{Traces: []string{"../testdata/sample/demo.parquet"}, Host: api.URL, APIKey: "demo-key-alice", Users: 2, Pacing: "stress",
		Duration: 10 * time.Minute, Out: t.TempDir(), Seed: 1}
	loop, other := listen(t, true, base), listen(t, false, base)
	tests := []struct {
		name        string
		s           *Server
		method, url string
		host, token string
		ctype, body string
		code        int
		says        string
	}{
		{"the page on loopback", loop, "GET", "/", "", "", "", "", 200, `content="secret"`},
		{"the page by name", loop, "GET", "/", "localhost", "", "", "", 200, "replaykit"},
		{"another name for loopback", loop, "GET", "/", "evil.example", "", "", "", http.StatusMisdirectedRequest, "loopback address only"},
		{"the page elsewhere, no token", other, "GET", "/", "", "", "", "", 403, "token"},
		{"the page elsewhere, the token", other, "GET", "/?token=secret", "", "", "", "", 200, `content="secret"`},
		{"the page elsewhere, a wrong token", other, "GET", "/?token=guess", "", "", "", "", 403, "token"},
		{"state without the token", loop, "GET", "/api/state", "", "", "", "", 403, "token"},
		{"state with it", loop, "GET", "/api/state", "", "secret", "", "", 200, `"scenario":"light_load"`},
		{"a change as a GET", loop, "GET", "/api/stop", "", "secret", "", "", 405, ""},
		{"a change without the token", loop, "POST", "/api/stop", "", "", "application/json", "{}", 403, "token"},
		{"a change as a form", loop, "POST", "/api/stop", "", "secret", "application/x-www-form-urlencoded", "a=b", 415, "JSON"},
		{"stop, no run", loop, "POST", "/api/stop", "", "secret", "application/json", "{}", 409, "no run"},
		{"users, no run", loop, "POST", "/api/users", "", "secret", "application/json", `{"users":3}`, 409, "no run"},
		{"a bad form", loop, "POST", "/api/start", "", "secret", "application/json", `{"traces":["../testdata/sample/demo.parquet"],"scenario":"soak"}`, 400, "no scenario"},
		{"a bad duration", loop, "POST", "/api/start", "", "secret", "application/json", `{"traces":["../testdata/sample/demo.parquet"],"scenario":"light","duration":"5"}`, 400, "duration"},
		{"a bad threshold", loop, "POST", "/api/start", "", "secret", "application/json", `{"traces":["../testdata/sample/demo.parquet"],"scenario":"light","host":"` + api.URL + `","thresholds":["p95<fast"]}`, 400, "thresholds"},
		{"no trace", loop, "POST", "/api/start", "", "secret", "application/json", `{"traces":["/nowhere/*.parquet"],"scenario":"light"}`, 400, "no file matches"},
		{"a file of no run", loop, "GET", "/files/x/y.csv?token=secret", "", "", "", "", 404, ""},
		{"a file outside", loop, "GET", "/files/x/..%2f..%2fetc%2fpasswd?token=secret", "", "", "", "", 404, ""},
		{"the CSP on the assets", loop, "GET", "/assets/app.js", "", "", "", "", 200, "textContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+tt.s.ln.Addr().String()+tt.url, strings.NewReader(tt.body))
			if tt.host != "" {
				_, port, _ := net.SplitHostPort(tt.s.ln.Addr().String())
				req.Host = tt.host + ":" + port
			}
			if tt.token != "" {
				req.Header.Set("X-Replaykit-Token", tt.token)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.says) {
				t.Errorf("%s %s: %d %q, want %d saying %q", tt.method, tt.url, resp.StatusCode, b, tt.code, tt.says)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'; script-src 'self';") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

// A run started through the API: one at a time; the users of the
// closed model change, its rate does not; stopped, it is analyzed and
// its files are served, and no other.
func TestWebRun(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6}))
	defer api.Close()
	base := replay.Config{Traces: []string{"../testdata/sample/demo.parquet"}, Host: api.URL, APIKey: "demo-key-alice", Users: 3, Pacing: "stress",
		Ramp: time.Millisecond, Duration: 10 * time.Minute, Out: t.TempDir(), Seed: 1}
	s := listen(t, true, base)
	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+s.ln.Addr().String()+path, strings.NewReader(body))
		req.Header.Set("X-Replaykit-Token", "secret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := `{"traces":["../testdata/sample/demo.parquet"],"scenario":"light","users":3,"ramp":"1ms","duration":"10m","host":"` + api.URL + `","pacing":"stress","seed":1}`
	if code, b := post("/api/start", form); code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, b)
	}
	if code, b := post("/api/start", form); code != http.StatusConflict || !strings.Contains(b, "under way") {
		t.Errorf("a second start: %d %s", code, b)
	}
	wait := func(what string, cond func(v *RunView) bool) *RunView {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			v := s.current().view(s.token)
			if cond(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s: %+v", what, v)
			}
		}
	}
	wait("requests", func(v *RunView) bool { return len(v.Routes) > 1 && v.Routes[len(v.Routes)-1].Requests > 10 })
	// The run's metrics, at /metrics.
	resp, err := http.Get("http://" + s.ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "replaykit_requests_total{") || !strings.Contains(string(b), "replaykit_users{") {
		t.Errorf("/metrics: %s", b)
	}
	if code, b := post("/api/rate", `{"rate":10}`); code != http.StatusConflict || !strings.Contains(b, "change its users") {
		t.Errorf("a rate for the closed model: %d %s", code, b)
	}
	if code, b := post("/api/users", `{"users":9}`); code != http.StatusConflict || !strings.Contains(b, "0 to 3") {
		t.Errorf("more users than --scale: %d %s", code, b)
	}
	if code, b := post("/api/users", `{"users":1}`); code != http.StatusNoContent {
		t.Errorf("users 1: %d %s", code, b)
	}
	if code, b := post("/api/stop", `{}`); code != http.StatusNoContent {
		t.Errorf("stop: %d %s", code, b)
	}
	v := wait("the analysis", func(v *RunView) bool { return v.Status == "done" || v.Status == "failed" })
	if v.Status != "done" || len(v.Changes) != 1 || v.Stopped != "stopped from the web UI" || len(v.Files) != 2 {
		t.Fatalf("%+v", v)
	}
	for _, f := range v.Files {
		resp, err := http.Get("http://" + s.ln.Addr().String() + f.URL)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("%s: %v %v", f.URL, resp, err)
		}
		resp.Body.Close()
	}
	if filepath.Ext(v.Files[0].Name) != ".parquet" {
		t.Errorf("the results file is not first: %v", v.Files)
	}

	// The open model: its rate changes, not its users.
	open := strings.Replace(form, `"users":3`, `"users":3,"rate":20`, 1)
	if code, b := post("/api/start", open); code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, b)
	}
	wait("requests", func(v *RunView) bool {
		return v.Status == "running" && len(v.Routes) > 1 && v.Routes[len(v.Routes)-1].Requests > 2
	})
	if code, b := post("/api/users", `{"users":1}`); code != http.StatusConflict || !strings.Contains(b, "change its rate") {
		t.Errorf("users for the open model: %d %s", code, b)
	}
	if code, b := post("/api/rate", `{"rate":50}`); code != http.StatusNoContent {
		t.Errorf("rate 50: %d %s", code, b)
	}
	post("/api/stop", `{}`)
	v = wait("the analysis", func(v *RunView) bool { return v.Status == "done" || v.Status == "failed" })
	if v.Status != "done" || len(v.Changes) != 1 || v.Changes[0].What != "rate" || v.Rate != 50 || !v.Open {
		t.Errorf("%+v", v)
	}
	s.mu.Lock()
	if n := len(s.runs); n != 2 || s.runs[1] != s.cur {
		t.Errorf("%d runs listed", n)
	}
	s.mu.Unlock()
}
