package analysis

import (
	"slices"
)

// A whole suite (replay --all) merged is several scenarios in one report:
// the figures of all of them lumped together judge none of them. Each
// scenario then gets its own figures and verdicts too, and the suite a
// summary: it passes when every scenario passes.
// ScenarioReport is one scenario's figures and verdicts within a report
// of several.
type ScenarioReport struct {
	// Scenario is its name; Report its figures alone; Verdicts the
	// thresholds checked on them.
	Scenario string
	Report   *Report
	Verdicts []Verdict
}

// Pass says every threshold of the scenario holds and its run is whole.
func (s *ScenarioReport) Pass() bool {
	for _, v := range s.Verdicts {
		if !v.Pass {
			return false
		}
	}
	return len(s.Report.Problems()) == 0
}

// ScenariosPass says every scenario passes (true without sections).
func (r *Report) ScenariosPass() bool {
	return !slices.ContainsFunc(r.ScenarioReports, func(s *ScenarioReport) bool { return !s.Pass() })
}
