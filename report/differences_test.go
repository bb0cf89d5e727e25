package report

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
)

// The outputs of a run whose answers differed from the recording are
// golden files (report/testdata/golden): the table, the JSON, the HTML
// report and the differences CSV.
func TestDifferencesGoldenOutputs(t *testing.T) {
	rep := analysistest.Aggregate(resultstest.Differing(3000, 20, 11))
	var ths []analysis.Threshold
	for _, e := range append(analysis.DefaultThresholds, "mismatch_rate<1%", "name=/api/v1/tasks:mismatch_rate<2%") {
		th, _ := analysis.ParseThreshold(e)
		ths = append(ths, th)
	}
	vs := analysis.Check(rep, ths)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"differences_table.txt", func(b *bytes.Buffer) error { WriteTable(b, rep, vs); return nil }},
		{"differences.json", func(b *bytes.Buffer) error { return WriteJSON(b, rep, vs) }},
		{"differences.html", func(b *bytes.Buffer) error { return WriteHTML(b, rep, vs, HTMLOptions{Host: "http://127.0.0.1:8000"}) }},
		{"differences.csv", func(b *bytes.Buffer) error { return WriteDifferencesCSV(b, rep) }},
	} {
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatal(err)
		}
		resultstest.GoldenFile(t, filepath.Join("testdata", "golden", tc.name), b.Bytes())
	}
}
