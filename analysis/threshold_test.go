package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

func TestParseThreshold(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		want   Threshold
		errHas string
	}{
		{expr: "avg<500ms", want: Threshold{Metric: "avg", Op: "<", Value: 500}},
		{expr: "p95<2000ms", want: Threshold{Metric: "p95", Quantile: 95, Op: "<", Value: 2000}},
		{expr: "p99.9 <= 1.5s", want: Threshold{Metric: "p99.9", Quantile: 99.9, Op: "<=", Value: 1500}},
		{expr: "median<250", want: Threshold{Metric: "median", Quantile: 50, Op: "<", Value: 250}},
		{expr: "max<1m", want: Threshold{Metric: "max", Op: "<", Value: 60000}},
		{expr: "error_rate<1%", want: Threshold{Metric: "error_rate", Op: "<", Value: 0.01}},
		{expr: "availability>99.9%", want: Threshold{Metric: "availability", Op: ">", Value: 0.999}},
		{expr: "rps>=50", want: Threshold{Metric: "rps", Op: ">=", Value: 50}},
		{expr: "lateness_p99<10ms", want: Threshold{Metric: "lateness_p99", Op: "<", Value: 10}},
		{expr: "lateness_p99 <= 0.5s", want: Threshold{Metric: "lateness_p99", Op: "<=", Value: 500}},
		{expr: "name=/x:lateness_p99<10ms", errHas: "whole run's"},
		{expr: "mismatch_rate<1%", want: Threshold{Metric: "mismatch_rate", Op: "<", Value: 0.01}},
		{expr: "name=/api/v1/tasks/{id}:mismatch_rate<=0.5%", want: Threshold{Name: "/api/v1/tasks/{id}", Metric: "mismatch_rate", Op: "<=", Value: 0.005}},
		{expr: "mismatch_rate<1%,abort=10s", want: Threshold{Metric: "mismatch_rate", Op: "<", Value: 0.01, Abort: true, AbortAfter: 10 * time.Second}},
		{expr: "mismatch_rate<0.01", errHas: "percentage"},
		{expr: "mismatch_rate<101%", errHas: "percentage"},
		{expr: "lateness_p99<soon", errHas: "not a duration"},
		{expr: "name=/api/v1/tasks/{id}:p95<300ms", want: Threshold{Name: "/api/v1/tasks/{id}", Metric: "p95", Quantile: 95, Op: "<", Value: 300}},
		{expr: "name=/a:b:avg<1s", want: Threshold{Name: "/a:b", Metric: "avg", Op: "<", Value: 1000}},
		{expr: "error_rate<10%,abort", want: Threshold{Metric: "error_rate", Op: "<", Value: 0.1, Abort: true, AbortAfter: DefaultAbortAfter}},
		{expr: "name=/a,b:p99<1s, abort=30s", want: Threshold{Name: "/a,b", Metric: "p99", Quantile: 99, Op: "<", Value: 1000, Abort: true, AbortAfter: 30 * time.Second}},
		{expr: "p95<1s,abort=soon", errHas: "abort=soon"},
		{expr: "p95", errHas: "no comparison"},
		{expr: "p95<", errHas: "no value"},
		{expr: "p95<fast", errHas: "not a duration"},
		{expr: "p95<-3ms", errHas: "not a duration"},
		{expr: "p101<1s", errHas: "unknown metric"},
		{expr: "latency<1s", errHas: "unknown metric"},
		{expr: "error_rate<0.01", errHas: "percentage"},
		{expr: "error_rate<150%", errHas: "percentage"},
		{expr: "rps>many", errHas: "requests per second"},
		{expr: "name=:p95<1s", errHas: "name="},
		{expr: "<1s", errHas: "no comparison"},
		// Thresholds that cannot mean anything are refused.
		{expr: "p95<inf", errHas: "not a duration"},
		{expr: "p95<NaN", errHas: "not a duration"},
		{expr: "p95<+Inf", errHas: "not a duration"},
		{expr: "p95<1e400", errHas: "not a duration"},
		{expr: "p95<0x10", errHas: "not a duration"},
		{expr: "p95<1_000", errHas: "not a duration"},
		{expr: "p95<2h", errHas: "past an hour"},
		{expr: "pNaN<1s", errHas: "unknown metric"},
		{expr: "pinf<1s", errHas: "unknown metric"},
		{expr: "p0<1s", errHas: "unknown metric"},
		{expr: "p-5<1s", errHas: "unknown metric"},
		{expr: "p0x1p6<1s", errHas: "unknown metric"},
		{expr: "p100<1s", want: Threshold{Metric: "p100", Quantile: 100, Op: "<", Value: 1000}},
		{expr: "p95<0", errHas: "never holds"},
		{expr: "p95>=0ms", errHas: "always or never"},
		{expr: "p95<=0", want: Threshold{Metric: "p95", Quantile: 95, Op: "<=", Value: 0}},
		{expr: "avg<-1s", errHas: "negative"},
		{expr: "error_rate<0%", errHas: "never holds"},
		{expr: "error_rate<=0%", want: Threshold{Metric: "error_rate", Op: "<=", Value: 0}},
		{expr: "error_rate<=100%", errHas: "always or never"},
		{expr: "error_rate<NaN%", errHas: "percentage"},
		{expr: "error_rate<inf%", errHas: "percentage"},
		{expr: "error_rate<-1%", errHas: "percentage"},
		{expr: "availability>100%", errHas: "never holds"},
		{expr: "availability>=100%", want: Threshold{Metric: "availability", Op: ">=", Value: 1}},
		{expr: "availability>=0%", errHas: "always or never"},
		{expr: "rps<0", errHas: "never holds"},
		{expr: "rps>=0", errHas: "always or never"},
		{expr: "rps>-5", errHas: "requests per second"},
		{expr: "rps>Inf", errHas: "requests per second"},
		{expr: "rps>1e999", errHas: "requests per second"},
		{expr: "p95<1s,abort=-1s", errHas: "abort=-1s"},
		{expr: "p95<1s,abort=", errHas: "abort="},
		{expr: "p95<<1s", errHas: "one comparison"},
		{expr: "p95<=<1s", errHas: "one comparison"},
		{expr: "p95<>1s", errHas: "one comparison"},
		{expr: "p95<=>1s", errHas: "one comparison"},
		{expr: "p95 <  ", errHas: "no value"},
		{expr: "  ", errHas: "no comparison"},
		{expr: "error_rate<baseline+NaN%", errHas: "percentage points"},
		{expr: "p95<baseline+inf%", errHas: "percentage of the baseline"},
		{expr: "p95<baseline+NaN", errHas: "neither"},
		{expr: "p95<baseline+10%", want: Threshold{Metric: "p95", Quantile: 95, Op: "<", Baseline: &BaselineThreshold{Allowance: 0.1, Relative: true}}},
	} {
		got, err := ParseThreshold(tc.expr)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "e.g.") {
				t.Errorf("%q: error %v, want one saying %q and how to write it", tc.expr, err, tc.errHas)
			}
			continue
		}
		tc.want.Expr = tc.expr
		if got.Baseline != nil && tc.want.Baseline != nil && *got.Baseline == *tc.want.Baseline {
			got.Baseline = tc.want.Baseline
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.expr, got, err, tc.want)
		}
	}
}

// Each of the seed's thresholds, broken on its own, fails and is named;
// a healthy run passes them all.
func TestDefaultThresholds(t *testing.T) {
	var ths []Threshold
	for _, e := range DefaultThresholds {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	// healthy: 100 requests/s for 10 s at 20 ms, all 200.
	make := func(change func(i int, r *results.Result)) *Report {
		a := New(time.Second)
		for i := range 1000 {
			r := results.Result{Method: "GET", Name: "/x", Sent: resultstest.T0.Add(time.Duration(i) * 10 * time.Millisecond), LatencyNanos: 20e6, Status: 200}
			r.Scheduled = r.Sent
			change(i, &r)
			a.Add(&r)
		}
		return a.Report()
	}
	for _, tc := range []struct {
		breaks string
		change func(i int, r *results.Result)
	}{
		{"", func(int, *results.Result) {}},
		{"avg<500ms", func(i int, r *results.Result) {
			if i%3 == 0 {
				r.LatencyNanos = 1900e6 // p95 stays under 2 s, the average does not
			}
		}},
		{"p95<2000ms", func(i int, r *results.Result) {
			if i%10 == 0 {
				r.LatencyNanos = 3000e6
			}
		}},
		{"error_rate<1%", func(i int, r *results.Result) {
			if i%50 == 0 {
				r.Status = 404 // 2% failed, all available
			}
		}},
		{"rps>50", func(i int, r *results.Result) {
			r.Sent = resultstest.T0.Add(time.Duration(i) * 30 * time.Millisecond)
			r.Scheduled = r.Sent
		}},
		{"availability>99.9%", func(i int, r *results.Result) {
			if i == 7 || i == 700 {
				r.Status = 503 // 0.2% unavailable, under the 1% error rate
			}
		}},
	} {
		vs := Check(make(tc.change), ths)
		for _, v := range vs {
			if want := v.Expr != tc.breaks; v.Pass != want {
				t.Errorf("breaking %q: %s", tc.breaks, v)
			}
			if !v.Pass && !strings.Contains(v.String(), "FAIL "+tc.breaks) {
				t.Errorf("verdict %q does not name the threshold", v)
			}
		}
	}
}

// A threshold on a name checks that name alone; a name that never ran fails.
func TestThresholdOnAName(t *testing.T) {
	rep := aggregate(resultstest.Synthetic(2000, 10, 9))
	fast, _ := ParseThreshold("name=/api/v1/tasks:p50<1s")
	slow, _ := ParseThreshold("name=/api/v1/search:p50<50ms")
	none, _ := ParseThreshold("name=/nowhere:p50<1s")
	vs := Check(rep, []Threshold{fast, slow, none})
	if !vs[0].Pass || vs[1].Pass || vs[2].Pass || !vs[2].Missing || !strings.Contains(vs[2].String(), "had no request") {
		t.Errorf("%v", vs)
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, e := range append(DefaultThresholds, "name=/a/{id}:p99.9<=1.5s", "rps>=1e3", "p0<1", "p95<inf", "pNaN<1s",
		"error_rate<0%", "availability>100%", "p95<1s,abort=-1s", "p95<<1s", "rps>1e308", "max<1ns", "p95<baseline+10%", "error_rate<baseline+0.5%", "avg<baseline+50ms", "p99<baseline", "error_rate<baseline+NaN%") {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := ParseThreshold(expr)
		if err != nil {
			return
		}
		// Its figures are finite, and it reads back as itself.
		for _, v := range []float64{th.Value, th.Quantile} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("%q: %+v", expr, th)
			}
		}
		back, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("%q written back as %q: %v", expr, th.String(), err)
		}
		back.Expr = th.Expr
		if d := math.Abs(back.Value - th.Value); d > 1e-9*math.Max(1, th.Value) {
			t.Fatalf("%q written back as %q: %+v, want %+v", expr, th.String(), back, th)
		}
		back.Value = th.Value
		if (back.Baseline == nil) != (th.Baseline == nil) || back.Baseline != nil && math.Abs(back.Baseline.Allowance-th.Baseline.Allowance) > 1e-9*math.Max(1, th.Baseline.Allowance) {
			t.Fatalf("%q written back as %q: %+v, want %+v", expr, th.String(), back.Baseline, th.Baseline)
		}
		if th.Baseline != nil && (math.IsNaN(th.Baseline.Allowance) || math.IsInf(th.Baseline.Allowance, 0)) {
			t.Fatalf("%q: allowance %v", expr, th.Baseline.Allowance)
		}
		back.Baseline = th.Baseline
		if back != th {
			t.Fatalf("%q written back as %q: %+v, want %+v", expr, th.String(), back, th)
		}
		// What parses checks without panicking, and says what it checked.
		vs := Check(aggregate(resultstest.Synthetic(10, 1, 1)), []Threshold{th})
		if len(vs) != 1 || !strings.Contains(vs[0].String(), expr) {
			t.Errorf("%q: %v", expr, vs)
		}
	})
}

// A verdict's figure reads as a person writes it: 4 significant digits, no
// binary noise, and never a rounding that contradicts the verdict.
func TestVerdictFigures(t *testing.T) {
	tests := []struct {
		expr   string
		actual float64
		want   string
	}{
		{"error_rate<1%", 0.04430400000000001, "FAIL error_rate<1%: total error_rate is 4.43%"},
		{"error_rate<1%", 0.044304, "FAIL error_rate<1%: total error_rate is 4.43%"},
		{"error_rate<1%", 61.0 / 1111, "FAIL error_rate<1%: total error_rate is 5.491%"}, // the README's demo
		{"error_rate<1%", 0, "PASS error_rate<1%: total error_rate is 0%"},
		{"error_rate<1%", 0.0000123, "PASS error_rate<1%: total error_rate is 0.00123%"},
		{"availability>99.9%", 1, "PASS availability>99.9%: total availability is 100%"},
		{"availability>99.9%", 0.9956666666666667, "FAIL availability>99.9%: total availability is 99.57%"},
		// 4 digits would print 100%: a failure must not read as a pass.
		{"availability>99.999%", 0.999951, "FAIL availability>99.999%: total availability is 99.995%"},
		{"error_rate<1%", 0.0099996, "PASS error_rate<1%: total error_rate is 0.99996%"},
		{"availability>99.9%", 0.9999951, "PASS availability>99.9%: total availability is 99.9995%"},
		{"avg<500ms", 75.23685666666668, "PASS avg<500ms: total avg is 75.24ms"},
		{"p95<2000ms", 318.207, "PASS p95<2000ms: total p95 is 318.2ms"},
		{"p95<2s", 12345.678, "FAIL p95<2s: total p95 is 12346ms"},
		{"max<1ns", 0.51234, "FAIL max<1ns: total max is 0.5123ms"},
		{"rps>50", 146.72943787168668, "PASS rps>50: total rps is 146.7"},
		{"rps>50", 22.3, "FAIL rps>50: total rps is 22.3"},
		{"rps>=50", 49.99996, "FAIL rps>=50: total rps is 49.99996"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		v := Verdict{Threshold: th, Actual: tt.actual, Pass: th.holds(tt.actual)}
		if got := v.String(); got != tt.want {
			t.Errorf("%s at %v: got %q, want %q", tt.expr, tt.actual, got, tt.want)
		}
	}
}

// mismatch_rate is the share of the compared answers that differed from
// the recording, total or per route; its verdict says how many differed
// and how most often, and a run that compared nothing fails it saying
// why, as a run without a timeline fails lateness_p99.
func TestMismatchRateThreshold(t *testing.T) {
	// 2,000 requests in 10 s: 1,000 to /login, 1,000 to /api/items.
	run := func(change func(i int, r *results.Result)) *Report {
		a := New(time.Second)
		for i := range 2000 {
			r := results.Result{Method: "GET", Name: "/api/items", Sent: resultstest.T0.Add(time.Duration(i) * 5 * time.Millisecond), LatencyNanos: 20e6,
				Status: 200, RecordedStatus: 200, Compared: true}
			if i%2 == 0 {
				r.Name = "/login"
			}
			r.Scheduled = r.Sent
			change(i, &r)
			a.Add(&r)
		}
		return a.Report()
	}
	redirect := run(func(_ int, r *results.Result) { r.Status, r.Diff = 302, "status 200->302" }) // every answer a 302 where the trace saw 200
	oneValue := run(func(i int, r *results.Result) {
		if i == 7 {
			r.Diff = "value $.state (+1 more)"
		}
	})
	agreed := run(func(int, *results.Result) {})
	loginDrifted := run(func(i int, r *results.Result) {
		if i%8 == 0 { // a quarter of /login's
			r.Diff = "missing $.csrf"
		}
	})
	notCompared := run(func(_ int, r *results.Result) { r.Compared = false }) // an older trace, or --no-compare
	apiOnly := run(func(_ int, r *results.Result) { r.Compared = r.Name == "/api/items" })
	for _, tc := range []struct {
		name string
		rep  *Report
		expr string
		want string
	}{
		{"a server that redirects everything", redirect, "mismatch_rate<1%",
			`FAIL mismatch_rate<1%: total mismatch_rate is 100%: 2,000 of 2,000 answers differed from the recording, most often "status 200->302" (2,000)`},
		{"which error_rate does not see", redirect, "error_rate<1%", "PASS error_rate<1%: total error_rate is 0%"},
		{"one value differed", oneValue, "mismatch_rate<1%",
			`PASS mismatch_rate<1%: total mismatch_rate is 0.05%: 1 of 2,000 answers differed from the recording, most often "value $.state" (1)`},
		{"one value, a stricter threshold", oneValue, "mismatch_rate<=0.01%",
			`FAIL mismatch_rate<=0.01%: total mismatch_rate is 0.05%: 1 of 2,000 answers differed from the recording, most often "value $.state" (1)`},
		{"all agreed", agreed, "mismatch_rate<1%", "PASS mismatch_rate<1%: total mismatch_rate is 0%: 0 of 2,000 answers differed from the recording"},
		{"a route that drifted", loginDrifted, "name=/login:mismatch_rate<1%",
			`FAIL name=/login:mismatch_rate<1%: /login mismatch_rate is 25%: 250 of 1,000 answers differed from the recording, most often "missing $.csrf" (250)`},
		{"a route that did not", loginDrifted, "name=/api/items:mismatch_rate<1%",
			"PASS name=/api/items:mismatch_rate<1%: /api/items mismatch_rate is 0%: 0 of 1,000 answers differed from the recording"},
		{"the total of both", loginDrifted, "mismatch_rate<10%",
			`FAIL mismatch_rate<10%: total mismatch_rate is 12.5%: 250 of 2,000 answers differed from the recording, most often "missing $.csrf" (250)`},
		{"nothing compared", notCompared, "mismatch_rate<1%",
			"FAIL mismatch_rate<1%: no answer was compared with the recording: the trace holds no signatures of its recorded answers (record it again with this version of replaykit), or replay ran with --no-compare"},
		{"nothing of a route compared", apiOnly, "name=/login:mismatch_rate<1%",
			"FAIL name=/login:mismatch_rate<1%: no answer of /login was compared with the recording: the trace holds no signatures of its recorded answers (record it again with this version of replaykit), or replay ran with --no-compare"},
		{"a route that never ran", agreed, "name=/nowhere:mismatch_rate<1%", "FAIL name=/nowhere:mismatch_rate<1%: /nowhere had no request"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		vs := Check(tc.rep, []Threshold{th})
		if got := vs[0].String(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		missing := strings.Contains(tc.want, "no answer") || strings.Contains(tc.want, "no request")
		if vs[0].Pass != strings.HasPrefix(tc.want, "PASS") || vs[0].Missing != missing {
			t.Errorf("%s: pass %v, missing %v", tc.name, vs[0].Pass, vs[0].Missing)
		}
	}
	for _, e := range DefaultThresholds {
		if strings.Contains(e, MismatchRate) {
			t.Errorf("default threshold %q: mismatch_rate is off by default", e)
		}
	}
}
