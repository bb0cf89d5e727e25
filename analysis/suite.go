package analysis

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/replaykit/replaykit/results"
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
func scenarioReports(rep *Report, files []string, cfg Config, ths []Threshold) (out []*ScenarioReport, note string, err error) {
	if len(rep.Scenarios) < 2 {
		return nil, "", nil
	}
	groups, ok, err := scenarioFiles(files)
	if err != nil || !ok {
		return nil, "files hold rows of several scenarios: no section per scenario", err
	}
	// Thresholds against the baseline judge the whole report: the
	// baseline is compared with it, not with each scenario.
	ths = slices.DeleteFunc(slices.Clone(ths), func(t Threshold) bool { return t.Baseline != nil })
	for _, sc := range rep.Scenarios {
		a := New(cfg.Window)
		if err := a.AddFiles(groups[sc]); err != nil {
			return nil, "", err
		}
		srep := a.Finish()
		if cfg.OneShard {
			srep.MissingShards = nil
		}
		out = append(out, &ScenarioReport{Scenario: sc, Report: srep, Verdicts: Check(srep, ths)})
	}
	return out, "", nil
}

// suiteSummary is the suite's line: "suite: 3 scenarios: 2 passed, 1
// failed (spike_test)".
func suiteSummary(scs []*ScenarioReport) string {
	var failed []string
	for _, s := range scs {
		if !s.Pass() {
			failed = append(failed, s.Scenario)
		}
	}
	line := fmt.Sprintf("suite: %d scenarios: %d passed", len(scs), len(scs)-len(failed))
	if len(failed) > 0 {
		line += fmt.Sprintf(", %d failed (%s)", len(failed), strings.Join(failed, ", "))
	}
	return line
}

// writeScenarios writes each scenario's own section and the summary
// under the whole report's table.
func writeScenarios(w io.Writer, rep *Report) {
	if len(rep.ScenarioReports) == 0 {
		if rep.ScenariosNote != "" {
			fmt.Fprintf(w, "scenarios: %s\n", rep.ScenariosNote)
		}
		return
	}
	for _, s := range rep.ScenarioReports {
		fmt.Fprintf(w, "\n== scenario %s ==\n", printable(s.Scenario))
		WriteTable(w, s.Report, s.Verdicts)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, printable(suiteSummary(rep.ScenarioReports)))
}

// jsonScenario is one scenario's section of {run}.json.
type jsonScenario struct {
	Scenario string        `json:"scenario"`
	Runs     []string      `json:"runs"`
	RunTimeS float64       `json:"run_time_s"`
	Total    jsonStats     `json:"total"`
	Names    []jsonStats   `json:"names"`
	Failures []Failure     `json:"failures"`
	Problems []string      `json:"incomplete,omitempty"`
	Verdicts []jsonVerdict `json:"thresholds"`
	Pass     bool          `json:"pass"`
}

func scenariosJSON(rep *Report) []jsonScenario {
	var out []jsonScenario
	for _, s := range rep.ScenarioReports {
		j := jsonScenario{Scenario: s.Scenario, Runs: s.Report.Runs, RunTimeS: s.Report.RateDuration().Seconds(), Total: statsJSON(s.Report, s.Report.Total),
			Names: []jsonStats{}, Failures: s.Report.Failures, Problems: s.Report.Problems(), Verdicts: verdictsJSON(s.Verdicts), Pass: s.Pass()}
		for _, n := range s.Report.Names {
			j.Names = append(j.Names, statsJSON(s.Report, n))
		}
		out = append(out, j)
	}
	return out
}

func verdictsJSON(vs []Verdict) []jsonVerdict {
	out := []jsonVerdict{}
	for _, v := range vs {
		out = append(out, jsonVerdict{Threshold: v.Expr, Name: v.Name, Metric: v.Metric, Limit: v.Value,
			Actual: v.Actual, Pass: v.Pass, Missing: v.Missing, Detail: v.Detail})
	}
	return out
}

// scenariosPass says every scenario passes (true without sections).
func scenariosPass(rep *Report) bool {
	return !slices.ContainsFunc(rep.ScenarioReports, func(s *ScenarioReport) bool { return !s.Pass() })
}
