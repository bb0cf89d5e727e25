package replay

import (
	"cmp"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
)

// Metrics are one run's figures in Prometheus's terms, in a registry of
// the run's own (no global state: two runs in one process, or two tests,
// never share a counter). A MetricsEndpoint serves them at /metrics.
//
// Rows are counted by the goroutine that writes the results file, from
// the row itself, so what /metrics says is what the file holds, and the
// senders do none of the work: their only cost is one atomic add each
// way for the requests in flight.
type Metrics struct {
	reg *prometheus.Registry
	// requests counts rows by method, name and code (the status, or
	// "error"); duration is their latency, counted as analyze counts it.
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// overloaded is 1 while the generator is the bottleneck (the last
	// second's verdict), else 0.
	overloaded prometheus.Gauge

	// The label children already resolved, by route and by route and
	// code: only the writer goroutine touches them, so a row costs two
	// map lookups and no allocation once its route was seen.
	routes map[seriesKey]*routeMetrics
	counts map[countedKey]prometheus.Counter

	// users and inflight are read at each scrape (Run sets them).
	users    atomic.Pointer[func() int32]
	inflight atomic.Int64
}

// MetricNames bounds the routes that get labels of their own, as analyze
// bounds the rows of its tables (2000 method and name pairs): past it, a
// route is counted under analysis.OtherName with no method, as analyze
// counts it. At run time the first MetricNames routes seen keep their
// labels; analyze, which sees the whole run, keeps the most requested.
const MetricNames = 2000

// codeError is the code label of a request that got no answer (a
// transport error, or one the generator could not send: a row with an
// error and no status).
const codeError = "error"

// durationBuckets are the latency histogram's upper bounds in seconds:
// from a quarter of a millisecond (a loopback answer) to a minute (past the default
// timeout), about three a decade, with the seed's thresholds (500 ms,
// 2 s) among them.
var durationBuckets = []float64{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60}

type seriesKey struct{ method, name string }

type countedKey struct {
	method, name string
	code         int32 // the status; -1: an error; grpcCode+N: gRPC status N
}

// grpcCode offsets a failed gRPC call's status in countedKey.code: its
// label is "grpc-" and the status's name ("grpc-NOT_FOUND").
const grpcCode = 1000

type routeMetrics struct {
	key      seriesKey // the labels: OtherName past MetricNames
	duration prometheus.Observer
}

// NewMetrics makes run's metrics, every series labelled run="RUN" (the
// shards of one run share it).
func NewMetrics(run string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), routes: map[seriesKey]*routeMetrics{}, counts: map[countedKey]prometheus.Counter{}}
	labels := prometheus.Labels{"run": run}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "replaykit_requests_total", ConstLabels: labels,
		Help: "Requests replayed (rows of the results file, abandoned ones left out), by method, route name and code: the HTTP status, grpc-NAME for a gRPC call that failed with a 200 (grpc-NOT_FOUND), or error for a transport error or a request the generator could not send.",
	}, []string{"method", "name", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "replaykit_request_duration_seconds", ConstLabels: labels, Buckets: durationBuckets,
		Help: "Request latency as analyze counts it (the results' latency_ns, to the microsecond): from the scheduled time in the open model and the recorded timeline, from the send in the closed model, to the answer fully read.",
	}, []string{"method", "name"})
	m.overloaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "replaykit_generator_overloaded", ConstLabels: labels,
		Help: "1 when the generator itself was the bottleneck over the last second (its CPU, the host's, or sends late against the schedule): figures measured then are not the server's; else 0.",
	})
	users := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "replaykit_users", ConstLabels: labels,
		Help: "Active virtual users (closed model); requests in flight in the open model and the recorded timeline, as the results' users column.",
	}, func() float64 {
		if f := m.users.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "replaykit_requests_in_flight", ConstLabels: labels,
		Help: "Requests sent whose answer has not been read yet.",
	}, func() float64 { return float64(m.inflight.Load()) })
	// The process's own figures (CPU, memory, the Go runtime's) beside
	// them: read at each scrape, nothing on the run's way.
	m.reg.MustRegister(m.requests, m.duration, m.overloaded, users, inflight,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

// Registry is where the run's metrics are registered (for a caller's
// own collectors, or to gather them).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// route is r's resolved histogram and labels; only the writer goroutine
// calls it.
func (m *Metrics) route(method, name string) *routeMetrics {
	k := seriesKey{method, name}
	if rm := m.routes[k]; rm != nil {
		return rm
	}
	lk := k
	if len(m.routes) >= MetricNames {
		lk = seriesKey{"", analysis.OtherName}
		if rm := m.routes[lk]; rm != nil {
			// Folded names are not kept one by one: memory stays bounded
			// by MetricNames, whatever the trace's names.
			return rm
		}
	}
	rm := &routeMetrics{key: lk, duration: m.duration.WithLabelValues(lk.method, lk.name)}
	m.routes[lk] = rm
	return rm
}

// observe counts one results row; only the writer goroutine calls it.
// Abandoned rows are left out, as analyze leaves them out of every
// figure.
func (m *Metrics) observe(r *results.Result) {
	if r.IsAbandoned() {
		return
	}
	rm := m.route(r.Method, r.Name)
	code := r.Status
	switch {
	case r.Error != "" || code <= 0:
		code = -1
	case r.GRPCStatus > 0 && code < 400:
		// A gRPC call that failed with an HTTP 200: its own status, as
		// analyze counts it.
		code = grpcCode + min(r.GRPCStatus, 17)
	}
	ck := countedKey{rm.key.method, rm.key.name, code}
	c := m.counts[ck]
	if c == nil {
		label := codeError
		switch {
		case code >= grpcCode:
			label = "grpc-" + cmp.Or(results.GRPCCodeName(code-grpcCode), "other")
		case code >= 0:
			label = strconv.Itoa(int(code))
		}
		c = m.requests.WithLabelValues(rm.key.method, rm.key.name, label)
		m.counts[ck] = c
	}
	c.Inc()
	rm.duration.Observe(latencySeconds(r.LatencyNanos))
}

// latencySeconds is a row's latency as analyze records it in its
// histograms (rounded to the microsecond, at least 1 µs, at most an
// hour), in seconds.
func latencySeconds(ns int64) float64 {
	us := min(max((ns+500)/1000, 1), int64(3600e6))
	return float64(us) / 1e6
}

// tick sets the gauges the live line's second decides.
func (m *Metrics) tick(p Progress) {
	if p.Overloaded != "" {
		m.overloaded.Set(1)
	} else {
		m.overloaded.Set(0)
	}
}
