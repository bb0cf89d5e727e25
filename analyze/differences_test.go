package analyze

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// The differences are shown when any answer was compared: a section when
// some differed, a line when all agreed; results from before the
// comparison, or with nothing compared, show nothing and write no
// differences CSV.
func TestDifferencesShownWhenCompared(t *testing.T) {
	differed := resultstest.Differing(2000, 10, 32)
	agreed := resultstest.Differing(2000, 10, 32)
	for i := range agreed {
		agreed[i].Diff = ""
	}
	notCompared := resultstest.Synthetic(2000, 10, 32)
	total := func(rows []results.Result) *analysistest.DiffCounts {
		c := analysistest.PlainCounts(rows)[analysis.Key{Name: "Aggregated"}]
		c.Top = ""
		return &c
	}
	// (5 of the 2,000 had a transport error: no answer to compare; 4 of
	// the second 1,000.)
	if c := total(agreed); c.Compared != 1995 || total(agreed[1000:]).Compared != 996 {
		t.Fatalf("the rows are not what this test is about: %+v", c)
	}
	for _, tc := range []struct {
		name    string
		write   func(t *testing.T, dir string) []string
		table   string // under the table, "" for nothing
		html    string
		csv     bool
		json    *analysistest.DiffCounts // the total's, nil: no such fields
		hasDiff bool
	}{
		{"some differed", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			resultstest.WriteResults(t, p, differed)
			return []string{p}
		}, "differences from the recording:\n", "<h2>Differences from the recording</h2>", true, total(differed), true},
		{"all agreed", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			resultstest.WriteResults(t, p, agreed)
			return []string{p}
		}, "answers: 1,995 compared with the recording, all agreed\n", "<p>1,995 answers compared with the recording, all agreed.</p>", true, total(agreed), false},
		{"nothing compared", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			resultstest.WriteResults(t, p, notCompared)
			return []string{p}
		}, "", "", false, nil, false},
		{"before the columns", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "old.parquet")
			oldresults.Write(t, p, differed)
			return []string{p}
		}, "", "", false, nil, false},
		{"old and new shards", func(t *testing.T, dir string) []string {
			old, cur := filepath.Join(dir, "old.parquet"), filepath.Join(dir, "new.parquet")
			oldresults.Write(t, old, agreed[:1000])
			resultstest.WriteResults(t, cur, agreed[1000:])
			return []string{old, cur}
		}, "answers: 996 compared with the recording, all agreed\n", "<p>996 answers compared with the recording, all agreed.</p>", true, total(agreed[1000:]), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var table bytes.Buffer
			res, err := Run(Config{Inputs: tc.write(t, dir), Out: dir, NoDefaults: true, Formats: []string{"json,html,csv"}, Stdout: &table})
			if err != nil {
				t.Fatal(err)
			}
			_, after, _ := strings.Cut(table.String(), "Aggregated")
			_, after, _ = strings.Cut(after, "\n")
			if tc.table == "" && (strings.Contains(after, "recording") || strings.Contains(after, "compared")) || !strings.HasPrefix(after, tc.table) {
				t.Errorf("under the table:\n%s\nwant %q", after, tc.table)
			}
			var page string
			var doc struct {
				Total map[string]any   `json:"total"`
				Names []map[string]any `json:"names"`
			}
			csv := false
			for _, f := range res.Files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasSuffix(f, ".html"):
					page = string(b)
				case strings.HasSuffix(f, ".json"):
					if err := json.Unmarshal(b, &doc); err != nil {
						t.Fatal(err)
					}
				case strings.HasSuffix(f, "_differences.csv"):
					csv = true
					if !strings.HasPrefix(string(b), "Type,Name,Compared,Mismatched,Mismatch rate,Status,Shape,Value,Top difference\r\n") ||
						!strings.Contains(string(b), "\r\n,Aggregated,"+strconv.FormatInt(tc.json.Compared, 10)+",") {
						t.Errorf("differences CSV:\n%s", b)
					}
				}
			}
			if tc.html == "" && strings.Contains(page, "Differences from the recording") || !strings.Contains(page, tc.html) {
				t.Errorf("HTML: want %q", tc.html)
			}
			if csv != tc.csv {
				t.Errorf("differences CSV written: %v", csv)
			}
			for _, row := range append(doc.Names, doc.Total) {
				_, has := row["compared"]
				if has != (tc.json != nil) {
					t.Errorf("JSON %v %v: differences %v", row["method"], row["name"], has)
				}
			}
			if tc.json != nil {
				got := analysistest.DiffCounts{Compared: int64(doc.Total["compared"].(float64)), Status: int64(doc.Total["status_diffs"].(float64)),
					Shape: int64(doc.Total["shape_diffs"].(float64)), Value: int64(doc.Total["value_diffs"].(float64))}
				if got != *tc.json || doc.Total["mismatched"].(float64) != float64(got.Status+got.Shape+got.Value) ||
					doc.Total["mismatch_rate"].(float64) != float64(got.Status+got.Shape+got.Value)/float64(got.Compared) {
					t.Errorf("JSON total: %v, want %+v", doc.Total, tc.json)
				}
				if top := doc.Total["top_diffs"].([]any); len(top) > 0 != tc.hasDiff {
					t.Errorf("JSON top_diffs: %v", top)
				}
			}
		})
	}
}

// A server that answers every request with a 302 where the trace saw a
// 200 passes the seed's thresholds (a 302 is no failure); a
// mismatch_rate threshold fails it and says what happened, in the table,
// the JSON and the JUnit XML.
func TestRedirectingServerFailsMismatchRate(t *testing.T) {
	rows := resultstest.Synthetic(2000, 10, 33)
	for i := range rows {
		r := &rows[i]
		r.Status, r.Error, r.RecordedStatus, r.Compared, r.Diff = 302, "", 200, true, "status 200->302"
		r.LatencyNanos = 20e6
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "redirected.parquet")
	resultstest.WriteResults(t, path, rows)
	verdict := `FAIL mismatch_rate<1%: total mismatch_rate is 100%: 2,000 of 2,000 answers differed from the recording, most often "status 200->302" (2,000)`
	for _, tc := range []struct {
		thresholds []string
		code       int
	}{{nil, ExitPass}, {[]string{"mismatch_rate<1%"}, ExitFail}} {
		var table bytes.Buffer
		res, err := Run(Config{Inputs: []string{path}, Out: t.TempDir(), Thresholds: tc.thresholds, Formats: []string{"json,junit"}, Stdout: &table})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.thresholds, res.Code, tc.code, table.String())
		}
		if !strings.Contains(table.String(), "\n                Aggregated     2,000  2,000 (100.0%)   2,000      0      0  status 200->302 (2,000)\n") {
			t.Errorf("the table's differences:\n%s", table.String())
		}
		if tc.code == ExitPass {
			continue
		}
		if !strings.Contains(table.String(), "\n  "+verdict+"\n") {
			t.Errorf("the table's verdict:\n%s", table.String())
		}
		for _, f := range res.Files {
			b, _ := os.ReadFile(f)
			var want string
			switch {
			case strings.HasSuffix(f, ".json"):
				want = `"detail": "2,000 of 2,000 answers differed from the recording, most often \"status 200-\u003e302\" (2,000)"`
			case strings.HasSuffix(f, ".xml"):
				want = `message="FAIL mismatch_rate&lt;1%: total mismatch_rate is 100%: 2,000 of 2,000 answers differed from the recording, most often &#34;status 200-&gt;302&#34; (2,000)"`
			}
			if !strings.Contains(string(b), want) {
				t.Errorf("%s does not say %s:\n%s", filepath.Base(f), want, b)
			}
		}
	}
}
