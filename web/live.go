package web

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
)

// live counts a run's rows as they are written, for the page: the
// per-route table and a point a second. Counted as analyze counts them:
// abandoned rows left out, latency in microseconds, routes past
// replay.MetricNames under analysis.OtherName. The end's figures are
// analyze's own, from the file.
type live struct {
	mu     sync.Mutex
	routes map[routeKey]*routeStats
	total  *routeStats
	// seconds are the run's seconds since its first row, by Sent.
	first   time.Time
	seconds []*second
	fails   map[failKey]int64
}

type routeKey struct{ method, name string }

type failKey struct{ method, name, err string }

type routeStats struct {
	requests, failures, bytes int64
	latency                   *hdrhistogram.Histogram // µs
}

type second struct {
	requests, failures int64
	users              int32
	latency            *hdrhistogram.Histogram // µs, 2 digits
}

// maxSeconds bounds the points kept (an hour a point a second; a longer
// run's page shows its last hour).
const maxSeconds = 3600

func newLive() *live {
	return &live{routes: map[routeKey]*routeStats{}, total: newRouteStats(), fails: map[failKey]int64{}}
}

func newRouteStats() *routeStats {
	return &routeStats{latency: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)}
}

func micros(ns int64) int64 { return min(max((ns+500)/1000, 1), int64(time.Hour/time.Microsecond)) }

// add counts one row (replay.Plan.Observe).
func (l *live) add(r *results.Result) {
	if r.IsAbandoned() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := routeKey{r.Method, r.Name}
	s := l.routes[k]
	if s == nil {
		if len(l.routes) >= replay.MetricNames {
			k = routeKey{"", analysis.OtherName}
			s = l.routes[k]
		}
		if s == nil {
			s = newRouteStats()
			l.routes[k] = s
		}
	}
	us := micros(r.LatencyNanos)
	failed := r.Failed()
	for _, s := range []*routeStats{s, l.total} {
		s.requests++
		s.bytes += max(r.RespSize, 0)
		if failed {
			s.failures++
		}
		s.latency.RecordValue(us)
	}
	if failed && len(l.fails) < 1000 {
		e := r.Error
		if e == "" {
			e = "HTTP " + strconv.Itoa(int(r.Status))
		}
		l.fails[failKey{r.Method, k.name, e}]++
	}
	if l.first.IsZero() {
		l.first = r.Sent.Truncate(time.Second)
	}
	i := int(r.Sent.Sub(l.first) / time.Second)
	if i < 0 {
		i = 0
	}
	if i >= len(l.seconds) {
		l.seconds = append(l.seconds, make([]*second, i+1-len(l.seconds))...)
	}
	sec := l.seconds[i]
	if sec == nil {
		sec = &second{latency: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)}
		l.seconds[i] = sec
	}
	sec.requests++
	if failed {
		sec.failures++
	}
	sec.users = max(sec.users, r.Users)
	sec.latency.RecordValue(us)
	if len(l.seconds) > maxSeconds {
		drop := len(l.seconds) - maxSeconds
		l.seconds = slices.Delete(l.seconds, 0, drop)
		l.first = l.first.Add(time.Duration(drop) * time.Second)
	}
}

// Route is a row of the live table: analyze's columns, milliseconds.
type Route struct {
	Method   string  `json:"method"`
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	Median   float64 `json:"median"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
	Avg      float64 `json:"avg"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	RPS      float64 `json:"rps"`
	AvgBytes float64 `json:"avg_bytes"`
}

// Point is a second of the run.
type Point struct {
	// T is the second's start, in seconds since the run's first.
	T        int     `json:"t"`
	RPS      float64 `json:"rps"`
	Failures int64   `json:"failures"`
	Users    int32   `json:"users"`
	P50      float64 `json:"p50"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
}

// Failure is a line of the failures table.
type Failure struct {
	Method      string `json:"method"`
	Name        string `json:"name"`
	Error       string `json:"error"`
	Occurrences int64  `json:"occurrences"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

func (s *routeStats) row(k routeKey, secs float64) Route {
	r := Route{Method: k.method, Name: k.name, Requests: s.requests, Failures: s.failures,
		Median: ms(s.latency.ValueAtQuantile(50)), P95: ms(s.latency.ValueAtQuantile(95)), P99: ms(s.latency.ValueAtQuantile(99)),
		Avg: s.latency.Mean() / 1000, Min: ms(s.latency.Min()), Max: ms(s.latency.Max())}
	if secs > 0 {
		r.RPS = float64(s.requests) / secs
	}
	if s.requests > 0 {
		r.AvgBytes = float64(s.bytes) / float64(s.requests)
	}
	return r
}

// view is what the page shows of the rows so far: the table (the total
// last), the points, and the most frequent failures. While the run runs
// its last second is still filling: it is left out of the points.
func (l *live) view(elapsed time.Duration, running bool) ([]Route, []Point, []Failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	secs := elapsed.Seconds()
	routes := make([]Route, 0, len(l.routes)+1)
	for k, s := range l.routes {
		routes = append(routes, s.row(k, secs))
	}
	slices.SortFunc(routes, func(a, b Route) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Method, b.Method)) })
	routes = append(routes, l.total.row(routeKey{"", "Aggregated"}, secs))
	seconds := l.seconds
	if running && len(seconds) > 0 {
		seconds = seconds[:len(seconds)-1]
	}
	points := make([]Point, 0, len(seconds))
	for i, s := range seconds {
		p := Point{T: i}
		if s != nil {
			p.RPS, p.Failures, p.Users = float64(s.requests), s.failures, s.users
			p.P50, p.P95, p.P99 = ms(s.latency.ValueAtQuantile(50)), ms(s.latency.ValueAtQuantile(95)), ms(s.latency.ValueAtQuantile(99))
		}
		points = append(points, p)
	}
	fails := make([]Failure, 0, len(l.fails))
	for k, n := range l.fails {
		fails = append(fails, Failure{k.method, k.name, k.err, n})
	}
	slices.SortFunc(fails, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Occurrences, a.Occurrences), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Error, b.Error))
	})
	return routes, points, fails[:min(len(fails), 50)]
}
