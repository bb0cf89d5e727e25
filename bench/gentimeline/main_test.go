package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/trace"
)

// Session starts follow the curve: the busiest hour is the peak's, the
// quietest the one half a day from it, and each hour holds about the
// share the rate gives it.
func TestStartTimesFollowTheDay(t *testing.T) {
	const n = 200_000
	span, peak, swing := 24*time.Hour, 14*time.Hour, 0.7
	starts := startTimes(n, span, peak, swing, rand.New(rand.NewPCG(1, 2)))
	var hours [24]int
	for i, s := range starts {
		if s < 0 || s >= int64(span) || (i > 0 && s < starts[i-1]) {
			t.Fatalf("start %d at %v: not in order within the span", i, time.Duration(s))
		}
		hours[s/int64(time.Hour)]++
	}
	for h, got := range hours {
		// The rate's mean over the hour, times the sessions an hour.
		x0, x1 := float64(h)/24, float64(h+1)/24
		phase := 14.0/24 - 0.25
		share := (x1 - x0) - swing/(2*math.Pi)*(math.Cos(2*math.Pi*(x1-phase))-math.Cos(2*math.Pi*(x0-phase)))
		want := share * n
		if math.Abs(float64(got)-want) > 5*math.Sqrt(want) {
			t.Errorf("hour %d: %d sessions started, want about %.0f", h, got, want)
		}
	}
	if hours[13] < 5*hours[1] || hours[14] < 5*hours[2] {
		t.Errorf("hours 1, 2, 13, 14: %d %d %d %d sessions: the day is too flat", hours[1], hours[2], hours[13], hours[14])
	}
}

// A trace of 2,000 sessions reads back as 2,000 sessions of 2-8 requests,
// 1-30 s apart, as record would have written them: routes and kinds as
// trace makes them, bodies on writes only, rows in the order the exchanges
// completed; and the same seed writes the same file.
func TestWriteReadsBackAsSessions(t *testing.T) {
	dir := t.TempDir()
	d := Day{Sessions: 2000, Span: time.Hour, Peak: 30 * time.Minute, Swing: 0.7,
		Start: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Host: "api.example.com", Seed: 7}
	path := filepath.Join(dir, "a.parquet")
	n, err := Write(path, d)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pqfile.ReadAll[trace.Exchange]("trace", path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != n {
		t.Fatalf("%d rows, Write said %d", len(rows), n)
	}
	bySession := map[string][]trace.Exchange{}
	var lastDone int64
	for i, r := range rows {
		if r.ID != int64(i) || r.Status != 200 || r.Kind != trace.KindOf(r.Method) || r.Route != trace.Route(r.Path) {
			t.Fatalf("row %d: id %d status %d kind %s route %s of %s %s", i, r.ID, r.Status, r.Kind, r.Route, r.Method, r.Path)
		}
		if (r.Kind == trace.KindWrite) != (len(r.ReqBody) > 0) || int64(len(r.ReqBody)) != r.ReqSize {
			t.Fatalf("row %d: %s with a body of %d bytes (size %d)", i, r.Method, len(r.ReqBody), r.ReqSize)
		}
		if auth, _ := trace.HeaderValue(r.ReqHeaders, "Authorization"); "authorization:"+auth[len("Bearer redacted:"):] != r.Session {
			t.Fatalf("row %d: Authorization %q in session %q", i, auth, r.Session)
		}
		done := r.TS.UnixNano() + r.DurationNanos
		if done < lastDone {
			t.Fatalf("row %d completed before the row before it", i)
		}
		lastDone = done
		bySession[r.Session] = append(bySession[r.Session], r)
	}
	if len(bySession) != d.Sessions {
		t.Fatalf("%d sessions, want %d", len(bySession), d.Sessions)
	}
	for key, reqs := range bySession {
		if len(reqs) < 2 || len(reqs) > 8 {
			t.Fatalf("session %s: %d requests", key, len(reqs))
		}
		for i := 1; i < len(reqs); i++ {
			// Rows are in completion order; the session's requests are
			// at least a second apart, so also in start order.
			if gap := reqs[i].TS.Sub(reqs[i-1].TS); gap < time.Second || gap > 30*time.Second {
				t.Fatalf("session %s: %v between requests %d and %d", key, gap, i-1, i)
			}
		}
	}
	if mean := float64(n) / float64(d.Sessions); mean < 3.4 || mean > 4 {
		t.Errorf("%.2f requests a session, want about 3.7", mean)
	}
	again := filepath.Join(dir, "b.parquet")
	if _, err := Write(again, d); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("the same seed wrote two different files")
	}
}

func TestMix48IsOneToOne(t *testing.T) {
	seen := map[uint64]bool{}
	for i := range uint64(1 << 20) {
		k := mix48(i)
		if k >= 1<<48 || seen[k] {
			t.Fatalf("mix48(%d) = %x: out of range or seen before", i, k)
		}
		seen[k] = true
	}
}
