package replay

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/trace"
)

// instant answers every request at once with an empty 200: the mix a run
// sends is then the engine's alone, however fast the machine. After
// limit requests it calls full, once.
type instant struct {
	n     atomic.Int64
	limit int64
	full  func()
}

func (in *instant) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if in.n.Add(1) == in.limit {
		in.full()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// routeKey is what the mix is measured on: method and route.
func routeKey(method, route string) string { return method + " " + route }

// recordedMix is the share of each (method, route) among the requests of
// src that mix sends: for the write mix, writes and reads apart (its
// shares are within their class).
func recordedMix(t testing.TB, src *session.Source, keep func(kind string) bool) map[string]float64 {
	t.Helper()
	return recordedMixOf(t, src, func(r *session.Request) bool { return keep(r.Kind) })
}

// recordedMixOf is recordedMix for the requests keep takes.
func recordedMixOf(t testing.TB, src *session.Source, keep func(r *session.Request) bool) map[string]float64 {
	t.Helper()
	counts := map[string]float64{}
	n := 0.0
	for i := range src.Len() {
		s, err := src.Session(i)
		if err != nil {
			t.Fatal(err)
		}
		for j := range s.Requests {
			if r := &s.Requests[j]; keep(r) {
				counts[routeKey(r.Method, r.Route)]++
				n++
			}
		}
	}
	return shares(counts, n)
}

// shares divides counts by their total n.
func shares(counts map[string]float64, n float64) map[string]float64 {
	for k := range counts {
		counts[k] /= n
	}
	return counts
}

// tvd is the total variation distance between two distributions.
func tvd(a, b map[string]float64) float64 {
	d := 0.0
	for k, x := range a {
		d += math.Abs(x - b[k])
	}
	for k, y := range b {
		if _, ok := a[k]; !ok {
			d += y
		}
	}
	return d / 2
}

// sentMix is the share of each (method, route) among rows of kind.
func sentMix(rows []results.Result, keep func(method string) bool) map[string]float64 {
	counts := map[string]float64{}
	n := 0.0
	for _, r := range rows {
		if keep(r.Method) {
			counts[routeKey(r.Method, r.Name)]++
			n++
		}
	}
	return shares(counts, n)
}

func isRead(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// mixRun replays src with users virtual users and no think time against
// a transport that answers at once, until about n requests were sent (a
// count, not a time: a slow machine sends the same), and returns the rows.
func mixRun(t testing.TB, src *session.Source, mix scenario.MixKind, users, n int, pacing scenario.Pacing) []results.Result {
	t.Helper()
	stop, enough := context.WithCancelCause(context.Background())
	defer enough(nil)
	tr := &instant{limit: int64(n), full: func() { enough(ErrInterrupted) }}
	_, err, rows := runPlan(t, context.Background(), stop, Plan{Sessions: src, Mix: mix, Users: users, Pacing: pacing,
		FirstWait: ThinkTime(src), Duration: 10 * time.Minute, Client: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// mixTVDs are the distances of a run's mix from the recorded one: one
// for the recorded and read mixes; for the write mix, writes and reads
// each within their class.
func mixTVDs(t testing.TB, src *session.Source, mix scenario.MixKind, rows []results.Result) []float64 {
	switch mix {
	case scenario.MixRead:
		return []float64{tvd(recordedMix(t, src, func(k string) bool { return k == trace.KindRead }), sentMix(rows, isRead))}
	case scenario.MixWrite:
		return []float64{
			tvd(recordedMix(t, src, func(k string) bool { return k != trace.KindRead }), sentMix(rows, func(m string) bool { return !isRead(m) })),
			tvd(recordedMix(t, src, func(k string) bool { return k == trace.KindRead }), sentMix(rows, isRead)),
		}
	}
	all := func(string) bool { return true }
	return []float64{tvd(recordedMix(t, src, func(string) bool { return true }), sentMix(rows, all))}
}

// syntheticSessions are n sessions of 1 to 1,000 requests (most short),
// over 12 routes, each session favouring its own few: the mix is then
// kept only if every session gets its share.
func syntheticSessions(n int, seed uint64) *session.Source {
	rng := rand.New(rand.NewPCG(seed, 3))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sessions []session.Session
	id := int64(0)
	for i := range n {
		size := int(math.Round(math.Pow(1000, rng.Float64())))
		if i == 0 {
			size = 1000
		}
		s := session.Session{Key: fmt.Sprintf("s%03d", i)}
		for j := range size {
			route := (i + rng.IntN(3)) % 12
			method, kind := "GET", trace.KindRead
			if route%3 == 0 {
				method, kind = "POST", trace.KindWrite
			}
			id++
			s.Requests = append(s.Requests, session.Request{ID: id, TS: t0.Add(time.Duration(j) * time.Second), Session: s.Key,
				Method: method, Path: fmt.Sprintf("/r%d", route), Route: fmt.Sprintf("/r%d", route), Kind: kind, Status: 200})
		}
		sessions = append(sessions, s)
	}
	return session.FromSessions(sessions)
}

// A closed-model run sends the recorded mix: within total variation
// distance 0.05 of the recorded (method, route) shares, whatever the
// number of users against the number of sessions (8 users on the sample
// trace's 8 sessions used to send 99.9% GET /health), and with
// read_heavy's and write_heavy's mixes the recorded shares within their
// class, once each user has sent a few times the longest session (users
// start at sessions' beginnings, never in the middle of one).
func TestClosedModelKeepsTheMix(t *testing.T) {
	sample, synthetic := sampleSessions(t), syntheticSessions(40, 1)
	for _, tc := range []struct {
		name   string
		src    *session.Source
		mix    scenario.MixKind
		users  int
		sent   int
		pacing scenario.Pacing // none when nil
	}{
		{"sample", sample, scenario.MixRecorded, 1, 5000, nil},
		{"sample", sample, scenario.MixRecorded, 8, 5000, nil},
		{"sample", sample, scenario.MixRecorded, 200, 100000, nil}, // 2.5 longest sessions a user
		{"sample", sample, scenario.MixRead, 80, 20000, nil},
		{"sample", sample, scenario.MixWrite, 30, 60000, nil},
		// Recorded think times, 200 times faster: users are spread by the
		// time sessions take, not by their requests (the sample's session
		// of 201 requests a minute among six of 31 a minute).
		{"sample, recorded pacing", sample, scenario.MixRecorded, 8, 20000, scenario.Recorded{Speed: 200}},
		{"sample, recorded pacing", sample, scenario.MixRecorded, 60, 30000, scenario.Recorded{Speed: 200}},
		{"synthetic", synthetic, scenario.MixRecorded, 1, 100000, nil},
		{"synthetic", synthetic, scenario.MixRecorded, 10, 100000, nil},
		{"synthetic", synthetic, scenario.MixRead, 10, 100000, nil},
		{"synthetic", synthetic, scenario.MixWrite, 10, 100000, nil},
	} {
		t.Run(fmt.Sprintf("%s/%s/%d", tc.name, tc.mix, tc.users), func(t *testing.T) {
			pacing := tc.pacing
			if pacing == nil {
				pacing = scenario.Uniform{}
			}
			rows := mixRun(t, tc.src, tc.mix, tc.users, tc.sent, pacing)
			for _, d := range mixTVDs(t, tc.src, tc.mix, rows) {
				t.Logf("%d requests sent: TVD %.4f", len(rows), d)
				if d > 0.05 {
					t.Errorf("%d requests sent: TVD %.3f from the recorded mix", len(rows), d)
				}
			}
		})
	}
}

// TestMixFidelityTable prints, with MIX_TABLE=1, the README's table of
// how far a closed-model run's mix is from the recorded one
// (bench/mix-fidelity.sh): 100,000 requests, or four times the longest
// session per user when that is more.
func TestMixFidelityTable(t *testing.T) {
	if os.Getenv("MIX_TABLE") == "" {
		t.Skip("MIX_TABLE=1 prints the mix fidelity table (bench/mix-fidelity.sh)")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| trace | sessions (requests) | mix | users | requests sent | TVD |\n|---|---|---|---|---|---|\n")
	sample := sampleSessions(t)
	for _, tr := range []struct {
		name string
		src  *session.Source
	}{{"sample (demo API)", sample}, {"synthetic, 1-1,000 requests a session", syntheticSessions(40, 1)}} {
		reqs, longest := 0, 0
		for i := range tr.src.Len() {
			reqs, longest = reqs+tr.src.Info(i).Requests, max(longest, tr.src.Info(i).Requests)
		}
		for _, mix := range []scenario.MixKind{scenario.MixRecorded, scenario.MixRead, scenario.MixWrite} {
			for _, users := range []int{1, 2, 8, 10, 50, 100, 200} {
				// Enough for each user to get through its longest session
				// a few times: the mix is the recorded one from then on.
				rows := mixRun(t, tr.src, mix, users, max(100000, 4*longest*users), scenario.Uniform{})
				var parts []string
				for _, x := range mixTVDs(t, tr.src, mix, rows) {
					parts = append(parts, fmt.Sprintf("%.4f", x))
				}
				fmt.Fprintf(&b, "| %s | %d (%d) | %s | %d | %d | %s |\n", tr.name, tr.src.Len(), reqs, mix, users, len(rows), strings.Join(parts, " / "))
			}
		}
	}
	fmt.Print(b.String())
}
