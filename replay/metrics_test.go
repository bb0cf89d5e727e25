package replay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/results"
)

// scrape reads the endpoint's /metrics as Prometheus does.
func scrape(t testing.TB, addr net.Addr) map[string]*dto.MetricFamily {
	t.Helper()
	mf, err := scraped(addr)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func scraped(addr net.Addr) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(promodel.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return mf, nil
}

// label is m's value of the label name.
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// gauge is the value of a metric without labels of its own (0 if absent).
func gauge(mf map[string]*dto.MetricFamily, name string) float64 {
	f := mf[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

// counted is the requests counter by "METHOD NAME CODE", and the
// histogram's count and buckets by "METHOD NAME".
func counted(mf map[string]*dto.MetricFamily) (requests map[string]float64, counts map[string]uint64, buckets map[string]map[float64]uint64) {
	requests, counts, buckets = map[string]float64{}, map[string]uint64{}, map[string]map[float64]uint64{}
	for _, m := range mf["replaykit_requests_total"].GetMetric() {
		requests[label(m, "method")+" "+label(m, "name")+" "+label(m, "code")] += m.GetCounter().GetValue()
	}
	for _, m := range mf["replaykit_request_duration_seconds"].GetMetric() {
		k := label(m, "method") + " " + label(m, "name")
		h := m.GetHistogram()
		counts[k] = h.GetSampleCount()
		buckets[k] = map[float64]uint64{}
		for _, b := range h.GetBucket() {
			buckets[k][b.GetUpperBound()] = b.GetCumulativeCount()
		}
	}
	return requests, counts, buckets
}

// A run serves its figures at /metrics while it runs, and at its end they
// are the results file's: one request counted per row, by method, name
// and code, and every row in the latency histogram, in the bucket of its
// latency as analyze counts it.
func TestMetricsDuringRun(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
	}{
		{"closed model", Plan{Users: 4, Duration: 2 * time.Second, Seed: 1}},
		{"open model", Plan{Users: 4, Rate: 100, Duration: 2 * time.Second, Seed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The third request is held until a scrape has seen the run
			// under way (a request in flight, one counted): no timing.
			api := demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: 1})
			release := make(chan struct{})
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 3 {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
				api.ServeHTTP(w, r)
			}))
			defer srv.Close()
			ep, err := ListenMetrics(t.Context(), "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ep.Close()
			p := tt.plan
			p.Metrics = NewMetrics("test_run")
			ep.Serve(p.Metrics)
			p.Target, _ = ParseTarget(srv.URL)
			p.Target.APIKey = "demo-key-alice"

			// The scraper: until it has seen the run under way, or the
			// run has ended; its verdict is read after the run.
			scraping, stopScraping := context.WithCancel(context.Background())
			var seen string // what the last scrape during the run saw
			var under bool  // a scrape saw a request in flight and one counted
			var scraper sync.WaitGroup
			scraper.Go(func() {
				defer close(release)
				for i := 0; i < 100000 && scraping.Err() == nil; i++ {
					mf, err := scraped(ep.Addr())
					if err != nil {
						seen = err.Error()
						return
					}
					requests, _, _ := counted(mf)
					var total float64
					for _, v := range requests {
						total += v
					}
					inflight, users := gauge(mf, "replaykit_requests_in_flight"), gauge(mf, "replaykit_users")
					seen = fmt.Sprintf("%g requests counted, %g in flight, %g users", total, inflight, users)
					if total >= 1 && inflight >= 1 && users >= 1 {
						under = true
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
			sum, err, rows := runPlan(t, context.Background(), context.Background(), p)
			stopScraping()
			scraper.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !under {
				t.Errorf("no scrape during the run saw it under way; the last saw %s", seen)
			}
			if len(rows) == 0 || int64(len(rows)) != sum.Requests {
				t.Fatalf("%d rows, the summary says %d requests", len(rows), sum.Requests)
			}

			// At the end: the file's rows, counted as analyze counts them.
			wantRequests, wantCounts := map[string]float64{}, map[string]uint64{}
			wantBuckets := map[string]map[float64]uint64{}
			for _, r := range rows {
				code := strconv.Itoa(int(r.Status))
				if r.Error != "" {
					code = "error"
				}
				k := r.Method + " " + r.Name
				wantRequests[k+" "+code]++
				wantCounts[k]++
				if wantBuckets[k] == nil {
					wantBuckets[k] = map[float64]uint64{}
				}
				for _, le := range durationBuckets {
					// analyze's histogram value: microseconds, rounded.
					if us := max((r.LatencyNanos+500)/1000, 1); float64(us) <= le*1e6 {
						wantBuckets[k][le]++
					}
				}
			}
			mf := scrape(t, ep.Addr())
			requests, counts, buckets := counted(mf)
			var total float64
			var histCount uint64
			for _, v := range requests {
				total += v
			}
			for _, c := range counts {
				histCount += c
			}
			if total != float64(len(rows)) || histCount != uint64(len(rows)) {
				t.Errorf("sum of replaykit_requests_total %g, histogram count %d; the results file has %d rows", total, histCount, len(rows))
			}
			for k, want := range wantRequests {
				if requests[k] != want {
					t.Errorf("replaykit_requests_total{%s} = %g, the results file has %g", k, requests[k], want)
				}
			}
			if len(requests) != len(wantRequests) {
				t.Errorf("%d series of replaykit_requests_total, the results file has %d method, name and code triples", len(requests), len(wantRequests))
			}
			for k, want := range wantBuckets {
				for le, n := range want {
					if buckets[k][le] != n {
						t.Errorf("%s: bucket le=%g holds %d, the results file %d", k, le, buckets[k][le], n)
					}
				}
			}
			if g := gauge(mf, "replaykit_requests_in_flight"); g != 0 {
				t.Errorf("%g requests in flight after the run", g)
			}
			if f := mf["replaykit_users"]; f == nil || label(f.GetMetric()[0], "run") != "test_run" {
				t.Errorf("replaykit_users is not labelled with the run: %v", f)
			}
			if mf["replaykit_generator_overloaded"] == nil || mf["process_cpu_seconds_total"] == nil {
				t.Error("no replaykit_generator_overloaded, or no process metrics")
			}
		})
	}
}

// Rows become series: a code per status, error for a transport error
// or a request not sent, abandoned rows left out, and past MetricNames
// routes the rest under analyze's "(other names)".
func TestMetricsObserve(t *testing.T) {
	tests := []struct {
		name  string
		rows  func() []results.Result
		want  map[string]float64 // requests_total by "METHOD NAME CODE"
		names int                // histogram series
	}{
		{"codes", func() []results.Result {
			return []results.Result{
				{Method: "GET", Name: "/a", Status: 200, LatencyNanos: 1e6},
				{Method: "GET", Name: "/a", Status: 200, LatencyNanos: 2e6},
				{Method: "GET", Name: "/a", Status: 429},
				{Method: "POST", Name: "/a", Status: 500},
				{Method: "GET", Name: "/a", Error: "timeout"},
				{Method: "GET", Name: "/a", Error: "generator overloaded: too many requests in flight"},
				{Method: "GET", Name: "/a", Error: results.Abandoned},
				{Method: "POST", Name: "/g", Status: 200, GRPCStatus: 0},
				{Method: "POST", Name: "/g", Status: 200, GRPCStatus: 5},
				{Method: "POST", Name: "/g", Status: 200, GRPCStatus: 42},
				{Method: "POST", Name: "/g", Status: 200, GRPCStatus: results.NoGRPCStatus},
				{Method: "POST", Name: "/g", Status: 503, GRPCStatus: 14},
			}
		}, map[string]float64{"GET /a 200": 2, "GET /a 429": 1, "POST /a 500": 1, "GET /a error": 2,
			"POST /g 200": 2, "POST /g grpc-NOT_FOUND": 1, "POST /g grpc-other": 1, "POST /g 503": 1}, 3},
		{"names past the bound", func() []results.Result {
			var rows []results.Result
			for i := range MetricNames + 500 {
				rows = append(rows, results.Result{Method: "GET", Name: fmt.Sprintf("/n/%d", i), Status: 200})
			}
			// A name seen within the bound keeps its labels later on.
			rows = append(rows, results.Result{Method: "GET", Name: "/n/0", Status: 200})
			return rows
		}, map[string]float64{"GET /n/0 200": 2, "GET /n/1999 200": 1, " " + analysis.OtherName + " 200": 500}, MetricNames + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics("r")
			rows := tt.rows()
			for i := range rows {
				m.observe(&rows[i])
			}
			mf, err := m.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]*dto.MetricFamily{}
			for _, f := range mf {
				byName[f.GetName()] = f
			}
			requests, counts, _ := counted(byName)
			for k, want := range tt.want {
				if requests[k] != want {
					t.Errorf("requests_total{%s} = %g, want %g", k, requests[k], want)
				}
			}
			var total float64
			for _, v := range requests {
				total += v
			}
			var sent float64
			for _, r := range rows {
				if !r.IsAbandoned() {
					sent++
				}
			}
			if total != sent {
				t.Errorf("%g requests counted, want %g (abandoned rows left out)", total, sent)
			}
			if len(counts) != tt.names {
				t.Errorf("%d histogram series, want %d", len(counts), tt.names)
			}
			for _, k := range []string{"GET /n/2000", "GET /n/2499"} {
				if _, ok := counts[k]; ok {
					t.Errorf("a name past the bound has its own series: %s", k)
				}
			}
		})
	}
}

// An address that cannot be served fails at once, saying what to give.
func TestListenMetricsBadAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct{ addr, want string }{
		{"", "want HOST:PORT"},
		{"9464", "want HOST:PORT"},
		{"localhost", "want HOST:PORT"},
		{"127.0.0.1:", "want HOST:PORT"},
		{"127.0.0.1:99999", "invalid port"},
		{"192.0.2.1:9464", "an address of this machine"}, // TEST-NET-1: not this machine's
		{busy.Addr().String(), "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ep, err := ListenMetrics(t.Context(), tt.addr)
			if err == nil {
				ep.Close()
				t.Fatalf("%q was accepted", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// The endpoint ends with its context, or with Close: its goroutine has
// ended, and its address is free again.
func TestMetricsEndpointEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(cancel context.CancelFunc, ep *MetricsEndpoint)
	}{
		{"Close", func(_ context.CancelFunc, ep *MetricsEndpoint) { ep.Close() }},
		{"context", func(cancel context.CancelFunc, ep *MetricsEndpoint) { cancel(); <-ep.served }},
		{"both, twice", func(cancel context.CancelFunc, ep *MetricsEndpoint) { ep.Close(); cancel(); ep.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ep, err := ListenMetrics(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if mf := scrape(t, ep.Addr()); len(mf) != 0 {
				t.Errorf("before a run: %d metric families", len(mf))
			}
			tt.end(cancel, ep)
			if err := ep.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			again, err := net.Listen("tcp", ep.Addr().String())
			if err != nil {
				t.Fatalf("the address is still taken: %v", err)
			}
			again.Close()
		})
	}
}

// Counting a row of a route already seen allocates nothing: the label
// children are resolved once per route and code.
func TestMetricsObserveAllocatesNothing(t *testing.T) {
	m := NewMetrics("r")
	rows := []results.Result{
		{Method: "GET", Name: "/api/v1/tasks/{id}", Status: 200, LatencyNanos: 3e6},
		{Method: "POST", Name: "/api/v1/tasks", Status: 201, LatencyNanos: 5e6},
		{Method: "GET", Name: "/api/v1/tasks/{id}", Error: "timeout", LatencyNanos: 30e9},
	}
	for i := range rows {
		m.observe(&rows[i])
	}
	if n := testing.AllocsPerRun(1000, func() {
		for i := range rows {
			m.observe(&rows[i])
		}
	}); n != 0 {
		t.Errorf("%g allocations to count %d rows", n, len(rows))
	}
}

// BenchmarkMetricsObserve is what counting a row costs the results
// writer's goroutine.
//
//	go test -run '^$' -bench MetricsObserve ./replay/
func BenchmarkMetricsObserve(b *testing.B) {
	m := NewMetrics("r")
	rows := make([]results.Result, 64)
	for i := range rows {
		rows[i] = results.Result{Method: "GET", Name: fmt.Sprintf("/api/v1/r%d/{id}", i), Status: 200, LatencyNanos: int64(i) * 1e6}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.observe(&rows[i%len(rows)])
	}
}
