package replay

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replaykit/replaykit/results"
)

// Control changes a run while it runs: the virtual users of the closed
// model, the rate of the open model. (Stopping a run is ending the stop
// context given to Run.) Every change is kept with when it took effect,
// for the results file's footer (results.MetaChanges) and the Summary.
// One Control serves one run at a time; its methods are safe to call
// from any goroutine.
type Control struct {
	mu      sync.Mutex
	run     *controlled // nil: no run under way
	changes []results.Change
}

// controlled is what a run under way lets its Control change.
type controlled struct {
	open     bool
	timeline bool // the recorded timeline: nothing to change
	maxUsers int
	// users is the users wanted (all shards together), -1 while the
	// scenario's shape decides; rate the open model's last change of
	// rate, nil until there is one. The models read them.
	users atomic.Int64
	rate  atomic.Pointer[rateChange]
}

// rateChange is a new rate and when it took effect: the schedule goes on
// from then at the new rate.
type rateChange struct {
	rate float64
	at   time.Time
}

// ErrNoRun says a Control has no run to change.
var ErrNoRun = errors.New("no run under way")

// errTimeline says the recorded timeline has no users or rate to change.
var errTimeline = errors.New("the recorded timeline has no users or rate to change while it runs: its sessions start when they were recorded")

// SetUsers sets the virtual users of the closed model from now on, all
// shards together (as --scale), in place of the scenario's shape for the
// rest of the run: from 0 to the run's users at full load (--scale).
func (c *Control) SetUsers(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.run == nil:
		return ErrNoRun
	case c.run.timeline:
		return errTimeline
	case c.run.open:
		return errors.New("the open model has no virtual users to change: change its rate")
	case n < 0 || n > c.run.maxUsers:
		return fmt.Errorf("%d users: give 0 to %d (the run's --scale)", n, c.run.maxUsers)
	}
	c.run.users.Store(int64(n))
	c.changes = append(c.changes, results.Change{At: time.Now().UTC(), What: results.ChangeUsers, Value: float64(n)})
	return nil
}

// SetRate sets the open model's requests a second from now on: the next
// request leaves now, and the schedule goes on from it at the new rate.
func (c *Control) SetRate(rate float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.run == nil:
		return ErrNoRun
	case c.run.timeline:
		return errTimeline
	case !c.run.open:
		return errors.New("the closed model has no rate to change: change its users")
	case !(rate > 0) || math.IsInf(rate, 0):
		return fmt.Errorf("a rate of %g requests a second: give a positive number", rate)
	}
	now := time.Now()
	c.run.rate.Store(&rateChange{rate: rate, at: now})
	c.changes = append(c.changes, results.Change{At: now.UTC(), What: results.ChangeRate, Value: rate})
	return nil
}

// Changes are the changes made to the current run (or the last one), in
// order.
func (c *Control) Changes() []results.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}

// attach makes p's run the one c changes, and returns what the models
// read; detach ends it.
func (c *Control) attach(p *Plan) (*controlled, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != nil {
		return nil, errors.New("a Control changes one run at a time, and this one's run is under way")
	}
	c.run = &controlled{open: p.Rate > 0, maxUsers: p.Users, timeline: p.Timeline != nil}
	c.run.users.Store(-1)
	c.changes = nil
	return c.run, nil
}

func (c *Control) detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run = nil
}

// wantUsers is the users the closed model wants at elapsed: the shape's,
// or the last SetUsers.
func (r *controlled) wantUsers(p *Plan, elapsed time.Duration) int {
	if r != nil {
		if n := r.users.Load(); n >= 0 {
			return int(n)
		}
	}
	return p.Shape.Users(elapsed)
}

// rateChanged is the last change of rate, or nil.
func (r *controlled) rateChanged() *rateChange {
	if r == nil {
		return nil
	}
	return r.rate.Load()
}
