package analysis

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/regress"
	"github.com/replaykit/replaykit/results"
)

func TestParseBaselineThreshold(t *testing.T) {
	for _, tc := range []struct {
		expr      string
		metric    string
		allowance float64
		relative  bool
	}{
		{"p95<baseline+10%", "p95", 0.10, true},
		{"p95 < baseline + 10%", "p95", 0.10, true},
		{"name=/api/v1/tasks:error_rate<baseline+0.5%", "error_rate", 0.005, false},
		{"avg<=baseline+50ms", "avg", 50, false},
		{"median<baseline+1s", "median", 1000, false},
		{"p99.9<Baseline", "p99.9", 0, false},
		{"error_rate<baseline", "error_rate", 0, false},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if b := th.Baseline; b == nil || th.Metric != tc.metric || b.Allowance != tc.allowance || b.Relative != tc.relative {
			t.Errorf("%q: %+v %+v", tc.expr, th, th.Baseline)
		}
	}
	for _, expr := range []string{"rps<baseline", "availability<baseline+1%", "max<baseline", "lateness_p99<baseline",
		"mismatch_rate<baseline", "p95>baseline", "p95>=baseline+10%", "p95<baseline-10%", "p95<baseline+", "p95<baseline+x",
		"error_rate<baseline+1", "error_rate<baseline+101%", "p95<baseline+inf%", "p95<baseline+NaN%", "p95<baseline+10%,abort",
		"p95<baselines", "p95<baseline+-5%"} {
		if th, err := ParseThreshold(expr); err == nil {
			t.Errorf("%q parsed: %+v", expr, th)
		}
	}
}

// shifted is synthetic rows with every latency scaled by f.
func shifted(n int, seed uint64, f float64) []results.Result {
	rows := synthetic(n, 60, seed)
	for i := range rows {
		rows[i].LatencyNanos = int64(float64(rows[i].LatencyNanos) * f)
	}
	return rows
}

// Against a baseline from the same distribution, nothing fails; +20% on
// every latency fails p95<baseline+10% and is worse; +5% does not fail
// it; three requests tell nothing.
func TestBaselineVerdicts(t *testing.T) {
	base := aggregate(shifted(20_000, 1, 1))
	ths := []Threshold{}
	for _, e := range []string{"p95<baseline+10%", "avg<baseline+10%", "p99<baseline+10%", "error_rate<baseline+0.5%", "name=/api/v1/search:p95<baseline+10%"} {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	for _, tc := range []struct {
		name    string
		rows    []results.Result
		want    string          // the latency thresholds' verdicts: "PASS", "FAIL", or "" either
		verdict regress.Verdict // of the total's p95; -1: either
	}{
		{"same distribution", shifted(20_000, 2, 1), "PASS", regress.NoChange},
		{"+5%", shifted(20_000, 2, 1.05), "PASS", -1},
		{"+20%", shifted(20_000, 2, 1.2), "", regress.Worse}, // worse, not surely by more than 10%
		{"+40%", shifted(20_000, 2, 1.4), "FAIL", regress.Worse},
		{"-20%", shifted(20_000, 2, 0.8), "PASS", regress.Better},
		{"three requests, +78%", shifted(3, 2, 1.78), "PASS", regress.TooFew},
	} {
		rep := aggregate(tc.rows)
		rep.Baseline = Compare(rep, base)
		if got := rep.Baseline.Total.Change("p95").Verdict; got != tc.verdict && tc.verdict >= 0 {
			t.Errorf("%s: total p95 %v, want %v", tc.name, got, tc.verdict)
		}
		for _, v := range Check(rep, ths) {
			if v.Missing {
				// A name that did not run cannot be said to be no slower.
				if v.Pass || len(tc.rows) > 3 {
					t.Errorf("%s: %s", tc.name, v)
				}
				continue
			}
			want := tc.want
			if v.Metric == "error_rate" {
				want = "PASS" // the failures are the same
			}
			if want != "" && !strings.HasPrefix(v.String(), want) {
				t.Errorf("%s: %s, want %s", tc.name, v, want)
			}
			if !v.Missing && !strings.Contains(v.String(), "99% interval") && !strings.Contains(v.String(), "too few") {
				t.Errorf("%s: %q does not give the interval", tc.name, v)
			}
		}
	}
}

// Compare gives the same intervals whatever the order and cores: each
// name's resampling is seeded by the name.
func TestCompareIsDeterministic(t *testing.T) {
	base, now := aggregate(shifted(5000, 1, 1)), aggregate(shifted(5000, 2, 1.1))
	first := comparisonJSON(Compare(now, base))
	for range 5 {
		again := comparisonJSON(Compare(now, base))
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("two comparisons differ:\n%s\n%s", a, b)
		}
	}
}

// analyze --baseline: the terminal says what changed, the JSON has every
// name's changes with null where a bound is no number (too few requests:
// NaN would break the encoder), and a threshold against the baseline
// without --baseline is bad usage.
func TestBaselineOutputs(t *testing.T) {
	dir := t.TempDir()
	now, base := filepath.Join(dir, "now.parquet"), filepath.Join(dir, "base.parquet")
	rows := shifted(8000, 2, 1.3)
	few := rows[0]
	few.Name, few.Method = "/only/a/few", "GET"
	rows = append(rows, few, few)
	writeResults(t, now, rows)
	brows := shifted(8000, 1, 1)
	brows = append(brows, few)
	writeResults(t, base, brows)
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
