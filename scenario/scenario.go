// Package scenario holds the load shapes replay runs: the seed's six
// scenarios, how many virtual users each wants over time (Shape), how long
// a user waits between requests (Pacing), and which recorded requests it
// sends (Mix). It is pure logic: no clock, no network.
package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Scenario is one named load test.
type Scenario struct {
	// Name is the scenario's name (light_load) and Short its short one (light).
	Name, Short string
	// Users is the number of virtual users at full load.
	Users int
	// Duration is how long the run lasts.
	Duration time.Duration
	// Pacing is the pacing profile's name (see NewPacing).
	Pacing string
	// Shape says how users come and go: "ramp" or "spike".
	Shape string
	// Mix says which recorded requests are sent: "recorded", "read" (reads
	// only) or "write" (at least 80% writes).
	Mix MixKind
	// Description is the line shown by replay list.
	Description string
}

// Timeline says the scenario replays the recorded timeline (Shape
// "timeline"): its users and duration are the trace's.
func (s Scenario) Timeline() bool { return s.Shape == ShapeTimeline }

// ShapeTimeline is the recorded scenario's shape: every recorded session
// when it was recorded, not a number of virtual users.
const ShapeTimeline = "timeline"

var table = []Scenario{
	{"light_load", "light", 10, 5 * time.Minute, "recorded", "ramp", "recorded", "light load: recorded think times and mix"},
	{"normal_load", "normal", 50, 10 * time.Minute, "recorded", "ramp", "recorded", "normal production load: recorded think times and mix"},
	{"high_load", "high", 100, 10 * time.Minute, "high", "ramp", "recorded", "high load: 0.1-0.5 s between requests (HighLoadUser)"},
	{"spike_test", "spike", 200, 5 * time.Minute, "recorded", "spike", "recorded", "10% of users for a minute, all within seconds, hold, fall back"},
	{"read_heavy", "read", 80, 8 * time.Minute, "recorded", "ramp", "read", "read requests only (ReadOnlyUser)"},
	{"write_heavy", "write", 30, 10 * time.Minute, "recorded", "ramp", "write", "at least 80% writes (WriteHeavyUser)"},
	{"recorded", "rec", 0, 0, "recorded", ShapeTimeline, "recorded", "the recorded timeline: each session when it was recorded (--speed, --amplify, --window, --loop)"},
}

// Seed returns the seed's six scenarios (replay --all), without the
// recorded timeline.
func Seed() []Scenario {
	var out []Scenario
	for _, s := range table {
		if !s.Timeline() {
			out = append(out, s)
		}
	}
	return out
}

// All returns the scenarios in the seed's order, the recorded timeline last.
func All() []Scenario { return append([]Scenario(nil), table...) }

// Lookup finds a scenario by its name or short name.
func Lookup(name string) (Scenario, error) {
	for _, s := range table {
		if name == s.Name || name == s.Short {
			return s, nil
		}
	}
	names := make([]string, len(table))
	for i, s := range table {
		names[i] = s.Name
	}
	return Scenario{}, fmt.Errorf("no scenario %q: the scenarios are %s (replay list)", name, strings.Join(names, ", "))
}

// Shape is how many virtual users a run wants at each moment.
type Shape interface {
	// Users is the number of users that should be active at elapsed time t.
	Users(t time.Duration) int
}

// NewShape builds the shape of a scenario for users virtual users over d,
// ramping up over ramp (ramp shapes only; 0: all at once).
func NewShape(kind string, users int, d, ramp time.Duration) (Shape, error) {
	switch kind {
	case "ramp":
		return Ramp{Peak: users, Over: ramp}, nil
	case "spike":
		return NewSpike(users, d), nil
	}
	return nil, fmt.Errorf("no shape %q", kind)
}

// Ramp starts Peak users evenly over Over, then holds them all.
type Ramp struct {
	Peak int
	Over time.Duration
}

// Users implements Shape.
func (r Ramp) Users(t time.Duration) int {
	if r.Over <= 0 || t >= r.Over {
		return r.Peak
	}
	if t < 0 {
		return 0
	}
	// One user at once, the rest evenly: a ramp never starts empty.
	return max(1, int(math.Ceil(float64(r.Peak)*float64(t)/float64(r.Over))))
}

// Spike is spike_test's shape: a base of 10% of the users for the first
// minute, a rise to all of them within seconds, a hold, and the fall back
// to the base for the last minute:
//
//	users
//	 100% |          ______________________
//	      |         /                      \
//	      |        /                        \
//	  10% |_______/                          \__________
//	      +------+-+------------------------+-+---------> t
//	      0     1m 1m+rise          end-1m-fall end-1m  end
//
// Runs shorter than three minutes keep the proportions (a fifth of the run
// at the base before and after).
type Spike struct {
	Peak             int           // users during the spike
	Base             int           // users before and after it
	Before, After    time.Duration // time at the base before the rise and after the fall
	Rise, Fall, Hold time.Duration
}

// NewSpike lays the spike over d for users virtual users.
func NewSpike(users int, d time.Duration) Spike {
	base := max(1, int(math.Round(float64(users)/10)))
	edge, rise := time.Minute, 5*time.Second
	if d < 3*time.Minute {
		edge, rise = d/5, max(d/60, 10*time.Millisecond)
	}
	hold := max(0, d-2*edge-2*rise)
	return Spike{Peak: users, Base: base, Before: edge, After: edge, Rise: rise, Fall: rise, Hold: hold}
}

// Users implements Shape.
func (s Spike) Users(t time.Duration) int {
	lerp := func(from, to int, f float64) int { return from + int(math.Round(float64(to-from)*f)) }
	switch {
	case t < s.Before:
		return s.Base
	case t < s.Before+s.Rise:
		return lerp(s.Base, s.Peak, float64(t-s.Before)/float64(s.Rise))
	case t < s.Before+s.Rise+s.Hold:
		return s.Peak
	case t < s.Before+s.Rise+s.Hold+s.Fall:
		return lerp(s.Peak, s.Base, float64(t-s.Before-s.Rise-s.Hold)/float64(s.Fall))
	}
	return s.Base
}

// Pacing is how long a virtual user waits before its next request.
type Pacing interface {
	// Wait returns the think time before a request that was recorded gap
	// after the previous one of its session.
	Wait(gap time.Duration, rng *rand.Rand) time.Duration
}

// NewPacing returns a pacing profile: "recorded" (the trace's own gaps
// divided by speed), "normal" 1-3 s (the seed's AIWorkOSUser), "high"
// 0.1-0.5 s (HighLoadUser), "stress" 0-0.1 s (APIStressUser), "none".
func NewPacing(name string, speed float64) (Pacing, error) {
	switch name {
	case "recorded":
		if speed <= 0 {
			return nil, fmt.Errorf("the speed must be positive, not %g", speed)
		}
		return Recorded{Speed: speed}, nil
	case "normal":
		return Uniform{time.Second, 3 * time.Second}, nil
	case "high":
		return Uniform{100 * time.Millisecond, 500 * time.Millisecond}, nil
	case "stress":
		return Uniform{0, 100 * time.Millisecond}, nil
	case "none":
		return Uniform{}, nil
	}
	return nil, fmt.Errorf("no pacing %q: want recorded, normal, high, stress or none", name)
}

// Recorded waits the recorded gap, divided by Speed.
type Recorded struct{ Speed float64 }

// Wait implements Pacing.
func (r Recorded) Wait(gap time.Duration, _ *rand.Rand) time.Duration {
	return time.Duration(float64(max(gap, 0)) / r.Speed)
}

// Uniform waits a uniformly drawn time between Min and Max.
type Uniform struct{ Min, Max time.Duration }

// Wait implements Pacing.
func (u Uniform) Wait(_ time.Duration, rng *rand.Rand) time.Duration {
	if u.Max <= u.Min {
		return u.Min
	}
	return u.Min + time.Duration(rng.Int64N(int64(u.Max-u.Min)))
}

// Mix decides which recorded requests a virtual user sends. It keeps
// count, so each user has its own (MixKind.New).
type Mix interface {
	// Keep says whether to send the next request, of kind "read" or "write".
	Keep(kind string) bool
}

// MixKind names a mix: "recorded" sends all, "read" only reads, "write"
// every write and a fair sample of the reads, few enough that writes are
// at least 80% of what a user sends at every moment. Parse it once
// (ParseMix), then make one Mix per user.
type MixKind string

// The mixes.
const (
	MixRecorded MixKind = "recorded"
	MixRead     MixKind = "read"
	MixWrite    MixKind = "write"
)

// ParseMix checks a mix's name.
func ParseMix(name string) (MixKind, error) {
	switch k := MixKind(name); k {
	case MixRecorded, MixRead, MixWrite:
		return k, nil
	}
	return "", fmt.Errorf("no mix %q: want recorded, read or write", name)
}

// New returns the mix of one virtual user, with its own counts. writes
// and reads are the trace's; rng draws which reads the write mix sends.
func (k MixKind) New(writes, reads int, rng *rand.Rand) Mix {
	switch k {
	case MixRead:
		return onlyReads{}
	case MixWrite:
		return &writeHeavy{keep: WriteMixReads(writes, reads), rng: rng}
	}
	return keepAll{}
}

// WriteMixReads is the share of the reads the write mix sends: each read
// is kept with this chance, whatever its place or session, so the reads
// sent have the recorded reads' mix. It is nine tenths of what would make
// writes exactly 80%, so that the cap at 80% (which takes the reads that
// happen to come after writes) seldom has to act.
func WriteMixReads(writes, reads int) float64 {
	if reads == 0 {
		return 0
	}
	return min(1, 0.9*float64(writes)/(4*float64(reads)))
}

type keepAll struct{}

func (keepAll) Keep(string) bool { return true }

type onlyReads struct{}

func (onlyReads) Keep(kind string) bool { return kind == "read" }

// writeHeavy sends every write, and each read with the chance keep while
// writes stay at least four times the reads sent (writes / all >= 80%).
type writeHeavy struct {
	keep          float64
	rng           *rand.Rand
	reads, writes int
}

func (w *writeHeavy) Keep(kind string) bool {
	if kind != "read" {
		w.writes++
		return true
	}
	// The draw comes first, every time: which reads are kept then does not
	// depend on the cap.
	if w.rng.Float64() < w.keep && 4*(w.reads+1) <= w.writes {
		w.reads++
		return true
	}
	return false
}
