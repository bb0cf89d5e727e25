package replay

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/results"
)

// figure is a gauge of m, or the sum of a counter's series.
func figure(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mf, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range mf {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			v += s.GetGauge().GetValue() + s.GetCounter().GetValue()
		}
	}
	return v
}

// until waits for cond, looking every 5 ms, at most a minute (a wait for
// what must come, not a timing: past a minute something is wrong).
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// runControlled runs p with a Control and Metrics until steps returns, then
// stops it; it returns the rows and the summary.
func runControlled(t *testing.T, p Plan, steps func(c *Control, m *Metrics)) ([]results.Result, *Summary) {
	t.Helper()
	srv := demo(t)
	p.Target, _ = ParseTarget(srv.URL)
	p.Target.APIKey = "demo-key-alice"
	p.Control, p.Metrics = &Control{}, NewMetrics("test_run")
	stop, stopRun := context.WithCancelCause(context.Background())
	defer stopRun(nil)
	var sum *Summary
	var err error
	var rows []results.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, err, rows = runPlan(t, context.Background(), stop, p)
	}()
	until(t, "the run to start", func() bool { return figure(t, p.Metrics, "replaykit_requests_total") > 0 })
	steps(p.Control, p.Metrics)
	stopRun(ErrInterrupted)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return rows, sum
}

// Users changed during a run of the closed model: parked users send
// nothing more, and the changes are the summary's.
func TestControlUsers(t *testing.T) {
	var parked, resumed time.Time // when 2 users were left; when 4 were asked for
	rows, sum := runControlled(t, Plan{Users: 6, Duration: 10 * time.Minute, Seed: 1}, func(c *Control, m *Metrics) {
		until(t, "6 users", func() bool { return figure(t, m, "replaykit_users") == 6 })
		if err := c.SetUsers(2); err != nil {
			t.Fatal(err)
		}
		until(t, "2 users", func() bool { return figure(t, m, "replaykit_users") == 2 })
		parked = time.Now()
		n := figure(t, m, "replaykit_requests_total")
		until(t, "20 requests from the 2 users", func() bool { return figure(t, m, "replaykit_requests_total") >= n+20 })
		resumed = time.Now()
		if err := c.SetUsers(4); err != nil {
			t.Fatal(err)
		}
		until(t, "4 users", func() bool { return figure(t, m, "replaykit_users") == 4 })
	})
	var between int
	for _, r := range rows {
		if r.Sent.After(parked) && r.Sent.Before(resumed) {
			between++
			if r.VU >= 2 || r.Users > 2 {
				t.Errorf("user %d sent with %d users active while 2 were wanted: %+v", r.VU, r.Users, r)
			}
		}
	}
	if between < 20 {
		t.Errorf("%d requests while 2 users were wanted", between)
	}
	var got []float64
	for _, ch := range sum.Changes {
		if ch.What != results.ChangeUsers {
			t.Errorf("change %+v", ch)
		}
		got = append(got, ch.Value)
	}
	if !slices.Equal(got, []float64{2, 4}) || !sum.Changes[0].At.Before(sum.Changes[1].At) {
		t.Errorf("changes %+v, want users 2 then 4", sum.Changes)
	}
}

// A rate changed during a run of the open model: from the change on,
// requests are scheduled at the new rate, even when the old one's next
// request was far off.
func TestControlRate(t *testing.T) {
	tests := []struct {
		name     string
		from, to float64
	}{
		{"faster", 50, 400},
		{"slower", 400, 50},
		// The second request of the old rate is 5 s away: the new rate
		// does not wait for it.
		{"from a request every 5 s", 0.2, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, sum := runControlled(t, Plan{Users: 4, Rate: tt.from, Duration: 10 * time.Minute, Seed: 1}, func(c *Control, m *Metrics) {
				n := figure(t, m, "replaykit_requests_total")
				if err := c.SetRate(tt.to); err != nil {
					t.Fatal(err)
				}
				// Those counted next may have been scheduled before the
				// change (in flight, or on their way to the writer).
				until(t, "30 requests more", func() bool { return figure(t, m, "replaykit_requests_total") >= n+30 })
			})
			if len(sum.Changes) != 1 || sum.Changes[0].What != results.ChangeRate || sum.Changes[0].Value != tt.to {
				t.Fatalf("changes %+v", sum.Changes)
			}
			at := sum.Changes[0].At
			slices.SortFunc(rows, func(a, b results.Result) int { return a.Scheduled.Compare(b.Scheduled) })
			var before, after int
			for i := 1; i < len(rows); i++ {
				a, b := rows[i-1].Scheduled, rows[i].Scheduled
				want := time.Duration(float64(time.Second) / tt.from)
				switch {
				case b.Before(at):
					before++
				case !a.Before(at):
					after++
					want = time.Duration(float64(time.Second) / tt.to)
				default:
					continue // the change falls between them
				}
				if gap := b.Sub(a); gap < want-time.Microsecond || gap > want+time.Microsecond {
					t.Errorf("requests %d and %d scheduled %s apart, want %s (the change at %s)", i-1, i, gap, want, at.Format(time.StampMicro))
				}
			}
			if after == 0 {
				t.Error("no two requests scheduled after the change")
			}
		})
	}
}

// What a Control refuses, and why.
func TestControlRefuses(t *testing.T) {
	tests := []struct {
		name string
		plan Plan // zero: no run
		set  func(c *Control) error
		want string
	}{
		{"users, no run", Plan{}, func(c *Control) error { return c.SetUsers(1) }, "no run under way"},
		{"rate, no run", Plan{}, func(c *Control) error { return c.SetRate(1) }, "no run under way"},
		{"rate of the closed model", Plan{Users: 2}, func(c *Control) error { return c.SetRate(10) }, "change its users"},
		{"users of the open model", Plan{Users: 2, Rate: 10}, func(c *Control) error { return c.SetUsers(3) }, "change its rate"},
		{"more users than the run's", Plan{Users: 2}, func(c *Control) error { return c.SetUsers(3) }, "give 0 to 2"},
		{"negative users", Plan{Users: 2}, func(c *Control) error { return c.SetUsers(-1) }, "give 0 to 2"},
		{"rate 0", Plan{Users: 2, Rate: 10}, func(c *Control) error { return c.SetRate(0) }, "positive"},
		{"rate NaN", Plan{Users: 2, Rate: 10}, func(c *Control) error { return c.SetRate(nan()) }, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Control{}
			if tt.plan.Users > 0 {
				if _, err := c.attach(&tt.plan); err != nil {
					t.Fatal(err)
				}
				defer c.detach()
			}
			err := tt.set(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if len(c.Changes()) != 0 {
				t.Errorf("a refused change was kept: %+v", c.Changes())
			}
		})
	}
	// One run at a time; the recorded timeline runs, and takes no change.
	c := &Control{}
	if _, err := c.attach(&Plan{Users: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.attach(&Plan{Users: 1}); err == nil {
		t.Error("a second run was attached")
	}
	c.detach()
	if _, err := c.attach(&Plan{Users: 1, Timeline: &TimelinePlan{}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetUsers(1); err == nil || !strings.Contains(err.Error(), "recorded timeline") {
		t.Errorf("users of the recorded timeline: %v", err)
	}
	if err := c.SetRate(1); err == nil || !strings.Contains(err.Error(), "recorded timeline") {
		t.Errorf("rate of the recorded timeline: %v", err)
	}
}

func nan() float64 { return math.NaN() }

// A run's changes are in its results file's footer.
func TestControlInResultsFile(t *testing.T) {
	api := demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 1})
	var answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r)
		answered.Add(1)
	}))
	defer srv.Close()
	c := &Control{}
	cfg := Config{Traces: []string{"../testdata/sample/*.parquet"}, Host: srv.URL, APIKey: "demo-key-alice", Users: 4, Pacing: "stress",
		Duration: 10 * time.Minute, Out: t.TempDir(), Seed: 1, Control: c}
	stop, stopRun := context.WithCancelCause(context.Background())
	defer stopRun(nil)
	var sum *Summary
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, err = RunScenario(context.Background(), stop, "light", cfg)
	}()
	until(t, "the run to take a change", func() bool { return !errors.Is(c.SetUsers(2), ErrNoRun) })
	n := answered.Load()
	until(t, "5 requests after it", func() bool { return answered.Load() >= n+5 })
	stopRun(ErrInterrupted)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	f, err := results.Open(sum.Results)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _ := f.Meta(results.MetaChanges)
	changes, err := results.DecodeChanges(v)
	if err != nil || len(changes) != 1 || changes[0].What != results.ChangeUsers || changes[0].Value != 2 {
		t.Errorf("%s in the footer: %q (%v)", results.MetaChanges, v, err)
	}
}
