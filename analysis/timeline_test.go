package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
)

// The error of a request replay could not send (open.go's skip).
const unsentError = "generator overloaded: too many requests in flight"

// recordedTimeline is a recorded timeline of 40 one-second steps that
// rises and falls, replayed twice over.
func recordedTimeline() *results.Timeline {
	tl := &results.Timeline{Start: t0, Step: 1, Amplify: 2, Speed: 1}
	for k := range 40 {
		tl.Recorded = append(tl.Recorded, int64(10+30*math.Sin(float64(k)/40*math.Pi)+float64(k%3)))
	}
	return tl
}

// recordedRun makes the rows of a run replaying tl: in each step, the
// requests it plans, but one short in a few steps, spread over the step.
// A third of the requests wait for a late answer (behind the timeline by
// up to behind), every one leaves up to gen after it is ready. Among
// them: requests never sent, abandoned, refused (sent), and a few sent
// after the last step.
func recordedRun(tl *results.Timeline, seed uint64, behind, gen time.Duration) []results.Result {
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
			r.Status, r.Error, r.LatencyNanos, r.TTFBNanos, r.RespSize = 0, unsentError, 0, 0, 0
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

// writeRecorded writes rows as a results file whose footer holds meta as
// the timeline ("" for none).
func writeRecorded(t testing.TB, path, meta string, rows []results.Result) string {
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

// wantTimeline is the timeline figures computed straight from the rows.
type wantTimeline struct {
	planned, sent, outside, over int64
	perStep                      []int64
	corr                         float64
	late, behind, gen, starts    []int64 // nanoseconds, sorted
}

func expectTimeline(tl *results.Timeline, rows []results.Result) wantTimeline {
	var w wantTimeline
	var recorded int64
	for _, n := range tl.Recorded {
		recorded += n
	}
	w.planned = int64(math.Round(float64(recorded) * tl.Amplify))
	w.perStep = make([]int64, len(tl.Recorded))
	step := time.Duration(tl.Step) * time.Second
	first, last := math.MaxInt, math.MinInt
	for _, r := range rows {
		if r.Error == results.Abandoned || r.Error == unsentError {
			continue
		}
		w.sent++
		since := r.Sent.Sub(tl.Start)
		k := int(since / step)
		if since < 0 {
			k = -1 // the tests send nothing that early
		}
		first, last = min(first, k), max(last, k)
		if k >= 0 && k < len(w.perStep) {
			w.perStep[k]++
		} else {
			w.outside++
		}
		gen := int64(r.Sent.Sub(r.Scheduled))
		w.late = append(w.late, gen+r.BehindNanos)
		w.behind = append(w.behind, r.BehindNanos)
		w.gen = append(w.gen, gen)
		if r.Seq == 0 {
			w.starts = append(w.starts, gen+r.BehindNanos)
		}
		if r.BehindNanos > 10e6 {
			w.over++
		}
	}
	for _, s := range [][]int64{w.late, w.behind, w.gen, w.starts} {
		slices.Sort(s)
	}
	// Pearson's r over the steps from the first send to the last, within
	// the recording's.
	lo, hi := max(first, 0), min(last, len(tl.Recorded)-1)
	var xs, ys []float64
	for k := lo; k <= hi; k++ {
		xs, ys = append(xs, float64(tl.Recorded[k])), append(ys, float64(w.perStep[k]))
	}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	mx, my := mean(xs), mean(ys)
	var cov, vx, vy float64
	for i := range xs {
		cov += (xs[i] - mx) * (ys[i] - my)
		vx += (xs[i] - mx) * (xs[i] - mx)
		vy += (ys[i] - my) * (ys[i] - my)
	}
	w.corr = cov / math.Sqrt(vx*vy)
	return w
}

// compareTimeline compares a report's timeline with the figures computed
// from the rows: counts and the correlation exactly, lateness within
// HDR's 3 significant digits and the microsecond.
func compareTimeline(t *testing.T, got *Timeline, want wantTimeline) {
	t.Helper()
	if got == nil {
		t.Fatal("no timeline in the report")
	}
	if got.Planned != want.planned || got.SentTotal != want.sent || got.Outside != want.outside || got.BehindOver != want.over {
		t.Errorf("planned %d, sent %d, outside %d, behind over 10 ms %d; want %d, %d, %d, %d",
			got.Planned, got.SentTotal, got.Outside, got.BehindOver, want.planned, want.sent, want.outside, want.over)
	}
	if !slices.Equal(got.Sent, want.perStep) {
		t.Errorf("sent per step %v\nwant %v", got.Sent, want.perStep)
	}
	if math.Abs(got.Correlation-want.corr) > 1e-12 {
		t.Errorf("correlation %.15f, want %.15f", got.Correlation, want.corr)
	}
	near := func(what string, gotMs float64, wantNanos int64) {
		t.Helper()
		w := float64(wantNanos) / 1e6
		if math.Abs(gotMs-w) > w*0.001+0.001 {
			t.Errorf("%s: %.4f ms, exact %.4f ms", what, gotMs, w)
		}
	}
	for _, h := range []struct {
		name string
		got  func(q float64) float64
		max  float64
		vals []int64
	}{
		{"lateness", func(q float64) float64 { return ms(quantile(got.Late, q)) }, ms(got.Late.Max()), want.late},
		{"session starts", func(q float64) float64 { return ms(quantile(got.Starts, q)) }, ms(got.Starts.Max()), want.starts},
		{"behind", func(q float64) float64 { return ms(quantile(got.Behind, q)) }, ms(got.Behind.Max()), want.behind},
		{"generator", func(q float64) float64 { return ms(quantile(got.Generator, q)) }, ms(got.Generator.Max()), want.gen},
	} {
		if len(h.vals) == 0 {
			if h.max != 0 {
				t.Errorf("%s: max %.4f ms of no request", h.name, h.max)
			}
			continue
		}
		for _, q := range []float64{50, 99} {
			near(h.name+" p"+num(q), h.got(q), exactQuantile(h.vals, q))
		}
		near(h.name+" max", h.max, h.vals[len(h.vals)-1])
	}
}

// A recorded run's report puts its arrivals per step beside the
// recording's, amplified, and says how late its requests started: in
// one file, in shards (the same figures), with its timeline damaged in
// one file or all (a note, and no figure from those files' rows), or
// with none (nothing of it shown).
func TestRecordedTimeline(t *testing.T) {
	tl := recordedTimeline()
	rows := recordedRun(tl, 1, 5*time.Millisecond, 2*time.Millisecond)
	shard := func(rs []results.Result, s int32) []results.Result {
		var out []results.Result
		for _, r := range rs {
			if r.Shard == s {
				out = append(out, r)
			}
		}
		rand.New(rand.NewPCG(uint64(s), 1)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	later := *tl
	later.Start = tl.Start.Add(time.Second)
	negative := *tl
	negative.Recorded = append([]int64{-3}, tl.Recorded[1:]...)
	slowTarget := recordedRun(tl, 2, 80*time.Millisecond, 2*time.Millisecond)
	slowGenerator := recordedRun(tl, 3, 5*time.Millisecond, 60*time.Millisecond)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, dir string) []string
		// counted are the rows in the timeline figures (nil: no timeline).
		counted []results.Result
		notes   []string // what the notes say, in order
		keepUp  string   // the table's line on who could not keep up
	}{
		{name: "one file", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), rows)}
		}, counted: rows},
		{name: "two shards, one timeline", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), tl.Encode(), shard(rows, 0)),
				writeRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), tl.Encode(), shard(rows, 1))}
		}, counted: rows},
		{name: "shards that disagree on the start", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), tl.Encode(), shard(rows, 0)),
				writeRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), later.Encode(), shard(rows, 1))}
		}, counted: rows, notes: []string{"r_shard1of2.parquet's timeline (start 2026-11-28T10:00:01Z, steps of 1s) is not r_shard0of2.parquet's (start 2026-11-28T10:00:00Z, steps of 1s): the figures use the first"}},
		{name: "no timeline", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), "", rows)}
		}},
		{name: "a damaged timeline", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), `{"start":"2026-11-28T10:00:00Z","step_s":1,"recor`, rows)}
		}, notes: []string{"recorded.parquet: the results file's replaykit.timeline is damaged: unexpected end of JSON input: its requests are in no timeline figure"}},
		{name: "a negative count", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), negative.Encode(), rows)}
		}, notes: []string{"recorded.parquet: the results file's replaykit.timeline is damaged: a count of -3 requests: its requests are in no timeline figure"}},
		{name: "a damaged shard beside a whole one", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), `{"step_s":0}`, shard(rows, 0)),
				writeRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), tl.Encode(), shard(rows, 1))}
		}, counted: shard(rows, 1), notes: []string{"r_shard0of2.parquet: the results file's replaykit.timeline is damaged: step 0 s, 0 counts, amplify 0, speed 0: its requests are in no timeline figure"}},
		{name: "a slow target", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), slowTarget)}
		}, counted: slowTarget, keepUp: "the target cannot keep up: answers came late and the sessions waited for them"},
		{name: "a slow generator", write: func(t *testing.T, dir string) []string {
			return []string{writeRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), slowGenerator)}
		}, counted: slowGenerator, keepUp: "the generator cannot keep up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var table bytes.Buffer
			res, err := Run(Config{Inputs: tc.write(t, dir), Out: dir, NoDefaults: true, Formats: []string{"json,html,csv"}, Stdout: &table})
			if err != nil || res.Code != ExitPass {
				t.Fatalf("code %d: %v", res.Code, err)
			}
			rep := res.Report
			if tc.counted != nil {
				compareTimeline(t, rep.Timeline, expectTimeline(tl, tc.counted))
			} else if rep.Timeline != nil {
				t.Errorf("a timeline from files that hold no usable one: %+v", rep.Timeline)
			}
			if !slices.Equal(rep.TimelineNotes, tc.notes) {
				t.Errorf("notes %q\nwant %q", rep.TimelineNotes, tc.notes)
			}

			files := map[string]string{}
			for _, f := range res.Files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasSuffix(f, ".json"):
					files["json"] = string(b)
				case strings.HasSuffix(f, ".html"):
					files["html"] = string(b)
				case strings.HasSuffix(f, "_stats.csv"):
					files["stats"] = string(b)
				}
			}
			var doc struct {
				Timeline *struct {
					Planned       int64    `json:"planned"`
					Sent          int64    `json:"sent"`
					SentPct       *float64 `json:"sent_pct"`
					Correlation   *float64 `json:"correlation"`
					SentPerStep   []int64  `json:"sent_per_step"`
					Recorded      []int64  `json:"recorded_per_step"`
					BehindOverPct float64  `json:"behind_over_10ms_pct"`
					CannotKeepUp  string   `json:"cannot_keep_up"`
				} `json:"timeline"`
				Notes []string `json:"timeline_notes"`
			}
			if err := json.Unmarshal([]byte(files["json"]), &doc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(doc.Notes, tc.notes) {
				t.Errorf("json notes %q", doc.Notes)
			}
			out := table.String()
			if tc.counted == nil {
				if doc.Timeline != nil || strings.Contains(files["html"], "Recorded timeline") || strings.Contains(out, "timeline: recorded ×") {
					t.Error("a timeline shown for a run without one")
				}
			} else {
				w := expectTimeline(tl, tc.counted)
				if doc.Timeline == nil || doc.Timeline.Planned != w.planned || doc.Timeline.Sent != w.sent || doc.Timeline.SentPct == nil ||
					math.Abs(*doc.Timeline.SentPct-100*float64(w.sent)/float64(w.planned)) > 1e-9 || doc.Timeline.Correlation == nil ||
					!slices.Equal(doc.Timeline.SentPerStep, w.perStep) || !slices.Equal(doc.Timeline.Recorded, tl.Recorded) ||
					doc.Timeline.CannotKeepUp != rep.Timeline.CannotKeepUp() {
					t.Errorf("json timeline %+v", doc.Timeline)
				}
				if !strings.Contains(out, "timeline: recorded × 2: ") || !strings.Contains(out, "\nsessions started late by p50 ") {
					t.Errorf("no timeline lines in the table:\n%s", out)
				}
				if !strings.Contains(files["html"], "Arrivals: recorded × 2 and replayed") || strings.Count(files["html"], `<svg class="chart"`) != 5 {
					t.Error("no arrivals chart in the report")
				}
			}
			if got := strings.Contains(out, "cannot keep up"); got != (tc.keepUp != "") || !strings.Contains(out, tc.keepUp) {
				t.Errorf("want %q in the table:\n%s", tc.keepUp, out)
			}
			if tc.keepUp != "" && !strings.Contains(files["html"], `<p class="fail">`+strings.ReplaceAll(tc.keepUp, "'", "&#39;")) {
				t.Errorf("the report does not say %q", tc.keepUp)
			}
			for _, n := range tc.notes {
				if !strings.Contains(out, "timeline: "+n+"\n") {
					t.Errorf("the table does not note %q", n)
				}
			}
			if strings.Contains(files["stats"], "timeline") || strings.Contains(files["stats"], "behind") {
				t.Error("the Locust stats CSV changed")
			}
		})
	}
}

// Rows added one by one to an Aggregate given the timeline give the
// figures the file gives, in any order: replay's live figures can hold
// the timeline too.
func TestSetTimelineCountsRowsAdded(t *testing.T) {
	tl := recordedTimeline()
	rows := recordedRun(tl, 4, 30*time.Millisecond, 3*time.Millisecond)
	slices.Reverse(rows)
	a := New(time.Second)
	a.SetTimeline(tl)
	for i := range rows {
		a.Add(&rows[i])
	}
	compareTimeline(t, a.Report().Timeline, expectTimeline(tl, rows))
}

// The correlation means nothing with fewer than two steps, or a series
// that does not vary: the table says so, the JSON has null.
func TestTimelineCorrelationUndefined(t *testing.T) {
	tl := &results.Timeline{Start: t0, Step: 5, Recorded: []int64{10, 10, 10}, Amplify: 0.5, Speed: 2}
	a := New(time.Second)
	a.SetTimeline(tl)
	for i := range 15 {
		sent := t0.Add(time.Duration(i) * time.Second)
		a.Add(&results.Result{Run: "r", Method: "GET", Name: "/x", Scheduled: sent, Sent: sent, LatencyNanos: 1e6, Status: 200})
	}
	rep := a.Report()
	var table, j bytes.Buffer
	WriteTable(&table, rep, nil)
	WriteJSON(&j, rep, nil)
	want := "timeline: recorded × 0.5 at speed 2: 15 requests planned, 15 sent (100.0%), per-5s correlation undefined (fewer than 2 steps in common, or a series that does not vary)\n"
	if !strings.Contains(table.String(), want) {
		t.Errorf("table:\n%s\nwant %q", table.String(), want)
	}
	if !strings.Contains(j.String(), `"correlation": null`) {
		t.Error("json: the correlation is not null")
	}
}

// lateness_p99 checks a recorded run's start lateness; a run without a
// timeline fails it, saying so.
func TestLatenessThreshold(t *testing.T) {
	tl := recordedTimeline()
	dir := t.TempDir()
	on := writeRecorded(t, filepath.Join(dir, "on.parquet"), tl.Encode(), recordedRun(tl, 5, 4*time.Millisecond, time.Millisecond))
	late := writeRecorded(t, filepath.Join(dir, "late.parquet"), tl.Encode(), recordedRun(tl, 5, 80*time.Millisecond, time.Millisecond))
	none := writeRecorded(t, filepath.Join(dir, "none.parquet"), "", recordedRun(tl, 5, 4*time.Millisecond, time.Millisecond))
	for _, tc := range []struct {
		file string
		code int
		says string
	}{
		{on, ExitPass, "PASS lateness_p99<10ms: total lateness_p99 is "},
		{late, ExitFail, "FAIL lateness_p99<10ms: total lateness_p99 is "},
		{none, ExitFail, "FAIL lateness_p99<10ms: the run has no recorded timeline (only the recorded scenario has one)"},
	} {
		var table bytes.Buffer
		res, err := Run(Config{Inputs: []string{tc.file}, Out: t.TempDir(), NoDefaults: true, Thresholds: []string{"lateness_p99<10ms"}, Formats: []string{"json"}, Stdout: &table})
		if err != nil || res.Code != tc.code || !strings.Contains(table.String(), tc.says) {
			t.Errorf("%s: code %d, %v:\n%s", filepath.Base(tc.file), res.Code, err, table.String())
		}
		if res.Report.Timeline != nil && res.Verdicts[0].Actual != res.Report.Timeline.LateP99() {
			t.Errorf("%s: lateness_p99 is %v, the timeline's p99 %v", filepath.Base(tc.file), res.Verdicts[0].Actual, res.Report.Timeline.LateP99())
		}
	}
	if _, err := ParseThreshold("name=/x:lateness_p99<10ms"); err == nil || !strings.Contains(err.Error(), "whole run's") {
		t.Errorf("a route's lateness_p99: %v", err)
	}
}

// The outputs of a recorded run whose target could not keep up are
// golden files: its table, JSON and HTML report.
func TestRecordedGoldenOutputs(t *testing.T) {
	tl := recordedTimeline()
	dir := t.TempDir()
	path := writeRecorded(t, filepath.Join(dir, "recorded_20261128T100000Z.parquet"), tl.Encode(), recordedRun(tl, 6, 60*time.Millisecond, 2*time.Millisecond))
	a := New(time.Second)
	if err := a.AddFile(path); err != nil {
		t.Fatal(err)
	}
	rep := a.Report()
	var vs []Verdict
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"recorded_table.txt", func(b *bytes.Buffer) error { WriteTable(b, rep, vs); return nil }},
		{"recorded.json", func(b *bytes.Buffer) error { return WriteJSON(b, rep, vs) }},
		{"recorded.html", func(b *bytes.Buffer) error { return WriteHTML(b, rep, vs, HTMLOptions{Host: "http://127.0.0.1:8000"}) }},
	} {
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, b.Bytes())
	}
}
