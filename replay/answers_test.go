package replay

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/demoapi"
)

// A Locust recording of the demo API (ids, timestamps, counts that vary:
// the noise), replayed against a demo API whose one route broke: that
// route differs on nearly every answer, the others on hardly any; and
// against one that did not break, nothing differs. (At four times the
// recorded speed: faster, more copies update one task at once than the
// recording had, and the target rightly answers some with 412.)
func TestAnswersOfALocustRecording(t *testing.T) {
	t.Parallel()
	path := locustTrace(t)
	for _, tt := range []struct {
		brk, route, diff string
	}{
		{"", "none", ""},
		{"GET /api/v1/tasks/{id}=drop=title", "/api/v1/tasks/{id}", "missing $.title"},
		{"GET /api/v1/projects=string=count", "/api/v1/projects", "type $.count number->string"},
		{"/api/v1/documents/{id}=html", "/api/v1/documents/{id}", "type application/json->text/html"},
	} {
		t.Run(tt.route, func(t *testing.T) {
			t.Parallel()
			cfg := demoapi.Config{Keys: []string{"locust-key-000"}, NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 206531}
			if tt.brk != "" {
				b, err := demoapi.ParseBreak(tt.brk)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Breaks = []demoapi.Break{b}
			}
			api := httptest.NewServer(demoapi.New(cfg))
			defer api.Close()
			_, rows := runRecorded(t, Config{Traces: []string{path}, Host: api.URL, Speed: 4, Seed: 2, CompareAll: true})
			type tally struct {
				compared, differed, as, statuses int
				diffs                            map[string]int
			}
			by := map[string]*tally{}
			for _, r := range rows {
				k := by[r.Method+" "+r.Name]
				if k == nil {
					k = &tally{diffs: map[string]int{}}
					by[r.Method+" "+r.Name] = k
				}
				if r.Compared {
					k.compared++
				}
				if strings.HasPrefix(r.Diff, "status ") {
					k.statuses++
				}
				if r.Diff != "" {
					k.differed++
					k.diffs[r.Diff]++
					if tt.diff != "" && strings.HasPrefix(r.Diff, tt.diff) {
						k.as++
					}
				}
			}
			for name, k := range by {
				broken := tt.brk != "" && strings.HasSuffix(name, " "+tt.route) && (strings.HasPrefix(tt.brk, "/") || strings.HasPrefix(tt.brk, strings.Fields(name)[0]+" "))
				t.Logf("%s: %d compared, %d differ, %d as %q; %v", name, k.compared, k.differed, k.as, tt.diff, k.diffs)
				switch {
				case k.compared == 0:
					t.Errorf("%s: nothing compared", name)
				case broken && k.as*100 < k.compared*95:
					t.Errorf("%s: %d of %d answers differ as %q: want 95%% at least", name, k.as, k.compared, tt.diff)
				case !broken && name == "PATCH /api/v1/tasks/{id}" && (k.differed-k.statuses)*100 > k.compared:
					// Updates of one task with If-Match race (the recording
					// has 412s): which ones lose depends on timing, so their
					// statuses may differ either way; their shapes may not.
					t.Errorf("%s: %d of %d answers differ otherwise than by status: want 1%% at most", name, k.differed-k.statuses, k.compared)
				case !broken && name != "PATCH /api/v1/tasks/{id}" && k.differed*100 > k.compared:
					t.Errorf("%s: %d of %d answers differ: want 1%% at most", name, k.differed, k.compared)
				}
			}
		})
	}
}
