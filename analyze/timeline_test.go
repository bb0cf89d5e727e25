package analyze

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

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// A recorded run's report puts its arrivals per step beside the
// recording's, amplified, and says how late its requests started: in
// one file, in shards (the same figures), with its timeline damaged in
// one file or all (a note, and no figure from those files' rows), or
// with none (nothing of it shown).
func TestRecordedTimeline(t *testing.T) {
	tl := resultstest.RecordedTimeline()
	rows := resultstest.RecordedRun(tl, 1, 5*time.Millisecond, 2*time.Millisecond)
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
	slowTarget := resultstest.RecordedRun(tl, 2, 80*time.Millisecond, 2*time.Millisecond)
	slowGenerator := resultstest.RecordedRun(tl, 3, 5*time.Millisecond, 60*time.Millisecond)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, dir string) []string
		// counted are the rows in the timeline figures (nil: no timeline).
		counted []results.Result
		notes   []string // what the notes say, in order
		keepUp  string   // the table's line on who could not keep up
	}{
		{name: "one file", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), rows)}
		}, counted: rows},
		{name: "two shards, one timeline", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), tl.Encode(), shard(rows, 0)),
				resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), tl.Encode(), shard(rows, 1))}
		}, counted: rows},
		{name: "shards that disagree on the start", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), tl.Encode(), shard(rows, 0)),
				resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), later.Encode(), shard(rows, 1))}
		}, counted: rows, notes: []string{"r_shard1of2.parquet's timeline (start 2026-11-28T10:00:01Z, steps of 1s) is not r_shard0of2.parquet's (start 2026-11-28T10:00:00Z, steps of 1s): the figures use the first"}},
		{name: "no timeline", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), "", rows)}
		}},
		{name: "a damaged timeline", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), `{"start":"2026-11-28T10:00:00Z","step_s":1,"recor`, rows)}
		}, notes: []string{"recorded.parquet: the results file's replaykit.timeline is damaged: unexpected end of JSON input: its requests are in no timeline figure"}},
		{name: "a negative count", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), negative.Encode(), rows)}
		}, notes: []string{"recorded.parquet: the results file's replaykit.timeline is damaged: a count of -3 requests: its requests are in no timeline figure"}},
		{name: "a start no run has", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), `{"start":"2611-03-01T10:00:00Z","step_s":1,"recorded":[3,4],"amplify":1,"speed":1}`, rows)}
		}, notes: []string{"recorded.parquet: the results file's replaykit.timeline is damaged: a start of 2611-03-01T10:00:00Z: its requests are in no timeline figure"}},
		{name: "a damaged shard beside a whole one", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard0of2.parquet"), `{"step_s":0}`, shard(rows, 0)),
				resultstest.WriteRecorded(t, filepath.Join(dir, "r_shard1of2.parquet"), tl.Encode(), shard(rows, 1))}
		}, counted: shard(rows, 1), notes: []string{"r_shard0of2.parquet: the results file's replaykit.timeline is damaged: step 0 s, 0 counts, amplify 0, speed 0: its requests are in no timeline figure"}},
		{name: "a slow target", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), slowTarget)}
		}, counted: slowTarget, keepUp: "the target cannot keep up: answers came late and the sessions waited for them"},
		{name: "a slow generator", write: func(t *testing.T, dir string) []string {
			return []string{resultstest.WriteRecorded(t, filepath.Join(dir, "recorded.parquet"), tl.Encode(), slowGenerator)}
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
				analysistest.CompareTimeline(t, rep.Timeline, analysistest.ExpectTimeline(tl, tc.counted))
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
				w := analysistest.ExpectTimeline(tl, tc.counted)
				if doc.Timeline == nil || doc.Timeline.Planned != w.Planned || doc.Timeline.Sent != w.Sent || doc.Timeline.SentPct == nil ||
					math.Abs(*doc.Timeline.SentPct-100*float64(w.Sent)/float64(w.Planned)) > 1e-9 || doc.Timeline.Correlation == nil ||
					!slices.Equal(doc.Timeline.SentPerStep, w.PerStep) || !slices.Equal(doc.Timeline.Recorded, tl.Recorded) ||
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

// lateness_p99 checks a recorded run's start lateness; a run without a
// timeline fails it, saying so.
func TestLatenessThreshold(t *testing.T) {
	tl := resultstest.RecordedTimeline()
	dir := t.TempDir()
	on := resultstest.WriteRecorded(t, filepath.Join(dir, "on.parquet"), tl.Encode(), resultstest.RecordedRun(tl, 5, 4*time.Millisecond, time.Millisecond))
	late := resultstest.WriteRecorded(t, filepath.Join(dir, "late.parquet"), tl.Encode(), resultstest.RecordedRun(tl, 5, 80*time.Millisecond, time.Millisecond))
	none := resultstest.WriteRecorded(t, filepath.Join(dir, "none.parquet"), "", resultstest.RecordedRun(tl, 5, 4*time.Millisecond, time.Millisecond))
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
	if _, err := analysis.ParseThreshold("name=/x:lateness_p99<10ms"); err == nil || !strings.Contains(err.Error(), "whole run's") {
		t.Errorf("a route's lateness_p99: %v", err)
	}
}
