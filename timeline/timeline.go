// Package timeline holds what the recorded scenario needs to lay the
// recorded sessions out in time again: the slice of a trace to replay
// (Window), how many copies of each session to send (Amplify), and when
// each copy starts (recorded offset divided by Speed, plus a seeded
// jitter). It is pure logic: no clock, no network.
package timeline

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"
)

// Edge is one end of a window: an offset from the trace's start (+10m),
// a clock time (09:00, the first one at or after the trace's start), or
// an instant (RFC 3339).
type Edge struct {
	offset time.Duration // +D
	clock  [3]int        // HH:MM[:SS]
	at     time.Time     // RFC 3339
	kind   byte          // '+', 'c' or 't'
	text   string
}

// Window is the slice of a trace to replay, FROM..TO. The zero Window is
// the whole trace.
type Window struct {
	From, To Edge
}

// IsZero says the window is the whole trace.
func (w Window) IsZero() bool { return w.From.kind == 0 }

func (w Window) String() string {
	if w.IsZero() {
		return ""
	}
	return w.From.text + ".." + w.To.text
}

// ParseWindow reads FROM..TO, each an offset from the trace's start
// (+10m, +1h30m), a clock time in loc (09:00, 09:15:30) or an RFC 3339
// time.
func ParseWindow(s string, loc *time.Location) (Window, error) {
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		return Window{}, fmt.Errorf("window %q: want FROM..TO, such as 09:00..09:15 or +10m..+25m", s)
	}
	var w Window
	var err error
	if w.From, err = parseEdge(from, loc); err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	if w.To, err = parseEdge(to, loc); err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	if w.From.kind == w.To.kind && w.From.kind != 'c' {
		if (w.From.kind == '+' && w.To.offset <= w.From.offset) || (w.From.kind == 't' && !w.To.at.After(w.From.at)) {
			return Window{}, fmt.Errorf("window %q ends before it starts", s)
		}
	}
	return w, nil
}

func parseEdge(s string, loc *time.Location) (Edge, error) {
	s = strings.TrimSpace(s)
	e := Edge{text: s}
	switch {
	case strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return e, fmt.Errorf("%q: an offset is +DURATION, such as +10m or +1h30m", s)
		}
		e.kind, e.offset = '+', d
		return e, nil
	case strings.Count(s, ":") <= 2 && !strings.ContainsAny(s, "TZ-"):
		for _, layout := range []string{"15:04", "15:04:05"} {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				e.kind, e.clock = 'c', [3]int{t.Hour(), t.Minute(), t.Second()}
				e.at = time.Date(2000, 1, 1, 0, 0, 0, 0, loc) // keeps loc
				return e, nil
			}
		}
	default:
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.kind, e.at = 't', t
			return e, nil
		}
	}
	return e, fmt.Errorf("%q: want an offset (+10m), a clock time (09:00 or 09:00:30) or an RFC 3339 time", s)
}

// Resolve is the window's instants for a trace whose first request is at
// start. A clock time is the first one at or after start, in the
// location ParseWindow was given; TO is the first one after FROM.
func (w Window) Resolve(start time.Time) (from, to time.Time) {
	from = w.From.resolve(start, start)
	to = w.To.resolve(start, from.Add(time.Nanosecond))
	return from, to
}

func (e Edge) resolve(start, notBefore time.Time) time.Time {
	switch e.kind {
	case '+':
		return start.Add(e.offset)
	case 't':
		return e.at
	}
	// The clock time on notBefore's day, in the window's location, or on
	// the next day when it has passed. (Built from the wall clock, not
	// midnight plus a duration: on a day clocks change the two differ.)
	n := notBefore.In(e.at.Location())
	h, m, s := e.clock[0], e.clock[1], e.clock[2]
	t := time.Date(n.Year(), n.Month(), n.Day(), h, m, s, 0, n.Location())
	if t.Before(notBefore) {
		t = time.Date(n.Year(), n.Month(), n.Day()+1, h, m, s, 0, n.Location())
	}
	return t
}

// Options lay copies of the recorded sessions out in time.
type Options struct {
	// Speed divides recorded offsets and gaps (2: twice as fast).
	Speed float64
	// Amplify is how many copies of each session to send: 3 sends three,
	// 0.5 keeps half the sessions, 2.5 sends two of each and a third of
	// half of them. Which sessions is drawn from Seed and each session's
	// key, not from its place in the trace: a window keeps the sessions a
	// whole run would.
	Amplify float64
	// Jitter spreads the starts of a session's extra copies over
	// [-Jitter, +Jitter) around its recorded start, so that copies do not
	// arrive in lockstep. The first copy keeps the recorded start.
	Jitter time.Duration
	Seed   uint64
}

// Check says what is wrong with o.
func (o Options) Check() error {
	switch {
	case !(o.Speed >= MinSpeed && o.Speed <= MaxSpeed):
		return fmt.Errorf("the speed must be from %g to %g, not %g", MinSpeed, MaxSpeed, o.Speed)
	case !(o.Amplify > 0) || o.Amplify > MaxAmplify:
		return fmt.Errorf("amplify must be more than 0 and at most %d, not %g", MaxAmplify, o.Amplify)
	case o.Jitter < 0:
		return errors.New("the jitter cannot be negative")
	}
	return nil
}

// MaxAmplify bounds the copies of one session; MinSpeed and MaxSpeed the
// speed (a thousandth: a second of recording takes 17 minutes; a
// million: a day takes 86 ms).
const (
	MaxAmplify = 10000
	MinSpeed   = 0.001
	MaxSpeed   = 1e6
)

// Copies is how many copies of the session with this key to send.
func (o Options) Copies(key string) int {
	n := int(o.Amplify)
	if frac := o.Amplify - float64(n); frac > 0 && unit(o.Seed, key, 0xa3f1, 0) < frac {
		n++
	}
	return n
}

// Offset is when copy c of the session with this key starts in loop
// round k, from the run's start: its recorded offset from the start of
// the replayed slice, divided by Speed, plus k recorded periods (the time
// from one round's start to the next), divided too, plus the copy's
// jitter (never before the round starts).
func (o Options) Offset(key string, recorded, period time.Duration, c, k int) time.Duration {
	round := saturate(float64(period) * float64(k) / o.Speed)
	at := o.Scale(recorded)
	if c > 0 && o.Jitter > 0 {
		at += time.Duration((2*unit(o.Seed, key, uint64(c), uint64(k)) - 1) * float64(o.Jitter))
	}
	return saturate(float64(round) + float64(max(at, 0)))
}

// Scale is a recorded gap divided by Speed (at most the longest
// time.Duration).
func (o Options) Scale(d time.Duration) time.Duration {
	return saturate(float64(d) / o.Speed)
}

// Recorded is the recorded time that d of a run replays: d times the
// speed (saturated).
func (o Options) Recorded(d time.Duration) time.Duration {
	return saturate(float64(d) * o.Speed)
}

// saturate is f nanoseconds, within what a time.Duration holds.
func saturate(f float64) time.Duration {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(f)
}

// unit is a number in [0, 1) drawn from the seed, a session key and two
// more values: the same in every process.
func unit(seed uint64, key string, a, b uint64) float64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	x := h.Sum64() ^ seed*0x9e3779b97f4a7c15 ^ a*0xbf58476d1ce4e5b9 ^ b*0x94d049bb133111eb
	// splitmix64's finalizer: every input bit moves every output bit.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
