package web

import (
	"encoding/json"
	"testing"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/replay"
)

// FuzzForm: whatever a page posts as the start form, checking it neither
// panics nor lets through a run the checks would refuse.
func FuzzForm(f *testing.F) {
	f.Add(`{"traces":["../testdata/sample/demo.parquet"],"scenario":"light","users":3,"duration":"1s","host":"http://127.0.0.1:9"}`)
	f.Add(`{"traces":["../testdata/sample/*.parquet"],"scenario":"recorded","rate":-1,"ramp":"-5s","thresholds":["p95<"]}`)
	f.Add(`{"traces":["[","../testdata/sample/demo.parquet"],"scenario":"spike","users":-1,"pacing":"warp"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var form Form
		if json.Unmarshal([]byte(body), &form) != nil {
			return
		}
		cfg, _, err := form.run(replay.Config{}, analyze.Config{NoDefaults: true})
		if err == nil {
			if len(cfg.Traces) == 0 || cfg.Check(form.Scenario) != nil {
				t.Errorf("%s was let through: %+v", body, cfg)
			}
		}
	})
}
