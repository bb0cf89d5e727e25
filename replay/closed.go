package replay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/replaykit/replaykit/scenario"
)

// closedModel runs virtual users. Each one walks through the sessions
// (Plan.Walk), sending a session's requests in order with the pacing's
// wait before each one (the first too), then taking its next session.
// Every 100 ms the shape says how many users should be active; users are
// woken or parked to match. A parked user finishes its request in flight;
// woken again, it goes on with its next session.
type closedModel struct{}

// userSlot is one virtual user of this shard. Its goroutine lives for the
// whole run; each activation is a context, ended when the user is parked.
type userSlot struct {
	v      int
	wake   chan context.Context // capacity 1: the latest activation
	cancel context.CancelFunc   // of the current activation; nil when parked
}

func (closedModel) run(st *runState) {
	p := st.plan
	var slots []*userSlot
	for v := 0; v < p.Users; v++ {
		if p.Shard.Mine(v) {
			slots = append(slots, &userSlot{v: v, wake: make(chan context.Context, 1)})
		}
	}
	var users sync.WaitGroup
	for _, s := range slots {
		users.Add(1)
		go func() {
			defer users.Done()
			user(st, s)
		}()
	}
	// Slots are woken in user order: user v is active when the shape
	// wants more than v users (those of other shards run elsewhere).
	adjust := func() {
		want := min(st.control.wantUsers(p, time.Since(st.start)), p.Users)
		for _, s := range slots {
			switch active := s.cancel != nil; {
			case s.v < want && !active:
				ctx, cancel := context.WithCancel(st.starting)
				select { // drop an activation the user has not taken yet
				case <-s.wake:
				default:
				}
				s.wake <- ctx
				s.cancel = cancel
			case s.v >= want && active:
				s.cancel()
				s.cancel = nil
			}
		}
	}
	adjust()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
loop:
	for {
		select {
		case <-st.starting.Done():
			break loop
		case <-t.C:
			adjust()
		}
	}
	for _, s := range slots {
		if s.cancel != nil {
			s.cancel()
		}
	}
	users.Wait()
}

// user is one virtual user's goroutine: it waits to be woken, replays
// sessions while active, and ends with the run.
func user(st *runState, s *userSlot) {
	p := st.plan
	rng := rand.New(rand.NewPCG(p.Seed, uint64(s.v)+1))
	mix := st.newMix(rng) // one per user: write_heavy counts what this user sent
	k := 0                // the user's next session
	for {
		var act context.Context
		select {
		case act = <-s.wake:
		case <-st.starting.Done():
			return
		}
		st.live.active.Add(1)
		for act.Err() == nil {
			// A session cut short by parking is not taken again: woken,
			// the user goes on with its next one.
			ok := replaySession(st, s.v, k, act, rng, mix)
			k++
			if !ok {
				break
			}
		}
		st.live.active.Add(-1)
	}
}

// replaySession replays user v's k-th session; it says whether to go on (false
// when the user was parked or the run ended mid-session).
func replaySession(st *runState, v, k int, act context.Context, rng *rand.Rand, mix scenario.Mix) bool {
	p := st.plan
	i := p.Walk.Session(v, k)
	s, err := p.Sessions.Session(i)
	if err != nil {
		st.fail(fmt.Errorf("%w: %w", ErrSession, err))
		return false
	}
	var prev time.Time
	sent := 0
	values := st.send.values(s)
	for j := range s.Requests {
		r := &s.Requests[j]
		if !mix.Keep(r.Kind) {
			continue
		}
		gap := p.FirstWait
		if !prev.IsZero() {
			gap = r.TS.Sub(prev)
		}
		prev = r.TS
		rq := st.send.request(s, j, values)
		if !sleep(act, p.Pacing.Wait(gap, rng)) {
			return false
		}
		st.send.send(v, st.live.users(), rq, time.Now())
		sent++
	}
	if sent == 0 {
		// A session with nothing this mix sends: do not spin through
		// sessions without a pause.
		return sleep(act, 10*time.Millisecond)
	}
	return true
}

// sleep waits d unless ctx ends first; it says whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
