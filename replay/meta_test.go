package replay

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
)

// A results file's footer says how the run was made: the parameters of
// its model, the trace files and their span, and the replay that wrote
// it, for the report's facts.
func TestResultsSayHowTheRunWasMade(t *testing.T) {
	srv := demo(t)
	for _, tc := range []struct {
		scenario string
		cfg      Config
		want     map[string]string
		none     []string
	}{
		{"light", Config{Users: 2, Pacing: "recorded", Speed: 4, Ramp: 200 * time.Millisecond, Seed: 7},
			map[string]string{results.MetaPacing: "recorded", results.MetaSpeed: "4", results.MetaUsers: "2", results.MetaRamp: "200ms", results.MetaSeed: "7", results.MetaDuration: "1s"},
			[]string{results.MetaRate, results.MetaAmplify}},
		{"spike", Config{Users: 2, Pacing: "stress", Seed: 1},
			map[string]string{results.MetaPacing: "stress", results.MetaUsers: "2", results.MetaSeed: "1"},
			[]string{results.MetaRate, results.MetaRamp, results.MetaSpeed}},
		{"light", Config{Rate: 20, Seed: 1},
			map[string]string{results.MetaRate: "20"},
			[]string{results.MetaPacing, results.MetaUsers, results.MetaRamp, results.MetaSpeed}},
	} {
		cfg := tc.cfg
		cfg.Traces, cfg.Host, cfg.APIKey, cfg.Duration, cfg.Out = []string{"../testdata/sample/*.parquet"}, srv.URL, "demo-key-alice", time.Second, t.TempDir()
		sum, err := RunScenario(context.Background(), context.Background(), tc.scenario, cfg)
		if err != nil {
			t.Fatal(err)
		}
		f, err := results.Open(sum.Results)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			if got, _ := f.Meta(k); got != v {
				t.Errorf("%s %+v: %s is %q, want %q", tc.scenario, tc.cfg, k, got, v)
			}
		}
		for _, k := range tc.none {
			if got, ok := f.Meta(k); ok {
				t.Errorf("%s %+v: %s is %q: the run had none", tc.scenario, tc.cfg, k, got)
			}
		}
		var traces []string
		tr, _ := f.Meta(results.MetaTraces)
		if err := json.Unmarshal([]byte(tr), &traces); err != nil || len(traces) == 0 || !strings.HasPrefix(traces[0], "../testdata/sample/") {
			t.Errorf("traces %q: %v", tr, err)
		}
		span, _ := f.Meta(results.MetaTraceSpan)
		from, to, _ := strings.Cut(span, "/")
		a, err1 := time.Parse(time.RFC3339Nano, from)
		b, err2 := time.Parse(time.RFC3339Nano, to)
		if err1 != nil || err2 != nil || b.Before(a) {
			t.Errorf("trace span %q", span)
		}
		if v, _ := f.Meta(results.MetaVersion); !strings.HasPrefix(v, "replay 0.") {
			t.Errorf("version %q", v)
		}
		if v, _ := f.Meta(results.MetaTarget); v != srv.URL {
			t.Errorf("target %q, want %q", v, srv.URL)
		}
		f.Close()
	}
}
