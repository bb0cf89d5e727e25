package analysis

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

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
		top := s.TopDiffs(3)
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
		return &results.Result{Method: "GET", Name: name, Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 1e6, Status: 200, Compared: true, Diff: diff}
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
			if got := rep.Total.TopDiffs(3); len(got) != 3 || !slices.Equal(got[:len(tc.want)], tc.want) || got[3-1].Count != 1 {
				t.Errorf("most common %v, want %v then one-offs", got, tc.want)
			}
		})
	}
}
