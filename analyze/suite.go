package analyze

import (
	"slices"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
)

// scenarioFiles groups files by the scenario their rows belong to; false
// when a file holds several scenarios (or its column says not which).
func scenarioFiles(files []string) (map[string][]string, bool, error) {
	out := map[string][]string{}
	for _, p := range files {
		f, err := results.Open(p)
		if err != nil {
			return nil, false, err
		}
		seen := map[string]bool{}
		one, err := results.Distinct(f, "scenario", 1, seen)
		f.Close()
		if err != nil || !one {
			return nil, false, err
		}
		for s := range seen {
			out[s] = append(out[s], p)
		}
	}
	return out, true, nil
}

// scenarioReports reads each scenario's files on their own and checks
// ths on each; nil when rep has one scenario, or files mix them (note
// says so).
func scenarioReports(rep *analysis.Report, files []string, cfg Config, ths []analysis.Threshold) (out []*analysis.ScenarioReport, note string, err error) {
	if len(rep.Scenarios) < 2 {
		return nil, "", nil
	}
	groups, ok, err := scenarioFiles(files)
	if err != nil || !ok {
		return nil, "files hold rows of several scenarios: no section per scenario", err
	}
	// Thresholds against the baseline judge the whole report: the
	// baseline is compared with it, not with each scenario.
	ths = slices.DeleteFunc(slices.Clone(ths), func(t analysis.Threshold) bool { return t.Baseline != nil })
	for _, sc := range rep.Scenarios {
		a := analysis.New(cfg.Window)
		if err := a.AddFiles(groups[sc]); err != nil {
			return nil, "", err
		}
		srep := a.Finish()
		if cfg.OneShard {
			srep.MissingShards = nil
		}
		out = append(out, &analysis.ScenarioReport{Scenario: sc, Report: srep, Verdicts: analysis.Check(srep, ths)})
	}
	return out, "", nil
}
