package replay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

func sampleSessions(t testing.TB) *session.Source {
	t.Helper()
	return sampleSessionsWith(t, session.Options{})
}

func sampleSessionsWith(t testing.TB, opts session.Options) *session.Source {
	t.Helper()
	s, st, err := session.Open(opts, "../testdata/sample/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Memory > 0 && !st.Spilled {
		t.Fatalf("the sample trace did not spill with Memory %d KiB", opts.Memory>>10)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func demo(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 1}))
	t.Cleanup(srv.Close)
	return srv
}

// run replays a plan against url (with the demo's API key) and returns
// its results.
func run(t *testing.T, url string, p Plan) ([]results.Result, *Summary) {
	t.Helper()
	if p.Target == nil {
		tgt, err := ParseTarget(url)
		if err != nil {
			t.Fatal(err)
		}
		tgt.APIKey = "demo-key-alice"
		p.Target = tgt
	}
	sum, err, rows := runPlan(t, context.Background(), context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != sum.Requests {
		t.Fatalf("%d rows, summary says %d", len(rows), sum.Requests)
	}
	return rows, sum
}

// perUser lists the trace rows each virtual user sent, in order.
func perUser(rows []results.Result) map[int32][]int64 {
	slices.SortStableFunc(rows, func(a, b results.Result) int { return a.Sent.Compare(b.Sent) })
	m := map[int32][]int64{}
	for _, r := range rows {
		m[r.VU] = append(m[r.VU], r.TraceID)
	}
	return m
}

// Two runs with the same seed send the same requests: each virtual user
// the same trace rows in the same order (as far as both runs got).
func TestSameSeedSameRequests(t *testing.T) {
	srv := demo(t)
	// Long enough for five requests a user on a loaded machine (the
	// spilled run reads sessions back through a tiny cache).
	p := Plan{Users: 4, Duration: 2 * time.Second, Seed: 42}
	a, _ := run(t, srv.URL, p)
	b, _ := run(t, srv.URL, p)
	// Spilled to disk and read back through a small cache: the same.
	p.Sessions = sampleSessionsWith(t, session.Options{Memory: 512 << 10, Cache: 8 << 10})
	d, _ := run(t, srv.URL, p)
	p.Sessions = nil
	p.Seed = 43
	c, _ := run(t, srv.URL, p)
	ua, ub, uc, ud := perUser(a), perUser(b), perUser(c), perUser(d)
	if len(ua) != 4 {
		t.Fatalf("%d users sent requests", len(ua))
	}
	differs := false
	for v, seq := range ua {
		n := min(len(seq), len(ub[v]))
		if n < 5 || !slices.Equal(seq[:n], ub[v][:n]) {
			t.Errorf("user %d: %v vs %v", v, seq[:min(n, 10)], ub[v][:min(n, 10)])
		}
		if n := min(len(seq), len(ud[v])); n < 5 || !slices.Equal(seq[:n], ud[v][:n]) {
			t.Errorf("user %d, spilled sessions: %v vs %v", v, seq[:min(n, 10)], ud[v][:min(n, 10)])
		}
		m := min(len(seq), len(uc[v]))
		if !slices.Equal(seq[:m], uc[v][:m]) {
			differs = true
		}
	}
	if !differs {
		t.Error("another seed sent the same sequences")
	}
	for _, r := range a {
		if r.Error != "" || r.Status == 401 {
			t.Fatalf("request failed: %+v", r)
		}
	}
}

func TestMixes(t *testing.T) {
	srv := demo(t)
	rows, _ := run(t, srv.URL, Plan{Users: 3, Duration: 400 * time.Millisecond, Mix: scenario.MixRead, Seed: 1})
	for _, r := range rows {
		if r.Method != "GET" && r.Method != "HEAD" && r.Method != "OPTIONS" {
			t.Fatalf("read_heavy sent %s %s", r.Method, r.URL)
		}
	}
	rows, _ = run(t, srv.URL, Plan{Users: 3, Duration: 400 * time.Millisecond, Mix: scenario.MixWrite, Seed: 1})
	var writes int
	for _, r := range rows {
		if r.Method != "GET" {
			writes++
		}
	}
	if len(rows) < 10 || writes*10 < len(rows)*8 {
		t.Errorf("write_heavy: %d writes of %d", writes, len(rows))
	}
}

// The spike's users over time, as the results' users column saw them.
func TestSpikeShape(t *testing.T) {
	srv := demo(t)
	d := 2 * time.Second
	shape := scenario.NewSpike(30, d)
	rows, _ := run(t, srv.URL, Plan{Users: 30, Duration: d, Shape: shape, Pacing: scenario.Uniform{Min: 5 * time.Millisecond, Max: 15 * time.Millisecond}, Seed: 3})
	start := earliest(rows)
	var early, middle []int32
	for _, r := range rows {
		at := r.Sent.Sub(start)
		switch {
		case at < shape.Before-100*time.Millisecond:
			early = append(early, r.Users)
		case at > shape.Before+shape.Rise+200*time.Millisecond && at < shape.Before+shape.Rise+shape.Hold-200*time.Millisecond:
			middle = append(middle, r.Users)
		}
	}
	if len(early) == 0 || len(middle) == 0 || slices.Max(early) > int32(shape.Base) || slices.Min(middle) < 25 {
		t.Errorf("before the spike users up to %d (base %d); during, down to %d (peak 30)", maxOf(early), shape.Base, minOf(middle))
	}
}

func maxOf(s []int32) int32 {
	if len(s) == 0 {
		return -1
	}
	return slices.Max(s)
}

func minOf(s []int32) int32 {
	if len(s) == 0 {
		return -1
	}
	return slices.Min(s)
}

// Without API_KEY the recorded (redacted) keys are refused; with it, the
// requests go through.
func TestAPIKeyReplacesCredentials(t *testing.T) {
	srv := demo(t)
	tgt, _ := ParseTarget(srv.URL)
	rows, _ := run(t, srv.URL, Plan{Users: 2, Duration: 300 * time.Millisecond, Target: tgt, Seed: 5})
	var refused int
	for _, r := range rows {
		if r.Status == 401 {
			refused++
		}
	}
	if refused == 0 {
		t.Error("redacted keys were accepted")
	}
	rows, _ = run(t, srv.URL, Plan{Users: 2, Duration: 300 * time.Millisecond, Seed: 5})
	for _, r := range rows {
		if r.Status == 401 && !strings.Contains(r.Name, "health") {
			t.Fatalf("401 with API_KEY set: %+v", r)
		}
	}
}

// The open model keeps its schedule while the server stalls, and the stall
// shows in latencies measured from the scheduled time.
func TestOpenModelStall(t *testing.T) {
	// The server stalls from 300ms to 800ms after the first request it sees:
	// requests arriving then wait until 800ms.
	var first atomic.Int64
	api := demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		first.CompareAndSwap(0, now.UnixNano())
		t0 := time.Unix(0, first.Load())
		if at := now.Sub(t0); at >= 300*time.Millisecond && at < 800*time.Millisecond {
			time.Sleep(t0.Add(800 * time.Millisecond).Sub(now))
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	const rate, d = 100.0, 1500 * time.Millisecond
	rows, _ := run(t, srv.URL, Plan{Users: 1, Rate: rate, Duration: d, Seed: 9})
	want := int(rate * d.Seconds())
	if len(rows) != want {
		t.Errorf("%d requests sent, the schedule had %d", len(rows), want)
	}
	start := earliest(rows)
	var stalled int
	for _, r := range rows {
		at := r.Scheduled.Sub(start)
		// Scheduled well inside the stall: it waits at least until 800ms.
		if at > 350*time.Millisecond && at < 600*time.Millisecond {
			if time.Duration(r.LatencyNanos) < 150*time.Millisecond {
				t.Errorf("request scheduled at %v during the stall: latency %v", at, time.Duration(r.LatencyNanos))
			}
			stalled++
		}
		// The stall lasts 500ms: a generator that waited for the server
		// would be that late; a loaded machine, a little.
		if lateness := r.Sent.Sub(r.Scheduled); lateness > 200*time.Millisecond {
			t.Errorf("request scheduled at %v left %v late: the schedule must not wait for the server", at, lateness)
		}
	}
	lat := make([]int64, len(rows))
	for i, r := range rows {
		lat[i] = r.LatencyNanos
	}
	slices.Sort(lat)
	if p99 := time.Duration(lat[len(lat)*99/100]); stalled < 20 || p99 < 200*time.Millisecond {
		t.Errorf("%d requests during the stall, p99 %v", stalled, p99)
	}
}

func earliest(rows []results.Result) time.Time {
	start := rows[0].Scheduled
	for _, r := range rows {
		if r.Scheduled.Before(start) {
			start = r.Scheduled
		}
	}
	return start
}

// When results cannot be written the run stops instead of sending load
// whose results are lost.
func TestStopsWhenResultsCannotBeWritten(t *testing.T) {
	srv := demo(t)
	tgt, _ := ParseTarget(srv.URL)
	tgt.APIKey = "demo-key-alice"
	sessions := sampleSessions(t)
	dir := t.TempDir()
	w, err := results.Create(filepath.Join(dir, "r.parquet"), results.WriterOptions{RowGroupRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Closing the writer makes every later Write fail, as a full disk would.
	w.Close()
	start := time.Now()
	sum, err := Run(context.Background(), context.Background(), Plan{Run: "r", Scenario: "s", Sessions: sessions, Walk: NewWalk(sessions, scenario.MixRecorded, scenario.Uniform{}, 0, 4, 1),
		Users: 4, Shape: scenario.Ramp{Peak: 4}, Pacing: scenario.Uniform{Max: time.Millisecond}, Mix: scenario.MixRecorded,
		Duration: 30 * time.Second, Timeout: time.Second, Target: tgt}, w, nil)
	if err == nil || sum == nil || !strings.HasPrefix(sum.Stopped, "results could not be written") {
		t.Fatalf("err %v, summary %+v", err, sum)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run went on for %v after results failed", took)
	}
}
