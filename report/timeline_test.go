package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// The correlation means nothing with fewer than two steps, or a series
// that does not vary: the table says so, the JSON has null.
func TestTimelineCorrelationUndefined(t *testing.T) {
	tl := &results.Timeline{Start: resultstest.T0, Step: 5, Recorded: []int64{10, 10, 10}, Amplify: 0.5, Speed: 2}
	a := analysis.New(time.Second)
	a.SetTimeline(tl)
	for i := range 15 {
		sent := resultstest.T0.Add(time.Duration(i) * time.Second)
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

// The outputs of a recorded run whose target could not keep up are
// golden files: its table, JSON and HTML report.
func TestRecordedGoldenOutputs(t *testing.T) {
	tl := resultstest.RecordedTimeline()
	dir := t.TempDir()
	path := resultstest.WriteRecorded(t, filepath.Join(dir, "recorded_20261128T100000Z.parquet"), tl.Encode(), resultstest.RecordedRun(tl, 6, 60*time.Millisecond, 2*time.Millisecond))
	a := analysis.New(time.Second)
	if err := a.AddFile(path); err != nil {
		t.Fatal(err)
	}
	rep := a.Report()
	var vs []analysis.Verdict
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
