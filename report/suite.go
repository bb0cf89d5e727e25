package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/replaykit/replaykit/analysis"
)

// suiteSummary is the suite's line: "suite: 3 scenarios: 2 passed, 1
// failed (spike_test)".
func suiteSummary(scs []*analysis.ScenarioReport) string {
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
func writeScenarios(w io.Writer, rep *analysis.Report) {
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
	Scenario string             `json:"scenario"`
	Runs     []string           `json:"runs"`
	RunTimeS float64            `json:"run_time_s"`
	Total    jsonStats          `json:"total"`
	Names    []jsonStats        `json:"names"`
	Failures []analysis.Failure `json:"failures"`
	Problems []string           `json:"incomplete,omitempty"`
	Verdicts []jsonVerdict      `json:"thresholds"`
	Pass     bool               `json:"pass"`
}

func scenariosJSON(rep *analysis.Report) []jsonScenario {
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

func verdictsJSON(vs []analysis.Verdict) []jsonVerdict {
	out := []jsonVerdict{}
	for _, v := range vs {
		out = append(out, jsonVerdict{Threshold: v.Expr, Name: v.Name, Metric: v.Metric, Limit: v.Value,
			Actual: v.Actual, Pass: v.Pass, Missing: v.Missing, Detail: v.Detail})
	}
	return out
}
