package analysis

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/results"
)

// differ compares a row's answer with the recorded one as replay would
// against a server that drifted: the answers of /api/v1/tasks/{id} lost a
// field (several, one time in three), a search now and then returned
// another state, a 404 where the recording had 200, a new task's answer
// has a debug field; GET /api/v1/tasks agrees. A transport error is not
// compared (no answer).
func differ(r *results.Result) {
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

// differing is synthetic rows compared as differ does.
func differing(n int, secs float64, seed uint64) []results.Result {
	rows := synthetic(n, secs, seed)
	for i := range rows {
		rows[i].RecordedStatus = 200
		differ(&rows[i])
	}
	return rows
}

// diffCounts are the figures of differences a route has.
type diffCounts struct {
	compared, status, shape, value int64
	top                            string // TopDiffs(shownDiffs) as "text=count, ..."
}

func countsOf(s *Stats) diffCounts {
	var top []string
	for _, d := range s.TopDiffs(shownDiffs) {
		top = append(top, fmt.Sprintf("%s=%d", d.Diff, d.Count))
	}
	return diffCounts{s.Compared, s.StatusDiffs, s.ShapeDiffs, s.ValueDiffs, strings.Join(top, ", ")}
}

// plainCounts counts the differences of rows per route and in total
// (Aggregated) the plain way: every text, then the three most common.
func plainCounts(rows []results.Result) map[Key]diffCounts {
	family := map[string]int{"status": 0, "missing": 1, "added": 1, "type": 1, "value": 2, "body": 2}
	texts := map[Key]map[string]int64{}
	want := map[Key]diffCounts{}
	for _, r := range rows {
		for _, k := range []Key{{r.Method, r.Name}, {Name: "Aggregated"}} {
			c := want[k]
			if r.Compared {
				c.compared++
			}
			if r.Diff != "" {
				kind, _, _ := strings.Cut(r.Diff, " ")
				*[]*int64{&c.status, &c.shape, &c.value}[family[kind]]++
				if texts[k] == nil {
					texts[k] = map[string]int64{}
				}
				texts[k][strings.TrimSuffix(r.Diff, " (+2 more)")]++
			}
			want[k] = c
		}
	}
	for k, m := range texts {
		var top []string
		for _, text := range slices.SortedFunc(maps.Keys(m), func(x, y string) int { return cmp.Or(cmp.Compare(m[y], m[x]), cmp.Compare(x, y)) })[:3] {
			top = append(top, fmt.Sprintf("%s=%d", text, m[text]))
		}
		c := want[k]
		c.top = strings.Join(top, ", ")
		want[k] = c
	}
	return want
}

// Differences are counted per route and in total, in their three
// families, the same through a results file as row by row; the most
// common are named without their "(+N more)"; a file from before the
// columns has none.
func TestDifferencesPerRoute(t *testing.T) {
	rows := differing(4000, 10, 31)
	want := plainCounts(rows)
	// Each family is there, and each route has differences of its own.
	if w := want[Key{Name: "Aggregated"}]; w.status == 0 || w.shape == 0 || w.value == 0 || w.compared == int64(len(rows)) ||
		!strings.HasPrefix(w.top, "missing $.items[].owner=") || want[Key{"GET", "/api/v1/tasks"}].shape+want[Key{"GET", "/api/v1/tasks"}].value != 0 {
		t.Fatalf("the rows are not what this test is about: %+v", want)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "r.parquet")
	writeResults(t, path, rows)
	fromFile := New(time.Second)
	if err := fromFile.AddFile(path); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.parquet")
	oldresults.Write(t, old, rows)
	fromOld := New(time.Second)
	if err := fromOld.AddFile(old); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rep  *Report
		want map[Key]diffCounts
	}{
		{"row by row", aggregate(rows), want},
		{"from a results file", fromFile.Report(), want},
		{"from a file before the columns", fromOld.Report(), map[Key]diffCounts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range append(tc.rep.Names, tc.rep.Total) {
				if got := countsOf(s); got != tc.want[s.Key] {
					t.Errorf("%v: %+v, want %+v", s.Key, got, tc.want[s.Key])
				}
			}
		})
	}
	w := want[Key{Name: "Aggregated"}]
	if tot := aggregate(rows).Total; tot.Mismatched() != w.status+w.shape+w.value || tot.MismatchRate() != float64(tot.Mismatched())/float64(w.compared) {
		t.Errorf("total mismatched %d, rate %v", tot.Mismatched(), tot.MismatchRate())
	}
}

// What a difference is counted as: its text without "(+N more)", cut
// when long; the family is its first word's.
func TestDiffFamilies(t *testing.T) {
	long := "missing $." + strings.Repeat("é", 100)
	for _, tc := range []struct {
		diff, family, text string
	}{
		{"status 200->302", "status", "status 200->302"},
		{"status 200->302 (+1 more)", "status", "status 200->302"},
		{"type application/json->text/html", "shape", "type application/json->text/html"},
		{"kind json->invalid (+12 more)", "shape", "kind json->invalid"},
		{"missing $.items[].owner", "shape", "missing $.items[].owner"},
		{"added $.debug", "shape", "added $.debug"},
		{"type $.count number->string", "shape", "type $.count number->string"},
		{"class <1K->>=1M", "shape", "class <1K->>=1M"},
		{"value $.state", "value", "value $.state"},
		{"value $.note (+many more)", "value", "value $.note (+many more)"}, // not a count: kept
		{"value $.x (+3 more) (+1 more)", "value", "value $.x (+3 more)"},
		{"body", "value", "body"},
		{"order $.items (+2 more)", "value", "order $.items"}, // a kind newer than this analyze
		{long, "shape", long[:maxDiffLen] + "…"},
		{long[:maxDiffLen+1], "shape", long[:maxDiffLen] + "…"}, // cut between runes, not in one
	} {
		var s Stats
		s.compare(tc.diff)
		family := map[[3]int64]string{{1, 0, 0}: "status", {0, 1, 0}: "shape", {0, 0, 1}: "value"}[[3]int64{s.StatusDiffs, s.ShapeDiffs, s.ValueDiffs}]
		top := s.TopDiffs(shownDiffs)
		if family != tc.family || len(top) != 1 || top[0] != (DiffCount{tc.text, 1}) || s.Compared != 1 {
			t.Errorf("%q: family %q, counted as %v; want %q, %q", tc.diff, family, top, tc.family, tc.text)
		}
	}
	var agreed Stats
	agreed.compare("")
	if agreed.Compared != 1 || agreed.Mismatched() != 0 || agreed.TopDiffs(3) != nil {
		t.Errorf("an answer that agreed: %+v", agreed)
	}
}

// A route whose answers differ in ever new ways (a field named after an
// id) counts a bounded number of texts, and its common differences are
// still the ones shown, with their counts, whether they came first or
// after the flood had begun; a total made of a route of one-off texts
// and a route of common ones shows the common ones.
func TestDiffTextsStayBounded(t *testing.T) {
	n := 20 * keptDiffs
	row := func(name, diff string) *results.Result {
		return &results.Result{Method: "GET", Name: name, Sent: t0, Scheduled: t0, LatencyNanos: 1e6, Status: 200, Compared: true, Diff: diff}
	}
	for _, tc := range []struct {
		name string
		add  func(a *Aggregate)
		want []DiffCount // the total's most common (one-offs follow)
	}{
		{"common from the start", func(a *Aggregate) {
			for i := range n {
				diff := fmt.Sprintf("missing $.users.u%d", i)
				switch i % 4 {
				case 0, 1:
					diff = "value $.state"
				case 2:
					diff = "status 200->302"
				}
				a.Add(row("/u", diff))
			}
		}, []DiffCount{{"value $.state", int64(n / 2)}, {"status 200->302", int64(n / 4)}}},
		{"common after the flood began", func(a *Aggregate) {
			for i := range n {
				diff := fmt.Sprintf("missing $.users.u%d", i)
				if i >= 3*keptDiffs && i%3 == 0 {
					diff = "value $.state"
				}
				a.Add(row("/u", diff))
			}
		}, []DiffCount{{"value $.state", int64((n-3*keptDiffs)/3 + 1)}}}, // every one of them: it was never dropped
		{"a route of one-offs first in the total", func(a *Aggregate) {
			for i := range n {
				a.Add(row("/a", fmt.Sprintf("missing $.users.u%d", i)))
				if i%2 == 0 {
					a.Add(row("/b", "status 200->302"))
				} else if i%10 == 1 {
					a.Add(row("/b", "body"))
				}
			}
		}, []DiffCount{{"status 200->302", int64(n / 2)}, {"body", int64(n / 10)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(time.Second)
			tc.add(a)
			rep := a.Report()
			for _, s := range append(rep.Names, rep.Total) {
				sum := s.otherDiffs
				for _, c := range s.diffs {
					sum += c
				}
				if len(s.diffs) > 2*keptDiffs || s.otherDiffs == 0 && s.Key.Name != "/b" || sum != s.Mismatched() {
					t.Errorf("%v: %d texts, %d others, %d counted of %d", s.Key, len(s.diffs), s.otherDiffs, sum, s.Mismatched())
				}
			}
			if got := rep.Total.TopDiffs(shownDiffs); len(got) != shownDiffs || !slices.Equal(got[:len(tc.want)], tc.want) || got[shownDiffs-1].Count != 1 {
				t.Errorf("most common %v, want %v then one-offs", got, tc.want)
			}
		})
	}
}

// The outputs of a run whose answers differed from the recording are
// golden files (analysis/testdata/golden): the table, the JSON, the HTML
// report and the differences CSV.
func TestDifferencesGoldenOutputs(t *testing.T) {
	rep := aggregate(differing(3000, 20, 11))
	var ths []Threshold
	for _, e := range append(DefaultThresholds, "mismatch_rate<1%", "name=/api/v1/tasks:mismatch_rate<2%") {
		th, _ := ParseThreshold(e)
		ths = append(ths, th)
	}
	vs := Check(rep, ths)
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
		goldenFile(t, filepath.Join("testdata", "golden", tc.name), b.Bytes())
	}
}

// The differences are shown when any answer was compared: a section when
// some differed, a line when all agreed; results from before the
// comparison, or with nothing compared, show nothing and write no
// differences CSV.
func TestDifferencesShownWhenCompared(t *testing.T) {
	differed := differing(2000, 10, 32)
	agreed := differing(2000, 10, 32)
	for i := range agreed {
		agreed[i].Diff = ""
	}
	notCompared := synthetic(2000, 10, 32)
	total := func(rows []results.Result) *diffCounts {
		c := plainCounts(rows)[Key{Name: "Aggregated"}]
		c.top = ""
		return &c
	}
	// (5 of the 2,000 had a transport error: no answer to compare; 4 of
	// the second 1,000.)
	if c := total(agreed); c.compared != 1995 || total(agreed[1000:]).compared != 996 {
		t.Fatalf("the rows are not what this test is about: %+v", c)
	}
	for _, tc := range []struct {
		name    string
		write   func(t *testing.T, dir string) []string
		table   string // under the table, "" for nothing
		html    string
		csv     bool
		json    *diffCounts // the total's, nil: no such fields
		hasDiff bool
	}{
		{"some differed", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			writeResults(t, p, differed)
			return []string{p}
		}, "differences from the recording:\n", "<h2>Differences from the recording</h2>", true, total(differed), true},
		{"all agreed", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			writeResults(t, p, agreed)
			return []string{p}
		}, "answers: 1,995 compared with the recording, all agreed\n", "<p>1,995 answers compared with the recording, all agreed.</p>", true, total(agreed), false},
		{"nothing compared", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "r.parquet")
			writeResults(t, p, notCompared)
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
			writeResults(t, cur, agreed[1000:])
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
						!strings.Contains(string(b), "\r\n,Aggregated,"+count(tc.json.compared)+",") {
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
				got := diffCounts{int64(doc.Total["compared"].(float64)), int64(doc.Total["status_diffs"].(float64)),
					int64(doc.Total["shape_diffs"].(float64)), int64(doc.Total["value_diffs"].(float64)), ""}
				if got != *tc.json || doc.Total["mismatched"].(float64) != float64(got.status+got.shape+got.value) ||
					doc.Total["mismatch_rate"].(float64) != float64(got.status+got.shape+got.value)/float64(got.compared) {
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
	rows := synthetic(2000, 10, 33)
	for i := range rows {
		r := &rows[i]
		r.Status, r.Error, r.RecordedStatus, r.Compared, r.Diff = 302, "", 200, true, "status 200->302"
		r.LatencyNanos = 20e6
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "redirected.parquet")
	writeResults(t, path, rows)
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
