package analyze

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// A run with a shadow target: the shadow's answers are figures of their
// own (latency, failures, differences from the recording), the two
// targets' differences are counted apart, the table, the JSON and the
// HTML show them, and a file without a shadow shows none of it.
func TestShadowReport(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var rows []results.Result
	for i := range 100 {
		r := results.Result{Run: "light_load_x", Scenario: "light_load", Method: "GET", Name: "/a", Scheduled: start.Add(time.Duration(i) * 10 * time.Millisecond),
			LatencyNanos: int64(2 * time.Millisecond), Status: 200, RecordedStatus: 200, Compared: true,
			ShadowStatus: 200, ShadowLatencyNanos: int64(8 * time.Millisecond)}
		if i%2 == 1 {
			r.Name = "/b"
			r.ShadowDiff, r.TargetsDiff = "missing $.owner", "missing $.owner"
		}
		if i == 99 {
			r.ShadowStatus, r.ShadowError, r.ShadowLatencyNanos, r.ShadowDiff, r.TargetsDiff = 0, "connection refused", int64(time.Millisecond), "", ""
		}
		r.Sent = r.Scheduled
		rows = append(rows, r)
	}
	path := filepath.Join(dir, "light_load_x.parquet")
	resultstest.WriteResults(t, path, rows)
	var table bytes.Buffer
	out, err := Run(Config{Inputs: []string{path}, NoDefaults: true, Formats: []string{"json", "html"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	sh, bt := out.Report.Shadow, out.Report.Between
	if sh == nil || sh.Total.Requests != 100 || sh.Total.Failures != 1 || sh.Total.Compared != 99 || sh.Total.Mismatched() != 49 {
		t.Fatalf("shadow: %+v", sh.Total)
	}
	if bt.Total.Compared != 99 || bt.Total.Mismatched() != 49 || bt.Key(analysis.Key{Method: "GET", Name: "/a"}).Mismatched() != 0 {
		t.Fatalf("between: compared %d, mismatched %d", bt.Total.Compared, bt.Total.Mismatched())
	}
	if p50 := sh.Total.Quantile(50); p50 < 7.9 || p50 > 8.1 {
		t.Errorf("shadow p50 %.2f ms, want 8", p50)
	}
	for _, want := range []string{"shadow target", "GET          /b      50", "missing $.owner (49)", "differences between the target and the shadow"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var j struct {
		Shadow *struct {
			Total struct {
				Failures int64 `json:"failures"`
			} `json:"total"`
			Between struct {
				Mismatched int64 `json:"mismatched"`
			} `json:"differences_between_targets"`
		} `json:"shadow"`
	}
	b := resultstest.ReadFile(t, filepath.Join(dir, "light_load_x.json"))
	if err := json.Unmarshal(b, &j); err != nil || j.Shadow == nil || j.Shadow.Total.Failures != 1 || j.Shadow.Between.Mismatched != 49 {
		t.Errorf("JSON shadow %+v: %v", j.Shadow, err)
	}
	if h := string(resultstest.ReadFile(t, filepath.Join(dir, "light_load_x.html"))); !strings.Contains(h, "<h2>Shadow target</h2>") || !strings.Contains(h, "missing $.owner (49)") {
		t.Error("the HTML report has no shadow section")
	}
	// The whole of the table and the JSON, as golden files (the HTML's
	// shadow section is the table's, and its page has the time it was made).
	resultstest.GoldenFile(t, filepath.Join("..", "testdata", "golden", "shadow_table.txt"), table.Bytes())
	resultstest.GoldenFile(t, filepath.Join("..", "testdata", "golden", "shadow.json"), b)
	// Without a shadow: nothing of it.
	for i := range rows {
		rows[i].ShadowStatus, rows[i].ShadowError, rows[i].ShadowLatencyNanos, rows[i].ShadowDiff, rows[i].TargetsDiff = 0, "", 0, "", ""
	}
	path = filepath.Join(dir, "light_load_y.parquet")
	resultstest.WriteResults(t, path, rows)
	table.Reset()
	if out, err = Run(Config{Inputs: []string{path}, NoDefaults: true, Formats: []string{"json"}, Stdout: &table}); err != nil || out.Report.Shadow != nil || strings.Contains(table.String(), "shadow") {
		t.Errorf("no shadow, yet %v %v", out.Report.Shadow, err)
	}
}
