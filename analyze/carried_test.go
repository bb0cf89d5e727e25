package analyze

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// Carried and not carried values are summed per route and in total from
// the files that have the columns; a file written before them analyzes as
// before: zeros in the JSON, no line under the table, no HTML column.
func TestCarriedSumsPerRoute(t *testing.T) {
	rows := resultstest.Synthetic(4000, 10, 21)
	for i := range rows {
		resultstest.Carry(&rows[i])
	}
	noLinks := resultstest.Synthetic(4000, 10, 21) // replay --no-correlate: the columns, all 0
	type sums struct{ carried, notCarried int64 }
	want := func(rs ...[]results.Result) map[analysis.Key]sums {
		m := map[analysis.Key]sums{}
		for _, part := range rs {
			for _, r := range part {
				k := analysis.Key{Method: r.Method, Name: r.Name}
				m[k] = sums{m[k].carried + int64(r.Carried), m[k].notCarried + int64(r.NotCarried)}
			}
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, dir string) []string
		want  map[analysis.Key]sums
		line  string // under the table, "" for none
	}{
		{"before the columns", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "old.parquet")
			oldresults.Write(t, p, rows)
			return []string{p}
		}, nil, ""},
		{"with the columns", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "new.parquet")
			resultstest.WriteResults(t, p, rows)
			return []string{p}
		}, want(rows), "values carried: 2,993 (12 not carried: their source did not answer as recorded or lacked the value, so the recorded one went)\n"},
		{"all carried", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "new.parquet")
			resultstest.WriteResults(t, p, rows[:100])
			return []string{p}
		}, want(rows[:100]), "values carried: 72\n"},
		{"no links", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "none.parquet")
			resultstest.WriteResults(t, p, noLinks)
			return []string{p}
		}, nil, ""},
		{"old and new shards", func(t *testing.T, dir string) []string {
			old, cur := filepath.Join(dir, "old.parquet"), filepath.Join(dir, "new.parquet")
			oldresults.Write(t, old, rows[:2000])
			resultstest.WriteResults(t, cur, rows[2000:])
			return []string{old, cur}
		}, want(rows[2000:]), "values carried: 1,495 (5 not carried: their source did not answer as recorded or lacked the value, so the recorded one went)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var table bytes.Buffer
			res, err := Run(Config{Inputs: tc.write(t, dir), Out: dir, NoDefaults: true, Formats: []string{"json,html,csv"}, Stdout: &table})
			if err != nil {
				t.Fatal(err)
			}
			var total sums
			for _, s := range tc.want {
				total = sums{total.carried + s.carried, total.notCarried + s.notCarried}
			}
			for _, s := range res.Report.Names {
				if got := (sums{s.Carried, s.NotCarried}); got != tc.want[s.Key] {
					t.Errorf("%v: %+v, want %+v", s.Key, got, tc.want[s.Key])
				}
			}
			if got := (sums{res.Report.Total.Carried, res.Report.Total.NotCarried}); got != total {
				t.Errorf("total %+v, want %+v", got, total)
			}

			var doc struct {
				Total *struct {
					Carried    *int64 `json:"carried"`
					NotCarried *int64 `json:"not_carried"`
				} `json:"total"`
				Names []struct {
					Method     string `json:"method"`
					Name       string `json:"name"`
					Carried    *int64 `json:"carried"`
					NotCarried *int64 `json:"not_carried"`
				} `json:"names"`
			}
			var page, stats string
			for _, f := range res.Files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasSuffix(f, ".json"):
					if err := json.Unmarshal(b, &doc); err != nil {
						t.Fatal(err)
					}
				case strings.HasSuffix(f, ".html"):
					page = string(b)
				case strings.HasSuffix(f, "_stats.csv"):
					stats = string(b)
				}
			}
			if doc.Total == nil || doc.Total.Carried == nil || doc.Total.NotCarried == nil || (sums{*doc.Total.Carried, *doc.Total.NotCarried}) != total {
				t.Errorf("json total: %+v, want %+v", doc.Total, total)
			}
			if len(doc.Names) != len(res.Report.Names) {
				t.Fatalf("json: %d names, want %d", len(doc.Names), len(res.Report.Names))
			}
			for _, n := range doc.Names {
				w := tc.want[analysis.Key{Method: n.Method, Name: n.Name}]
				if n.Carried == nil || n.NotCarried == nil || (sums{*n.Carried, *n.NotCarried}) != w {
					t.Errorf("json %s %s: carried %v, not_carried %v, want %+v", n.Method, n.Name, n.Carried, n.NotCarried, w)
				}
			}

			_, after, _ := strings.Cut(table.String(), "Aggregated")
			_, after, _ = strings.Cut(after, "\n")
			if got := strings.Contains(table.String(), "values carried"); got != (tc.line != "") || !strings.HasPrefix(after, tc.line) {
				t.Errorf("under the table:\n%s\nwant %q", after, tc.line)
			}
			if got := strings.Contains(page, ">Carried</th>"); got != (total != sums{}) {
				t.Errorf("HTML Carried column shown: %v", got)
			}
			if strings.Contains(stats, "arried") {
				t.Error("the Locust stats CSV names carried values: it must keep Locust's columns")
			}
		})
	}
}

// A file written before the carried columns gives every output the same
// rows with the columns at 0 give.
func TestResultsBeforeLinksAnalyzeAsBefore(t *testing.T) {
	rows := resultstest.Synthetic(3000, 10, 22)
	dir := t.TempDir()
	old, cur := filepath.Join(dir, "old", "r.parquet"), filepath.Join(dir, "new", "r.parquet")
	os.MkdirAll(filepath.Dir(old), 0o700)
	os.MkdirAll(filepath.Dir(cur), 0o700)
	oldresults.Write(t, old, rows)
	resultstest.WriteResults(t, cur, rows)
	outputs := func(in string) (map[string]string, string) {
		var table bytes.Buffer
		res, err := Run(Config{Inputs: []string{in}, Out: t.TempDir(), Formats: []string{"csv,json,junit,html"}, Stdout: &table})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range res.Files {
			b, _ := os.ReadFile(f)
			m[filepath.Base(f)] = resultstest.RegexpGenerated(string(b))
		}
		return m, table.String()
	}
	a, at := outputs(old)
	b, bt := outputs(cur)
	if len(a) != 6 || at != bt {
		t.Errorf("%d outputs; tables:\n%s\n%s", len(a), at, bt)
	}
	for name, content := range a {
		if b[name] != content {
			t.Errorf("%s differs between a file before the carried columns and one with them at 0", name)
		}
	}
}
