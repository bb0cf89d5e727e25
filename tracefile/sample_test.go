package tracefile

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
)

// The sample trace (scripts/make-sample-trace.sh) holds what the demo
// needs: several sessions with their own keys, a read-only one, a
// write-heavy one, human think times, rate-limited and refused requests,
// and no credential.
func TestSampleTrace(t *testing.T) {
	rows, err := ReadAll("../testdata/sample/demo.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 300 {
		t.Fatalf("%d rows", len(rows))
	}
	type session struct {
		n, writes int
		ts        []time.Time
	}
	sessions := map[string]*session{}
	statuses := map[int32]int{}
	for _, e := range rows {
		s := sessions[e.Session]
		if s == nil {
			s = &session{}
			sessions[e.Session] = s
		}
		s.n++
		if e.Kind == trace.KindWrite {
			s.writes++
		}
		s.ts = append(s.ts, e.TS)
		statuses[e.Status]++
		for _, h := range e.ReqHeaders {
			if strings.Contains(h.Value, "demo-key") || strings.Contains(h.Value, "not-a-key") {
				t.Fatalf("credential in the sample: %s: %s", h.Name, h.Value)
			}
		}
	}
	var keyed, readOnly, writeHeavy int
	for name, s := range sessions {
		if !strings.HasPrefix(name, "x-api-key:") {
			continue
		}
		keyed++
		if s.n >= 20 && s.writes == 0 {
			readOnly++
		}
		if s.n >= 20 && s.writes*10 >= s.n*8 {
			writeHeavy++
		}
		// Think times: a reader's median gap is human, seconds not micros.
		if s.writes == 0 && s.n >= 20 && s.n < 100 {
			slices.SortFunc(s.ts, func(a, b time.Time) int { return a.Compare(b) })
			var gaps []time.Duration
			for i := 1; i < len(s.ts); i++ {
				gaps = append(gaps, s.ts[i].Sub(s.ts[i-1]))
			}
			slices.Sort(gaps)
			if g := gaps[len(gaps)/2]; g < 500*time.Millisecond || g > 4*time.Second {
				t.Errorf("session %s: median think time %v", name, g)
			}
		}
	}
	if keyed != 7 || readOnly < 2 || writeHeavy < 1 {
		t.Errorf("%d keyed sessions, %d read-only, %d write-heavy (at least 80%% writes)", keyed, readOnly, writeHeavy)
	}
	for _, code := range []int32{200, 201, 204, 401, 404, 429} {
		if statuses[code] == 0 {
			t.Errorf("no %d in the sample (statuses %v)", code, statuses)
		}
	}
}
