package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
)

func TestCSVHeadersAreLocusts(t *testing.T) {
	rep := analysistest.Aggregate(resultstest.Synthetic(500, 10, 5))
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
