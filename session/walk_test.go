package session

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Every user walks through every session before taking one again, even
// when the users are a multiple of the sessions (which used to give each
// user one session forever).
func TestWalkVisitsEverySession(t *testing.T) {
	for _, tc := range []struct{ sessions, users int }{{1, 1}, {5, 1}, {5, 5}, {5, 10}, {7, 200}, {300, 8}, {2, 3}} {
		w := NewWalk(weightsOf(tc.sessions, 1), tc.users, 1)
		for v := 0; v < tc.users; v++ {
			seen := map[int]bool{}
			for k := 0; k < tc.sessions; k++ {
				seen[w.Session(v, k)] = true
			}
			if len(seen) != tc.sessions {
				t.Errorf("%d sessions, %d users: user %d took %d distinct sessions in %d", tc.sessions, tc.users, v, len(seen), tc.sessions)
			}
		}
	}
}

func TestWalkIsTheSeeds(t *testing.T) {
	weights := weightsOf(50, 3)
	a, b, c := NewWalk(weights, 10, 1), NewWalk(weights, 10, 1), NewWalk(weights, 10, 2)
	same, other := true, false
	for v := 0; v < 10; v++ {
		for k := 0; k < 60; k++ {
			same = same && a.Session(v, k) == b.Session(v, k)
			other = other || a.Session(v, k) != c.Session(v, k)
		}
	}
	if !same || !other {
		t.Errorf("same seed same walk: %v; another seed another walk: %v", same, other)
	}
}

func weightsOf(n, each int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = each
	}
	return w
}

// mixedWeights are n sessions of 1 to 1,000 requests, most of them short
// (a log-uniform draw), as real traces have.
func mixedWeights(n int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := make([]int, n)
	for i := range w {
		w[i] = int(math.Round(math.Pow(1000, rng.Float64())))
	}
	w[0], w[n-1] = 1, 1000
	return w
}

// walkTVD simulates users of equal speed sending sent requests in all
// along the walk, and returns the total variation distance between the
// share of requests each session got and its share of the trace.
func walkTVD(weights []int, users, sent int, seed uint64) float64 {
	w := NewWalk(weights, users, seed)
	got := make([]float64, len(weights))
	total := 0
	for _, x := range weights {
		total += x
	}
	each := sent / users
	for v := 0; v < users; v++ {
		left := each
		for k := 0; left > 0; k++ {
			i := w.Session(v, k)
			n := min(left, weights[i])
			got[i] += float64(n)
			left -= n
			if weights[i] == 0 && k > 10*len(weights) {
				break
			}
		}
	}
	d := 0.0
	for i, x := range weights {
		d += math.Abs(got[i]/float64(each*users) - float64(x)/float64(total))
	}
	return d / 2
}

// Users of equal speed that together send the trace ten times over (or, when
// each user must get through sessions of up to 1,000 requests, a few of
// those) send each session's share of the requests: within total
// variation distance 0.05, for 1 to 200 users and sessions of 1 to 1,000
// requests.
func TestWalkKeepsTheMix(t *testing.T) {
	for _, sessions := range []int{1, 3, 40, 300} {
		for _, kind := range []string{"equal", "mixed"} {
			weights := weightsOf(sessions, 5)
			if kind == "mixed" && sessions > 1 {
				weights = mixedWeights(sessions, uint64(sessions))
			}
			total, biggest := 0, 0
			for _, x := range weights {
				total, biggest = total+x, max(biggest, x)
			}
			for _, users := range []int{1, 2, 7, 8, 10, 50, 100, 200} {
				sent := max(10*total, 4*biggest*users)
				if d := walkTVD(weights, users, sent, 1); d > 0.05 {
					t.Errorf("%d %s sessions (%d requests), %d users sending %d: TVD %.3f", sessions, kind, total, users, sent, d)
				} else if testing.Verbose() {
					fmt.Printf("%4d %s sessions  %3d users  %8d sent  TVD %.4f\n", sessions, kind, users, sent, d)
				}
			}
		}
	}
}
