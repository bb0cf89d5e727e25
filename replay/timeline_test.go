package replay

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/shard"
	"github.com/replaykit/replaykit/timeline"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// t0 is the recording's start in the synthetic timelines.
var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// timelineOf makes a trace of n sessions, session i starting at
// t0 + i*every, each with reqs requests gap apart that took took each:
// a client that waits for each answer.
func timelineOf(n, reqs int, every, gap, took time.Duration) *session.Source {
	var ss []session.Session
	id := int64(0)
	for i := range n {
		s := session.Session{Key: fmt.Sprintf("user:%04d", i)}
		for j := range reqs {
			id++
			s.Requests = append(s.Requests, session.Request{ID: id, TS: t0.Add(time.Duration(i)*every + time.Duration(j)*gap),
				Session: s.Key, Method: "GET", Path: fmt.Sprintf("/api/v1/tasks/%d", id), Route: "/api/v1/tasks/{id}",
				Status: 200, Kind: trace.KindRead, DurationNanos: int64(took)})
		}
		ss = append(ss, s)
	}
	return session.FromSessions(ss)
}

// timelineRun replays src's whole timeline with o (shard sh) against an
// instant target; the run lasts d.
func timelineRun(t *testing.T, src *session.Source, o timeline.Options, loop bool, d time.Duration, sh string) (*Summary, []results.Result) {
	t.Helper()
	tp, _, err := timelinePlan(src, Config{Speed: o.Speed, Amplify: o.Amplify, Jitter: o.Jitter, Seed: o.Seed, Loop: loop})
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Sessions: src, Timeline: tp, Duration: d, Seed: o.Seed, Client: &http.Client{Transport: &instant{}}}
	if sh != "" {
		if p.Shard, err = shard.Parse(sh); err != nil {
			t.Fatal(err)
		}
	}
	bg := context.Background()
	sum, err, rows := runPlan(t, bg, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rows
}

// onTimeline is when a row was due on the recorded timeline, from the
// run's start.
func onTimeline(sum *Summary, r results.Result) time.Duration {
	return r.Scheduled.Add(-time.Duration(r.BehindNanos)).Sub(sum.Timeline.Start)
}

// Each session starts at its recorded offset divided by the speed, and
// each request keeps its recorded gap, divided too: the time each row was
// due on the timeline is exact, however late the machine ran.
func TestTimelineOffsets(t *testing.T) {
	t.Parallel()
	src := timelineOf(5, 3, 400*time.Millisecond, 200*time.Millisecond, 5*time.Millisecond)
	for _, speed := range []float64{1, 2} {
		sum, rows := timelineRun(t, src, timeline.Options{Speed: speed, Amplify: 1}, false, 2500*time.Millisecond, "")
		if len(rows) != 15 {
			t.Fatalf("speed %g: %d rows, want 15", speed, len(rows))
		}
		for _, r := range rows {
			i, j := (r.TraceID-1)/3, (r.TraceID-1)%3
			want := time.Duration(float64(time.Duration(i)*400*time.Millisecond+time.Duration(j)*200*time.Millisecond) / speed)
			if got := onTimeline(sum, r); got != want {
				t.Errorf("speed %g: request %d due at %s, want %s", speed, r.TraceID, got, want)
			}
			if r.Sent.Before(r.Scheduled) || r.Status != 200 {
				t.Errorf("request %d: sent %s before it was ready %s, or status %d", r.TraceID, r.Sent, r.Scheduled, r.Status)
			}
		}
		// Recorded arrivals by second of the run: 15 requests over 2.4 s
		// of recording.
		var n int64
		for _, c := range sum.Timeline.Recorded {
			n += c
		}
		if n != 15 || sum.Timeline.Speed != speed || sum.Timeline.Amplify != 1 {
			t.Errorf("speed %g: timeline %+v", speed, sum.Timeline)
		}
	}
}

// The default duration is the recording's divided by the speed: --speed
// 2 halves it.
func TestTimelineDuration(t *testing.T) {
	src := timelineOf(10, 2, time.Second, 500*time.Millisecond, time.Millisecond) // 9.5 s of recording
	for _, tt := range []struct {
		speed  float64
		jitter time.Duration
		want   time.Duration
	}{
		{1, 0, 9500*time.Millisecond + 1},
		{2, 0, 4750 * time.Millisecond},
		{2, 100 * time.Millisecond, 4850 * time.Millisecond},
	} {
		_, d, err := timelinePlan(src, Config{Speed: tt.speed, Jitter: tt.jitter})
		if err != nil {
			t.Fatal(err)
		}
		if d != tt.want {
			t.Errorf("speed %g, jitter %s: duration %s, want %s", tt.speed, tt.jitter, d, tt.want)
		}
	}
}

// copyKey names what a row is: which copy (VU) sent which recorded row,
// due when.
type copyKey struct {
	vu  int32
	id  int64
	due time.Duration
}

func copiesOf(sum *Summary, rows []results.Result) []copyKey {
	var out []copyKey
	for _, r := range rows {
		out = append(out, copyKey{r.VU, r.TraceID, onTimeline(sum, r)})
	}
	slices.SortFunc(out, func(a, b copyKey) int {
		if a.vu != b.vu {
			return int(a.vu - b.vu)
		}
		return int(a.id - b.id)
	})
	return out
}

// Amplify sends the copies its hash says, each its own virtual user with
// every request of its session; the same seed sends the same requests at
// the same offsets, and shards together send what one run sends.
func TestTimelineAmplifyAndShards(t *testing.T) {
	t.Parallel()
	src := timelineOf(60, 2, 10*time.Millisecond, 50*time.Millisecond, time.Millisecond)
	// The timeline ends at about 670 ms; a run ends when its last copy
	// has sent, so a long duration costs nothing, and on a loaded machine
	// no request due is cut by the end.
	d := 5 * time.Second
	for _, a := range []float64{0.5, 1, 2.5} {
		o := timeline.Options{Speed: 1, Amplify: a, Jitter: 30 * time.Millisecond, Seed: 9}
		sum, rows := timelineRun(t, src, o, false, d, "")
		want := 0
		for i := range src.Len() {
			want += 2 * o.Copies(src.Info(i).Key)
		}
		if len(rows) != want {
			t.Fatalf("amplify %g: %d rows, want %d", a, len(rows), want)
		}
		// Each copy is one session's requests, all of them.
		perVU := map[int32][]int64{}
		for _, r := range rows {
			perVU[r.VU] = append(perVU[r.VU], r.TraceID)
		}
		for vu, ids := range perVU {
			slices.Sort(ids)
			if len(ids) != 2 || ids[1] != ids[0]+1 || ids[0]%2 != 1 {
				t.Fatalf("amplify %g: copy %d sent %v", a, vu, ids)
			}
			if key := src.Info(int(ids[0]-1) / 2).Key; o.Copies(key) == 0 {
				t.Fatalf("amplify %g: %s sent, its hash says none", a, key)
			}
		}
		again, rows2 := timelineRun(t, src, o, false, d, "")
		if x, y := copiesOf(sum, rows), copiesOf(again, rows2); !slices.Equal(x, y) {
			for i := range min(len(x), len(y)) {
				if x[i] != y[i] {
					t.Logf("first difference: %+v and %+v", x[i], y[i])
					break
				}
			}
			t.Errorf("amplify %g: the same seed sent other requests or offsets", a)
		}
		var sharded []copyKey
		for i := range 3 {
			s, r := timelineRun(t, src, o, false, d, fmt.Sprintf("%d/3", i))
			sharded = append(sharded, copiesOf(s, r)...)
		}
		slices.SortFunc(sharded, func(a, b copyKey) int {
			if a.vu != b.vu {
				return int(a.vu - b.vu)
			}
			return int(a.id - b.id)
		})
		if !slices.Equal(copiesOf(sum, rows), sharded) {
			t.Errorf("amplify %g: 3 shards sent %d requests, one run %d, or other ones", a, len(sharded), len(rows))
		}
	}
}

// --loop starts the timeline over when it ends, until the duration.
func TestTimelineLoop(t *testing.T) {
	t.Parallel()
	src := timelineOf(4, 1, 100*time.Millisecond, 0, time.Millisecond) // 300 ms of recording
	sum, rows := timelineRun(t, src, timeline.Options{Speed: 1, Amplify: 1}, true, 1000*time.Millisecond, "")
	// Rounds start every 400 ms (the 300 ms from the first request to the
	// last, and the mean gap between session starts): 0, 0.4, 0.8 s; the
	// third has two sessions before the end.
	var dues []time.Duration
	for _, r := range rows {
		dues = append(dues, onTimeline(sum, r).Round(time.Millisecond))
	}
	slices.Sort(dues)
	want := []time.Duration{0, 100, 200, 300, 400, 500, 600, 700, 800, 900}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(dues, want) {
		t.Errorf("looped dues %v, want %v", dues, want)
	}
}

// A window replays exactly the sessions that started in it, cut at its
// end as a recording of it would have been.
func TestTimelineWindow(t *testing.T) {
	t.Parallel()
	src := timelineOf(10, 3, time.Second, 400*time.Millisecond, time.Millisecond)
	w, err := timeline.ParseWindow("+2s..+5500ms", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	tp, d, err := timelinePlan(src, Config{Window: w, Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Lo != 2 || tp.Hi != 6 || d != 3500*time.Millisecond {
		t.Fatalf("window: sessions %d..%d over %s, want 2..6 over 3.5s", tp.Lo, tp.Hi, d)
	}
	p := Plan{Sessions: src, Timeline: tp, Duration: d, Client: &http.Client{Transport: &instant{}}}
	bg := context.Background()
	_, err, rows := runPlan(t, bg, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.TraceID)
	}
	slices.Sort(ids)
	// Sessions 2..5 (ids 7..18), less session 5's last request, at 5.8 s.
	want := []int64{7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
	if !slices.Equal(ids, want) {
		t.Errorf("window sent %v, want %v", ids, want)
	}
	if _, _, err := timelinePlan(src, Config{Window: mustWindow(t, "+20s..+30s"), Speed: 1}); err == nil {
		t.Error("a window with no session in it was accepted")
	}
}

func mustWindow(t *testing.T, s string) timeline.Window {
	w, err := timeline.ParseWindow(s, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// slow answers the requests whose path says so after a delay, others at
// once, and notes when each answer left.
type slow struct {
	delay map[string]time.Duration
	mu    sync.Mutex
	done  map[string]time.Time
}

func (s *slow) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	// The last segment of the path (requests go in origin form: the URL
	// is opaque).
	u := r.URL.String()
	name := u[strings.LastIndex(u, "/"):]
	time.Sleep(s.delay[name])
	s.mu.Lock()
	s.done[name] = time.Now()
	s.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// A request waits for the answers its recorded client had when it sent
// it; one the client sent before an answer came does not wait for it. Waiting puts it behind the timeline,
// and the row says by how much.
func TestTimelineWaitsForAnswers(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	req := func(id int64, path string, at, took time.Duration) session.Request {
		return session.Request{ID: id, TS: t0.Add(at), Session: "s", Method: "GET", Path: path, Route: path,
			Status: 200, Kind: trace.KindRead, DurationNanos: int64(took)}
	}
	// a took 100 ms; b left 50 ms after a's answer; c left while b's
	// answer had not come (b took 100 ms), 60 ms after a's.
	src := session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		req(1, "/a", 0, 100*ms), req(2, "/b", 150*ms, 100*ms), req(3, "/c", 160*ms, 10*ms)}}})
	tr := &slow{delay: map[string]time.Duration{"/a": 600 * ms, "/b": 600 * ms}, done: map[string]time.Time{}}
	tp, _, err := timelinePlan(src, Config{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Sessions: src, Timeline: tp, Duration: 3 * time.Second, Client: &http.Client{Transport: tr}}
	bg := context.Background()
	sum, err, rows := runPlan(t, bg, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	by := map[int64]results.Result{}
	for _, r := range rows {
		by[r.TraceID] = r
	}
	a, b, c := by[1], by[2], by[3]
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	aDone := tr.done["/a"]
	// b and c waited for a's answer, and left when it came.
	if b.Scheduled.Before(aDone) || c.Scheduled.Before(aDone) {
		t.Errorf("b ready %s, c ready %s after a's answer: they went before it", b.Scheduled.Sub(aDone), c.Scheduled.Sub(aDone))
	}
	// c did not wait for b's answer (600 ms).
	if !c.Sent.Before(tr.done["/b"]) {
		t.Errorf("c left %s after b's answer: its recorded client did not wait for it", c.Sent.Sub(tr.done["/b"]))
	}
	// Behind the timeline by about a's extra 500 ms; a itself not.
	if a.BehindNanos != 0 || time.Duration(b.BehindNanos) < 400*ms || time.Duration(c.BehindNanos) < 400*ms {
		t.Errorf("behind: a %s, b %s, c %s", time.Duration(a.BehindNanos), time.Duration(b.BehindNanos), time.Duration(c.BehindNanos))
	}
	if got := onTimeline(sum, b); got != 150*ms {
		t.Errorf("b due at %s on the timeline, want 150ms", got)
	}
}

// A run that ends while sessions wait for late answers counts what was
// due before the end and not sent.
func TestTimelineCountsUnsent(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	src := timelineOf(1, 5, 0, 100*ms, 10*ms) // due at 0, 100, ..., 400 ms
	tr := &slow{delay: map[string]time.Duration{"/1": 2 * time.Second}, done: map[string]time.Time{}}
	tp, _, err := timelinePlan(src, Config{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Sessions: src, Timeline: tp, Duration: 300 * ms, Client: &http.Client{Transport: tr}}
	bg := context.Background()
	sum, err, rows := runPlan(t, bg, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	// The first was sent; the ones due at 100 and 200 ms waited for it
	// past the end; the rest were due after it.
	if len(rows) != 1 || sum.Unsent != 2 {
		t.Errorf("%d rows, %d unsent: want 1 and 2", len(rows), sum.Unsent)
	}
}

// lateness_p99 as an abort threshold stops a recorded run whose sessions
// fall behind the timeline.
func TestTimelineAbortsOnLateness(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	// Every session's first answer takes 300 ms where 1 ms was recorded,
	// and its later requests wait for it.
	src := timelineOf(200, 3, 50*ms, 20*ms, ms)
	tr := &slow{delay: map[string]time.Duration{}, done: map[string]time.Time{}}
	for i := range 200 {
		tr.delay[fmt.Sprintf("/%d", 3*i+1)] = 300 * ms
	}
	th, err := analysis.ParseThreshold("lateness_p99<50ms,abort=1s")
	if err != nil {
		t.Fatal(err)
	}
	tp, _, err := timelinePlan(src, Config{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Sessions: src, Timeline: tp, Duration: 10 * time.Second, Client: &http.Client{Transport: tr}, Aborts: []analysis.Threshold{th}}
	bg := context.Background()
	sum, err, _ := runPlan(t, bg, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Stopped, "lateness_p99") {
		t.Errorf("stopped: %q, want the lateness threshold", sum.Stopped)
	}
}

// Several trace files (a rotated recording) make one timeline by their
// timestamps; a session whose requests are in two files is one session.
func TestTimelineMergesFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, rows ...trace.Exchange) {
		if err := tracefile.WriteAll(filepath.Join(dir, name), rows); err != nil {
			t.Fatal(err)
		}
	}
	ex := func(id int64, session string, at time.Duration) trace.Exchange {
		return trace.Exchange{ID: id, TS: t0.Add(at), Session: session, Method: "GET", Path: fmt.Sprintf("/r/%d", id), Route: "/r/{id}",
			Status: 200, Kind: trace.KindRead, DurationNanos: int64(time.Millisecond)}
	}
	// The second file was rotated in first by name: order is the clock's.
	write("b.parquet", ex(4, "s0", 2*time.Second), ex(5, "s2", 1500*time.Millisecond))
	write("a.parquet", ex(1, "s0", 0), ex(2, "s1", 500*time.Millisecond), ex(3, "s0", time.Second))
	src, _, err := session.Open(session.Options{}, filepath.Join(dir, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sum, rows := timelineRun(t, src, timeline.Options{Speed: 4, Amplify: 1}, false, time.Second, "")
	// By path: the writer numbers each file's rows from 0.
	due := map[string]time.Duration{}
	vus := map[string]int32{}
	for _, r := range rows {
		p := r.URL[strings.LastIndex(r.URL, "/")+1:]
		due[p], vus[p] = onTimeline(sum, r), r.VU
	}
	want := map[string]time.Duration{"1": 0, "2": 125 * time.Millisecond, "3": 250 * time.Millisecond, "4": 500 * time.Millisecond, "5": 375 * time.Millisecond}
	if len(rows) != 5 || !maps.Equal(due, want) {
		t.Errorf("sent at %v, want %v", due, want)
	}
	if vus["1"] != vus["3"] || vus["3"] != vus["4"] || vus["1"] == vus["2"] || vus["1"] == vus["5"] {
		t.Errorf("virtual users %v: s0's three requests should be one user's", vus)
	}
}

// A request whose recorded answer never came held up nothing: the ones
// after it do not wait for its live answer.
func TestTimelineNoAnswerHoldsNothing(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	src := session.FromSessions([]session.Session{{Key: "s", Requests: []session.Request{
		{ID: 1, TS: t0, Session: "s", Method: "GET", Path: "/a", Route: "/a", Kind: trace.KindRead}, // no answer recorded
		{ID: 2, TS: t0.Add(100 * ms), Session: "s", Method: "GET", Path: "/b", Route: "/b", Status: 200, Kind: trace.KindRead, DurationNanos: int64(ms)},
	}}})
	tr := &slow{delay: map[string]time.Duration{"/a": 800 * ms}, done: map[string]time.Time{}}
	tp, _, err := timelinePlan(src, Config{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	_, err, rows := runPlan(t, bg, bg, Plan{Sessions: src, Timeline: tp, Duration: 2 * time.Second, Client: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.TraceID == 2 && (r.BehindNanos != 0 || !r.Sent.Before(tr.done["/a"])) {
			t.Errorf("b waited %s for an answer its client never had", time.Duration(r.BehindNanos))
		}
	}
}

// A session of 20,000 requests, each waiting for the one before: the
// answers to wait for are found in O(n log n), not by a scan of every
// earlier request (which took 3.7 s of CPU at 10,000).
func TestTimelineLongSession(t *testing.T) {
	t.Parallel()
	src := timelineOf(1, 20000, 0, time.Millisecond, 100*time.Microsecond)
	sum, rows := timelineRun(t, src, timeline.Options{Speed: 10, Amplify: 1}, false, time.Minute, "")
	if len(rows) != 20000 || sum.Unsent != 0 {
		t.Errorf("%d of 20,000 requests sent, %d unsent", len(rows), sum.Unsent)
	}
}

// A run stopped early counts as unsent what was due by then, not what was
// due by its planned end.
func TestTimelineStoppedCountsDueByThen(t *testing.T) {
	t.Parallel()
	src := timelineOf(1, 100, 0, 100*time.Millisecond, time.Millisecond) // 10 s
	tp, _, err := timelinePlan(src, Config{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop, enough := context.WithCancelCause(context.Background())
	defer enough(nil)
	tr := &instant{limit: 5, full: func() { enough(ErrInterrupted) }}
	sum, err, rows := runPlan(t, context.Background(), stop, Plan{Sessions: src, Timeline: tp, Duration: 10 * time.Second, Client: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	// A few more may have come due while a loaded machine got to the
	// stop; counting to the planned end would be 95.
	if len(rows) != 5 || sum.Unsent > 10 {
		t.Errorf("%d sent, %d unsent: stopped after 5, about 0.5 s in, next to nothing more was due", len(rows), sum.Unsent)
	}
}

// What cannot be laid out in time is refused: a loop of a timeline of
// one instant, speeds past the bounds.
func TestTimelineRefused(t *testing.T) {
	one := timelineOf(1, 1, 0, 0, time.Millisecond)
	if _, _, err := timelinePlan(one, Config{Speed: 1, Loop: true, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "too short to loop") {
		t.Errorf("a one-request loop: %v", err)
	}
	for _, speed := range []float64{1e9, 1e-9} {
		if err := (Config{Speed: speed}).Check("recorded"); err == nil {
			t.Errorf("speed %g accepted", speed)
		}
	}
	if _, _, err := timelinePlan(timelineOf(3, 1, time.Second, 0, 0), Config{Speed: 1, Amplify: 1e-9}); err == nil || !strings.Contains(err.Error(), "keeps none") {
		t.Errorf("an amplify that keeps nothing: %v", err)
	}
}

// What a recorded run reads of the trace: the window's sessions, cut at
// the run's end (jitter included, times the speed) when it does not loop.
func TestTimelineReads(t *testing.T) {
	first := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	never := time.Unix(1<<62, 0)
	for _, tt := range []struct {
		name     string
		cfg      Config
		all      bool
		from, to time.Time
	}{
		{"whole trace", Config{Speed: 1}, true, time.Time{}, time.Time{}},
		{"looped", Config{Speed: 1, Duration: time.Minute, Loop: true}, true, time.Time{}, time.Time{}},
		{"duration", Config{Speed: 2, Duration: time.Minute, Jitter: time.Second}, false, first, first.Add(122 * time.Second)},
		{"window", Config{Speed: 1, Window: mustWindow(t, "+1h..+2h")}, false, first.Add(time.Hour), first.Add(2 * time.Hour)},
		{"window cut by duration", Config{Speed: 10, Window: mustWindow(t, "+1h..+2h"), Duration: time.Minute}, false, first.Add(time.Hour), first.Add(time.Hour + 10*time.Minute)},
		{"window shorter than the duration", Config{Speed: 1, Window: mustWindow(t, "+1h..+2h"), Duration: 3 * time.Hour}, false, first.Add(time.Hour), first.Add(2 * time.Hour)},
		{"looped window", Config{Speed: 1, Window: mustWindow(t, "+1h..+2h"), Duration: 3 * time.Hour, Loop: true}, false, first.Add(time.Hour), first.Add(2 * time.Hour)},
		{"duration at a huge speed", Config{Speed: 1e6, Duration: 200 * 24 * time.Hour}, false, first, never},
	} {
		reads := tt.cfg.timelineReads()
		if tt.all {
			if reads != nil {
				from, to := reads(first)
				t.Errorf("%s: reads %v..%v, want the whole trace", tt.name, from, to)
			}
			continue
		}
		if reads == nil {
			t.Errorf("%s: reads the whole trace", tt.name)
			continue
		}
		if from, to := reads(first); !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("%s: reads %v..%v, want %v..%v", tt.name, from, to, tt.from, tt.to)
		}
	}
}
