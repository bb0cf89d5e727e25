package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/regress"
)

// writeBaseline writes the comparison with the baseline: the total's
// figures, then the names found worse or better, at most ten of each.
func writeBaseline(w io.Writer, c *analysis.Comparison) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "against the baseline %s (%.0f%% intervals; %d names in both", printable(strings.Join(c.Runs, ", ")), c.Level*100, len(c.Names))
	if c.OnlyRun > 0 || c.OnlyBase > 0 {
		fmt.Fprintf(w, ", %d only in this run, %d only in the baseline", c.OnlyRun, c.OnlyBase)
	}
	fmt.Fprintln(w, "):")
	for _, n := range c.Notes {
		fmt.Fprintf(w, "  NOTE: %s\n", printable(n))
	}
	for _, ch := range c.Total.Changes {
		fmt.Fprintf(w, "  total %s\n", analysis.ChangeText(&ch))
	}
	counts := map[regress.Verdict]int{}
	for _, v := range []regress.Verdict{regress.Worse, regress.Better} {
		shown := 0
		for _, n := range c.Names {
			for _, ch := range n.Changes {
				if ch.Verdict != v {
					continue
				}
				if counts[v]++; shown < 10 {
					shown++
					fmt.Fprintf(w, "  %s %s %s\n", printable(n.Method), printable(n.Name), analysis.ChangeText(&ch))
				}
			}
		}
		if counts[v] > shown {
			fmt.Fprintf(w, "  ... %d more figures %s (the JSON has them all)\n", counts[v]-shown, v)
		}
	}
	if counts[regress.Worse]+counts[regress.Better] == 0 && len(c.Names) > 0 {
		fmt.Fprintln(w, "  no name's figure changed detectably")
	}
}

// jsonChange is a regress.Change; bounds that are not numbers (too few
// requests, a zero baseline) are null.
type jsonChange struct {
	Figure  string   `json:"figure"`
	Base    float64  `json:"base"`
	Now     float64  `json:"now"`
	Abs     float64  `json:"change"`
	Rel     *float64 `json:"relative"`
	Lo      *float64 `json:"low"`
	Hi      *float64 `json:"high"`
	RelLo   *float64 `json:"relative_low"`
	RelHi   *float64 `json:"relative_high"`
	Verdict string   `json:"verdict"`
}

type jsonNameChanges struct {
	Method  string       `json:"method,omitempty"`
	Name    string       `json:"name"`
	Changes []jsonChange `json:"changes"`
}

type jsonComparison struct {
	Runs      []string          `json:"runs"`
	Scenarios []string          `json:"scenarios"`
	Level     float64           `json:"level"`
	Method    string            `json:"method"`
	Notes     []string          `json:"notes,omitempty"`
	OnlyRun   int               `json:"names_only_in_run"`
	OnlyBase  int               `json:"names_only_in_baseline"`
	Total     jsonNameChanges   `json:"total"`
	Names     []jsonNameChanges `json:"names"`
}

// baselineMethod says how the intervals were made, for a reader of the
// JSON.
const baselineMethod = "percentiles: bootstrap over the HDR histograms (seeded by the name); avg: t intervals combined by MOVER; error_rate: Newcombe's hybrid score interval; verdicts need the whole interval on one side of zero (package regress)"

func comparisonJSON(c *analysis.Comparison) *jsonComparison {
	if c == nil {
		return nil
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	names := func(n *analysis.NameChanges) jsonNameChanges {
		out := jsonNameChanges{Method: n.Method, Name: n.Name, Changes: []jsonChange{}}
		for _, ch := range n.Changes {
			out.Changes = append(out.Changes, jsonChange{Figure: ch.Figure, Base: ch.Base, Now: ch.Now, Abs: ch.Abs, Rel: num(ch.Rel),
				Lo: num(ch.Lo), Hi: num(ch.Hi), RelLo: num(ch.RelLo), RelHi: num(ch.RelHi), Verdict: ch.Verdict.String()})
		}
		return out
	}
	out := &jsonComparison{Runs: c.Runs, Scenarios: c.Scenarios, Level: c.Level, Method: baselineMethod, Notes: c.Notes,
		OnlyRun: c.OnlyRun, OnlyBase: c.OnlyBase, Total: names(c.Total), Names: []jsonNameChanges{}}
	for _, n := range c.Names {
		out.Names = append(out.Names, names(n))
	}
	return out
}
