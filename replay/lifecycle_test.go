package replay

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/shard"
)

// runPlan runs p (filled in as run does) under ctx and stop, and returns
// the summary, Run's error and the rows written.
func runPlan(t testing.TB, ctx, stop context.Context, p Plan) (*Summary, error, []results.Result) {
	t.Helper()
	if p.Sessions == nil {
		p.Sessions = sampleSessions(t)
	}
	if p.Mix == "" {
		p.Mix = scenario.MixRecorded
	}
	if p.Shape == nil {
		p.Shape = scenario.Ramp{Peak: p.Users}
	}
	if p.Pacing == nil {
		p.Pacing = scenario.Uniform{Max: 5 * time.Millisecond}
	}
	if p.Walk == nil {
		p.Walk = NewWalk(p.Sessions, p.Mix, p.Pacing, p.FirstWait, p.Users, p.Seed)
	}
	if p.Timeout == 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Target == nil {
		p.Target, _ = ParseTarget("http://127.0.0.1:9")
	}
	p.Run, p.Scenario = "test_run", "test"
	path := filepath.Join(t.TempDir(), "r.parquet")
	w, err := results.Create(path, results.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, runErr := Run(ctx, stop, p, w, nil)
	if sum == nil {
		w.Abort()
		return nil, runErr, nil
	}
	if sum.Stopped != "" {
		w.SetMeta(results.MetaStopped, sum.Stopped)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := results.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum, runErr, rows
}

// A run ends at its duration whatever the rate: at a million requests a
// second the generator falls behind at once, and what it could not send
// by the end is counted, not sent late forever. Nothing scheduled at or
// after the end is sent.
func TestOpenModelEndsAtItsDuration(t *testing.T) {
	bg := context.Background()
	start := time.Now()
	d := time.Second
	sum, err, rows := runPlan(t, bg, bg, Plan{Users: 1, Rate: 1e6, Duration: d, Client: &http.Client{Transport: &instant{}}})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: a loaded machine may take its time to finish what is in
	// flight, but not to go on sending (which took minutes).
	if took > d+5*time.Second {
		t.Errorf("a %s run took %s", d, took)
	}
	if sum.Unsent == 0 || sum.Stopped != "" {
		t.Errorf("unsent %d, stopped %q", sum.Unsent, sum.Stopped)
	}
	end := earliest(rows).Add(d)
	for _, r := range rows {
		if !r.Scheduled.Before(end) {
			t.Fatalf("a request scheduled %s after the start was sent", r.Scheduled.Sub(end.Add(-d)))
		}
	}
	if got := int64(len(rows)) + sum.Unsent; got > int64(1e6*d.Seconds()) {
		t.Errorf("%d sent + %d unsent: more than the schedule holds", len(rows), sum.Unsent)
	}
}

// Stopping an open-model run that is far behind its schedule ends it at
// once (it used to ignore SIGTERM and a second SIGINT).
func TestOpenModelBehindScheduleStops(t *testing.T) {
	bg := context.Background()
	stop, interrupt := context.WithCancelCause(bg)
	time.AfterFunc(300*time.Millisecond, func() { interrupt(ErrInterrupted) })
	start := time.Now()
	sum, err, _ := runPlan(t, bg, stop, Plan{Users: 1, Rate: 1e6, Duration: time.Hour, Client: &http.Client{Transport: &instant{}}})
	if err != nil {
		t.Fatal(err)
	}
	// Far behind at the stop: what was due and not sent is counted.
	if took := time.Since(start); took > 10*time.Second || sum.Stopped != "interrupted" || sum.Unsent == 0 {
		t.Errorf("took %s, stopped %q, unsent %d", took, sum.Stopped, sum.Unsent)
	}
}

// A second Ctrl-C abandons the requests in flight: their rows say
// abandoned, and analyze counts them in no figure (they are not the
// server's failures).
func TestAbandonedRequests(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { abandonedRequests(t, cl.http1) })
	}
}

func abandonedRequests(t *testing.T, http1 bool) {
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		select { // the server hangs until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer once.Do(func() { close(release) })
	tgt, _ := ParseTarget(srv.URL)
	ctx, abandon := context.WithCancelCause(context.Background())
	stop, interrupt := context.WithCancelCause(ctx)
	time.AfterFunc(500*time.Millisecond, func() { interrupt(ErrInterrupted) })
	time.AfterFunc(800*time.Millisecond, func() { abandon(ErrAbandoned) })
	// No think time: every user has a request in flight by the Ctrl-C
	// (the sample's recorded think times are seconds).
	sum, err, rows := runPlan(t, ctx, stop, Plan{Users: 4, Duration: time.Minute, Target: tgt, Pacing: scenario.Uniform{Max: time.Millisecond}, HTTP1: http1})
	if err != nil {
		t.Fatal(err)
	}
	var abandoned int64
	for _, r := range rows {
		if r.Error == results.Abandoned {
			abandoned++
		} else if r.Error != "" {
			t.Errorf("row failed with %q", r.Error)
		}
	}
	if abandoned == 0 || abandoned != sum.Abandoned || !strings.Contains(sum.Stopped, "abandoned") {
		t.Fatalf("%d abandoned rows, summary %d, stopped %q", abandoned, sum.Abandoned, sum.Stopped)
	}
	agg := analysis.New(0)
	for i := range rows {
		agg.Add(&rows[i])
	}
	rep := agg.Report()
	if rep.Total.Failures != 0 || rep.Abandoned != abandoned || rep.Total.Requests != int64(len(rows))-abandoned {
		t.Errorf("analysis: %d requests, %d failures, %d abandoned", rep.Total.Requests, rep.Total.Failures, rep.Abandoned)
	}
}

// A run against a port nobody listens on stops after a few seconds with
// a message that says so, instead of sending refused connections for its
// whole duration.
func TestUnreachableTargetStopsTheRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tgt, _ := ParseTarget(closed)
	bg := context.Background()
	start := time.Now()
	sum, err, rows := runPlan(t, bg, bg, Plan{Users: 2, Duration: 5 * time.Minute, Target: tgt, Pacing: scenario.Uniform{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Minute || !strings.HasPrefix(sum.Stopped, ErrUnreachable.Error()) ||
		!strings.Contains(sum.Stopped, "connection refused") || !strings.Contains(sum.Stopped, "--host") || len(rows) == 0 {
		t.Errorf("took %s, %d rows, stopped %q", took, len(rows), sum.Stopped)
	}
}

// A server that answers, even with errors, is not unreachable.
func TestFailingServerIsNotUnreachable(t *testing.T) {
	m := newMeter(time.Now().Add(-time.Minute), false, false)
	for range 10 {
		m.add(&results.Result{Status: 503}, true)
	}
	if why := m.unreachable(); why != "" {
		t.Errorf("503s: %q", why)
	}
	m = newMeter(time.Now().Add(-time.Minute), false, false)
	for range 10 {
		m.add(&results.Result{Error: "timeout"}, true)
	}
	if why := m.unreachable(); !strings.Contains(why, "10 × timeout") {
		t.Errorf("timeouts: %q", why)
	}
	// Requests the generator could not send say nothing of the target.
	m = newMeter(time.Now().Add(-time.Minute), true, true)
	for range 10 {
		m.add(&results.Result{Error: "generator overloaded: too many requests in flight"}, false)
	}
	if why := m.unreachable(); why != "" {
		t.Errorf("unsent requests: %q", why)
	}
}

// Values that cannot mean what they say are refused before any load.
func TestPlanRefusesNonsense(t *testing.T) {
	bg := context.Background()
	for _, tc := range []struct {
		name string
		p    Plan
		want string
	}{
		{"1ns timeout", Plan{Users: 1, Duration: time.Second, Timeout: time.Nanosecond}, "timeout"},
		{"1ns duration", Plan{Users: 1, Duration: time.Nanosecond}, "next to nothing"},
		{"fewer users than shards", Plan{Users: 2, Duration: time.Second, Shard: shard.Shard{Index: 3, Count: 4}}, "shard 3 would have none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, err, _ := runPlan(t, bg, bg, tc.p)
			if sum != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("summary %v, error %v", sum, err)
			}
		})
	}
}

// Interrupted while waiting for --start-at: nothing was sent, and the
// summary says the run was stopped (the command exits 1).
func TestInterruptedBeforeStartAt(t *testing.T) {
	bg := context.Background()
	stop, interrupt := context.WithCancelCause(bg)
	time.AfterFunc(100*time.Millisecond, func() { interrupt(ErrInterrupted) })
	sum, err, rows := runPlan(t, bg, stop, Plan{Users: 1, Duration: time.Second, StartAt: time.Now().Add(time.Hour)})
	if err != nil || sum.Stopped != "interrupted before --start-at" || len(rows) != 0 {
		t.Errorf("err %v, stopped %q, %d rows", err, sum.Stopped, len(rows))
	}
}

// Two runs started in the same second, in the same directory, each write
// a whole file of their own: none overwrites the other.
func TestRunsInTheSameSecondKeepTheirResults(t *testing.T) {
	srv := demo(t)
	out := t.TempDir()
	// The start they wait for names them: the same second for all three.
	cfg := Config{Traces: []string{"../testdata/sample/*.parquet"}, Host: srv.URL, APIKey: "demo-key-alice", Users: 2,
		Duration: time.Second, Pacing: "stress", Out: out, StartAt: time.Now().Add(200 * time.Millisecond)}
	bg := context.Background()
	var wg sync.WaitGroup
	sums := make([]*Summary, 3)
	errs := make([]error, 3)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = RunScenario(bg, bg, "light", cfg)
		}()
	}
	wg.Wait()
	files := map[string]bool{}
	for i, s := range sums {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		files[s.Results] = true
		rows, err := results.ReadAll(s.Results)
		if err != nil || int64(len(rows)) != s.Requests || rows[0].Run != s.Run {
			t.Errorf("%s: %d rows of %d, %v", s.Results, len(rows), s.Requests, err)
		}
	}
	if len(files) != 3 {
		t.Errorf("3 runs wrote %v", files)
	}
	for _, suffix := range []string{"Z.parquet", "Z_2.parquet", "Z_3.parquet"} {
		if m, _ := filepath.Glob(filepath.Join(out, "light_load_*"+suffix)); len(m) != 1 {
			t.Errorf("no file *%s among %v", suffix, files)
		}
	}
	left, _ := filepath.Glob(filepath.Join(out, "*.tmp"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	// A shard whose file is there already is refused, not overwritten.
	cfg.StartAt, cfg.Shard = time.Now().Add(100*time.Millisecond).Truncate(time.Second).Add(time.Second), shard.Shard{Index: 0, Count: 2}
	if _, err := RunScenario(bg, bg, "light", cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := RunScenario(bg, bg, "light", cfg); !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "shard 0/2") {
		t.Errorf("the same shard again: %v", err)
	}
}

// An abort threshold stops the run as soon as it fails on the figures so
// far (k6's abortOnFail), and not before its delay.
func TestAbortThreshold(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	tgt, _ := ParseTarget(srv.URL)
	th, err := analysis.ParseThreshold("error_rate<10%,abort=1s")
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	start := time.Now()
	sum, err, rows := runPlan(t, bg, bg, Plan{Users: 2, Duration: 5 * time.Minute, Target: tgt, Aborts: []analysis.Threshold{th}})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sum.Stopped, ErrAborted.Error()) || !strings.Contains(sum.Stopped, "FAIL error_rate<10%") || took > time.Minute {
		t.Errorf("took %s, stopped %q", took, sum.Stopped)
	}
	if first := earliest(rows); len(rows) == 0 || lastSent(rows).Sub(first) < time.Second {
		t.Errorf("%d rows: stopped before the threshold's delay", len(rows))
	}
}

func lastSent(rows []results.Result) time.Time {
	var t0 time.Time
	for _, r := range rows {
		if r.Sent.After(t0) {
			t0 = r.Sent
		}
	}
	return t0
}

// A session that cannot be read back mid-run (its spilled file damaged)
// stops the run, says why, and keeps every row sent before.
func TestSessionReadErrorKeepsTheRows(t *testing.T) {
	srv := demo(t)
	tgt, _ := ParseTarget(srv.URL)
	tgt.APIKey = "demo-key-alice"
	spill := t.TempDir()
	src := sampleSessionsWith(t, session.Options{Memory: 512 << 10, Cache: 1, TempDir: spill})
	time.AfterFunc(400*time.Millisecond, func() {
		files, _ := filepath.Glob(filepath.Join(spill, "*", "*.parquet"))
		for _, f := range files {
			os.Truncate(f, 100)
		}
	})
	bg := context.Background()
	sum, err, rows := runPlan(t, bg, bg, Plan{Users: 4, Duration: time.Minute, Target: tgt, Sessions: src, Pacing: scenario.Uniform{Max: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sum.Stopped, ErrSession.Error()) || len(rows) == 0 || int64(len(rows)) != sum.Requests {
		t.Errorf("stopped %q, %d rows of %d", sum.Stopped, len(rows), sum.Requests)
	}
}
