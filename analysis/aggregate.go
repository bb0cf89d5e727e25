// Package analysis turns results files into figures: HDR histograms per
// name (route) and in total, time series per window, failures, and
// threshold verdicts, with the outputs analyze writes (terminal table,
// Locust's CSVs, JSON, JUnit XML and a self-contained HTML report).
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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/shard"
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
	// Past maxWindows, windows are merged in pairs (the window doubles).
	maxWindows = 3600
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
	// diffs counts the differences by text (TopDiffs), at most
	// 2*keptDiffs of them, nil until one differed; otherDiffs those
	// whose texts were not kept (differences.go).
	diffs      map[string]int64
	otherDiffs int64
	// statuses and series are the route's answers by status and its
	// latency over time (routes.go); nil until the first row.
	statuses *statusCounts
	series   *routeSeries
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, histDigits) }

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

func (s *Stats) add(r *results.Result) {
	s.Requests++
	if r.Failed() {
		s.Failures++
	}
	if r.RateLimited() {
		s.RateLimited++
	}
	if r.Unavailable() {
		s.Unavailable++
	}
	s.Bytes += max(r.RespSize, 0)
	s.Carried += int64(max(r.Carried, 0))
	s.NotCarried += int64(max(r.NotCarried, 0))
	if r.Compared {
		s.compare(r.Diff)
		if r.BodySkipped {
			s.BodySkipped++
		}
	}
	lat := r.LatencyNanos
	if late := int64(r.Sent.Sub(r.Scheduled)); late > 0 {
		s.late()
		s.lateLatency.RecordValue(micros(lat))
		s.lateService.RecordValue(micros(lat - late))
	} else {
		s.onTime.RecordValue(micros(lat))
	}
	if r.TTFBNanos > 0 {
		s.TTFB.RecordValue(micros(r.TTFBNanos))
	}
	s.addRoute(r)
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
func micros(ns int64) int64 { return min(max((ns+500)/1000, 1), histMax) }

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
func (s *Stats) Quantile(q float64) float64 { return ms(quantile(s.Latency, q)) }

// quantile is the nearest-rank percentile (the value at rank ceil(q·n),
// as a sorted list gives it) within the histogram's precision. HDR's own
// rounds the rank to nearest, one rank lower half the time: in a long
// tail, p99.99 of 5,000 requests would be the second slowest, not the
// slowest.
func quantile(h *hdrhistogram.Histogram, q float64) int64 {
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

// Aggregate accumulates results rows. Its figures do not depend on the
// order rows come in, so shards merged give what one file would.
type Aggregate struct {
	step    time.Duration // window width now
	byKey   map[Key]*Stats
	windows map[int64]*Window // by Start / step
	lo, hi  int64             // window indexes seen
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

	first, last time.Time           // first send, last response end
	runs        map[string]*RunSpan // by run id: each run's own span
	scenarios   map[string]bool
	shards      map[int32]bool
	users       int32
	open        bool
	files       int
	// late holds how late sends left against their schedule (open model).
	late *hdrhistogram.Histogram
	// shardFiles are the shard files seen, by run: shard index -> count
	// expected; stopped the runs' shards that ended early.
	shardFiles map[string]map[int]int
	stopped    []string
	// overloaded adds up the seconds replay found itself the bottleneck;
	// causes says why, per file; unsent counts open-model requests the
	// generator could not send before the end.
	overloaded int
	causes     []string
	unsent     int64
	// abandoned counts rows abandoned in flight (a second Ctrl-C): they
	// are in no figure.
	abandoned int64
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
	// params are the values of the files' footer keys that say how the
	// run was made, by key (params.go).
	params map[string]map[string]bool
}

// New returns an empty Aggregate with time series windows of step (1s
// when zero).
func New(step time.Duration) *Aggregate {
	if step <= 0 {
		step = time.Second
	}
	return &Aggregate{step: step, byKey: map[Key]*Stats{},
		windows: map[int64]*Window{}, fails: newSampled(failCountLimit, hashFailure),
		runs: map[string]*RunSpan{}, scenarios: map[string]bool{}, shards: map[int32]bool{}, late: newHist(),
		shardFiles: map[string]map[int]int{}}
}

// Add counts one row.
func (a *Aggregate) Add(r *results.Result) {
	if r.IsAbandoned() {
		a.abandoned++
		return
	}
	k := Key{r.Method, r.Name}
	s := a.byKey[k]
	if s == nil {
		if a.folds(k) {
			k = Key{Name: OtherName}
			s = a.byKey[k]
		}
		if s == nil {
			s = newStats(k)
			a.byKey[k] = s
		}
	}
	s.add(r)
	if r.Failed() {
		a.otherFails += a.fails.add(Failure{Method: r.Method, Name: k.Name, Error: failureText(r)}, 1)
	}
	end := r.Scheduled.Add(time.Duration(r.LatencyNanos))
	if a.first.IsZero() || r.Sent.Before(a.first) {
		a.first = r.Sent
	}
	if end.After(a.last) {
		a.last = end
	}
	sp := a.runs[r.Run]
	if sp == nil {
		sp = &RunSpan{Run: r.Run, Start: r.Sent, End: end}
		a.runs[r.Run] = sp
	}
	sp.add(r.Sent, end, 1)
	a.scenarios[r.Scenario] = true
	if r.ShadowStatus != 0 || r.ShadowError != "" {
		a.addShadow(r)
	}
	a.shards[r.Shard] = true
	a.users = max(a.users, r.Users)
	if late := int64(r.Sent.Sub(r.Scheduled)); late > 0 {
		a.open = true
		a.late.RecordValue(micros(late))
	}
	a.window(r)
	if a.timeline != nil {
		a.timeline.add(r)
	}
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
func failureText(r *results.Result) string {
	if r.Error != "" {
		return r.Error
	}
	return fmt.Sprintf("HTTP %d", r.Status)
}

func (a *Aggregate) window(r *results.Result) {
	i := r.Sent.UnixNano() / int64(a.step)
	if len(a.windows) == 0 {
		a.lo, a.hi = i, i
	}
	a.lo, a.hi = min(a.lo, i), max(a.hi, i)
	for a.hi-a.lo >= maxWindows {
		a.widen()
		i = r.Sent.UnixNano() / int64(a.step)
	}
	w := a.windows[i]
	if w == nil {
		w = &Window{Start: time.Unix(0, i*int64(a.step)).UTC(), Latency: hdrhistogram.New(1, histMax, windowDigits)}
		a.windows[i] = w
	}
	w.Requests++
	if r.Failed() {
		w.Failures++
	}
	w.Users = max(w.Users, r.Users)
	w.Bytes += max(r.RespSize, 0)
	w.Latency.RecordValue(micros(r.LatencyNanos))
}

// widen doubles the window, merging windows in pairs. Windows are aligned
// on multiples of the step since the epoch, so the result does not depend
// on the order rows came in.
func (a *Aggregate) widen() {
	a.step *= 2
	old := a.windows
	a.windows = make(map[int64]*Window, len(old)/2+1)
	for i, w := range old {
		j := floorDiv(i, 2)
		if m := a.windows[j]; m != nil {
			m.merge(w)
		} else {
			w.Start = time.Unix(0, j*int64(a.step)).UTC()
			a.windows[j] = w
		}
	}
	a.lo, a.hi = floorDiv(a.lo, 2), floorDiv(a.hi, 2)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// AddFile streams every row of a results file into a.
func (a *Aggregate) AddFile(path string) error { return a.AddFiles([]string{path}) }

// addFile streams every row of a results file into a, the names kept
// already chosen.
func (a *Aggregate) addFile(path string) error {
	f, err := results.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	a.files++
	a.addParameters(f)
	timed := a.fileTimeline(f, filepath.Base(path))
	if err := a.addFileColumns(f, timed); err != nil {
		return err
	}
	// What the footer says of the run: which shard, and whether it ended
	// early. The file's first row names its run.
	var run string
	if first, err := pqfile.ReadRange[struct {
		Run string `parquet:"run"`
	}](f, 0, 1); err == nil && len(first) == 1 {
		run = first[0].Run
	}
	if spec, ok := f.Meta(results.MetaShard); ok {
		if sh, err := shard.Parse(spec); err == nil {
			if a.shardFiles[run] == nil {
				a.shardFiles[run] = map[int]int{}
			}
			a.shardFiles[run][sh.Index] = sh.Count
		}
	}
	if n, ok := f.Meta(results.MetaOverloaded); ok {
		if secs, err := strconv.Atoi(n); err == nil && secs > 0 {
			a.overloaded += secs
		}
	}
	if why, ok := f.Meta(results.MetaOverloadCause); ok && why != "" {
		a.causes = append(a.causes, why)
	}
	if n, ok := f.Meta(results.MetaUnsent); ok {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
			a.unsent += v
		}
	}
	if why, ok := f.Meta(results.MetaStopped); ok {
		a.stopped = append(a.stopped, fmt.Sprintf("%s (%s) stopped early: %s", filepath.Base(path), run, why))
	}
	return nil
}

// missingShards says which shards of each sharded run are missing.
func (a *Aggregate) missingShards() []string {
	var out []string
	for _, run := range slices.Sorted(maps.Keys(a.shardFiles)) {
		got := a.shardFiles[run]
		n := 0
		for _, c := range got {
			n = max(n, c)
		}
		var missing []string
		for i := range n {
			if _, ok := got[i]; !ok {
				missing = append(missing, fmt.Sprint(i))
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("run %s: shard %s of %d missing (shards are numbered from 0): this is not the whole run", run, strings.Join(missing, ", "), n))
		}
	}
	return out
}

// Merge adds what o counted: the result is what one Aggregate fed both
// sets of rows would hold. o is consumed: its parts move into a.
func (a *Aggregate) Merge(o *Aggregate) {
	// In the order of the keys: which names a full a admits must not
	// depend on a map's order (with keep set, none is left out).
	for _, k := range slices.SortedFunc(maps.Keys(o.byKey), compareKeys) {
		s := o.byKey[k]
		m := a.byKey[k]
		if m == nil && (k == Key{Name: OtherName} || !a.folds(k)) {
			a.byKey[k] = s
			continue
		}
		if m == nil {
			k = Key{Name: OtherName}
			if m = a.byKey[k]; m == nil {
				m = newStats(k)
				a.byKey[k] = m
			}
		}
		m.merge(s)
	}
	a.overflowed = a.overflowed || o.overflowed
	a.otherFails += o.otherFails + a.fails.merge(o.fails)
	if !o.first.IsZero() && (a.first.IsZero() || o.first.Before(a.first)) {
		a.first = o.first
	}
	if o.last.After(a.last) {
		a.last = o.last
	}
	for k, sp := range o.runs {
		if m := a.runs[k]; m != nil {
			m.add(sp.Start, sp.End, sp.Requests)
		} else {
			a.runs[k] = sp
		}
	}
	for k := range o.scenarios {
		a.scenarios[k] = true
	}
	for k := range o.shards {
		a.shards[k] = true
	}
	a.users = max(a.users, o.users)
	a.open = a.open || o.open
	a.late.Merge(o.late)
	for run, got := range o.shardFiles {
		if a.shardFiles[run] == nil {
			a.shardFiles[run] = map[int]int{}
		}
		maps.Copy(a.shardFiles[run], got)
	}
	a.stopped = append(a.stopped, o.stopped...)
	a.overloaded += o.overloaded
	a.causes = append(a.causes, o.causes...)
	a.unsent += o.unsent
	a.abandoned += o.abandoned
	a.files += o.files
	a.mergeWindows(o)
	a.mergeTimeline(o)
	a.mergeShadow(o)
	a.mergeParameters(o)
}

// mergeWindows moves o's windows into a: both at the wider step, then
// merged, then widened again if the union spans too many.
func (a *Aggregate) mergeWindows(o *Aggregate) {
	if len(o.windows) == 0 {
		return
	}
	for a.step < o.step {
		a.widen()
	}
	for o.step < a.step {
		o.widen()
	}
	for i, w := range o.windows {
		if len(a.windows) == 0 {
			a.lo, a.hi = i, i
		}
		a.lo, a.hi = min(a.lo, i), max(a.hi, i)
		if m := a.windows[i]; m != nil {
			m.merge(w)
		} else {
			a.windows[i] = w
		}
	}
	for a.hi-a.lo >= maxWindows {
		a.widen()
	}
	o.windows = map[int64]*Window{}
}

// Report is the finished figures.
type Report struct {
	// Shadow is the shadow target's answers as a report of their own,
	// Between how they differed from the target's (replay --shadow); nil
	// without one.
	Shadow, Between *Report
	// Names are the stats per method and name, sorted by name then method;
	// Total is all of them.
	Names []*Stats
	Total *Stats
	// Windows is the time series, every step from the first to the last
	// (empty windows included); Step is its width.
	Windows []*Window
	Step    time.Duration
	// Failures are sorted by occurrences, most first.
	Failures []Failure
	// Facts about the run.
	Runs, Scenarios []string
	// RunSpans are each run's own span and requests, by run id; Active
	// is how long some run was running (the union of their spans): the
	// time rates are over.
	RunSpans []RunSpan
	Active   time.Duration
	// Shards are the shard numbers of sharded runs (replay --shard);
	// empty for a run that was not sharded.
	Shards []int32
	// ScenarioReports are, when the report holds several scenarios (a
	// whole suite), each one's own figures and verdicts; ScenariosNote
	// says why there are none when the files mix scenarios.
	ScenarioReports []*ScenarioReport
	ScenariosNote   string
	Files           int
	Start, End      time.Time
	Users           int32
	// Open says the rows come from the open model (requests were sent
	// after their scheduled time): latency then counts from the schedule.
	Open bool
	// MissingShards and StoppedEarly say what makes the report partial:
	// shards of a run that are not there, runs that ended before their
	// duration. Analyze then fails.
	MissingShards, StoppedEarly []string
	// OverloadedSeconds adds up the seconds replay said it was itself the
	// bottleneck (CPU saturated, or sends running late).
	OverloadedSeconds int
	// OverloadCauses say what made it the bottleneck, and for how long
	// (one line per results file that says so).
	OverloadCauses []string
	// Unsent counts open-model requests scheduled before the end that the
	// generator could not send by then; on the recorded timeline, the
	// requests due before the end that were not sent because their
	// sessions were behind it, waiting for answers.
	Unsent int64
	// Abandoned counts requests abandoned in flight (a second Ctrl-C):
	// they are in no figure.
	Abandoned int64
	// LateP99 is how late the open model's sends left (p99, ms): past
	// OverloadedLate the generator, not the server, set the pace.
	LateP99 float64
	// Timeline is, for a run of the recorded scenario, how it kept to the
	// recorded timeline (nil for other runs). TimelineNotes say what was
	// wrong with the results files' timelines: a damaged one (its file's
	// requests are in no timeline figure), or files whose timelines start
	// elsewhere (the first is used).
	Timeline      *Timeline
	TimelineNotes []string
	// Baseline judges the run against a baseline (analyze --baseline,
	// set by Run); nil without one.
	Baseline *Comparison
	// Parameters say how the run was made, as the results files'
	// footers do (none for files written before they did).
	Parameters []Parameter
}

// Problems are MissingShards and StoppedEarly together.
func (r *Report) Problems() []string { return append(slices.Clone(r.MissingShards), r.StoppedEarly...) }

// OverloadedLate is the send lateness (p99, ms) past which the report says
// the generator was overloaded, as replay's live line does.
const OverloadedLate = 10.0

// Overloaded says the generator could not keep its schedule: the figures
// are then the generator's as much as the server's.
func (r *Report) Overloaded() bool { return r.OverloadReason() != "" }

// OverloadReason says how the generator was overloaded, or "".
func (r *Report) OverloadReason() string {
	var why []string
	if r.Open && r.LateP99 > OverloadedLate {
		why = append(why, fmt.Sprintf("sends left %.1f ms late (p99)", r.LateP99))
	}
	if r.OverloadedSeconds > 0 {
		cause := "its CPU saturated or its sends late"
		if len(r.OverloadCauses) > 0 {
			cause = strings.Join(slices.Compact(slices.Sorted(slices.Values(r.OverloadCauses))), "; ")
		}
		why = append(why, fmt.Sprintf("replay was the bottleneck for %d s (%s)", r.OverloadedSeconds, cause))
	}
	if r.Unsent > 0 && r.Timeline == nil {
		// (On the recorded timeline they waited for late answers: the
		// timeline's lines say so.)
		why = append(why, fmt.Sprintf("%d scheduled requests could not be sent before the end", r.Unsent))
	}
	return strings.Join(why, "; ")
}

// RunSpan is one run's own span (its shards together), from its first
// send to its last answer.
type RunSpan struct {
	// Run is the run id.
	Run string
	// Start and End are its first send and its last answer.
	Start, End time.Time
	// Requests counts its requests.
	Requests int64
}

func (sp *RunSpan) add(start, end time.Time, n int64) {
	if start.Before(sp.Start) {
		sp.Start = start
	}
	if end.After(sp.End) {
		sp.End = end
	}
	sp.Requests += n
}

// Duration is the run's span, from its first send to its last answer.
func (sp RunSpan) Duration() time.Duration { return sp.End.Sub(sp.Start) }

// RPS is its requests over its duration.
func (sp RunSpan) RPS() float64 {
	if d := sp.Duration().Seconds(); d > 0 {
		return float64(sp.Requests) / d
	}
	return 0
}

// activeTime is how long some run was running: the length of the union
// of the runs' spans. Runs one after the other add up their durations,
// never the gaps between them; runs at the same time count once.
func activeTime(spans []RunSpan) time.Duration {
	sorted := slices.SortedFunc(slices.Values(spans), func(x, y RunSpan) int { return x.Start.Compare(y.Start) })
	var total time.Duration
	var end time.Time
	for i, sp := range sorted {
		switch {
		case i == 0 || sp.Start.After(end):
			total += sp.Duration()
			end = sp.End
		case sp.End.After(end):
			total += sp.End.Sub(end)
			end = sp.End
		}
	}
	return total
}

// Duration is the report's span, from the first send to the last answer.
func (r *Report) Duration() time.Duration { return r.End.Sub(r.Start) }

// RateDuration is what rates are over: the time some run was running
// (Active), or the span when the report does not say.
func (r *Report) RateDuration() time.Duration {
	if r.Active > 0 {
		return r.Active
	}
	return r.Duration()
}

// RPS is requests over the time some run was running: for one run (its
// shards together) its duration; for several, their durations added up,
// never the gaps between them.
func (r *Report) RPS(s *Stats) float64 {
	if d := r.RateDuration().Seconds(); d > 0 {
		return float64(s.Requests) / d
	}
	return 0
}

// FailuresPerSecond is failures over the time some run was running.
func (r *Report) FailuresPerSecond(s *Stats) float64 {
	if d := r.RateDuration().Seconds(); d > 0 {
		return float64(s.Failures) / d
	}
	return 0
}

// Report returns the figures so far.
func (a *Aggregate) Report() *Report {
	// The total is the names merged: recording it per row as well would
	// double the cost of every row.
	rep := &Report{Total: newStats(Key{Name: "Aggregated"}), Step: a.step, Start: a.first, End: a.last, Users: a.users, Open: a.open, Files: a.files,
		LateP99: ms(quantile(a.late, 99)), MissingShards: a.missingShards(), StoppedEarly: slices.Sorted(slices.Values(a.stopped)), OverloadedSeconds: a.overloaded,
		OverloadCauses: slices.Clone(a.causes), Unsent: a.unsent, Abandoned: a.abandoned, TimelineNotes: slices.Clone(a.timelineNotes)}
	if a.timeline != nil {
		rep.Timeline = a.timeline.report()
	}
	rep.Parameters = a.parameters()
	rep.Names = slices.Collect(maps.Values(a.byKey))
	slices.SortFunc(rep.Names, func(x, y *Stats) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Method, y.Method)) })
	for _, s := range rep.Names { // in order: the total's difference texts, when past their bound, do not depend on a map's
		rep.Total.merge(s)
		s.finish()
	}
	rep.Total.finish()
	if len(a.windows) > 0 {
		for i := a.lo; i <= a.hi; i++ {
			w := a.windows[i]
			if w == nil {
				w = &Window{Start: time.Unix(0, i*int64(a.step)).UTC(), Latency: hdrhistogram.New(1, histMax, windowDigits)}
			}
			rep.Windows = append(rep.Windows, w)
		}
	}
	for f, n := range a.fails.counts {
		f.Occurrences = n
		rep.Failures = append(rep.Failures, f)
	}
	byCount := func(x, y Failure) int {
		return cmp.Or(cmp.Compare(y.Occurrences, x.Occurrences), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Method, y.Method), cmp.Compare(x.Error, y.Error))
	}
	slices.SortFunc(rep.Failures, byCount)
	// The maxErrors most frequent failures have a line of their own; the
	// others, and those the count left out, are OtherError's.
	other := a.otherFails
	if len(rep.Failures) > maxErrors {
		for _, f := range rep.Failures[maxErrors:] {
			other += f.Occurrences
		}
		rep.Failures = rep.Failures[:maxErrors]
	}
	if other > 0 {
		rep.Failures = append(rep.Failures, Failure{Error: OtherError, Occurrences: other})
		slices.SortFunc(rep.Failures, byCount)
	}
	rep.Runs = slices.Sorted(maps.Keys(a.runs))
	for _, run := range rep.Runs {
		rep.RunSpans = append(rep.RunSpans, *a.runs[run])
	}
	rep.Active = activeTime(rep.RunSpans)
	rep.Scenarios = slices.Sorted(maps.Keys(a.scenarios))
	// An unsharded run's rows all say shard 0: it has no shards.
	if len(a.shardFiles) > 0 || len(a.shards) > 1 || !a.shards[0] {
		rep.Shards = slices.Sorted(maps.Keys(a.shards))
	}
	if a.shadow != nil {
		rep.Shadow, rep.Between = a.shadow.Report(), a.between.Report()
	}
	return rep
}

func compareKeys(x, y Key) int {
	return cmp.Or(cmp.Compare(x.Method, y.Method), cmp.Compare(x.Name, y.Name))
}

// Name finds the stats of a name (any method, merged), or nil.
func (r *Report) Name(name string) *Stats {
	var out *Stats
	for _, s := range r.Names {
		if s.Name != name {
			continue
		}
		if out == nil {
			out = newStats(Key{Name: name})
		}
		out.merge(s)
	}
	if out != nil {
		out.finish()
	}
	return out
}
