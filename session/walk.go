package session

import "sort"

// Walk is the order in which virtual users take sessions. Every user walks
// through all the sessions, one after another, in one order drawn from the
// seed; each user starts at its own place in it: user v of u starts at
// the session where v/u of the way through the order's requests falls.
// So at any moment the users together have covered the order about
// evenly, and what they send is the recorded mix, whatever the number of
// users or sessions. (Giving user v sessions v, v+u, v+2u, ... instead
// made every user replay one session forever when u was a multiple of
// the number of sessions.)
type Walk struct {
	order  []int // session indexes, a seeded permutation
	starts []int // user v's first place in order
}

// NewWalk lays out the walk of users virtual users over sessions whose
// weights (the requests each one will send) are given by session index.
// Two walks with the same weights, users and seed are the same.
func NewWalk(weights []int, users int, seed uint64) *Walk {
	w := &Walk{order: Order(len(weights), seed), starts: make([]int, users)}
	// cum[j] is the requests of the sessions before place j.
	cum := make([]int64, len(w.order)+1)
	for j, i := range w.order {
		cum[j+1] = cum[j] + int64(max(weights[i], 0))
	}
	total := cum[len(w.order)]
	for v := range w.starts {
		if total == 0 {
			w.starts[v] = v * len(w.order) / max(users, 1)
			continue
		}
		at := int64(v) * total / int64(users)
		// The session boundary nearest the user's share of the requests.
		j := sort.Search(len(w.order), func(j int) bool { return cum[j+1] > at })
		if j+1 < len(w.order) && cum[j+1]-at < at-cum[j] {
			j++
		}
		w.starts[v] = j
	}
	return w
}

// Sessions is how many sessions the walk goes through.
func (w *Walk) Sessions() int { return len(w.order) }

// Users is how many virtual users walk.
func (w *Walk) Users() int { return len(w.starts) }

// Session is the index of user v's k-th session (from 0).
func (w *Walk) Session(v, k int) int {
	return w.order[(w.starts[v]+k)%len(w.order)]
}

// Place is the index of the session at place j of the order (wrapping
// around): the open model goes through the sessions this way.
func (w *Walk) Place(j int) int { return w.order[j%len(w.order)] }
