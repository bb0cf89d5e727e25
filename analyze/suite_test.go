package analyze

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
)

// A suite merged (replay --all) gives each scenario its own section and
// verdicts, and a summary; a scenario that fails its own thresholds
// fails the analysis, even when the figures lumped together pass.
func TestSuiteHasASectionPerScenario(t *testing.T) {
	dir := t.TempDir()
	light := resultstest.Steady("light_load_20261128T100000Z", 6000, resultstest.T0, time.Minute)
	spike := resultstest.Steady("spike_test_20261128T100200Z", 200, resultstest.T0.Add(2*time.Minute), 10*time.Second) // 20 requests/s
	for i := range spike {
		spike[i].Scenario = "spike_test"
	}
	resultstest.WriteResults(t, filepath.Join(dir, "light.parquet"), light)
	resultstest.WriteResults(t, filepath.Join(dir, "spike.parquet"), spike)
	var table bytes.Buffer
	res, err := Run(Config{Inputs: []string{filepath.Join(dir, "*.parquet")}, Out: dir, Formats: []string{"json,junit"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != ExitFail {
		t.Errorf("exit %d: spike_test fails rps>50 on its own", res.Code)
	}
	for _, v := range res.Verdicts {
		if !v.Pass {
			t.Errorf("lumped: %s", v)
		}
	}
	scs := res.Report.ScenarioReports
	if len(scs) != 2 || scs[0].Scenario != "light_load" || !scs[0].Pass() || scs[1].Scenario != "spike_test" || scs[1].Pass() ||
		scs[1].Report.Total.Requests != 200 {
		t.Fatalf("sections %+v", scs)
	}
	got := table.String()
	for _, want := range []string{"\n== scenario light_load ==\nlight_load_20261128T100000Z: 6000 requests", "\n== scenario spike_test ==\n",
		"FAIL rps>50: total rps is 20", "\nsuite: 2 scenarios: 1 passed, 1 failed (spike_test)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	var out struct {
		Sections []struct {
			Scenario string `json:"scenario"`
			Pass     bool   `json:"pass"`
			Total    struct {
				Requests int64 `json:"requests"`
			} `json:"total"`
			Verdicts []struct {
				Pass bool `json:"pass"`
			} `json:"thresholds"`
		} `json:"scenarios_detail"`
		Suite string `json:"suite"`
		Pass  bool   `json:"pass"`
	}
	if err := json.Unmarshal(resultstest.ReadFile(t, filepath.Join(dir, "light_load_20261128T100000Z_and_1_more.json")), &out); err != nil {
		t.Fatal(err)
	}
	if out.Pass || len(out.Sections) != 2 || !out.Sections[0].Pass || out.Sections[1].Pass || out.Sections[1].Total.Requests != 200 ||
		len(out.Sections[1].Verdicts) != len(analysis.DefaultThresholds) || out.Suite != "suite: 2 scenarios: 1 passed, 1 failed (spike_test)" {
		t.Errorf("json %+v", out)
	}
	var junit struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Failures int    `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(resultstest.ReadFile(t, filepath.Join(dir, "light_load_20261128T100000Z_and_1_more_junit.xml")), &junit); err != nil {
		t.Fatal(err)
	}
	if len(junit.Suites) != 3 || junit.Suites[1].Failures != 0 || junit.Suites[2].Failures != 1 || !strings.Contains(junit.Suites[2].Name, "scenario spike_test") {
		t.Errorf("junit %+v", junit)
	}
	// And the whole of each output, as golden files.
	golden := func(name string, got []byte) {
		t.Helper()
		resultstest.GoldenFile(t, filepath.Join("..", "testdata", "golden", name), got)
	}
	golden("suite_table.txt", []byte(got))
	golden("suite.json", resultstest.ReadFile(t, filepath.Join(dir, "light_load_20261128T100000Z_and_1_more.json")))
	golden("suite_junit.xml", resultstest.ReadFile(t, filepath.Join(dir, "light_load_20261128T100000Z_and_1_more_junit.xml")))
}

// A file holding rows of two scenarios gets no sections, and says so.
func TestSuiteInOneFile(t *testing.T) {
	dir := t.TempDir()
	rows := resultstest.Steady("light_load_20261128T100000Z", 2000, resultstest.T0, 10*time.Second)
	for i := range rows {
		if i%2 == 0 {
			rows[i].Scenario, rows[i].Run = "spike_test", "spike_test_20261128T100000Z"
		}
	}
	resultstest.WriteResults(t, filepath.Join(dir, "both.parquet"), rows)
	var table bytes.Buffer
	res, err := Run(Config{Inputs: []string{filepath.Join(dir, "both.parquet")}, Out: dir, Formats: []string{"json"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.ScenarioReports) != 0 || !strings.Contains(table.String(), "scenarios: files hold rows of several scenarios") {
		t.Errorf("table:\n%s", table.String())
	}
}
