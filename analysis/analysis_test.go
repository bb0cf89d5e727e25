package analysis

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

func aggregate(rows []results.Result) *Report {
	a := New(time.Second)
	for i := range rows {
		a.Add(&rows[i])
	}
	return a.Report()
}

// Counts are exact; percentiles, min, max and avg match an exact
// computation on the same rows within HDR's 3 significant digits.
func TestFiguresMatchAnExactComputation(t *testing.T) {
	rows := resultstest.Synthetic(20000, 60, 1)
	rep := aggregate(rows)
	byName := map[Key][]results.Result{}
	for _, r := range rows {
		byName[Key{r.Method, r.Name}] = append(byName[Key{r.Method, r.Name}], r)
	}
	check := func(s *Stats, rs []results.Result) {
		t.Helper()
		var lats []int64
		var fails, limited, unavail, bytes int64
		var sum float64
		for _, r := range rs {
			lats = append(lats, r.LatencyNanos)
			sum += float64(r.LatencyNanos)
			bytes += r.RespSize
			if r.Error != "" || r.Status >= 400 {
				fails++
			}
			if r.Status == 429 {
				limited++
			}
			if r.Error != "" || r.Status >= 500 {
				unavail++
			}
		}
		slices.Sort(lats)
		if s.Requests != int64(len(rs)) || s.Failures != fails || s.RateLimited != limited || s.Unavailable != unavail || s.Bytes != bytes {
			t.Errorf("%v: counts %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d", s.Key, s.Requests, s.Failures, s.RateLimited, s.Unavailable, s.Bytes,
				len(rs), fails, limited, unavail, bytes)
		}
		near := func(what string, got, wantNanos float64) {
			t.Helper()
			want := wantNanos / 1e6
			if math.Abs(got-want) > want*0.001+0.001 { // 0.1%, and the 1 µs unit
				t.Errorf("%v %s: %.4fms, exact %.4fms", s.Key, what, got, want)
			}
		}
		for _, q := range Percentiles {
			near("p"+resultstest.Num(q), s.Quantile(q), float64(resultstest.ExactQuantile(lats, q)))
		}
		near("min", s.Min(), float64(lats[0]))
		near("max", s.Max(), float64(lats[len(lats)-1]))
		near("avg", s.Avg(), sum/float64(len(lats)))
	}
	if len(rep.Names) != len(byName) {
		t.Fatalf("%d names, want %d", len(rep.Names), len(byName))
	}
	for _, s := range rep.Names {
		check(s, byName[s.Key])
	}
	check(rep.Total, rows)
	var inWindows int64
	for _, w := range rep.Windows {
		inWindows += w.Requests
	}
	if inWindows != int64(len(rows)) || len(rep.Windows) != 60 || rep.Step != time.Second {
		t.Errorf("%d requests in %d windows of %v", inWindows, len(rep.Windows), rep.Step)
	}
}

// Past MaxWindows the window doubles until the run fits; the figures do
// not depend on the order of rows.
func TestWindowsStayBounded(t *testing.T) {
	rows := resultstest.Synthetic(20000, 3*3600, 4) // three hours at 1s windows: 10,800
	rep := aggregate(rows)
	if len(rep.Windows) > MaxWindows || rep.Step != 4*time.Second {
		t.Errorf("%d windows of %v", len(rep.Windows), rep.Step)
	}
	slices.Reverse(rows)
	back := aggregate(rows)
	if len(back.Windows) != len(rep.Windows) {
		t.Fatalf("reversed: %d windows, want %d", len(back.Windows), len(rep.Windows))
	}
	for i := range rep.Windows {
		a, b := rep.Windows[i], back.Windows[i]
		if !a.Start.Equal(b.Start) || a.Requests != b.Requests || a.Failures != b.Failures || a.Latency.ValueAtQuantile(99) != b.Latency.ValueAtQuantile(99) {
			t.Fatalf("window %d differs when rows come reversed", i)
		}
	}
}

// Names past maxNames are counted together instead of growing memory.
func TestNamesStayBounded(t *testing.T) {
	a := New(time.Second)
	for i := range maxNames + 500 {
		a.Add(&results.Result{Method: "GET", Name: "/n/" + resultstest.Num(float64(i)), Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 1e6, Status: 200})
	}
	rep := a.Report()
	other := rep.Name(OtherName)
	if len(rep.Names) != maxNames+1 || other == nil || other.Requests != 500 || rep.Total.Requests != int64(maxNames+500) {
		t.Errorf("%d names, other %+v", len(rep.Names), other)
	}
}

// FuzzAddFile reads arbitrary bytes as a results file through analyze's
// column reader: an error is fine; a panic, a hang or a runaway
// allocation is not.
func FuzzAddFile(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.parquet")
	resultstest.WriteResults(f, p, resultstest.Synthetic(300, 5, 1))
	seed, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// A file from before the carried columns: those read as 0.
	old := filepath.Join(dir, "old.parquet")
	oldresults.Write(f, old, resultstest.Synthetic(300, 5, 1))
	if seed, err = os.ReadFile(old); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// Answers compared with the recorded ones, some of them differing.
	diffs := filepath.Join(dir, "diffs.parquet")
	resultstest.WriteResults(f, diffs, resultstest.Differing(300, 5, 1))
	if seed, err = os.ReadFile(diffs); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// A recorded run's file, its timeline in the footer.
	tl := resultstest.RecordedTimeline()
	timed := resultstest.WriteRecorded(f, filepath.Join(dir, "recorded.parquet"), tl.Encode(), resultstest.RecordedRun(tl, 1, 30*time.Millisecond, time.Millisecond)[:300])
	if seed, err = os.ReadFile(timed); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a := New(time.Second)
		if a.AddFile(p) == nil {
			a.Report()
		}
	})
}

// A report is a copy: rows added after it change the next report, never
// one already handed out (replay's live aborts take one every second).
func TestReportIsACopy(t *testing.T) {
	tl := resultstest.RecordedTimeline()
	rows := resultstest.RecordedRun(tl, 1, 30*time.Millisecond, time.Millisecond)[:2000]
	for i := range rows {
		if i%3 == 0 { // the shadow's answers too
			rows[i].ShadowStatus, rows[i].ShadowLatencyNanos = 200, rows[i].LatencyNanos*2
		}
	}
	a := New(time.Second)
	a.SetTimeline(tl)
	for i := range rows[:1000] {
		a.Add(&rows[i])
	}
	first := a.Report()
	before := dump(first)
	for i := range rows[1000:] {
		a.Add(&rows[1000+i])
	}
	if got := dump(first); got != before {
		t.Error("rows added after a report changed it")
	}
	second := a.Report()
	half := New(time.Second)
	half.SetTimeline(tl)
	for i := range rows[:1000] {
		half.Add(&rows[i])
	}
	if dump(half.Report()) != before || second.Total.Requests <= first.Total.Requests {
		t.Errorf("reports of %d then %d requests", first.Total.Requests, second.Total.Requests)
	}
	// Its checks on the figures so far, which copy nothing, are the
	// report's.
	var ths []Threshold
	for _, e := range append(DefaultThresholds, "name=/api/v1/search:p95<500ms", "p99<100ms") {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	if got, want := fmt.Sprint(a.Check(ths)), fmt.Sprint(Check(second, ths)); got != want {
		t.Errorf("checks without a report: %s, want %s", got, want)
	}
	if dump(a.Report()) != dump(second) {
		t.Error("a check changed the figures")
	}
	// What the aggregate finishes with is what it reported last.
	if dump(a.Finish()) != dump(second) {
		t.Error("Finish differs from the Report before it")
	}
}
