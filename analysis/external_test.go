package analysis_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/internal/resultstest"
)

// Differences are counted per route and in total, in their three
// families, the same through a results file as row by row; the most
// common are named without their "(+N more)"; a file from before the
// columns has none.
func TestDifferencesPerRoute(t *testing.T) {
	rows := resultstest.Differing(4000, 10, 31)
	want := analysistest.PlainCounts(rows)
	// Each family is there, and each route has differences of its own.
	if w := want[analysis.Key{Name: "Aggregated"}]; w.Status == 0 || w.Shape == 0 || w.Value == 0 || w.Compared == int64(len(rows)) ||
		!strings.HasPrefix(w.Top, "missing $.items[].owner=") || want[analysis.Key{"GET", "/api/v1/tasks"}].Shape+want[analysis.Key{"GET", "/api/v1/tasks"}].Value != 0 {
		t.Fatalf("the rows are not what this test is about: %+v", want)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "r.parquet")
	resultstest.WriteResults(t, path, rows)
	fromFile := analysis.New(time.Second)
	if err := fromFile.AddFile(path); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.parquet")
	oldresults.Write(t, old, rows)
	fromOld := analysis.New(time.Second)
	if err := fromOld.AddFile(old); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rep  *analysis.Report
		want map[analysis.Key]analysistest.DiffCounts
	}{
		{"row by row", analysistest.Aggregate(rows), want},
		{"from a results file", fromFile.Report(), want},
		{"from a file before the columns", fromOld.Report(), map[analysis.Key]analysistest.DiffCounts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range append(tc.rep.Names, tc.rep.Total) {
				if got := analysistest.CountsOf(s); got != tc.want[s.Key] {
					t.Errorf("%v: %+v, want %+v", s.Key, got, tc.want[s.Key])
				}
			}
		})
	}
	w := want[analysis.Key{Name: "Aggregated"}]
	if tot := analysistest.Aggregate(rows).Total; tot.Mismatched() != w.Status+w.Shape+w.Value || tot.MismatchRate() != float64(tot.Mismatched())/float64(w.Compared) {
		t.Errorf("total mismatched %d, rate %v", tot.Mismatched(), tot.MismatchRate())
	}
}

// Rows added one by one to an Aggregate given the timeline give the
// figures the file gives, in any order: replay's live figures can hold
// the timeline too.
func TestSetTimelineCountsRowsAdded(t *testing.T) {
	tl := resultstest.RecordedTimeline()
	rows := resultstest.RecordedRun(tl, 4, 30*time.Millisecond, 3*time.Millisecond)
	slices.Reverse(rows)
	a := analysis.New(time.Second)
	a.SetTimeline(tl)
	for i := range rows {
		a.Add(&rows[i])
	}
	analysistest.CompareTimeline(t, a.Report().Timeline, analysistest.ExpectTimeline(tl, rows))
}
