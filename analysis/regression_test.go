package analysis

import (
	"strings"
	"testing"

	"github.com/replaykit/replaykit/internal/resultstest"
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

// Against a baseline from the same distribution, nothing fails; +20% on
// every latency fails p95<baseline+10% and is worse; +5% does not fail
// it; three requests tell nothing.
func TestBaselineVerdicts(t *testing.T) {
	base := aggregate(resultstest.Shifted(20_000, 1, 1))
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
		{"same distribution", resultstest.Shifted(20_000, 2, 1), "PASS", regress.NoChange},
		{"+5%", resultstest.Shifted(20_000, 2, 1.05), "PASS", -1},
		{"+20%", resultstest.Shifted(20_000, 2, 1.2), "", regress.Worse}, // worse, not surely by more than 10%
		{"+40%", resultstest.Shifted(20_000, 2, 1.4), "FAIL", regress.Worse},
		{"-20%", resultstest.Shifted(20_000, 2, 0.8), "PASS", regress.Better},
		{"three requests, +78%", resultstest.Shifted(3, 2, 1.78), "PASS", regress.TooFew},
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
