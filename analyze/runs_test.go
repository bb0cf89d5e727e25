package analyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// Runs merged have rates over the time they ran, never the gaps between
// them: two runs a day apart are not 0.0 requests/s over 24 hours.
func TestMergedRunsRatesAreOverTheirOwnDurations(t *testing.T) {
	dir := t.TempDir()
	a := resultstest.Steady("light_load_20261128T100000Z", 6000, resultstest.T0, time.Minute)                                     // 100/s for a minute
	b := resultstest.Steady("light_load_20261129T100000Z", 3000, resultstest.T0.Add(24*time.Hour), 30*time.Second)                // 100/s for 30 s, a day later
	c := resultstest.Steady("light_load_20261129T100010Z", 1000, resultstest.T0.Add(24*time.Hour+10*time.Second), 10*time.Second) // beside b
	for name, rows := range map[string][]results.Result{"a": a, "b": b, "c": c} {
		resultstest.WriteResults(t, filepath.Join(dir, name+".parquet"), rows)
	}
	var table bytes.Buffer
	res, err := Run(Config{Inputs: []string{filepath.Join(dir, "*.parquet")}, Out: dir, Formats: []string{"json"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	// a ran 60 s, b and c together 30 s: 90 s of running time.
	wantActive := 90 * time.Second
	if d := rep.Active - wantActive; d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Errorf("running time %v, want about %v", rep.Active, wantActive)
	}
	if rps := rep.RPS(rep.Total); math.Abs(rps-10000/rep.Active.Seconds()) > 1e-9 || rps < 100 {
		t.Errorf("rps %.2f over %v", rps, rep.Active)
	}
	for _, v := range res.Verdicts {
		if v.Metric == "rps" && !v.Pass {
			t.Errorf("%s: the gap counted", v)
		}
	}
	if len(rep.RunSpans) != 3 || rep.RunSpans[0].Requests != 6000 || math.Abs(rep.RunSpans[0].RPS()-100) > 0.1 {
		t.Errorf("runs %+v", rep.RunSpans)
	}
	first, _, _ := strings.Cut(table.String(), "\n")
	if !strings.Contains(first, "10000 requests in 1m30") || !strings.Contains(first, "of running time (3 runs") || !strings.Contains(table.String(), "  light_load_20261128T100000Z: 6000 requests in 1m0") {
		t.Errorf("table:\n%s", table.String())
	}
	var out struct {
		RunTime float64 `json:"run_time_s"`
		Runs    []struct {
			Run string  `json:"run"`
			RPS float64 `json:"rps"`
		} `json:"runs_detail"`
		Total struct {
			RPS float64 `json:"rps"`
		} `json:"total"`
	}
	if err := json.Unmarshal(resultstest.ReadFile(t, res.Files[0]), &out); err != nil {
		t.Fatal(err)
	}
	if math.Abs(out.RunTime-rep.Active.Seconds()) > 1e-9 || len(out.Runs) != 3 || math.Abs(out.Total.RPS-rep.RPS(rep.Total)) > 1e-9 {
		t.Errorf("json: %+v", out)
	}
}

// When one output cannot be written, none is replaced and no temporary
// file is left.
func TestOutputsReplacedTogether(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"r.json", "r_junit.xml", "other_junit.xml"} {
		os.WriteFile(filepath.Join(dir, f), []byte("old"), 0o600)
	}
	ok := func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }
	broken := func(w io.Writer) error { return errors.New("json: unsupported value: +Inf") }
	if err := writeOutputs(dir, "r", []output{{".html", ok}, {".json", broken}}); err == nil {
		t.Fatal("no error")
	}
	files := func() string {
		var out []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			out = append(out, e.Name()+"="+string(resultstest.ReadFile(t, filepath.Join(dir, e.Name()))))
		}
		return strings.Join(out, " ")
	}
	if got := files(); got != "other_junit.xml=old r.json=old r_junit.xml=old" {
		t.Errorf("after a failed write: %s", got)
	}
	if err := writeOutputs(dir, "r", []output{{".html", ok}, {".json", ok}}); err != nil {
		t.Fatal(err)
	}
	if got := files(); got != "other_junit.xml=old r.html=new r.json=new" {
		t.Errorf("after a write: %s", got)
	}
}

// An unsharded run has no shards (not "shards 0"); a baseline of another
// scenario is compared with a note, in the table and the JSON.
func TestShardsAndBaselineFacts(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "light.parquet")
	resultstest.WriteResults(t, one, resultstest.Steady("light_load_20261128T100000Z", 1000, resultstest.T0, 10*time.Second))
	spike := resultstest.Steady("spike_test_20261127T100000Z", 1000, resultstest.T0.Add(-24*time.Hour), 10*time.Second)
	for i := range spike {
		spike[i].Scenario = "spike_test"
	}
	other := filepath.Join(dir, "spike.parquet")
	resultstest.WriteResults(t, other, spike)
	same := filepath.Join(dir, "light_before.parquet")
	resultstest.WriteResults(t, same, resultstest.Steady("light_load_20261127T100000Z", 1000, resultstest.T0.Add(-24*time.Hour), 10*time.Second))
	const note = "the baseline is of scenario spike_test, this run of light_load"
	for _, tc := range []struct {
		baseline string
		noted    bool
	}{
		{"", false},
		{same, false},
		{other, true},
	} {
		var table bytes.Buffer
		cfg := Config{Inputs: []string{one}, Out: t.TempDir(), Formats: []string{"json"}, Stdout: &table}
		if tc.baseline != "" {
			cfg.Baseline = []string{tc.baseline}
		}
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Report.Shards) != 0 {
			t.Errorf("shards %v for an unsharded run", res.Report.Shards)
		}
		js := resultstest.ReadFile(t, res.Files[0])
		var out struct {
			Shards []int32 `json:"shards"`
		}
		if err := json.Unmarshal(js, &out); err != nil {
			t.Fatal(err)
		}
		if out.Shards == nil || len(out.Shards) != 0 {
			t.Errorf("json shards %v", out.Shards)
		}
		if strings.Contains(string(js), note) != tc.noted || strings.Contains(table.String(), note) != tc.noted {
			t.Errorf("baseline %q: noted %v:\n%s", tc.baseline, !tc.noted, table.String())
		}
	}
}
