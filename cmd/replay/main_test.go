package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/internal/syncbuf"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/shard"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "replay-cmd-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "replay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// replay runs the command; it returns its exit code and output.
func replayCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

const sample = "--trace=../../testdata/sample/demo.parquet"

func TestCommand(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true}))
	defer api.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	out, nothing := t.TempDir(), t.TempDir()
	key := []string{"API_KEY=demo-key-carol"}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		output string
	}{
		{"list", nil, []string{"list"}, 0, "write_heavy"},
		{"check ok", key, []string{sample, "--host", api.URL, "--check-only"}, 0, "accepted"},
		{"check closed port", key, []string{sample, "--host", closed, "--check-only"}, 1, "not reachable"},
		{"check wrong key", []string{"API_KEY=nope"}, []string{sample, "--host", api.URL, "--check-only"}, 1, "refused"},
		{"unknown scenario", key, []string{sample, "--host", api.URL, "soak"}, 2, "no scenario"},
		{"no trace", key, []string{"--trace", filepath.Join(out, "none/*.parquet"), "--host", api.URL, "light"}, 2, "no trace"},
		{"bad header", key, []string{sample, "--header", "nocolon", "light"}, 2, "Name: value"},
		{"bad threshold", key, []string{sample, "--host", api.URL, "--threshold", "p95<fast", "light"}, 2, "not a duration"},
		// Every option is checked before any load: nothing is written.
		{"bad format", key, []string{sample, "--host", api.URL, "--out", nothing, "--format", "xml", "light"}, 2, `--format "xml"`},
		{"1ns timeout", key, []string{sample, "--host", api.URL, "--out", nothing, "--timeout", "1ns", "light"}, 2, "--timeout"},
		{"1ns duration", key, []string{sample, "--host", api.URL, "--out", nothing, "--duration", "1ns", "light"}, 2, "--duration"},
		{"fewer users than shards", key, []string{sample, "--host", api.URL, "--out", nothing, "--scale", "2", "--shard", "3/4", "light"}, 2, "shard 3 would have none"},
		// The recorded timeline's options, and the others' that mean
		// nothing to it.
		{"recorded with --scale", key, []string{sample, "--host", api.URL, "--out", nothing, "--scale", "5", "recorded"}, 2, "--scale: the recorded timeline replays"},
		{"recorded with --rate", key, []string{sample, "--host", api.URL, "--out", nothing, "--rate", "5", "recorded"}, 2, "--rate"},
		{"recorded with --pacing", key, []string{sample, "--host", api.URL, "--out", nothing, "--pacing", "high", "rec"}, 2, "--pacing"},
		{"--loop without --duration", key, []string{sample, "--host", api.URL, "--out", nothing, "--loop", "recorded"}, 2, "--loop: a looped timeline"},
		{"--amplify 0", key, []string{sample, "--host", api.URL, "--out", nothing, "--amplify", "0", "recorded"}, 2, "--amplify"},
		{"--amplify NaN", key, []string{sample, "--host", api.URL, "--out", nothing, "--amplify", "NaN", "recorded"}, 2, "--amplify"},
		{"--amplify abc", key, []string{sample, "--host", api.URL, "--out", nothing, "--amplify", "abc", "recorded"}, 2, "--amplify"},
		{"negative --jitter", key, []string{sample, "--host", api.URL, "--out", nothing, "--jitter", "-1s", "recorded"}, 2, "--jitter"},
		{"bad --window", key, []string{sample, "--host", api.URL, "--out", nothing, "--window", "9am..10am", "recorded"}, 2, "--window"},
		{"empty --window", key, []string{sample, "--host", api.URL, "--out", nothing, "--window", "+10h..+11h", "recorded"}, 2, "no recorded session starts in the window"},
		{"--amplify with light", key, []string{sample, "--host", api.URL, "--out", nothing, "--amplify", "2", "light"}, 2, "--amplify: only the recorded scenario"},
		{"--window with light", key, []string{sample, "--host", api.URL, "--out", nothing, "--window", "+1s..+2s", "light"}, 2, "--window: only the recorded scenario"},
		{"recorded, a short run", key, []string{sample, "--host", api.URL, "--out", t.TempDir(), "--speed", "50", "--amplify", "2",
			"--no-default-thresholds", "--threshold", "lateness_p99<10s", "recorded"}, 0, "timeline: recorded × 2 at speed 50"},
		// --metrics is bound before the trace is read: a bad address is
		// a usage error, and nothing is sent.
		{"bad --metrics", key, []string{sample, "--host", api.URL, "--out", nothing, "--metrics", "nonsense", "light"}, 2, `--metrics: cannot serve metrics on "nonsense": want HOST:PORT`},
		{"--metrics port taken", key, []string{sample, "--host", api.URL, "--out", nothing, "--metrics", busy.Addr().String(), "light"}, 2, "address already in use"},
		{"--metrics", key, []string{sample, "--host", api.URL, "--duration", "1s", "--scale", "2", "--pacing", "high", "--out", t.TempDir(),
			"--no-default-thresholds", "--threshold", "p99<10s", "--metrics", "127.0.0.1:0", "light"}, 0, "Prometheus metrics at http://127.0.0.1:"},
		{"bad --web", key, []string{sample, "--host", api.URL, "--out", nothing, "--web=nonsense"}, 2, `--web: web UI address "nonsense": want HOST:PORT`},
		{"--web with --all", key, []string{sample, "--host", api.URL, "--out", nothing, "--web", "--all"}, 2, "--web: give at most a scenario"},
		{"bad scenario in --all", key, []string{sample, "--host", "ftp://x", "--out", nothing, "--all"}, 2, "--host"},
		// A run that sent nothing measured nothing: it fails. (Recorded
		// pacing waits the trace's think time, 2 s, before a first request.)
		{"sent nothing", key, []string{sample, "--host", api.URL, "--out", t.TempDir(), "--duration", "200ms", "light"}, 1, "sent no request"},
		{"closed port", key, []string{sample, "--host", closed, "--out", t.TempDir(), "--duration", "5m", "--pacing", "high", "--scale", "2", "light"}, 1, "the target answered no request"},
		{"short run", key, []string{sample, "--host", api.URL, "--duration", "1500ms", "--scale", "3", "--pacing", "high", "--out", out,
			"--no-default-thresholds", "--threshold", "p99<10s", "light"}, 0, "PASS p99<10s"},
		// The sample's sessions delete tasks others deleted first: some
		// 404s, past the default 1% error rate.
		{"thresholds fail", key, []string{sample, "--host", api.URL, "--duration", "1500ms", "--scale", "3", "--pacing", "high", "--out", t.TempDir(),
			"--threshold", "max<1ns", "light"}, 1, "FAIL max<1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, output := replayCmd(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(output, tt.output) {
				t.Errorf("exit %d, want %d; output:\n%s", code, tt.code, output)
			}
		})
	}
	if left, _ := os.ReadDir(nothing); len(left) != 0 {
		t.Errorf("refused runs wrote %v", left)
	}
	files, _ := filepath.Glob(filepath.Join(out, "light_load_*.parquet"))
	if len(files) != 1 {
		t.Fatalf("results files %v", files)
	}
	// The run was analyzed beside its results.
	run := strings.TrimSuffix(files[0], ".parquet")
	for _, suffix := range []string{".html", ".json", "_stats.csv", "_failures.csv", "_stats_history.csv"} {
		if _, err := os.Stat(run + suffix); err != nil {
			t.Errorf("analysis output: %v", err)
		}
	}
	rows, err := results.ReadAll(files[0])
	if err != nil || len(rows) == 0 || rows[0].Scenario != "light_load" || !strings.HasPrefix(rows[0].Run, "light_load_") {
		t.Errorf("%d rows, %v", len(rows), err)
	}
}

// Ctrl-C, SIGTERM or SIGHUP (a closed terminal) end a run early and
// every completed request is written.
func TestInterrupt(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true}))
	defer api.Close()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, sample, "--host", api.URL, "--duration", "60s", "--scale", "5", "--ramp", "1ms", "--pacing", "stress", "--out", out,
				"--no-default-thresholds", "light")
			cmd.Env = append(os.Environ(), "API_KEY=demo-key-dave")
			var buf syncbuf.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, &buf, "users 5")
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				// The run is written whole, and reported as what it is: a
				// run that stopped early, which does not pass.
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(buf.String(), "INCOMPLETE") {
					t.Fatalf("exit %v, want 1 with the run said incomplete\n%s", err, buf.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("replay did not stop")
			}
			files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
			if len(files) != 1 {
				t.Fatalf("files %v\n%s", files, buf.String())
			}
			rows, err := results.ReadAll(files[0])
			if err != nil || len(rows) == 0 || !strings.Contains(buf.String(), "stopped: interrupted") {
				t.Errorf("%d rows, %v\n%s", len(rows), err, buf.String())
			}
			for _, r := range rows {
				if r.IsAbandoned() || r.Error == "canceled" {
					t.Errorf("a request was abandoned by the first signal: %+v", r)
				}
			}
		})
	}
}

// Interrupted while it waits for --start-at, replay sent nothing and
// says so with exit 1: the run did not happen.
func TestInterruptBeforeStartAt(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(bin, sample, "--host", "http://127.0.0.1:9", "--out", out,
		"--start-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "light")
	var buf syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &buf, "waits until")
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(buf.String(), "interrupted before --start-at") {
		t.Errorf("exit %v\n%s", err, buf.String())
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("a run that sent nothing left %v", left)
	}
}

// waitFor waits until the command's output holds want (at most 30 s).
// startReplay starts the command, killed at the test's end if it is
// still running, and waits for want in its output.
func startReplay(t *testing.T, env []string, want string, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	buf := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, buf, want)
	return cmd, buf
}

func waitFor(t *testing.T, buf *syncbuf.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(buf.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		flag, index, count string
		i, n               int
		bad                bool
	}{
		{"", "", "", 0, 0, false},
		{"0/4", "", "", 0, 4, false},
		{"3/4", "1", "9", 3, 4, false}, // the flag wins over the environment
		{"", "2", "4", 2, 4, false},
		{"", "2", "", 0, 0, true},
		{"4/4", "", "", 0, 0, true},
		{"-1/4", "", "", 0, 0, true},
		{"1/0", "", "", 0, 0, true},
		{"1of4", "", "", 0, 0, true},
		{"1/4x", "", "", 0, 0, true},
		{"", "x", "4", 0, 0, true},
	} {
		sh, err := parseShard(tc.flag, tc.index, tc.count)
		if (err != nil) != tc.bad || (!tc.bad && (sh.Index != tc.i || sh.Count != tc.n)) {
			t.Errorf("%+v: %v %v", tc, sh, err)
		}
	}
}

// A library error about one option is shown with the flag behind it.
func TestFlagged(t *testing.T) {
	for _, tc := range []struct {
		cfg  replay.Config
		want string
	}{
		{replay.Config{Host: "ftp://x"}, "--host: target"},
		{replay.Config{Host: "http://x", Timeout: time.Nanosecond}, "--timeout: a request timeout of 1ns"},
		{replay.Config{Host: "http://x", Duration: time.Nanosecond}, "--duration: a run of 1ns"},
		{replay.Config{Host: "http://x", Users: 2, Shard: shard.Shard{Index: 3, Count: 4}}, "--shard: 2 users"},
		{replay.Config{Host: "http://x", Pacing: "slow"}, "--pacing: no pacing"},
	} {
		if err := flagged(tc.cfg.Check("light")); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
}

// replay --metrics serves the run's figures while it runs, labelled with
// the run of its results file.
func TestMetricsFlag(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true}))
	defer api.Close()
	out := t.TempDir()
	cmd, buf := startReplay(t, []string{"API_KEY=demo-key-dave"}, "/metrics\n", sample, "--host", api.URL, "--duration", "60s", "--scale", "2", "--ramp", "1ms",
		"--pacing", "stress", "--out", out, "--no-default-thresholds", "--metrics", "127.0.0.1:0", "light")
	_, rest, _ := strings.Cut(buf.String(), "Prometheus metrics at ")
	url, _, _ := strings.Cut(rest, "\n")
	// Until a scrape shows requests counted (at most 30 s).
	var body string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(body, "replaykit_requests_total{"); {
		if time.Now().After(deadline) {
			t.Fatalf("no request counted at %s:\n%s", url, body)
		}
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("scrape %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(out, "light_load_*.parquet"))
	if len(files) != 1 {
		t.Fatalf("results files %v\n%s", files, buf.String())
	}
	run := strings.TrimSuffix(filepath.Base(files[0]), ".parquet")
	if !strings.Contains(body, `replaykit_users{run="`+run+`"}`) {
		t.Errorf("no replaykit_users of run %s in:\n%s", run, body)
	}
}

// replay --web serves the UI until Ctrl-C, then exits 0.
func TestWebFlag(t *testing.T) {
	cmd, buf := startReplay(t, nil, "(Ctrl-C to stop)", sample, "--web=127.0.0.1:0", "light")
	_, rest, _ := strings.Cut(buf.String(), "web UI at ")
	url, _, _ := strings.Cut(rest, " ")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "/assets/app.js") {
		t.Errorf("%s: %s\n%s", url, resp.Status, b)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v\n%s", err, buf.String())
	}
}

// A run started from the web UI leaves what the same run started from the
// shell leaves: the same files, and footers that say the same of how it
// was made.
func TestWebRunLeavesWhatTheShellLeaves(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true}))
	defer api.Close()
	flags := []string{sample, "--host", api.URL, "--duration", "1s", "--scale", "2", "--ramp", "1ms", "--pacing", "stress", "--seed", "3",
		"--threshold", "p99<10s", "--no-default-thresholds", "--format", "csv,html,json,junit"}
	env := []string{"API_KEY=demo-key-dave"}
	shellOut, webOut := t.TempDir(), t.TempDir()
	if code, out := replayCmd(t, env, append(flags, "--out", shellOut, "light")...); code != 0 {
		t.Fatalf("replay from the shell: exit %d\n%s", code, out)
	}

	cmd, buf := startReplay(t, env, "(Ctrl-C to stop)", append(flags, "--out", webOut, "--web=127.0.0.1:0", "--web-token", "secret", "light")...)
	_, rest, _ := strings.Cut(buf.String(), "web UI at ")
	page, _, _ := strings.Cut(rest, " ")
	addr := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(page, "http://"), "?", 2)[0], "/")
	call := func(method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("X-Replaykit-Token", "secret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return string(b)
	}
	// The form as the command line filled it in, started as it is.
	var state struct {
		Form json.RawMessage `json:"form"`
		Run  *struct {
			Status string `json:"status"`
			Code   int    `json:"code"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(call("GET", "/api/state", "")), &state); err != nil {
		t.Fatal(err)
	}
	call("POST", "/api/start", string(state.Form))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal([]byte(call("GET", "/api/state", "")), &state); err != nil {
			t.Fatal(err)
		}
		if state.Run != nil && (state.Run.Status == "done" || state.Run.Status == "failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the web run did not end in a minute: %+v\n%s", state.Run, buf.String())
		}
	}
	if state.Run.Status != "done" || state.Run.Code != 0 {
		t.Errorf("the web run: %s, exit code %d", state.Run.Status, state.Run.Code)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()

	// left is what a run left in dir: its files with the run id as RUN,
	// and the footer keys that say how it was made.
	left := func(dir string) (files []string, footer map[string]string) {
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		found, _ := filepath.Glob(filepath.Join(dir, "light_load_*.parquet"))
		if len(found) != 1 {
			t.Fatalf("results files in %s: %v", dir, names)
		}
		run := strings.TrimSuffix(filepath.Base(found[0]), ".parquet")
		for _, n := range names {
			files = append(files, strings.ReplaceAll(filepath.Base(n), run, "RUN"))
		}
		f, err := results.Open(found[0])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		footer = map[string]string{}
		for _, k := range append(slices.Clone(results.ParameterKeys), results.MetaStopped, results.MetaChanges) {
			if v, ok := f.Meta(k); ok {
				footer[k] = v
			}
		}
		return files, footer
	}
	shellFiles, shellFooter := left(shellOut)
	webFiles, webFooter := left(webOut)
	if !slices.Equal(shellFiles, webFiles) {
		t.Errorf("files from the shell %v, from the web UI %v", shellFiles, webFiles)
	}
	if !maps.Equal(shellFooter, webFooter) {
		t.Errorf("footer from the shell %v, from the web UI %v", shellFooter, webFooter)
	}
	if len(shellFooter) < 5 {
		t.Errorf("footer %v: too few keys to compare", shellFooter)
	}
}
