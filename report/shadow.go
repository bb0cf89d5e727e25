package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/replaykit/replaykit/analysis"
)

// writeShadow writes the two targets' figures side by side, the shadow's
// differences from the recording and from the target.
func writeShadow(w io.Writer, rep *analysis.Report) {
	sh, bt := rep.Shadow, rep.Between
	if sh == nil {
		return
	}
	fmt.Fprintln(w, "shadow target (every request sent to it too, at the same time: the same load on both):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Type\tName\t# reqs\ttarget fails\tp50\tp95\tp99\tshadow fails\tp50\tp95\tp99\tanswers differ\t")
	row := func(m, s, b *analysis.Stats) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%.1f\t%.1f\t%.1f\t%s (%.1f%%)\t\n", printable(m.Method), printable(m.Name), m.Requests,
			m.Failures, m.Quantile(50), m.Quantile(95), m.Quantile(99), s.Failures, s.Quantile(50), s.Quantile(95), s.Quantile(99),
			analysis.Thousands(b.Mismatched()), 100*b.MismatchRate())
	}
	for _, m := range rep.Names {
		if s, b := sh.Key(m.Key), bt.Key(m.Key); s != nil && b != nil {
			row(m, s, b)
		}
	}
	row(rep.Total, sh.Total, bt.Total)
	tw.Flush()
	writeDiffs(w, sh, "the shadow's differences from the recording:", "the shadow's answers: %s compared with the recording, all agreed\n")
	writeDiffs(w, bt, "differences between the target and the shadow (the target's answer first):", "the two targets' answers: %s compared, all agreed\n")
}

// jsonShadow is the shadow target's part of the JSON.
type jsonShadow struct {
	Total   jsonStats        `json:"total"`
	Names   []jsonStats      `json:"names"`
	Between *jsonDifferences `json:"differences_between_targets"`
	// BetweenNames are the differences between the targets per route.
	BetweenNames []jsonBetween `json:"names_between_targets"`
}

type jsonBetween struct {
	Method string `json:"method"`
	Name   string `json:"name"`
	*jsonDifferences
}

func shadowJSON(rep *analysis.Report) *jsonShadow {
	sh, bt := rep.Shadow, rep.Between
	if sh == nil {
		return nil
	}
	out := &jsonShadow{Total: statsJSON(sh, sh.Total), Names: []jsonStats{}, Between: differencesJSON(bt.Total), BetweenNames: []jsonBetween{}}
	for _, s := range sh.Names {
		out.Names = append(out.Names, statsJSON(sh, s))
	}
	for _, s := range bt.Names {
		out.BetweenNames = append(out.BetweenNames, jsonBetween{Method: s.Method, Name: s.Name, jsonDifferences: differencesJSON(s)})
	}
	return out
}
