package analysis

import (
	"cmp"
	"math/bits"
	"slices"
	"time"
)

// What the report shows of each route beyond its row: how many answers
// of each status it got, and its latency over time. Both are kept in
// the route's Stats, so that whatever adds or merges Stats (Add, Merge,
// names folded into OtherName) carries them, and both are bounded:
//
//   - statuses: one counter per status from 100 to 599, one for no
//     answer (a transport error), one for any other: at most 502
//     counters, allocated with the first row.
//   - the series: at most maxRoutePoints windows per route (past that
//     the route's windows are merged in pairs, as the run's are past
//     MaxWindows), each a sparse histogram of eighth-octave buckets
//     (about 6% wide): a few dozen counters where the route's latencies
//     fall, never more than 240.
//
// Neither depends on the order rows come in.

// Statuses of a route: index 0 is no answer, 1..500 the statuses 100 to
// 599, 501 every other status.
type statusCounts [502]int64

const (
	// NoStatus stands for the requests that got no answer (a transport
	// error) in StatusCount.
	NoStatus = 0
	// OtherStatus stands for the statuses outside 100..599.
	OtherStatus = -1
)

func statusIndex(status int32) int {
	switch {
	case status == 0:
		return 0
	case status >= 100 && status <= 599:
		return int(status) - 99
	}
	return len(statusCounts{}) - 1
}

func statusOf(i int) int32 {
	switch {
	case i == 0:
		return NoStatus
	case i == len(statusCounts{})-1:
		return OtherStatus
	}
	return int32(i + 99)
}

// StatusCount is how many requests of a route got one status.
type StatusCount struct {
	// Status is the HTTP status, NoStatus (no answer: a transport error)
	// or OtherStatus (outside 100..599).
	Status int32
	// Requests counts them.
	Requests int64
}

// Statuses are the route's requests by status, most first (then by
// status).
func (s *Stats) Statuses() []StatusCount {
	if s.statuses == nil {
		return nil
	}
	var out []StatusCount
	for i, n := range s.statuses {
		if n > 0 {
			out = append(out, StatusCount{statusOf(i), n})
		}
	}
	slices.SortFunc(out, func(x, y StatusCount) int {
		return cmp.Or(cmp.Compare(y.Requests, x.Requests), cmp.Compare(x.Status, y.Status))
	})
	return out
}

// maxRoutePoints bounds the windows of a route's series.
const maxRoutePoints = 100

// routeStep is the first width of a route's windows.
const routeStep = time.Second

// routeSeries is one route's latency over time: windows aligned on
// multiples of step since the epoch.
type routeSeries struct {
	step   time.Duration
	cells  map[int64]*routeCell
	lo, hi int64
	// last and lastCell are the window the previous row fell in: rows
	// mostly come in time order.
	last     int64
	lastCell *routeCell
}

// routeCell is one window of a route: its requests, failures and a
// sparse histogram of their latencies.
type routeCell struct {
	requests, failures int64
	// counts[i] counts the latencies in bucket first+i.
	first  int
	counts []int64
}

// latencyBucket is the bucket of a latency in µs (at least 1).
func latencyBucket(us int64) int {
	if us < 16 {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - 1 // 4 or more
	return 16 + (e-4)*8 + int(us>>(e-3)) - 8
}

// bucketMid is the middle of a bucket, in µs.
func bucketMid(b int) float64 {
	if b < 16 {
		return float64(b)
	}
	e := (b-16)/8 + 4
	lo := int64(8+(b-16)%8) << (e - 3)
	return float64(lo) + float64(int64(1)<<(e-3))/2
}

func (c *routeCell) add(b int, n int64) {
	switch {
	case len(c.counts) == 0:
		c.first, c.counts = b, append(c.counts, n)
		return
	case b < c.first:
		c.counts = append(make([]int64, c.first-b, c.first-b+len(c.counts)), c.counts...)
		c.first = b
	case b >= c.first+len(c.counts):
		c.counts = append(c.counts, make([]int64, b-c.first-len(c.counts)+1)...)
	}
	c.counts[b-c.first] += n
}

func (c *routeCell) merge(o *routeCell) {
	c.requests += o.requests
	c.failures += o.failures
	for i, n := range o.counts {
		if n > 0 {
			c.add(o.first+i, n)
		}
	}
}

// quantile is the nearest-rank latency at q (0-100) in milliseconds,
// within the bucket's width.
func (c *routeCell) quantile(q float64) float64 {
	var n int64
	for _, k := range c.counts {
		n += k
	}
	if n == 0 {
		return 0
	}
	rank := min(max(int64(q/100*float64(n)+1-1e-9), 1), n)
	for i, k := range c.counts {
		if rank -= k; rank <= 0 {
			return bucketMid(c.first+i) / 1000
		}
	}
	return bucketMid(c.first+len(c.counts)-1) / 1000
}

func newRouteSeries() *routeSeries {
	return &routeSeries{step: routeStep, cells: map[int64]*routeCell{}}
}

// add counts a request sent at sent (Unix nanoseconds).
func (rs *routeSeries) add(sent, latency int64, failed bool) {
	i := floorDiv(sent, int64(rs.step))
	c := rs.lastCell
	if c == nil || i != rs.last {
		if len(rs.cells) == 0 {
			rs.lo, rs.hi = i, i
		}
		rs.lo, rs.hi = min(rs.lo, i), max(rs.hi, i)
		for rs.hi-rs.lo >= maxRoutePoints {
			rs.widen()
			i = floorDiv(sent, int64(rs.step))
		}
		if c = rs.cells[i]; c == nil {
			c = &routeCell{}
			rs.cells[i] = c
		}
		rs.last, rs.lastCell = i, c
	}
	c.requests++
	if failed {
		c.failures++
	}
	c.add(latencyBucket(micros(latency)), 1)
}

// clone is a copy of rs that shares nothing with it.
func (rs *routeSeries) clone() *routeSeries {
	c := &routeSeries{step: rs.step, cells: make(map[int64]*routeCell, len(rs.cells)), lo: rs.lo, hi: rs.hi}
	for i, cell := range rs.cells {
		cc := *cell
		cc.counts = slices.Clone(cell.counts)
		c.cells[i] = &cc
	}
	return c
}

// widen doubles the step, merging windows in pairs.
func (rs *routeSeries) widen() {
	rs.step *= 2
	old := rs.cells
	rs.cells = make(map[int64]*routeCell, len(old)/2+1)
	for i, c := range old {
		j := floorDiv(i, 2)
		if m := rs.cells[j]; m != nil {
			m.merge(c)
		} else {
			rs.cells[j] = c
		}
	}
	rs.lo, rs.hi = floorDiv(rs.lo, 2), floorDiv(rs.hi, 2)
	rs.lastCell = nil
}

// merge adds o's windows (o is left as it was).
func (rs *routeSeries) merge(o *routeSeries) {
	if len(o.cells) == 0 {
		return
	}
	// Widen a copy of o rather than o: o may be a name still counted.
	step, cells := o.step, o.cells
	for step < rs.step {
		step *= 2
		wide := make(map[int64]*routeCell, len(cells)/2+1)
		for i, c := range cells {
			j := floorDiv(i, 2)
			if wide[j] == nil {
				wide[j] = &routeCell{}
			}
			wide[j].merge(c)
		}
		cells = wide
	}
	for rs.step < step {
		rs.widen()
	}
	for i, c := range cells {
		if len(rs.cells) == 0 {
			rs.lo, rs.hi = i, i
		}
		rs.lo, rs.hi = min(rs.lo, i), max(rs.hi, i)
		m := rs.cells[i]
		if m == nil {
			m = &routeCell{}
			rs.cells[i] = m
		}
		m.merge(c)
	}
	for rs.hi-rs.lo >= maxRoutePoints {
		rs.widen()
	}
	rs.lastCell = nil
}

// RouteWindow is one window of a route's latency over time.
type RouteWindow struct {
	// Start is the window's start.
	Start time.Time
	// Requests and Failures count the route's requests sent in it.
	Requests, Failures int64
	// P50 and P95 are their latencies in milliseconds (within 6%), 0
	// without requests.
	P50, P95 float64
}

// Series is the route's latency over time, every window from its first
// to its last (empty ones included), and the windows' width.
func (s *Stats) Series() ([]RouteWindow, time.Duration) {
	rs := s.series
	if rs == nil || len(rs.cells) == 0 {
		return nil, 0
	}
	out := make([]RouteWindow, 0, rs.hi-rs.lo+1)
	for i := rs.lo; i <= rs.hi; i++ {
		w := RouteWindow{Start: time.Unix(0, i*int64(rs.step)).UTC()}
		if c := rs.cells[i]; c != nil {
			w.Requests, w.Failures, w.P50, w.P95 = c.requests, c.failures, c.quantile(50), c.quantile(95)
		}
		out = append(out, w)
	}
	return out, rs.step
}

// addRoute counts r in the route's statuses and series.
func (s *Stats) addRoute(sent, latency int64, status int32, failed bool) {
	if s.statuses == nil {
		s.statuses, s.series = new(statusCounts), newRouteSeries()
	}
	s.statuses[statusIndex(status)]++
	s.series.add(sent, latency, failed)
}

// mergeRoute adds o's statuses and series.
func (s *Stats) mergeRoute(o *Stats) {
	if o.statuses == nil {
		return
	}
	if s.statuses == nil {
		s.statuses, s.series = new(statusCounts), newRouteSeries()
	}
	for i, n := range o.statuses {
		s.statuses[i] += n
	}
	s.series.merge(o.series)
}
