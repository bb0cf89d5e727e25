package timeline

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST case needs Europe/Paris wherever it runs
)

func TestWindow(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	start := time.Date(2026, 11, 30, 8, 47, 12, 0, time.UTC) // 09:47:12 in Paris
	tests := []struct {
		in       string
		loc      *time.Location
		from, to time.Time
		err      string
	}{
		{"+10m..+25m", time.UTC, start.Add(10 * time.Minute), start.Add(25 * time.Minute), ""},
		{"+0s..+1h30m", time.UTC, start, start.Add(90 * time.Minute), ""},
		{"09:00..09:15", time.UTC, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC), ""},
		// A clock time passed at the trace's start is the next day's.
		{"08:00..08:30", time.UTC, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC), ""},
		// Across midnight: TO is the first one after FROM.
		{"23:50..00:10", time.UTC, time.Date(2026, 11, 30, 23, 50, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 10, 0, 0, time.UTC), ""},
		// In the given location: 10:00 in Paris is 09:00 UTC.
		{"10:00..10:00:30", paris, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 9, 0, 30, 0, time.UTC), ""},
		{"2026-11-30T09:00:00Z..+2h", time.UTC, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), start.Add(2 * time.Hour), ""},
		{"+25m..+10m", time.UTC, time.Time{}, time.Time{}, "ends before"},
		{"+10m", time.UTC, time.Time{}, time.Time{}, "FROM..TO"},
		{"+10x..+20m", time.UTC, time.Time{}, time.Time{}, "+DURATION"},
		{"9h..10h", time.UTC, time.Time{}, time.Time{}, "clock time"},
		{"25:00..26:00", time.UTC, time.Time{}, time.Time{}, "clock time"},
		{"+-5m..+1m", time.UTC, time.Time{}, time.Time{}, "+DURATION"},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.in, tt.loc)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one saying %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		from, to := w.Resolve(start)
		if !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("%q: %s..%s, want %s..%s", tt.in, from, to, tt.from, tt.to)
		}
		if w.String() != tt.in {
			t.Errorf("%q: String() = %q", tt.in, w.String())
		}
	}
	// On the day clocks go forward, 09:00 is 09:00 on the wall (07:00
	// UTC in summer time), not midnight plus nine hours.
	if paris.String() == "Europe/Paris" {
		w, _ := ParseWindow("09:00..09:15", paris)
		from, to := w.Resolve(time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC))
		if !from.Equal(time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 3, 29, 7, 15, 0, 0, time.UTC)) {
			t.Errorf("09:00..09:15 in Paris on 2026-03-29: %s..%s", from.UTC(), to.UTC())
		}
	}
	if !(Window{}).IsZero() {
		t.Error("the zero window is not the whole trace")
	}
}

// Copies: the share of sessions amplify keeps, and the mean number of
// copies, are what it says; the same key gives the same copies.
func TestCopies(t *testing.T) {
	for _, a := range []float64{0.1, 0.5, 1, 2.5, 3} {
		o := Options{Speed: 1, Amplify: a, Seed: 7}
		total, n := 0, 20000
		for i := range n {
			key := fmt.Sprintf("user:%d", i)
			c := o.Copies(key)
			if c != o.Copies(key) || c < int(a) || c > int(a)+1 {
				t.Fatalf("amplify %g: %d copies of %s", a, c, key)
			}
			total += c
		}
		if mean := float64(total) / float64(n); mean < a-0.02 || mean > a+0.02 {
			t.Errorf("amplify %g: %.3f copies a session", a, mean)
		}
	}
	// Another seed keeps other sessions.
	a, b := Options{Amplify: 0.5, Seed: 1}, Options{Amplify: 0.5, Seed: 2}
	same := 0
	for i := range 1000 {
		key := fmt.Sprintf("s%d", i)
		if a.Copies(key) == b.Copies(key) {
			same++
		}
	}
	if same > 600 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 sessions", same)
	}
}

func TestOffset(t *testing.T) {
	o := Options{Speed: 2, Amplify: 3, Jitter: 100 * time.Millisecond, Seed: 1}
	rec, span := 10*time.Second, time.Minute
	if got := o.Offset("k", rec, span, 0, 0); got != 5*time.Second {
		t.Errorf("copy 0: %s, want the recorded offset halved", got)
	}
	if got := o.Offset("k", rec, span, 0, 2); got != 65*time.Second {
		t.Errorf("copy 0, round 2: %s, want 65s", got)
	}
	seen := map[time.Duration]bool{}
	for c := 1; c < 200; c++ {
		got := o.Offset("k", rec, span, c, 0)
		if got < 5*time.Second-o.Jitter || got >= 5*time.Second+o.Jitter {
			t.Fatalf("copy %d: %s, outside the jitter", c, got)
		}
		seen[got] = true
		if got != o.Offset("k", rec, span, c, 0) {
			t.Fatal("not deterministic")
		}
	}
	if len(seen) < 190 {
		t.Errorf("%d distinct starts for 199 copies", len(seen))
	}
	// Never before the round starts.
	if got := o.Offset("k", 0, span, 1, 1); got < 30*time.Second {
		t.Errorf("a jittered copy at the start of round 1: %s", got)
	}
	if o.Scale(time.Second) != 500*time.Millisecond {
		t.Error("Scale")
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{{Speed: 0, Amplify: 1}, {Speed: 1, Amplify: 0}, {Speed: 1, Amplify: -1}, {Speed: 1, Amplify: 1e9}, {Speed: 1, Amplify: 1, Jitter: -1}} {
		if o.Check() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := (Options{Speed: 0.5, Amplify: 0.5}).Check(); err != nil {
		t.Error(err)
	}
}
