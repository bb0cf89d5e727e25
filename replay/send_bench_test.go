package replay

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/replaykit/replaykit/scenario"
)

// BenchmarkSend is replay's own cost a request, the network left out (a
// transport that answers at once): the sample trace (links, a login, a
// cookie) by 8 users with no think time, with and without correlation,
// and with Prometheus metrics (replay --metrics) and the web UI's live
// view (Observe) on.
//
//	go test -run '^$' -bench Send -count 5 ./replay/
func BenchmarkSend(b *testing.B) {
	for _, tt := range []struct {
		name        string
		noCorrelate bool
		metrics     bool
	}{{"correlate", false, false}, {"no-correlate", true, false}, {"correlate+metrics", false, true}} {
		b.Run(tt.name, func(b *testing.B) {
			src := sampleSessions(b)
			n := int64(max(b.N, 1000))
			stop, enough := context.WithCancelCause(context.Background())
			defer enough(nil)
			tr := &instant{limit: n, full: func() { enough(ErrInterrupted) }}
			p := Plan{Sessions: src, Users: 8, Pacing: scenario.Uniform{},
				Duration: 10 * time.Minute, NoCorrelate: tt.noCorrelate, Client: &http.Client{Transport: tr}}
			if tt.metrics {
				p.Metrics = NewMetrics("bench")
			}
			b.ReportAllocs()
			b.ResetTimer()
			_, err, rows := runPlan(b, context.Background(), stop, p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(rows)), "ns/request")
			b.ReportMetric(0, "ns/op")
		})
	}
}
