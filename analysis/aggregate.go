// Package analysis turns results rows into figures: HDR histograms per
// name (route) and in total, time series per window, failures, the run's
// facts, threshold verdicts and the comparison with a baseline. Package
// report writes them out; package analyze is the command.
//
// Rows are streamed: memory grows with the number of names, distinct
// errors and windows (each bounded), never with rows.
package analysis

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

// Percentiles are the columns of Locust's CSVs and of the report.
var Percentiles = []float64{50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100}

// Histograms count microseconds, 1 µs to 1 hour, 3 significant digits.
const (
	histMax    = int64(time.Hour / time.Microsecond)
	histDigits = 3
	// Window histograms keep 2 digits: there are many of them, and a
	// chart needs no more.
	windowDigits = 2
	// Past MaxWindows, windows are merged in pairs (the window doubles).
	MaxWindows = 3600
	OtherName  = "(other names)"
	// Past maxErrors distinct failures, the rest are counted as OtherError.
	maxErrors  = 1000
	OtherError = "(other errors)"
)

// Past maxNames distinct method+name pairs, the rest are counted under
// OtherName: a trace without route templates must not exhaust memory
// (names.go says which are kept). A variable so that tests under the race
// detector can lower it.
var maxNames = 2000

// Key identifies a stats row, as Locust's Type and Name columns.
type Key struct{ Method, Name string }

// Stats are the figures of one name, or of the total.
type Stats struct {
	Key
	// Requests, Failures, RateLimited (429) and Unavailable (transport
	// error or 5xx) count requests.
	Requests, Failures, RateLimited, Unavailable int64
	// Bytes is the sum of response body sizes.
	Bytes int64
	// Carried sums the values requests took from their session's live
	// responses (or made anew) in place of the recorded ones; NotCarried
	// the links that could not be (their source did not answer as
	// recorded, or lacked the value): those values went as recorded. Both
	// 0 for results without links, or written before these columns.
	Carried, NotCarried int64
	// Compared counts the answers compared with the recorded ones (both
	// answered and the trace held the recorded answer's signature);
	// StatusDiffs, ShapeDiffs and ValueDiffs those that differed, by the
	// family of the difference (differences.go). All 0 for results written
	// before the columns, or by replay --no-compare.
	Compared, StatusDiffs, ShapeDiffs, ValueDiffs int64
	// BodySkipped counts the compared answers whose bodies were left out
	// (compared by status alone): comparing them would have taken replay
	// more than its share of CPU.
	BodySkipped int64
	// Latency is what users felt (from the scheduled time in the open
	// model); Service from the actual send; TTFB to the first byte. Set
	// by Report.
	Latency, Service, TTFB *hdrhistogram.Histogram

	// Recording: requests sent on time have one latency (onTime); late
	// ones (open model) two (lateLatency, lateService). A closed-model
	// row then costs one record instead of two.
	onTime, lateLatency, lateService *hdrhistogram.Histogram
	// diffs counts the differences by text (TopDiffs), set by Report
	// from the aggregate's count of them (differences.go); nil without
	// one.
	diffs map[string]int64
	// statuses and series are the route's answers by status and its
	// latency over time (routes.go); nil until the first row.
	statuses *statusCounts
	series   *routeSeries
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, histDigits) }

// EmptyStats are the figures of a name without requests.
func EmptyStats(k Key) *Stats {
	s := newStats(k)
	s.finish()
	return s
}

func newStats(k Key) *Stats {
	return &Stats{Key: k, onTime: newHist(), TTFB: newHist()}
}

// late allocates the open model's histograms when the first late request
// comes: a closed-model run never needs them.
func (s *Stats) late() {
	if s.lateLatency == nil {
		s.lateLatency, s.lateService = newHist(), newHist()
	}
}

// add counts row i of b; failed is whether it failed. Its latencies go
// to rec, which records them in the histograms.
func (s *Stats) add(b *results.Batch, i int, failed bool, rec *recorder) {
	s.Requests++
	status, lat := b.Status[i], b.LatencyNanos[i]
	if failed {
		s.Failures++
	}
	if results.RateLimited(status, b.GRPCStatus[i]) {
		s.RateLimited++
	}
	if results.Unavailable(status, b.GRPCStatus[i], b.Error[i]) {
		s.Unavailable++
	}
	s.Bytes += max(b.RespSize[i], 0)
	s.Carried += int64(max(b.Carried[i], 0))
	s.NotCarried += int64(max(b.NotCarried[i], 0))
	if b.Compared[i] {
		s.compare(b.Diff[i])
		if b.BodySkipped[i] {
			s.BodySkipped++
		}
	}
	if late := since(b.Sent[i], b.Scheduled[i]); late > 0 {
		s.late()
		rec.add(s.lateLatency, micros(lat))
		rec.add(s.lateService, micros(lat-late))
	} else {
		rec.add(s.onTime, micros(lat))
	}
	if t := b.TTFBNanos[i]; t > 0 {
		rec.add(s.TTFB, micros(t))
	}
	s.addRoute(b.Sent[i], lat, status, failed)
}

// recorder holds the values a batch's rows record in the names'
// histograms, to record them in one tight loop after the rows: the
// histograms are many and large, rows pick them at random, and one
// record after another (nothing else between them) lets the CPU wait for
// many of their cache lines at once. Per row, a record took most of a
// row's time.
type recorder struct {
	hs []*hdrhistogram.Histogram
	vs []int64
}

func (r *recorder) add(h *hdrhistogram.Histogram, v int64) {
	r.hs, r.vs = append(r.hs, h), append(r.vs, v)
}

// flush records every value held.
func (r *recorder) flush() {
	for j, h := range r.hs {
		h.RecordValue(r.vs[j])
	}
	clear(r.hs) // no histogram kept alive by the scratch
	r.hs, r.vs = r.hs[:0], r.vs[:0]
}

// since is a-b, saturated as time.Time's Sub is: hostile times must not
// wrap around.
func since(a, b int64) int64 {
	d := a - b
	switch {
	case b < 0 && d < a: // a - (negative) overflowed
		return math.MaxInt64
	case b > 0 && d > a:
		return math.MinInt64
	}
	return d
}

// plus is a+b, saturated.
func plus(a, b int64) int64 {
	d := a + b
	switch {
	case b > 0 && d < a:
		return math.MaxInt64
	case b < 0 && d > a:
		return math.MinInt64
	}
	return d
}

// clone is a copy of s that shares nothing with it.
func (s *Stats) clone() *Stats {
	c := *s
	c.Latency, c.Service = nil, nil
	c.onTime, c.TTFB = s.onTime.Clone(), s.TTFB.Clone()
	if s.lateLatency != nil {
		c.lateLatency, c.lateService = s.lateLatency.Clone(), s.lateService.Clone()
	}
	c.diffs = maps.Clone(s.diffs)
	if s.statuses != nil {
		st := *s.statuses
		c.statuses, c.series = &st, s.series.clone()
	}
	return &c
}

func (s *Stats) merge(o *Stats) {
	s.Requests += o.Requests
	s.Failures += o.Failures
	s.RateLimited += o.RateLimited
	s.Unavailable += o.Unavailable
	s.Bytes += o.Bytes
	s.Carried += o.Carried
	s.NotCarried += o.NotCarried
	s.mergeDiffs(o)
	s.onTime.Merge(o.onTime)
	if o.lateLatency != nil {
		s.late()
		s.lateLatency.Merge(o.lateLatency)
		s.lateService.Merge(o.lateService)
	}
	s.TTFB.Merge(o.TTFB)
	s.mergeRoute(o)
}

// finish makes Latency and Service from what was recorded.
func (s *Stats) finish() {
	if s.lateLatency == nil {
		s.Latency, s.Service = s.onTime, s.onTime // closed model: no copy
		return
	}
	s.Latency, s.Service = newHist(), newHist()
	s.Latency.Merge(s.onTime)
	s.Latency.Merge(s.lateLatency)
	s.Service.Merge(s.onTime)
	s.Service.Merge(s.lateService)
}

// micros turns nanoseconds into a histogram value: at least 1 µs (HDR
// records nothing below its lowest value), at most an hour.
func micros(ns int64) int64 {
	if ns >= histMax*1000 {
		return histMax // (and ns+500 cannot overflow)
	}
	return max((ns+500)/1000, 1)
}

// ErrorRate is failures over requests (0 with none).
func (s *Stats) ErrorRate() float64 { return ratio(s.Failures, s.Requests) }

// Availability is the share of requests that got an answer below 500.
func (s *Stats) Availability() float64 {
	if s.Requests == 0 {
		return 1
	}
	return 1 - ratio(s.Unavailable, s.Requests)
}

// Quantile is the latency at q (0-100) in milliseconds.
func (s *Stats) Quantile(q float64) float64 { return ms(QuantileOf(s.Latency, q)) }

// QuantileOf is the nearest-rank percentile (the value at rank ceil(q·n),
// as a sorted list gives it) within the histogram's precision. HDR's own
// rounds the rank to nearest, one rank lower half the time: in a long
// tail, p99.99 of 5,000 requests would be the second slowest, not the
// slowest.
func QuantileOf(h *hdrhistogram.Histogram, q float64) int64 {
	n := h.TotalCount()
	if n == 0 {
		return 0
	}
	rank := math.Ceil(q / 100 * float64(n) * (1 - 1e-12)) // no rank above q·n from float error
	rank = min(max(rank, 1), float64(n))
	// ValueAtQuantile takes rank int(p/100·n + 0.5): aim a quarter rank
	// below ours, clear of float error on both sides.
	return h.ValueAtQuantile(100 * (rank - 0.25) / float64(n))
}

// Avg, Min and Max latencies in milliseconds.
func (s *Stats) Avg() float64 { return s.Latency.Mean() / 1000 }
func (s *Stats) Min() float64 { return ms(s.Latency.Min()) }
func (s *Stats) Max() float64 { return ms(s.Latency.Max()) }

// Linked says whether any request had a link to carry, carried or not.
func (s *Stats) Linked() bool { return s.Carried+s.NotCarried > 0 }

// AvgBytes is the mean response body size.
func (s *Stats) AvgBytes() float64 { return float64(s.Bytes) / float64(max(s.Requests, 1)) }

func ms(us int64) float64 { return float64(us) / 1000 }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Window is one step of the time series, for all names together.
type Window struct {
	// Start is the window's start.
	Start time.Time
	// Requests and Failures count requests sent in the window.
	Requests, Failures int64
	// Users is the most active users seen in it.
	Users int32
	// Bytes is the sum of response body sizes.
	Bytes int64
	// Latency holds the window's latencies (2 significant digits).
	Latency *hdrhistogram.Histogram
}

func (w *Window) merge(o *Window) {
	w.Requests += o.Requests
	w.Failures += o.Failures
	w.Users = max(w.Users, o.Users)
	w.Bytes += o.Bytes
	w.Latency.Merge(o.Latency)
}

// Failure is one line of the failures table.
type Failure struct {
	Method, Name, Error string
	Occurrences         int64
}

// Aggregate accumulates results rows: the stats per name (names past the
// bound folded into OtherName), the time series, the failures, and the
// run's facts beside them (facts.go), a recorded run's timeline counts
// and a shadow target's answers. Its figures do not depend on the order
// rows come in, so shards merged give what one file would: rows and
// merged aggregates go through the same code (statsFor, windows.at).
type Aggregate struct {
	byKey   map[Key]*Stats
	windows *windows
	// keep are the names that get a row of their own, chosen over all the
	// input before it is read (names.go); nil: the first maxNames seen.
	// overflowed says a name was folded into OtherName with keep nil.
	keep       map[Key]bool
	overflowed bool
	// fails counts failures by text (Occurrences unused in the key), a
	// deterministic sample of them past failCountLimit; otherFails those
	// it left out. Report keeps the maxErrors most frequent.
	fails      *sampled[Failure]
	otherFails int64
	// diffs counts the differences from the recording by route and text.
	diffs *sampled[diffKey]
	// facts are what the rows and the files' footers say of the runs.
	facts *runFacts
	// shadow and between count the shadow target's answers and how they
	// differed from the target's (shadow.go); nil without one.
	shadow, between *Aggregate
	// timeline counts the rows of a recorded run against its recorded
	// timeline (nil when no file held one); timelineFrom is the file it
	// came from; timelineNotes say what was wrong with the timelines
	// (damaged, or files that disagree).
	timeline      *timelineCounts
	timelineFrom  string
	timelineNotes []string
	// names is how many names the files hold, at most (0: not known).
	names int
	// one holds the row Add counts: a batch of one.
	one results.Batch
	rec recorder
	// seen caches statsFor by where the strings are: a scan hands each
	// worker one copy of each method and name (results.ScanBatches), so
	// most rows find their stats without hashing the strings.
	seen [1 << 9]seenKey
}

// seenKey is a cached statsFor: the method's and the name's bytes.
type seenKey struct {
	method, name *byte
	mlen, nlen   int
	s            *Stats
}

// cached is statsFor(Key{m, n}), through a.seen. Equal pointers and
// lengths are equal strings; the cache keeps the strings alive, so a
// pointer is never another string's.
func (a *Aggregate) cached(m, n string) *Stats {
	mp, np := unsafe.StringData(m), unsafe.StringData(n)
	h := (uint64(uintptr(unsafe.Pointer(np)))*0x9e3779b97f4a7c15 ^ uint64(uintptr(unsafe.Pointer(mp)))*0xc2b2ae3d27d4eb4f) >> 55 // 9 bits: 512 slots
	c := &a.seen[h]
	if c.s != nil && c.name == np && c.method == mp && c.nlen == len(n) && c.mlen == len(m) {
		return c.s
	}
	s := a.statsFor(Key{m, n})
	*c = seenKey{method: mp, name: np, mlen: len(m), nlen: len(n), s: s}
	return s
}

// New returns an empty Aggregate with time series windows of step (1s
// when zero).
func New(step time.Duration) *Aggregate {
	if step <= 0 {
		step = time.Second
	}
	return &Aggregate{byKey: map[Key]*Stats{}, windows: newWindows(step),
		fails: newSampled(failCountLimit, hashFailure), diffs: newSampled(diffTextLimit, hashDiff), facts: newRunFacts()}
}

// Add counts one row.
func (a *Aggregate) Add(r *results.Result) {
	a.one.Reset()
	a.one.Append(r)
	a.addBatch(&a.one)
}

// addBatch counts a batch of rows: every column of results.Batch read.
func (a *Aggregate) addBatch(b *results.Batch) {
	var s *Stats
	var method, name string
	for i := range b.Len {
		errText := b.Error[i]
		if errText == results.Abandoned {
			a.facts.abandoned++
			continue
		}
		// Rows often come in runs of one name.
		if m, n := b.Method[i], b.Name[i]; s == nil || m != method || n != name {
			s, method, name = a.cached(m, n), m, n
		}
		failed := results.Failed(b.Status[i], b.GRPCStatus[i], errText)
		s.add(b, i, failed, &a.rec)
		if failed {
			a.otherFails += a.fails.add(Failure{Method: method, Name: s.Name, Error: failureText(b.Status[i], b.GRPCStatus[i], errText)}, 1)
		}
		if d := b.Diff[i]; d != "" && b.Compared[i] {
			a.diffs.add(diffKey{s.Key, diffText(d)}, 1)
		}
		a.facts.add(b, i)
		if b.ShadowStatus[i] != 0 || b.ShadowError[i] != "" {
			a.addShadow(b, i)
		}
		a.windows.add(b, i, failed)
		if a.timeline != nil {
			a.timeline.add(b, i)
		}
	}
	a.rec.flush()
}

// statsFor is the stats k is counted in: its own, or OtherName's once
// the names kept are full. Rows and merged aggregates both go through it.
func (a *Aggregate) statsFor(k Key) *Stats {
	if s := a.byKey[k]; s != nil {
		return s
	}
	if k != (Key{Name: OtherName}) && a.folds(k) {
		k = Key{Name: OtherName}
		if s := a.byKey[k]; s != nil {
			return s
		}
	}
	s := newStats(k)
	a.byKey[k] = s
	return s
}

// folds says whether a name not yet counted goes under OtherName.
func (a *Aggregate) folds(k Key) bool {
	if a.keep != nil {
		return !a.keep[k]
	}
	if len(a.byKey) >= maxNames {
		a.overflowed = true
		return true
	}
	return false
}

// failCountLimit bounds the distinct failures counted (each exactly);
// Report shows the maxErrors most frequent of them.
const failCountLimit = 4 * maxErrors

func hashFailure(f Failure) uint64 {
	h := fnv.New64a()
	for _, s := range []string{f.Method, f.Name, f.Error} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return mix(h.Sum64())
}

// failureText is what the failures table says went wrong.
func failureText(status, grpc int32, err string) string {
	switch {
	case err != "":
		return err
	case grpc > 0 && status < 400:
		// The status gRPC's tools show: the HTTP one is 200.
		if name := results.GRPCCodeName(grpc); name != "" {
			return fmt.Sprintf("gRPC %d %s", grpc, name)
		}
		return fmt.Sprintf("gRPC %d", grpc)
	}
	return fmt.Sprintf("HTTP %d", status)
}

// AddFile streams every row of a results file into a.
func (a *Aggregate) AddFile(path string) error { return a.AddFiles([]string{path}) }

// addFile streams every row of a results file into a, the names kept
// already chosen, with one worker per core.
func (a *Aggregate) addFile(path string) error {
	f, err := results.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info := results.ReadRunInfo(f)
	a.facts.addFile(filepath.Base(path), info)
	timed := a.fileTimeline(info, filepath.Base(path))
	workers := max(min(runtime.GOMAXPROCS(0), f.NumRowGroups(), workersFor(a.names)), 1)
	parts := make([]*Aggregate, workers)
	for w := range workers {
		parts[w] = New(a.windows.step)
		parts[w].keep = a.keep
		if timed {
			parts[w].timeline = a.timeline.empty()
		}
	}
	var windowsMu sync.Mutex // guards a's windows
	err = results.ScanBatches(f, results.ScanOptions{
		Workers: workers,
		Batch:   func(w int, b *results.Batch) error { parts[w].addBatch(b); return nil },
		// A row group spans a few windows: hand them over now, so that
		// workers do not each hold every window.
		Group: func(w int) error {
			windowsMu.Lock()
			defer windowsMu.Unlock()
			a.windows.merge(parts[w].windows)
			return nil
		},
	})
	if err != nil {
		return err
	}
	for _, p := range parts {
		a.Merge(p)
	}
	return nil
}

// Each worker counts every name it meets in figures of its own: about
// nameBytes a name (its latency and TTFB histograms). The workers are as
// many as workersBytes holds, so that 2,000 names on many cores cannot
// take gigabytes: 2 workers for 2,000 names, every core for a few hundred.
const (
	nameBytes    = 400 << 10
	workersBytes = 2 << 30
)

// workersFor is how many workers may count names figures at once.
func workersFor(names int) int {
	if names <= 0 {
		return math.MaxInt
	}
	return max(workersBytes/(names*nameBytes), 1)
}

// Merge adds what o counted: the result is what one Aggregate fed both
// sets of rows would hold. o is consumed: its parts move into a.
func (a *Aggregate) Merge(o *Aggregate) {
	// In the order of the keys: which names a full a admits must not
	// depend on a map's order (with keep set, none is left out).
	folded := map[Key]bool{}
	for _, k := range slices.SortedFunc(maps.Keys(o.byKey), compareKeys) {
		s := o.byKey[k]
		if _, ok := a.byKey[k]; !ok && (k == Key{Name: OtherName} || !a.folds(k)) {
			a.byKey[k] = s // moved, not copied
			continue
		}
		m := a.statsFor(k)
		m.merge(s)
		if m.Key != k {
			folded[k] = true
		}
	}
	// Texts of names o kept and a folds are OtherName's.
	for d, n := range o.diffs.counts {
		if folded[d.Key] {
			delete(o.diffs.counts, d)
			o.diffs.counts[diffKey{Key{Name: OtherName}, d.text}] += n
		}
	}
	a.diffs.merge(o.diffs)
	a.overflowed = a.overflowed || o.overflowed
	a.otherFails += o.otherFails + a.fails.merge(o.fails)
	a.facts.merge(o.facts)
	a.windows.merge(o.windows)
	a.mergeTimeline(o)
	a.mergeShadow(o)
}

// Report returns the figures so far: a copy, which rows added later do
// not change.
func (a *Aggregate) Report() *Report { return a.report(copied) }

// Check checks thresholds on the figures so far, without copying them
// (replay's live aborts check every second, and a report would copy
// every histogram).
func (a *Aggregate) Check(ths []Threshold) []Verdict { return Check(a.report(viewed), ths) }

// Finish returns the figures without copying them: a is spent, and must
// not be used again.
func (a *Aggregate) Finish() *Report {
	rep := a.report(moved)
	*a = Aggregate{}
	return rep
}

// How report gives out the figures: copies; a's own (a is then spent);
// or a's own, to be read at once and dropped, without the time series.
type reportMode int

const (
	copied reportMode = iota
	moved
	viewed
)

// report is the figures, as mode says.
func (a *Aggregate) report(mode reportMode) *Report {
	rep := &Report{Total: newStats(Key{Name: "Aggregated"}), TimelineNotes: slices.Clone(a.timelineNotes)}
	a.facts.report(rep)
	if a.timeline != nil {
		rep.Timeline = a.timeline.report(mode == copied)
	}
	texts := map[Key]map[string]int64{}
	for d, n := range a.diffs.counts {
		if texts[d.Key] == nil {
			texts[d.Key] = map[string]int64{}
		}
		texts[d.Key][d.text] = n
	}
	for k, s := range a.byKey {
		if mode == copied {
			s = s.clone()
		}
		s.diffs = texts[k]
		rep.Names = append(rep.Names, s)
	}
	slices.SortFunc(rep.Names, func(x, y *Stats) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Method, y.Method)) })
	// The total is the names merged: recording it per row as well would
	// double the cost of every row.
	for _, s := range rep.Names {
		rep.Total.merge(s)
		s.finish()
	}
	rep.Total.finish()
	rep.Failures = a.failures()
	if mode == viewed {
		return rep
	}
	rep.Windows, rep.Step = a.windows.list(mode == copied)
	if a.shadow != nil {
		rep.Shadow, rep.Between = a.shadow.report(mode), a.between.report(mode)
	}
	return rep
}

// failures are the failures table: the maxErrors most frequent failures
// a line each, the others, and those the count left out, OtherError's.
func (a *Aggregate) failures() []Failure {
	var out []Failure
	for f, n := range a.fails.counts {
		f.Occurrences = n
		out = append(out, f)
	}
	byCount := func(x, y Failure) int {
		return cmp.Or(cmp.Compare(y.Occurrences, x.Occurrences), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Method, y.Method), cmp.Compare(x.Error, y.Error))
	}
	slices.SortFunc(out, byCount)
	other := a.otherFails
	if len(out) > maxErrors {
		for _, f := range out[maxErrors:] {
			other += f.Occurrences
		}
		out = out[:maxErrors]
	}
	if other > 0 {
		out = append(out, Failure{Error: OtherError, Occurrences: other})
		slices.SortFunc(out, byCount)
	}
	return out
}

func compareKeys(x, y Key) int {
	return cmp.Or(cmp.Compare(x.Method, y.Method), cmp.Compare(x.Name, y.Name))
}
