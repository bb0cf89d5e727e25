package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

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
	// Changes are the changes made to the runs while they ran (the users
	// or the rate, from replay --web), in time order, at most 1,000;
	// ChangesLeftOut counts those past them.
	Changes        []Change
	ChangesLeftOut int
	// Notes say what could not be read of the files' footers (other than
	// their timelines: TimelineNotes).
	Notes []string
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
