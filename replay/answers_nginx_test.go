package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/record"
	"github.com/replaykit/replaykit/results"
)

// nginxAnswers are the answers of an nginx release: its locations'
// bodies hold noise (nginx's $request_id, $msec, $connection), stable
// values and arrays, as real APIs do.
var nginxAnswers = map[string]string{
	"recorded": `
		location = /api/status { default_type application/json; return 200 '{"status":"ok","version":"1.4.2","request":"$request_id","time":$msec}'; }
		location /api/items/ { default_type application/json; return 200 '{"id":"$request_id","name":"item","owner":{"name":"alice","seen":$msec},"tags":["a","b"],"updated":$msec}'; }
		location = /api/list { default_type application/json; return 200 '{"items":[{"id":"$request_id","n":1},{"id":"$connection","n":2}],"count":2,"next":null}'; }
		location = /page { default_type text/html; return 200 '<!doctype html><p>hello</p>'; }`,
	// The next release dropped the items' owner.
	"owner dropped": `
		location = /api/status { default_type application/json; return 200 '{"status":"ok","version":"1.4.2","request":"$request_id","time":$msec}'; }
		location /api/items/ { default_type application/json; return 200 '{"id":"$request_id","name":"item","tags":["a","b"],"updated":$msec}'; }
		location = /api/list { default_type application/json; return 200 '{"items":[{"id":"$request_id","n":1},{"id":"$connection","n":2}],"count":2,"next":null}'; }
		location = /page { default_type text/html; return 200 '<!doctype html><p>hello</p>'; }`,
	// A release whose status says it is degraded, the rest as recorded.
	"degraded": `
		location = /api/status { default_type application/json; return 200 '{"status":"degraded","version":"1.4.2","request":"$request_id","time":$msec}'; }
		location /api/items/ { default_type application/json; return 200 '{"id":"$request_id","name":"item","owner":{"name":"alice","seen":$msec},"tags":["a","b"],"updated":$msec}'; }
		location = /api/list { default_type application/json; return 200 '{"items":[{"id":"$request_id","n":1},{"id":"$connection","n":2}],"count":2,"next":null}'; }
		location = /page { default_type text/html; return 200 '<!doctype html><p>hello</p>'; }`,
	// Every request sent to a login page: a lost session, a wrong host.
	"redirect": `location / { return 302 /login; }`,
}

// startNginx serves the answers named on 127.0.0.1 and returns its URL.
func startNginx(t *testing.T, answers string) string {
	t.Helper()
	url, _ := startNginxWith(t, "", nginxAnswers[answers], nil)
	return url
}

// startNginxWith runs nginx with one server on 127.0.0.1: listen options
// (http2: h2c by prior knowledge) and its body; it returns the URL and
// nginx's directory. probe, when set, is the client that waits for it to
// answer (an HTTP/2-only listener answers no HTTP/1.1 request).
func startNginxWith(t *testing.T, listen, server string, probe *http.Client) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("nginx is not installed (scripts/test.sh installs nginx-light as root): the tests against nginx skip")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`daemon off; master_process off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
	server { listen %[2]s %[4]s; %[3]s } }
`, dir, addr, server, listen)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	if probe == nil {
		probe = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := probe.Get(url + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not answer on %s: %s", addr, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, dir
}

// recordNginx records curl's requests to the recorded release through
// record --proxy: each route 50 times, in one keep-alive session.
func recordNginx(t *testing.T) string {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (scripts/test.sh installs it as root)")
	}
	upstream := startNginx(t, "recorded")
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := record.Proxy(ctx, "127.0.0.1:0", upstream, record.Config{Out: dir + "/", Ready: func(a string) { ready <- a }})
		done <- err
	}()
	proxy := "http://" + <-ready
	var urls []string
	for i := range 50 {
		urls = append(urls, proxy+"/api/status", fmt.Sprintf("%s/api/items/%d", proxy, 100+i), proxy+"/api/list", proxy+"/page")
	}
	out, err := exec.Command(curl, append([]string{"-sS", "--fail"}, urls...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %.300s", err, out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "*.parquet")
}

// Replayed against another release, the route that changed is told from
// the noise (ids, times) on every request, and the others never; against
// a release that redirects every request, every answer differs.
func TestAnswersAgainstNginx(t *testing.T) {
	t.Parallel()
	traces := recordNginx(t)
	for _, tt := range []struct {
		release string
		changed string // the route flagged, "*" all, "" none
		diff    string // the difference it shows
	}{
		{"recorded", "", ""},
		{"owner dropped", "/api/items/{id}", "missing $.owner"},
		{"degraded", "/api/status", "value $.status"},
		{"redirect", "*", "status 200->302"},
	} {
		t.Run(tt.release, func(t *testing.T) {
			target := startNginx(t, tt.release)
			_, rows := runAnswers(t, Config{Traces: []string{traces}, Host: target, Speed: 1000, Amplify: 3, Seed: 1})
			type tally struct {
				compared, differed, diff int
				diffs                    map[string]int
			}
			by := map[string]*tally{}
			for _, r := range rows {
				k := by[r.Name]
				if k == nil {
					k = &tally{diffs: map[string]int{}}
					by[r.Name] = k
				}
				if r.Compared {
					k.compared++
				}
				if r.Diff != "" {
					k.differed++
					k.diffs[r.Diff]++
				}
				if strings.HasPrefix(r.Diff, tt.diff) && tt.diff != "" {
					k.diff++
				}
			}
			if len(by) != 4 {
				t.Fatalf("routes replayed: %v", by)
			}
			for name, k := range by {
				flagged := tt.changed == "*" || name == tt.changed
				t.Logf("%s: %d compared, %d differ, %d as %q; %v", name, k.compared, k.differed, k.diff, tt.diff, k.diffs)
				switch {
				case k.compared != 150:
					t.Errorf("%s: %d answers compared, want 150", name, k.compared)
				case flagged && (k.differed*100 < k.compared*95 || k.diff*100 < k.compared*95):
					t.Errorf("%s: %d of %d answers differ, %d as %q: want 95%% at least", name, k.differed, k.compared, k.diff, tt.diff)
				case !flagged && k.differed*100 > k.compared:
					t.Errorf("%s: %d of %d answers differ (noise taken for a difference?): want 1%% at most", name, k.differed, k.compared)
				}
			}
		})
	}
}

// runAnswers runs the recorded scenario, every answer's body compared,
// and reads its rows (runRecorded: its API key goes nowhere nginx looks).
func runAnswers(t *testing.T, cfg Config) (*Summary, []results.Result) {
	t.Helper()
	cfg.CompareAll = true // these tests count every answer's differences
	return runRecorded(t, cfg)
}

// --shadow: every request goes to both releases; each answer is compared
// with the recording, and the two with each other.
func TestShadowAgainstNginx(t *testing.T) {
	t.Parallel()
	traces := recordNginx(t)
	main, candidate := startNginx(t, "recorded"), startNginx(t, "owner dropped")
	sum, rows := runAnswers(t, Config{Traces: []string{traces}, Host: main, Shadow: candidate, Speed: 1000, Amplify: 2, Seed: 1})
	if len(rows) != 400 {
		t.Fatalf("%d rows, want 400", len(rows))
	}
	for _, r := range rows {
		want := ""
		if r.Name == "/api/items/{id}" {
			want = "missing $.owner"
		}
		if r.Status != 200 || r.ShadowStatus != 200 || r.ShadowError != "" || r.ShadowLatencyNanos <= 0 || r.LatencyNanos <= 0 {
			t.Fatalf("%s: status %d, shadow %d %q, latencies %d and %d", r.Name, r.Status, r.ShadowStatus, r.ShadowError, r.LatencyNanos, r.ShadowLatencyNanos)
		}
		if !r.Compared || r.Diff != "" || r.ShadowDiff != want || r.TargetsDiff != want {
			t.Fatalf("%s: compared %v, diff %q, shadow's %q, between them %q; want %q", r.Name, r.Compared, r.Diff, r.ShadowDiff, r.TargetsDiff, want)
		}
	}
	// The report: both targets side by side, and where they differ.
	var table strings.Builder
	out, err := analyze.Run(analyze.Config{Inputs: []string{sum.Results}, Out: t.TempDir(), NoDefaults: true,
		Thresholds: []string{"mismatch_rate<1%"}, Formats: []string{"json"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shadow target (every request sent to it too", "the shadow's differences from the recording:",
		"differences between the target and the shadow", "missing $.owner (100)", "PASS mismatch_rate<1%"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
	if sh := out.Report.Shadow; sh == nil || sh.Total.Requests != 400 || sh.Total.Failures != 0 || out.Report.Between.Total.Mismatched() != 100 {
		t.Errorf("shadow report %+v", sh)
	}
	// A shadow that is the target itself, or no URL, is refused before
	// anything is sent.
	for _, bad := range []string{main, "ftp://x", "http://"} {
		cfg := Config{Traces: []string{traces}, Host: main, Shadow: bad}
		var oe *OptionError
		if err := cfg.Check("recorded"); !errors.As(err, &oe) || oe.Option != "Shadow" {
			t.Errorf("--shadow %q: %v, want it refused", bad, err)
		}
	}
}
