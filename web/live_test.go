package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
)

// The live figures count rows as analyze does: abandoned ones left out,
// failures by Locust's rule, routes past the bound folded, a point a
// second by the time sent.
func TestLive(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		rows     []results.Result
		routes   int     // rows of the table, the total included
		total    int64   // the total's requests
		failures int64   // the total's failures
		points   int     // seconds
		median   float64 // the total's, ms
	}{
		{"two routes over two seconds", []results.Result{
			{Method: "GET", Name: "/a", Status: 200, LatencyNanos: 2e6, Sent: t0, Users: 1},
			{Method: "GET", Name: "/a", Status: 404, LatencyNanos: 2e6, Sent: t0.Add(100 * time.Millisecond), Users: 2},
			{Method: "POST", Name: "/b", Error: "timeout", LatencyNanos: 2e6, Sent: t0.Add(1500 * time.Millisecond), Users: 2},
			{Method: "POST", Name: "/b", Error: results.Abandoned, Sent: t0.Add(1600 * time.Millisecond)},
		}, 3, 3, 2, 2, 2},
		{"names past the bound", func() []results.Result {
			var rows []results.Result
			for i := range replay.MetricNames + 10 {
				rows = append(rows, results.Result{Method: "GET", Name: fmt.Sprintf("/n/%d", i), Status: 200, LatencyNanos: 1e6, Sent: t0})
			}
			return rows
		}(), replay.MetricNames + 2, int64(replay.MetricNames + 10), 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLive()
			for i := range tt.rows {
				l.add(&tt.rows[i])
			}
			routes, points, _ := l.view(2*time.Second, false)
			total := routes[len(routes)-1]
			if len(routes) != tt.routes || total.Requests != tt.total || total.Failures != tt.failures || len(points) != tt.points || total.Median != tt.median {
				t.Errorf("%d routes, total %+v, %d points; want %d routes, %d requests, %d failures, %d points, median %g",
					len(routes), total, len(points), tt.routes, tt.total, tt.failures, tt.points, tt.median)
			}
			if len(routes) > replay.MetricNames {
				if routes[0].Name != analysis.OtherName {
					t.Errorf("first route %q, want %q", routes[0].Name, analysis.OtherName)
				}
			}
			if _, running, _ := l.view(2*time.Second, true); len(running) != tt.points-1 {
				t.Errorf("while running, %d points: the last second, still filling, is left out", len(running))
			}
		})
	}
}

// BenchmarkLiveView is the page's poll of a 6 s run at 75,000 rows a
// second on one route: what the view costs, with the rows' lock held.
func BenchmarkLiveView(b *testing.B) {
	l := newLive()
	t0 := time.Now()
	r := results.Result{Method: "GET", Name: "/api/fast", Status: 201, RespSize: 8, Users: 64, GRPCStatus: results.NoGRPCStatus}
	for i := range 450000 {
		r.Sent, r.LatencyNanos = t0.Add(time.Duration(i)*13*time.Microsecond), int64(500000+i%700000)
		l.add(&r)
	}
	for b.Loop() {
		l.view(6*time.Second, true)
	}
}
