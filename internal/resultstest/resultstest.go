// Package resultstest holds what the tests of analyze's packages share:
// synthetic results rows, files written from them, golden files and a
// headless Chromium.
package resultstest

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
)

var T0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// Synthetic makes n rows over secs seconds from a fixed seed: four names,
// log-normal latencies, some 404s, 429s, 500s and transport errors.
func Synthetic(n int, secs float64, seed uint64) []results.Result {
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
		sent := T0.Add(time.Duration(float64(i) / float64(n) * secs * float64(time.Second)))
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

func WriteResults(t testing.TB, path string, rows []results.Result) {
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

func RegexpGenerated(s string) string {
	if i := strings.Index(s, "written by replaykit analyze at"); i >= 0 {
		return s[:i]
	}
	return s
}

// Differ compares a row's answer with the recorded one as replay would
// against a server that drifted: the answers of /api/v1/tasks/{id} lost a
// field (several, one time in three), a search now and then returned
// another state, a 404 where the recording had 200, a new task's answer
// has a debug field; GET /api/v1/tasks agrees. A transport error is not
// compared (no answer).
func Differ(r *results.Result) {
	if r.Error != "" {
		return
	}
	r.Compared = true
	switch n := r.TraceID; {
	case r.Status != r.RecordedStatus:
		r.Diff = fmt.Sprintf("status %d->%d", r.RecordedStatus, r.Status)
	case r.Name == "/api/v1/tasks/{id}" && n%3 == 0:
		r.Diff = "missing $.items[].owner (+2 more)"
	case r.Name == "/api/v1/tasks/{id}":
		r.Diff = "missing $.items[].owner"
	case r.Name == "/api/v1/search" && n%10 == 0:
		r.Diff = "value $.state"
	case r.Name == "/api/v1/search" && n%25 == 1:
		r.Diff = "body"
	case r.Method == "POST" && n%20 == 0:
		r.Diff = "added $.debug"
	case r.Method == "POST" && n%50 == 1:
		r.Diff = "type application/json->text/html"
	}
}

// Differing is synthetic rows compared as differ does.
func Differing(n int, secs float64, seed uint64) []results.Result {
	rows := Synthetic(n, secs, seed)
	for i := range rows {
		rows[i].RecordedStatus = 200
		Differ(&rows[i])
	}
	return rows
}

// GoldenFile compares got with the file at path (go test -update
// rewrites it).
func GoldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./report -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (go test ./report -update after checking the change)", path)
	}
}

// Carry gives a row the links a stateful replay would: a task's id is
// carried (not when the task was not found: its source had not answered
// as recorded), a new task takes a made-up Idempotency-Key and the token.
func Carry(r *results.Result) {
	switch {
	case r.Name == "/api/v1/tasks/{id}" && r.Status == 404:
		r.NotCarried = 1
	case r.Name == "/api/v1/tasks/{id}":
		r.Carried = 1
	case r.Method == "POST":
		r.Carried = 2
	}
}

func SplitCSV(line string) []string {
	var out []string
	for _, c := range strings.Split(line, ",") {
		out = append(out, strings.Trim(c, `"`))
	}
	return out
}

func IsNumber(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789.-", c) {
			return false
		}
	}
	return true
}

// WriteGroups writes rows in row groups of n.
func WriteGroups(t testing.TB, path string, rows []results.Result, n int) {
	t.Helper()
	w, err := results.Create(path, results.WriterOptions{RowGroupRows: n})
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

// Shifted is synthetic rows with every latency scaled by f.
func Shifted(n int, seed uint64, f float64) []results.Result {
	rows := Synthetic(n, 60, seed)
	for i := range rows {
		rows[i].LatencyNanos = int64(float64(rows[i].LatencyNanos) * f)
	}
	return rows
}

// Steady makes n rows of run over d from start, 10 ms each.
func Steady(run string, n int, start time.Time, d time.Duration) []results.Result {
	var rows []results.Result
	for i := range n {
		sent := start.Add(time.Duration(i) * d / time.Duration(n))
		rows = append(rows, results.Result{Run: run, Scenario: "light_load", Method: "GET", Name: "/x", Scheduled: sent, Sent: sent,
			LatencyNanos: 10e6, Status: 200})
	}
	return rows
}

func ReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The error of a request replay could not send (open.go's skip).
const UnsentError = "generator overloaded: too many requests in flight"

// RecordedTimeline is a recorded timeline of 40 one-second steps that
// rises and falls, replayed twice over.
func RecordedTimeline() *results.Timeline {
	tl := &results.Timeline{Start: T0, Step: 1, Amplify: 2, Speed: 1}
	for k := range 40 {
		tl.Recorded = append(tl.Recorded, int64(10+30*math.Sin(float64(k)/40*math.Pi)+float64(k%3)))
	}
	return tl
}

// RecordedRun makes the rows of a run replaying tl: in each step, the
// requests it plans, but one short in a few steps, spread over the step.
// A third of the requests wait for a late answer (behind the timeline by
// up to behind), every one leaves up to gen after it is ready. Among
// them: requests never sent, abandoned, refused (sent), and a few sent
// after the last step.
func RecordedRun(tl *results.Timeline, seed uint64, behind, gen time.Duration) []results.Result {
	rng := rand.New(rand.NewPCG(seed, 9))
	step := time.Duration(tl.Step) * time.Second
	var rows []results.Result
	row := func(onTimeline time.Time) results.Result {
		var b time.Duration
		if rng.IntN(3) == 0 {
			b = time.Duration(rng.Float64() * float64(behind))
		}
		g := time.Duration(rng.ExpFloat64() * float64(gen) / 4)
		scheduled := onTimeline.Add(b)
		i := len(rows)
		r := results.Result{Run: "recorded_20261128T100000Z", Scenario: "recorded", Shard: int32(i % 2), VU: int32(i % 7),
			Method: "GET", Name: "/api/v1/tasks", URL: "http://127.0.0.1:8000/api/v1/tasks", Scheduled: scheduled,
			Sent: scheduled.Add(g), LatencyNanos: int64(g) + 20e6, TTFBNanos: 18e6, Status: 200, RespSize: 300,
			RecordedStatus: 200, Users: 5, BehindNanos: int64(b)}
		if b > 0 || i%2 == 1 {
			r.Seq = int32(1 + i%3) // not a session's first request: a start never waits
		}
		switch {
		case i%97 == 5:
			r.Status, r.Error, r.LatencyNanos, r.TTFBNanos, r.RespSize = 0, UnsentError, 0, 0, 0
		case i%89 == 7:
			r.Status, r.Error, r.LatencyNanos, r.TTFBNanos, r.RespSize = 0, "connection refused", int64(g)+300e3, 0, 0
		case i%101 == 9:
			r.Status, r.Error = 0, results.Abandoned
		}
		return r
	}
	for k, rec := range tl.Recorded {
		n := int(math.Round(float64(rec) * tl.Amplify))
		if k%7 == 3 {
			n--
		}
		for j := range n {
			rows = append(rows, row(tl.Start.Add(time.Duration(k)*step+time.Duration(float64(j)/float64(n)*float64(step)))))
		}
	}
	for j := range 5 {
		rows = append(rows, row(tl.Start.Add(time.Duration(len(tl.Recorded))*step+2*time.Second+time.Duration(j)*time.Millisecond)))
	}
	return rows
}

// WriteRecorded writes rows as a results file whose footer holds meta as
// the timeline ("" for none).
func WriteRecorded(t testing.TB, path, meta string, rows []results.Result) string {
	t.Helper()
	w, err := results.Create(path, results.WriterOptions{RowGroupRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	if meta != "" {
		w.SetMeta(results.MetaTimeline, meta)
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Update says to rewrite the golden files (go test -update).
var Update = flag.Bool("update", false, "rewrite the golden files")

// ExactQuantile is the nearest-rank percentile of sorted values.
func ExactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q/100*float64(len(sorted)) - 1e-9)) // q·n is often whole: no float error above it
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Num is v as the shortest decimal.
func Num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
