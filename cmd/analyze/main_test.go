package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/results"
)

// capture runs the command in-process and returns its exit code and output.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, r)
		done <- b.String()
	}()
	code := run(args)
	w.Close()
	os.Stdout, os.Stderr = stdout, stderr
	return code, <-done
}

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// healthy writes 100 requests/s for 10 s at 20 ms, all 200, then applies
// change to each row.
func healthy(t *testing.T, path string, change func(i int, r *results.Result), meta ...string) string {
	t.Helper()
	w, err := results.Create(path, results.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(meta); i += 2 {
		w.SetMeta(meta[i], meta[i+1])
	}
	for i := range 1000 {
		r := results.Result{Run: "light_load_x", Scenario: "light_load", Method: "GET", Name: "/api/v1/tasks",
			Sent: t0.Add(time.Duration(i) * 10 * time.Millisecond), LatencyNanos: 20e6, Status: 200}
		r.Scheduled = r.Sent
		change(i, &r)
		w.Write(&r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := healthy(t, filepath.Join(dir, "good.parquet"), func(int, *results.Result) {})
	slow := healthy(t, filepath.Join(dir, "slow.parquet"), func(i int, r *results.Result) {
		if i%10 == 0 {
			r.LatencyNanos = 3e9
		}
	})
	failing := healthy(t, filepath.Join(dir, "failing.parquet"), func(i int, r *results.Result) {
		if i%20 == 0 {
			r.Status, r.Error = 0, "connection refused"
		}
	})
	slowAvg := healthy(t, filepath.Join(dir, "avg.parquet"), func(i int, r *results.Result) {
		if i%3 == 0 {
			r.LatencyNanos = 1900e6
		}
	})
	fewRPS := healthy(t, filepath.Join(dir, "rps.parquet"), func(i int, r *results.Result) {
		r.Sent = t0.Add(time.Duration(i) * 30 * time.Millisecond)
		r.Scheduled = r.Sent
	})
	down := healthy(t, filepath.Join(dir, "down.parquet"), func(i int, r *results.Result) {
		if i == 3 || i == 300 {
			r.Status = 503
		}
	})
	overloaded := healthy(t, filepath.Join(dir, "overloaded.parquet"), func(int, *results.Result) {}, results.MetaOverloaded, "3")
	stopped := healthy(t, filepath.Join(dir, "stopped.parquet"), func(int, *results.Result) {}, results.MetaStopped, "interrupted")
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, data[:len(data)/2], 0o600)
	empty := filepath.Join(dir, "empty.parquet")
	os.WriteFile(empty, nil, 0o600)
	noRows := filepath.Join(dir, "norows.parquet")
	w, _ := results.Create(noRows, results.WriterOptions{})
	w.Close()
	wrongSchema := filepath.Join(dir, "trace.parquet")
	src, _ := os.ReadFile("../../testdata/sample/demo.parquet")
	os.WriteFile(wrongSchema, src, 0o600)
	future := writeFuture(t, filepath.Join(dir, "future.parquet"))

	for _, tc := range []struct {
		name string
		args []string
		code int
		has  string
	}{
		{"all hold", []string{good, "--out", dir}, 0, "PASS availability>99.9%"},
		{"avg broken", []string{slowAvg, "--out", dir}, 1, "FAIL avg<500ms"},
		{"p95 broken", []string{slow, "--out", dir}, 1, "FAIL p95<2000ms"},
		{"errors", []string{failing, "--out", dir}, 1, "FAIL error_rate<1%"},
		{"rps broken", []string{fewRPS, "--out", dir}, 1, "FAIL rps>50"},
		{"availability broken", []string{down, "--out", dir}, 1, "FAIL availability>99.9%"},
		{"added threshold", []string{good, "--out", dir, "--threshold", "p50<10ms"}, 1, "FAIL p50<10ms"},
		{"no defaults", []string{slow, "--out", dir, "--no-default-thresholds", "--threshold", "p50<1s"}, 0, "PASS p50<1s"},
		{"bad threshold", []string{good, "--threshold", "p95 < soon"}, 2, `threshold "p95 < soon"`},
		{"bad format", []string{good, "--format", "pdf"}, 2, "--format"},
		{"truncated", []string{truncated}, 2, "not a readable parquet file"},
		{"empty", []string{empty}, 2, "not a readable parquet file"},
		{"no rows", []string{noRows}, 2, "no request"},
		{"a trace, not results", []string{wrongSchema}, 2, "column"},
		{"missing file", []string{filepath.Join(dir, "nope.parquet")}, 2, "no results file matches"},
		{"no args", nil, 2, "usage"},
		{"overloaded generator", []string{overloaded, "--out", t.TempDir()}, 0, "GENERATOR OVERLOADED: replay was the bottleneck for 3 s"},
		{"stopped early", []string{stopped, "--out", t.TempDir()}, 1, "INCOMPLETE: stopped.parquet (light_load_x) stopped early: interrupted"},
		{"future columns", []string{future, "--out", dir, "--no-default-thresholds", "--threshold", "p50<1s"}, 0, "PASS p50<1s"},
		{"infinite threshold", []string{good, "--out", t.TempDir(), "--threshold", "p95<inf"}, 2, `threshold "p95<inf": "inf" is not a duration`},
		{"NaN percentile", []string{good, "--out", t.TempDir(), "--threshold", "pNaN<1s"}, 2, `unknown metric "pnan"`},
		{"error rate under 0%", []string{good, "--out", t.TempDir(), "--threshold", "error_rate<0%"}, 2, "never holds"},
		{"availability over 100%", []string{good, "--out", t.TempDir(), "--threshold", "availability>100%"}, 2, "never holds"},
		{"threshold given twice", []string{good, "--out", t.TempDir(), "--threshold", "p50<1s", "--threshold", "p50<1s"}, 0, "PASS p50<1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := capture(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.has) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", code, tc.code, tc.has, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("crashed:\n%s", out)
			}
		})
	}
	for _, f := range []string{"light_load_x.html", "light_load_x_stats.csv", "light_load_x_failures.csv", "light_load_x_stats_history.csv", "light_load_x.json"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("output: %v", err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", f, st.Mode().Perm())
		}
	}
}

// Analyzing a run again replaces all its outputs together: a _junit.xml
// of failures left from an earlier analysis does not stand beside the new
// passing report; files analyze would not write are left alone.
func TestReanalysisReplacesEveryOutput(t *testing.T) {
	dir := t.TempDir()
	good := healthy(t, filepath.Join(dir, "good.parquet"), func(int, *results.Result) {})
	if code, out := capture(t, good, "--format", "json,junit,csv", "--threshold", "p50<1ms"); code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mine := filepath.Join(dir, "light_load_x_notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o600)
	if code, out := capture(t, good, "--format", "json,html"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"good.parquet", "light_load_x.html", "light_load_x.json", "light_load_x_notes.txt"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("files %q, want %q", names, want)
	}
	// A threshold that fails to parse writes nothing and removes nothing.
	if code, _ := capture(t, good, "--threshold", "p95<NaN"); code != 2 {
		t.Errorf("exit %d", code)
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d files after a bad threshold", len(entries))
	}
}

// The line under the table sums the values carried, and only when the
// run had links: a file from before the columns, or without links, has
// none.
func TestCarriedLine(t *testing.T) {
	dir := t.TempDir()
	carrying := healthy(t, filepath.Join(dir, "carrying.parquet"), func(i int, r *results.Result) {
		r.Carried = 3
		if i%100 == 0 {
			r.Carried, r.NotCarried = 1, 2
		}
	})
	allCarried := healthy(t, filepath.Join(dir, "all.parquet"), func(_ int, r *results.Result) { r.Carried = 1 })
	for _, tc := range []struct {
		name, file string
		line       string // "" for none
	}{
		{"links", carrying, "values carried: 2,980 (20 not carried: their source did not answer as recorded or lacked the value, so the recorded one went)\n"},
		{"all carried", allCarried, "values carried: 1,000\n"},
		{"future columns", writeFuture(t, filepath.Join(dir, "future.parquet")), "values carried: 100 (50 not carried: "},
		{"no links", healthy(t, filepath.Join(dir, "none.parquet"), func(int, *results.Result) {}), ""},
		{"before the carried columns", writeBeforeLinks(t, filepath.Join(dir, "older.parquet")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := capture(t, tc.file, "--out", t.TempDir(), "--no-default-thresholds", "--threshold", "p50<1s")
			if code != 0 || !strings.Contains(out, "PASS p50<1s") {
				t.Fatalf("exit %d; output:\n%s", code, out)
			}
			if tc.line == "" && strings.Contains(out, "values carried") || !strings.Contains(out, tc.line) {
				t.Errorf("want the line %q; output:\n%s", tc.line, out)
			}
		})
	}
}

// writeFuture writes a results file from a later version: every column
// of today's plus one more.
func writeFuture(t *testing.T, path string) string {
	type future struct {
		results.Result
		CPUNanos int64 `parquet:"cpu_ns"`
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[future](f)
	var rows []future
	for i := range 50 {
		r := future{Result: results.Result{Run: "future_run", Method: "GET", Name: "/x", Sent: t0.Add(time.Duration(i) * time.Millisecond),
			LatencyNanos: 1e6, Status: 200, Carried: 2, NotCarried: 1}, CPUNanos: 7}
		r.Scheduled = r.Sent
		rows = append(rows, r)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
	return path
}

// writeBeforeLinks writes a results file from before the carried and
// not_carried columns.
func writeBeforeLinks(t *testing.T, path string) string {
	var rows []results.Result
	for i := range 50 {
		sent := t0.Add(time.Duration(i) * time.Millisecond)
		rows = append(rows, results.Result{Run: "older_run", Method: "GET", Name: "/x", Scheduled: sent, Sent: sent, LatencyNanos: 1e6, Status: 200})
	}
	oldresults.Write(t, path, rows)
	return path
}
