package analysis

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

// runFacts are what the rows and the files' footers say of the runs:
// their spans, scenarios, shards and users, how late the open model's
// sends left, which shards are there and which runs stopped early, and
// when the generator was the bottleneck.
type runFacts struct {
	// From the rows. first and last are the first send and the last
	// answer's end (Unix nanoseconds), when seen.
	seen        bool
	first, last int64
	runs        map[string]*runSpan // by run id: each run's own span
	scenarios   map[string]bool
	shards      map[int32]bool
	users       int32
	open        bool
	// late holds how late sends left against their schedule (open model).
	late *hdrhistogram.Histogram
	// abandoned counts rows abandoned in flight (a second Ctrl-C): they
	// are in no figure.
	abandoned int64
	// The last run, scenario and shard seen: rows come in runs of them.
	lastRun           string
	lastSpan          *runSpan
	lastScenario      string
	lastShard         int32
	haveScen, haveSrd bool

	// From the footers. shardFiles are the shard files seen, by run:
	// shard index -> count expected; stopped the runs' shards that ended
	// early.
	files      int
	shardFiles map[string]map[int]int
	stopped    []string
	// overloaded adds up the seconds replay found itself the bottleneck;
	// causes says why, per file; unsent counts open-model requests the
	// generator could not send before the end.
	overloaded int
	causes     []string
	unsent     int64
	// params are the values of the files' footer keys that say how the
	// run was made, by key (params.go).
	params map[string]map[string]bool
	// changes are the files' changes made while their runs ran, by run;
	// notes what could not be read of the files' footers.
	changes []Change
	notes   []string
}

// Change is a change made to a run while it ran (replay --web: the
// users of the closed model, the rate of the open model), with its run.
type Change struct {
	Run string `json:"run"`
	results.Change
}

// maxChanges is how many changes a report lists: a footer could hold
// millions, a page and a terminal cannot.
const maxChanges = 1000

// runSpan is a run's span in Unix nanoseconds (RunSpan once reported).
type runSpan struct {
	start, end, requests int64
}

func (sp *runSpan) add(start, end, n int64) {
	sp.start, sp.end = min(sp.start, start), max(sp.end, end)
	sp.requests += n
}

func newRunFacts() *runFacts {
	return &runFacts{runs: map[string]*runSpan{}, scenarios: map[string]bool{}, shards: map[int32]bool{},
		late: newHist(), shardFiles: map[string]map[int]int{}}
}

// add counts row i of b.
func (f *runFacts) add(b *results.Batch, i int) {
	sent, sched := b.Sent[i], b.Scheduled[i]
	end := plus(sched, b.LatencyNanos[i])
	if !f.seen {
		f.seen, f.first, f.last = true, sent, end
	}
	f.first, f.last = min(f.first, sent), max(f.last, end)
	if run := b.Run[i]; f.lastSpan == nil || run != f.lastRun {
		sp := f.runs[run]
		if sp == nil {
			sp = &runSpan{start: sent, end: end}
			f.runs[run] = sp
		}
		f.lastRun, f.lastSpan = run, sp
	}
	f.lastSpan.add(sent, end, 1)
	if sc := b.Scenario[i]; !f.haveScen || sc != f.lastScenario {
		f.scenarios[sc] = true
		f.lastScenario, f.haveScen = sc, true
	}
	if sh := b.Shard[i]; !f.haveSrd || sh != f.lastShard {
		f.shards[sh] = true
		f.lastShard, f.haveSrd = sh, true
	}
	f.users = max(f.users, b.Users[i])
	if late := since(sent, sched); late > 0 {
		f.open = true
		f.late.RecordValue(micros(late))
	}
}

// addFile counts what a file's footer says.
func (f *runFacts) addFile(name string, info results.RunInfo) {
	f.files++
	for k, v := range info.Parameters {
		if f.params == nil {
			f.params = map[string]map[string]bool{}
		}
		if f.params[k] == nil {
			f.params[k] = map[string]bool{}
		}
		f.params[k][v] = true
	}
	if sh := info.Shard; sh != nil {
		if f.shardFiles[info.Run] == nil {
			f.shardFiles[info.Run] = map[int]int{}
		}
		f.shardFiles[info.Run][sh.Index] = sh.Count
	}
	f.overloaded += info.OverloadedSeconds
	if info.OverloadCause != "" {
		f.causes = append(f.causes, info.OverloadCause)
	}
	f.unsent += info.Unsent
	for _, c := range info.Changes {
		f.changes = append(f.changes, Change{Run: info.Run, Change: c})
	}
	if info.ChangesErr != nil {
		f.notes = append(f.notes, fmt.Sprintf("%s: its changes made during the run are not shown: %v", name, info.ChangesErr))
	}
	if info.Stopped {
		f.stopped = append(f.stopped, fmt.Sprintf("%s (%s) stopped early: %s", name, info.Run, info.StopReason))
	}
}

// merge adds what o counted; o is consumed.
func (f *runFacts) merge(o *runFacts) {
	if o.seen {
		if !f.seen {
			f.seen, f.first, f.last = true, o.first, o.last
		}
		f.first, f.last = min(f.first, o.first), max(f.last, o.last)
	}
	for k, sp := range o.runs {
		if m := f.runs[k]; m != nil {
			m.add(sp.start, sp.end, sp.requests)
		} else {
			f.runs[k] = sp
		}
	}
	f.lastSpan = nil // o's may have moved in
	maps.Copy(f.scenarios, o.scenarios)
	maps.Copy(f.shards, o.shards)
	f.users = max(f.users, o.users)
	f.open = f.open || o.open
	f.late.Merge(o.late)
	f.abandoned += o.abandoned
	f.files += o.files
	for run, got := range o.shardFiles {
		if f.shardFiles[run] == nil {
			f.shardFiles[run] = map[int]int{}
		}
		maps.Copy(f.shardFiles[run], got)
	}
	f.stopped = append(f.stopped, o.stopped...)
	f.overloaded += o.overloaded
	f.causes = append(f.causes, o.causes...)
	f.unsent += o.unsent
	f.changes = append(f.changes, o.changes...)
	f.notes = append(f.notes, o.notes...)
	for k, vs := range o.params {
		if f.params == nil {
			f.params = map[string]map[string]bool{}
		}
		if f.params[k] == nil {
			f.params[k] = map[string]bool{}
		}
		maps.Copy(f.params[k], vs)
	}
}

// missingShards says which shards of each sharded run are missing.
func (f *runFacts) missingShards() []string {
	var out []string
	for _, run := range slices.Sorted(maps.Keys(f.shardFiles)) {
		got := f.shardFiles[run]
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

// report sets the report's facts.
func (f *runFacts) report(rep *Report) {
	if f.seen {
		rep.Start, rep.End = time.Unix(0, f.first).UTC(), time.Unix(0, f.last).UTC()
	}
	rep.Users, rep.Open, rep.Files = f.users, f.open, f.files
	rep.LateP99 = ms(QuantileOf(f.late, 99))
	rep.MissingShards, rep.StoppedEarly = f.missingShards(), slices.Sorted(slices.Values(f.stopped))
	rep.OverloadedSeconds, rep.OverloadCauses, rep.Unsent = f.overloaded, slices.Clone(f.causes), f.unsent
	rep.Abandoned = f.abandoned
	rep.Runs = slices.Sorted(maps.Keys(f.runs))
	for _, run := range rep.Runs {
		sp := f.runs[run]
		rep.RunSpans = append(rep.RunSpans, RunSpan{Run: run, Start: time.Unix(0, sp.start).UTC(), End: time.Unix(0, sp.end).UTC(), Requests: sp.requests})
	}
	rep.Active = activeTime(rep.RunSpans)
	rep.Scenarios = slices.Sorted(maps.Keys(f.scenarios))
	// An unsharded run's rows all say shard 0: it has no shards.
	if len(f.shardFiles) > 0 || len(f.shards) > 1 || !f.shards[0] {
		rep.Shards = slices.Sorted(maps.Keys(f.shards))
	}
	rep.Parameters = f.parameters()
	rep.Changes, rep.ChangesLeftOut = f.changeList()
	rep.Notes = slices.Sorted(slices.Values(f.notes))
}

// changeList is the changes in time order, once each (a sharded run's
// files each hold its changes), at most maxChanges, and how many more.
func (f *runFacts) changeList() ([]Change, int) {
	cs := slices.Clone(f.changes)
	slices.SortFunc(cs, func(a, b Change) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Run, b.Run), strings.Compare(a.What, b.What), cmp.Compare(a.Value, b.Value))
	})
	cs = slices.CompactFunc(cs, func(a, b Change) bool {
		return a.Run == b.Run && a.At.Equal(b.At) && a.What == b.What && a.Value == b.Value
	})
	if len(cs) > maxChanges {
		return cs[:maxChanges:maxChanges], len(cs) - maxChanges
	}
	return cs, 0
}
