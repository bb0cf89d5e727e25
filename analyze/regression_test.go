package analyze

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/internal/resultstest"
)

// analyze --baseline: the terminal says what changed, the JSON has every
// name's changes with null where a bound is no number (too few requests:
// NaN would break the encoder), and a threshold against the baseline
// without --baseline is bad usage.
func TestBaselineOutputs(t *testing.T) {
	dir := t.TempDir()
	now, base := filepath.Join(dir, "now.parquet"), filepath.Join(dir, "base.parquet")
	rows := resultstest.Shifted(8000, 2, 1.3)
	few := rows[0]
	few.Name, few.Method = "/only/a/few", "GET"
	rows = append(rows, few, few)
	resultstest.WriteResults(t, now, rows)
	brows := resultstest.Shifted(8000, 1, 1)
	brows = append(brows, few)
	resultstest.WriteResults(t, base, brows)
	var out bytes.Buffer
	res, err := Run(Config{Inputs: []string{now}, Baseline: []string{base}, Formats: []string{"json"}, Thresholds: []string{"p95<baseline+10%"},
		NoDefaults: true, Out: dir, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != ExitFail {
		t.Errorf("+30%% against p95<baseline+10%%: exit %d\n%s", res.Code, out.String())
	}
	for _, want := range []string{"against the baseline light_load_20261128T100000Z (99% intervals; 5 names in both):",
		"total p95 ", ": worse", "FAIL p95<baseline+10%: total p95 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal lacks %q:\n%s", want, out.String())
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "light_load_20261128T100000Z.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Baseline struct {
			Level float64
			Names []struct {
				Name    string
				Changes []struct {
					Figure  string
					Low     *float64
					Verdict string
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range doc.Baseline.Names {
		if n.Name == "/only/a/few" {
			found = true
			if len(n.Changes) != 5 || n.Changes[1].Low != nil || n.Changes[1].Verdict != "too few requests to tell" {
				t.Errorf("a name of 2 requests: %+v", n.Changes)
			}
		}
	}
	if doc.Baseline.Level != 0.99 || len(doc.Baseline.Names) != 5 || !found {
		t.Errorf("JSON baseline: %+v", doc.Baseline)
	}
	if _, err := Run(Config{Inputs: []string{now}, Formats: []string{"json"}, Thresholds: []string{"p95<baseline+10%"}, Out: dir}); err == nil ||
		!strings.Contains(err.Error(), "give --baseline") {
		t.Errorf("a baseline threshold without --baseline: %v", err)
	}
}
