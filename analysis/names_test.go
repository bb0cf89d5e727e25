package analysis

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// manyNames makes rows for n names, name i requested 1 + i*7919%busy
// times (many ties), in a shuffled order, the methods GET and POST: the
// first rows seen are no guide to the busiest names.
func manyNames(n, busy int, seed uint64) ([]results.Result, map[Key]int64) {
	counts := map[Key]int64{}
	var rows []results.Result
	for i := range n {
		k := Key{Method: []string{"GET", "POST"}[i%2], Name: fmt.Sprintf("/n/%d", i)}
		c := 1 + i*7919%busy
		counts[k] = int64(c)
		for j := range c {
			rows = append(rows, results.Result{Run: "many_20261128T100000Z", Scenario: "many", Method: k.Method, Name: k.Name,
				Status: 200 + 300*int32(j%5/4), LatencyNanos: int64(1+i%50) * 1e6})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for i := range rows {
		rows[i].Sent = resultstest.T0.Add(time.Duration(i) * time.Millisecond)
		rows[i].Scheduled = rows[i].Sent
	}
	return rows, counts
}

// lowerMaxNames divides maxNames by 200 under the race detector, or with
// -short (each worker holds every name's histograms, which the race
// detector makes twenty times slower to merge) and returns the factor
// the tests' names are divided by.
func lowerMaxNames(t *testing.T) int {
	if !raceEnabled && !testing.Short() {
		return 1
	}
	old := maxNames
	maxNames /= 200
	t.Cleanup(func() { maxNames = old })
	return 200
}

// wantKept is the maxNames names with the most requests, ties by method
// then name.
func wantKept(counts map[Key]int64) []Key {
	keys := make([]Key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y Key) int {
		return cmp.Or(cmp.Compare(counts[y], counts[x]), cmp.Compare(x.Method, y.Method), cmp.Compare(x.Name, y.Name))
	})
	return keys[:min(len(keys), maxNames)]
}

// Past maxNames names, the same input gives the same figures whatever
// the cores (every figure the outputs show), and the names kept are the
// most requested.
func TestManyNamesSameOutputsOnAnyCores(t *testing.T) {
	scale := lowerMaxNames(t)
	for _, tc := range []struct {
		names, busy int
	}{
		{3000, 40},
		{100_000, 3},
	} {
		t.Run(fmt.Sprint(tc.names), func(t *testing.T) {
			rows, counts := manyNames(tc.names/scale, tc.busy, 1)
			dir := t.TempDir()
			// Two files, so that the choice also spans files.
			half := len(rows) / 2
			a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
			// Four row groups each: up to 4 workers a file (each worker
			// holds its own figures of every name it meets).
			resultstest.WriteGroups(t, a, rows[:half], half/4+1)
			resultstest.WriteGroups(t, b, rows[half:], half/4+1)
			kept := wantKept(counts)
			var other int64
			for _, c := range counts {
				other += c
			}
			for _, k := range kept {
				other -= counts[k]
			}
			var first string
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			th, err := ParseThreshold("name=" + kept[len(kept)-1].Name + ":p99<1s")
			if err != nil {
				t.Fatal(err)
			}
			for _, procs := range []int{1, 2, 8} {
				runtime.GOMAXPROCS(procs)
				agg := New(0)
				if err := agg.AddFiles([]string{b, a}); err != nil {
					t.Fatal(err)
				}
				rep := agg.Finish()
				verdicts := Check(rep, []Threshold{th})
				var names []Key
				for _, s := range rep.Names {
					if s.Name != OtherName {
						names = append(names, s.Key)
						if s.Requests != counts[s.Key] {
							t.Errorf("GOMAXPROCS=%d: %v has %d requests, want %d", procs, s.Key, s.Requests, counts[s.Key])
						}
					}
				}
				slices.SortFunc(names, compareKeys)
				want := slices.SortedFunc(slices.Values(kept), compareKeys)
				if !slices.Equal(names, want) {
					t.Errorf("GOMAXPROCS=%d: %d names kept, not the %d most requested", procs, len(names), len(want))
				}
				if o := rep.Name(OtherName); o == nil || o.Requests != other {
					t.Errorf("GOMAXPROCS=%d: %s %+v, want %d requests", procs, OtherName, o, other)
				}
				if !verdicts[0].Pass {
					t.Errorf("GOMAXPROCS=%d: %s", procs, verdicts[0])
				}
				got := dump(rep)
				if first == "" {
					first = got
					continue
				}
				if got != first {
					t.Errorf("GOMAXPROCS=%d: the figures differ from GOMAXPROCS=1's", procs)
				}
			}
		})
	}
}

// Past nameCountLimit distinct names, the first pass counts a sample of
// them chosen by a hash: still the same names kept whatever the order of
// the rows and the cores.
func TestNamesPastTheCountLimit(t *testing.T) {
	defer func(n int) { nameCountLimit = n }(nameCountLimit)
	lowerMaxNames(t)
	maxNames = min(maxNames, 100)
	nameCountLimit = 3 * maxNames
	rows, _ := manyNames(10*nameCountLimit/3, 5, 2)
	dir := t.TempDir()
	p := filepath.Join(dir, "a.parquet")
	resultstest.WriteResults(t, p, rows)
	slices.Reverse(rows)
	q := filepath.Join(dir, "reversed.parquet")
	resultstest.WriteResults(t, q, rows)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first []Key
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		for _, f := range []string{p, q} {
			a := New(time.Second)
			if err := a.AddFile(f); err != nil {
				t.Fatal(err)
			}
			rep := a.Report()
			var names []Key
			for _, s := range rep.Names {
				names = append(names, s.Key)
			}
			if rep.Total.Requests != int64(len(rows)) || len(names) != maxNames+1 {
				t.Fatalf("%d requests, %d names", rep.Total.Requests, len(names))
			}
			if first == nil {
				first = names
			} else if !slices.Equal(first, names) {
				t.Errorf("GOMAXPROCS=%d %s: other names kept", procs, filepath.Base(f))
			}
		}
	}
}

// The deterministic sample counts the keys of the largest cut that holds
// at most limit of them, whatever the order, alone or merged.
func TestSampledIsOrderFree(t *testing.T) {
	keys := make([]Key, 5000)
	for i := range keys {
		keys[i] = Key{"GET", fmt.Sprint(i)}
	}
	count := func(order []Key, parts int) map[Key]int64 {
		all := newSampled(700, hashKey)
		for p := range parts {
			s := newSampled(700, hashKey)
			for i := p; i < len(order); i += parts {
				s.add(order[i], int64(1+len(order[i].Name)))
			}
			all.merge(s)
		}
		return all.counts
	}
	want := count(keys, 1)
	if len(want) == 0 || len(want) > 700 {
		t.Fatalf("%d keys counted", len(want))
	}
	for k, n := range want {
		if n != int64(1+len(k.Name)) {
			t.Fatalf("%v counted %d", k, n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, parts := range []int{1, 2, 3, 8} {
		order := slices.Clone(keys)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		got := count(order, parts)
		if len(got) != len(want) {
			t.Fatalf("%d parts: %d keys, want %d", parts, len(got), len(want))
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("%d parts: %v counted %d, want %d", parts, k, got[k], n)
			}
		}
	}
}

// Past maxErrors distinct failures the most frequent are kept, whatever
// the order of rows: the others are counted as OtherError.
func TestFailuresStayBoundedInAnyOrder(t *testing.T) {
	var rows []results.Result
	for i := range 3 * maxErrors {
		for range 1 + i%7 {
			rows = append(rows, results.Result{Method: "GET", Name: "/x", Error: fmt.Sprintf("dial tcp 10.0.0.1:%d: connection refused", i),
				Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 1e6})
		}
	}
	want := aggregate(rows).Failures
	if len(want) != maxErrors+1 || want[maxErrors].Error != OtherError && want[0].Error != OtherError {
		t.Fatalf("%d failure lines", len(want))
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for range 3 {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		// Two halves merged, as workers do.
		a, b := New(time.Second), New(time.Second)
		for i := range rows {
			if i%2 == 0 {
				a.Add(&rows[i])
			} else {
				b.Add(&rows[i])
			}
		}
		a.Merge(b)
		if got := a.Report().Failures; !slices.Equal(got, want) {
			t.Fatalf("the failures differ when rows come in another order")
		}
	}
	for _, f := range want[:10] {
		if f.Occurrences != 7 && f.Error != OtherError {
			t.Errorf("%+v: not among the most frequent", f)
		}
	}
}

// BenchmarkNamesPass measures the first pass at 1M rows: the scan alone
// (as before the pass), the scan after the dictionaries' check (96
// routes: the pass skipped), and the scan after the full pass (3,000
// routes, the pass forced).
func BenchmarkNamesPass(b *testing.B) {
	dir := b.TempDir()
	file := func(name string, routes int) string {
		p := filepath.Join(dir, name)
		w, err := results.Create(p, results.WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 1_000_000 {
			sent := resultstest.T0.Add(time.Duration(i) * 1800 * time.Second / 1_000_000)
			r := results.Result{Run: "bench", Scenario: "bench", Method: "GET", Name: fmt.Sprintf("/api/r%d/{id}", rng.IntN(routes)),
				Scheduled: sent, Sent: sent, LatencyNanos: int64(1e6 + rng.IntN(50e6)), TTFBNanos: 1e6, Status: 200, RespSize: 500}
			if err := w.Write(&r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		return p
	}
	few, many := file("few.parquet", 96), file("many.parquet", 3000)
	for _, bc := range []struct {
		name string
		run  func(a *Aggregate) error
	}{
		{"96 routes, scan alone", func(a *Aggregate) error { return a.addFile(few) }},
		{"96 routes, dictionaries checked", func(a *Aggregate) error { return a.AddFiles([]string{few}) }},
		{"96 routes, pass forced", func(a *Aggregate) error {
			if err := a.planNames([]string{few}); err != nil {
				return err
			}
			return a.addFile(few)
		}},
		{"3000 routes, scan alone", func(a *Aggregate) error { return a.addFile(many) }},
		{"3000 routes, with the pass", func(a *Aggregate) error { return a.AddFiles([]string{many}) }},
		{"3000 routes, the pass alone", func(a *Aggregate) error { return a.planNames([]string{many}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.run(New(time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// dump is every figure of a report the outputs show, as text.
func dump(rep *Report) string {
	var b strings.Builder
	hist := func(h *hdrhistogram.Histogram) string {
		if h == nil {
			return "-"
		}
		var out []string
		for _, q := range Percentiles {
			out = append(out, fmt.Sprint(QuantileOf(h, q)))
		}
		return fmt.Sprintf("%d %g [%s]", h.TotalCount(), h.Mean(), strings.Join(out, " "))
	}
	stats := func(s *Stats) {
		fmt.Fprintf(&b, "%s %s: %d %d %d %d %d carried %d %d compared %d %d %d %d %d %v\n", s.Method, s.Name, s.Requests, s.Failures, s.RateLimited,
			s.Unavailable, s.Bytes, s.Carried, s.NotCarried, s.Compared, s.BodySkipped, s.StatusDiffs, s.ShapeDiffs, s.ValueDiffs, s.TopDiffs(len(s.diffs)))
		fmt.Fprintf(&b, "  latency %s\n  service %s\n  ttfb %s\n  %g %g %g %v\n", hist(s.Latency), hist(s.Service), hist(s.TTFB), s.Avg(), s.Min(), s.Max(), s.Statuses())
		series, step := s.Series()
		fmt.Fprintf(&b, "  %v %v\n", step, series)
	}
	var report func(rep *Report)
	report = func(rep *Report) {
		for _, s := range rep.Names {
			stats(s)
		}
		stats(rep.Total)
		for _, w := range rep.Windows {
			fmt.Fprintf(&b, "%v %d %d %d %d %s\n", w.Start, w.Requests, w.Failures, w.Users, w.Bytes, hist(w.Latency))
		}
		fmt.Fprintf(&b, "%v %v %v %v %v %v %v %v\n", rep.Failures, rep.Start, rep.End, rep.RunSpans, rep.Active, rep.Step, rep.Runs, rep.Scenarios)
		fmt.Fprintf(&b, "shards %v files %d users %d open %v late %g overloaded %d %v unsent %d abandoned %d %v %v %v %v\n", rep.Shards, rep.Files, rep.Users,
			rep.Open, rep.LateP99, rep.OverloadedSeconds, rep.OverloadCauses, rep.Unsent, rep.Abandoned, rep.MissingShards, rep.StoppedEarly, rep.Parameters, rep.TimelineNotes)
		fmt.Fprintf(&b, "changes %v %d notes %v\n", rep.Changes, rep.ChangesLeftOut, rep.Notes)
		if t := rep.Timeline; t != nil {
			fmt.Fprintf(&b, "timeline %v %v %v %v %d %d %d %d %g %d\n  %s\n  %s\n  %s\n  %s\n", t.Start, t.Step, t.Recorded, t.Sent, t.SentTotal, t.Outside,
				t.Planned, t.BehindOver, t.Correlation, t.CorrelatedSteps, hist(t.Late), hist(t.Behind), hist(t.Generator), hist(t.Starts))
		}
		if rep.Shadow != nil {
			b.WriteString("shadow:\n")
			report(rep.Shadow)
			b.WriteString("between:\n")
			report(rep.Between)
		}
	}
	report(rep)
	return b.String()
}
