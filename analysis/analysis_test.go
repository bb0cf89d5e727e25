package analysis

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/results"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// synthetic makes n rows over secs seconds from a fixed seed: four names,
// log-normal latencies, some 404s, 429s, 500s and transport errors.
func synthetic(n int, secs float64, seed uint64) []results.Result {
	rng := rand.New(rand.NewPCG(seed, 7))
	names := []struct{ method, name string }{
		{"GET", "/api/v1/tasks"}, {"GET", "/api/v1/tasks/{id}"}, {"POST", "/api/v1/tasks"}, {"GET", "/api/v1/search"},
	}
	var rows []results.Result
	for i := range n {
		nm := names[rng.IntN(len(names))]
		lat := int64(math.Exp(rng.NormFloat64()*0.8+math.Log(20e6))) + 50_000 // ~20ms median, ns
		if nm.name == "/api/v1/search" {
			lat *= 8
		}
		sent := t0.Add(time.Duration(float64(i) / float64(n) * secs * float64(time.Second)))
		r := results.Result{Run: "light_load_20261128T100000Z", Scenario: "light_load", Shard: int32(i % 4), VU: int32(i % 10),
			TraceID: int64(i), Method: nm.method, Name: nm.name, URL: "http://127.0.0.1:8000" + nm.name,
			Scheduled: sent, Sent: sent, LatencyNanos: lat, TTFBNanos: lat * 9 / 10, Status: 200,
			RespSize: int64(100 + rng.IntN(900)), RecordedStatus: 200, Users: int32(1 + i*10/n)}
		switch x := rng.IntN(1000); {
		case x < 10:
			r.Status = 404
		case x < 15:
			r.Status = 429
		case x < 18:
			r.Status = 500
		case x < 20:
			r.Status, r.Error, r.TTFBNanos, r.RespSize = 0, "connection reset", 0, 0
		}
		rows = append(rows, r)
	}
	return rows
}

func writeResults(t testing.TB, path string, rows []results.Result) {
	t.Helper()
	w, err := results.Create(path, results.WriterOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func aggregate(rows []results.Result) *Report {
	a := New(time.Second)
	for i := range rows {
		a.Add(&rows[i])
	}
	return a.Report()
}

// exactQuantile is the nearest-rank percentile of sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q/100*float64(len(sorted)) - 1e-9)) // q·n is often whole: no float error above it
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Counts are exact; percentiles, min, max and avg match an exact
// computation on the same rows within HDR's 3 significant digits.
func TestFiguresMatchAnExactComputation(t *testing.T) {
	rows := synthetic(20000, 60, 1)
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
			near("p"+num(q), s.Quantile(q), float64(exactQuantile(lats, q)))
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

// Shards merged give the report one file with all rows gives, whatever
// the order rows come in.
func TestMergingShardsEqualsOneFile(t *testing.T) {
	dir := t.TempDir()
	rows := differing(8000, 30, 2)
	one := filepath.Join(dir, "one", "all.parquet")
	os.MkdirAll(filepath.Dir(one), 0o700)
	writeResults(t, one, rows)
	shuffled := slices.Clone(rows)
	rand.New(rand.NewPCG(3, 3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var shardFiles []string
	for s := range 4 {
		var part []results.Result
		for _, r := range shuffled {
			if r.Shard == int32(s) {
				part = append(part, r)
			}
		}
		p := filepath.Join(dir, "shards", "shard"+num(float64(s))+".parquet")
		os.MkdirAll(filepath.Dir(p), 0o700)
		writeResults(t, p, part)
		shardFiles = append(shardFiles, p)
	}
	outputs := func(inputs []string) map[string]string {
		out := t.TempDir()
		res, err := Run(Config{Inputs: inputs, Out: out, Formats: []string{"csv,json,junit,html"}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range res.Files {
			b, _ := os.ReadFile(f)
			// The HTML's footer holds the time it was written.
			m[filepath.Base(f)] = regexpGenerated(string(b))
		}
		return m
	}
	a, b := outputs([]string{one}), outputs(shardFiles)
	if len(a) != 7 {
		t.Fatalf("%d outputs: %v", len(a), a)
	}
	for name, content := range a {
		if b[name] != content {
			t.Errorf("%s differs between one file and 4 shards", name)
		}
	}
}

func regexpGenerated(s string) string {
	if i := strings.Index(s, "written by replaykit analyze at"); i >= 0 {
		return s[:i]
	}
	return s
}

// Past maxWindows the window doubles until the run fits; the figures do
// not depend on the order of rows.
func TestWindowsStayBounded(t *testing.T) {
	rows := synthetic(20000, 3*3600, 4) // three hours at 1s windows: 10,800
	rep := aggregate(rows)
	if len(rep.Windows) > maxWindows || rep.Step != 4*time.Second {
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
		a.Add(&results.Result{Method: "GET", Name: "/n/" + num(float64(i)), Sent: t0, Scheduled: t0, LatencyNanos: 1e6, Status: 200})
	}
	rep := a.Report()
	other := rep.Name(OtherName)
	if len(rep.Names) != maxNames+1 || other == nil || other.Requests != 500 || rep.Total.Requests != int64(maxNames+500) {
		t.Errorf("%d names, other %+v", len(rep.Names), other)
	}
}

func TestCSVHeadersAreLocusts(t *testing.T) {
	rep := aggregate(synthetic(500, 10, 5))
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"locust_stats.csv", func(b *bytes.Buffer) error { return WriteStatsCSV(b, rep) }},
		{"locust_failures.csv", func(b *bytes.Buffer) error { return WriteFailuresCSV(b, rep) }},
		{"locust_stats_history.csv", func(b *bytes.Buffer) error { return WriteHistoryCSV(b, rep) }},
	} {
		want, err := os.ReadFile(filepath.Join("..", "testdata", "locust", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatal(err)
		}
		wantHeader, _, _ := bytes.Cut(want, []byte("\n"))
		gotHeader, _, _ := bytes.Cut(b.Bytes(), []byte("\n"))
		if !bytes.Equal(gotHeader, wantHeader) {
			t.Errorf("%s header:\n got %q\nwant %q", tc.file, gotHeader, wantHeader)
		}
		// Every row has as many cells as the header, as in Locust's file.
		lines := strings.Split(strings.TrimRight(b.String(), "\r\n"), "\r\n")
		cols := strings.Count(lines[0], ",")
		for _, l := range lines[1:] {
			if tc.file != "locust_failures.csv" && strings.Count(l, ",") != cols {
				t.Errorf("%s: row %q has %d commas, header %d", tc.file, l, strings.Count(l, ","), cols)
			}
		}
		if tc.file == "locust_stats.csv" && !strings.HasPrefix(lines[len(lines)-1], ",Aggregated,") {
			t.Errorf("last stats row %q: want Locust's Aggregated row", lines[len(lines)-1])
		}
	}
}

// FuzzAddFile reads arbitrary bytes as a results file through analyze's
// column reader: an error is fine; a panic, a hang or a runaway
// allocation is not.
func FuzzAddFile(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.parquet")
	writeResults(f, p, synthetic(300, 5, 1))
	seed, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// A file from before the carried columns: those read as 0.
	old := filepath.Join(dir, "old.parquet")
	oldresults.Write(f, old, synthetic(300, 5, 1))
	if seed, err = os.ReadFile(old); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// Answers compared with the recorded ones, some of them differing.
	diffs := filepath.Join(dir, "diffs.parquet")
	writeResults(f, diffs, differing(300, 5, 1))
	if seed, err = os.ReadFile(diffs); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// A recorded run's file, its timeline in the footer.
	tl := recordedTimeline()
	timed := writeRecorded(f, filepath.Join(dir, "recorded.parquet"), tl.Encode(), recordedRun(tl, 1, 30*time.Millisecond, time.Millisecond)[:300])
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
