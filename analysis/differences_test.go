package analysis

import (
	"fmt"
	"math/rand/v2"
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
		a := New(time.Second)
		a.Add(&results.Result{Method: "GET", Name: "/x", Sent: resultstest.T0, Scheduled: resultstest.T0, Status: 200, Compared: true, Diff: tc.diff})
		s := a.Report().Total
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
// id) counts its texts exactly up to the bound, and past it a sample
// chosen by hash: bounded, and the same figures whatever the order of
// the rows and however they are split among aggregates merged.
func TestDiffTextsStayBounded(t *testing.T) {
	const n = 4000
	var rows []results.Result
	for i := range n {
		diff := fmt.Sprintf("missing $.users.u%d", i)
		switch i % 4 {
		case 0:
			diff = "value $.state"
		case 1:
			diff = "status 200->302"
		}
		name := "/u"
		if i%5 == 0 {
			name = "/v"
		}
		rows = append(rows, results.Result{Method: "GET", Name: name, Sent: resultstest.T0, Scheduled: resultstest.T0, LatencyNanos: 1e6,
			Status: 200, Compared: true, Diff: diff})
	}
	texts := func(rep *Report) string {
		var b strings.Builder
		for _, s := range append(rep.Names, rep.Total) {
			fmt.Fprintf(&b, "%v %d %v\n", s.Key, len(s.diffs), s.TopDiffs(len(s.diffs)))
		}
		return b.String()
	}
	// limit 0: the bound itself, which these rows stay under.
	for _, limit := range []int{0, 500} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			fresh := func() *Aggregate {
				a := New(time.Second)
				if limit > 0 {
					a.diffs.limit = limit
				}
				return a
			}
			var first string
			for seed := range uint64(4) {
				order := slices.Clone(rows)
				rand.New(rand.NewPCG(seed, 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				parts := []*Aggregate{fresh(), fresh(), fresh()}
				for i := range order {
					parts[i%(1+int(seed%3))].Add(&order[i])
				}
				a := parts[0]
				a.Merge(parts[1])
				a.Merge(parts[2])
				rep := a.Report()
				if got := texts(rep); first == "" {
					first = got
				} else if got != first {
					t.Fatalf("seed %d: the texts counted depend on the order of the rows", seed)
				}
				var pairs int
				for _, s := range rep.Names {
					pairs += len(s.diffs)
				}
				switch {
				case limit == 0 && pairs != 2+2+n/2: // two common texts on each route, every one-off
					t.Errorf("%d texts counted, want every one of them", pairs)
				case limit > 0 && (pairs > limit || pairs < limit/4):
					t.Errorf("%d texts counted past a bound of %d", pairs, limit)
				}
				if top := rep.Total.TopDiffs(2); limit == 0 && (len(top) != 2 || top[0] != (DiffCount{"status 200->302", n / 4}) || top[1] != (DiffCount{"value $.state", n / 4})) {
					t.Errorf("the most common %v", top)
				}
			}
		})
	}
}
