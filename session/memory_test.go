package session

import (
	"crypto/rand"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/race"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// writeTrace writes n requests over the given number of sessions
// (interleaved), each with a body of bodyBytes random bytes (none when 0)
// and the headers a browser sends.
func writeTrace(t testing.TB, path string, n, sessions, bodyBytes int) {
	t.Helper()
	w, err := tracefile.Create(path, tracefile.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hs := []trace.Header{{Name: "Host", Value: "api.example.com"}, {Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
		{Name: "Accept", Value: "application/json"}, {Name: "Authorization", Value: "redacted:0123456789abcdef0123456789abcdef"},
		{Name: "Accept-Encoding", Value: "gzip, deflate, br"}, {Name: "Content-Type", Value: "application/json"}}
	start := time.Unix(1e9, 0).UTC()
	body := make([]byte, bodyBytes)
	for i := range n {
		e := trace.Exchange{TS: start.Add(time.Duration(i) * time.Millisecond), Session: fmt.Sprintf("user-%07d", i%sessions),
			Method: "GET", Path: fmt.Sprintf("/api/v1/tasks/%d?page=2", i), Route: "/api/v1/tasks/{id}", Kind: trace.KindRead,
			ReqHeaders: hs, Status: 200}
		if bodyBytes > 0 {
			rand.Read(body) // incompressible, as uploads often are
			e.Method, e.Kind, e.ReqBody, e.ReqSize = "POST", trace.KindWrite, body, int64(len(body))
		}
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// measuresHeap skips a test that measures the heap under the race
// detector: its instrumentation changes what the heap holds and makes
// these tests' parquet work ten times slower, with no goroutine of theirs
// to race. scripts/test.sh runs this package again without it.
func measuresHeap(t *testing.T) {
	t.Helper()
	if race.Enabled {
		t.Skip("measures the heap: runs without -race (scripts/test.sh runs this package so too)")
	}
}

// liveHeap is the heap's live bytes, after collections enough to empty
// the pools (sync.Pool keeps a victim for one more cycle).
func liveHeap() int64 {
	// What a finalizer or cleanup frees (a file's buffers) goes only at
	// the collection after it has run on a goroutine of its own: collect
	// until the heap stops shrinking (two collections in a row once left
	// 9 MiB on a loaded machine).
	least := uint64(math.MaxUint64)
	for i := range 8 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if i >= 2 && ms.HeapAlloc >= least {
			break
		}
		least = min(least, ms.HeapAlloc)
		time.Sleep(time.Millisecond) // the finalizers' goroutine runs
	}
	return int64(least)
}

// peakDuring samples the live heap at every every-th call of sample while
// fn runs and returns the largest growth over what was live before: not
// timing dependent, since it samples at the same points each run.
func peakDuring(t *testing.T, every int, fn func()) int64 {
	before := liveHeap()
	var peak int64
	calls := 0
	sample = func() {
		if calls++; calls%every == 0 {
			peak = max(peak, liveHeap()-before)
		}
	}
	defer func() { sample = nil }()
	fn()
	return max(peak, liveHeap()-before)
}

// readyLike keeps about what replay's prepared requests keep (its test
// checks that figure against the heap), and says so.
func readyLike(s *Session) (any, int64) {
	keep := make([][]byte, len(s.Requests))
	for i := range keep {
		keep[i] = make([]byte, 800)
	}
	return keep, int64(len(keep))*(24+800) + 24
}

// openAndReadAll opens path, takes every session once, reads them all
// straight through (Source.From) and closes it.
func openAndReadAll(t *testing.T, opts Options, path string) Stats {
	src, st, err := Open(opts, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := range src.Len() {
		s, err := src.Session(i)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ready == nil {
			t.Fatalf("session %d not made ready", i)
		}
	}
	// And straight through, as the recorded timeline reads them.
	seq, failed := src.From(0)
	n := 0
	for _, s := range seq {
		if s.Ready == nil {
			t.Fatalf("session %d not made ready by From", n)
		}
		n++
	}
	if n != src.Len() || failed() != nil {
		t.Fatalf("From read %d of %d sessions: %v", n, src.Len(), failed())
	}
	return st
}

// 1 MiB uploads, a trace four times Options.Memory: Open and reading
// every session back hold about Memory plus Cache, not the trace, nor a
// row group of bodies decoded at once, nor bodies copied into statistics.
func TestLargeBodiesStayWithinBounds(t *testing.T) {
	measuresHeap(t)
	if testing.Short() {
		t.Skip("writes a 64 MiB trace")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "uploads.parquet")
	writeTrace(t, path, 64, 8, 1<<20) // 8 sessions of 8 MiB
	opts := Options{Memory: 16 << 20, Cache: 16 << 20, TempDir: dir, Ready: readyLike}
	var st Stats
	peak := peakDuring(t, 4, func() { st = openAndReadAll(t, opts, path) })
	t.Logf("64 MiB of bodies, Memory 16 MiB, Cache 16 MiB: live heap peaked %.1f MiB over the start; %+v", float64(peak)/(1<<20), st)
	if !st.Spilled {
		t.Errorf("a trace of 4 times Memory did not spill")
	}
	if bound := opts.Memory + opts.Cache + 8<<20; peak > bound {
		t.Errorf("live heap peaked %d MiB over the start, bound %d MiB", peak>>20, bound>>20)
	}
}

// Many one-request sessions: their Ready counts against Memory too. When
// the requests fit and their Ready does not, Ready is made as sessions are
// taken and kept in the cache; when the requests do not fit either, they
// spill. Either way the heap holds about Memory plus Cache.
func TestManySessionsStayWithinBounds(t *testing.T) {
	measuresHeap(t)
	if testing.Short() {
		t.Skip("writes a 10,000-session trace")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.parquet")
	writeTrace(t, path, 10000, 10000, 0)
	for _, opts := range []Options{
		{Memory: 16 << 20, Cache: 4 << 20, Ready: readyLike}, // requests fit, Ready does not
		{Memory: 4 << 20, Cache: 4 << 20, Ready: readyLike},  // requests spill
	} {
		opts.TempDir = dir
		var st Stats
		peak := peakDuring(t, 500, func() { st = openAndReadAll(t, opts, path) })
		t.Logf("10,000 sessions, Memory %d MiB, Cache %d MiB: live heap peaked %.1f MiB over the start; %+v",
			opts.Memory>>20, opts.Cache>>20, float64(peak)/(1<<20), st)
		if st.Spilled != (opts.Memory < 8<<20) || st.Held > opts.Memory {
			t.Errorf("Memory %d MiB: spilled %v, %d MiB held", opts.Memory>>20, st.Spilled, st.Held>>20)
		}
		if bound := opts.Memory + opts.Cache + 8<<20; peak > bound {
			t.Errorf("live heap peaked %d MiB over the start, bound %d MiB", peak>>20, bound>>20)
		}
	}
}

// Stats.Held is what the sessions kept in memory really take: not less
// than the heap grows by, and not much more.
func TestHeldIsWhatTheHeapHolds(t *testing.T) {
	measuresHeap(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "small.parquet")
	writeTrace(t, path, 20000, 2000, 0)
	before := liveHeap()
	src, st, err := Open(Options{Ready: readyLike}, path)
	if err != nil {
		t.Fatal(err)
	}
	grew := liveHeap() - before
	runtime.KeepAlive(src)
	t.Logf("20,000 requests in memory: %d bytes counted, the heap grew by %d", st.Held, grew)
	if st.Spilled || st.Held < grew*9/10 || st.Held > grew*3/2 {
		t.Errorf("held %d bytes counted, the heap grew by %d (spilled %v)", st.Held, grew, st.Spilled)
	}
}

// A closed Source goes, its cache and sessions with it, once nothing holds
// it: the cleanups of the sessions it handed out do not keep it alive.
func TestClosedSourceIsCollected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "small.parquet")
	// 6.4 MB of Ready: what a Source kept alive would leave.
	writeTrace(t, path, 8000, 800, 0)
	for _, opts := range []Options{
		{Memory: 32 << 20, Cache: 4 << 20, Ready: readyLike}, // in memory, made ready as taken
		{Memory: 1 << 20, Cache: 4 << 20, Ready: readyLike},  // spilled
	} {
		opts.TempDir = dir
		before := liveHeap()
		var st Stats
		func() {
			src, s, err := Open(opts, path)
			if err != nil {
				t.Fatal(err)
			}
			st = s
			for i := range src.Len() {
				if _, err := src.Session(i); err != nil {
					t.Fatal(err)
				}
			}
			src.Close()
		}()
		left := liveHeap() - before
		t.Logf("Memory %d MiB (spilled %v): %d bytes left after Close", opts.Memory>>20, st.Spilled, left)
		if st.Spilled != (opts.Memory < 8<<20) || left > 1<<20 {
			t.Errorf("Memory %d MiB (spilled %v): %.1f MiB left after Close", opts.Memory>>20, st.Spilled, float64(left)/(1<<20))
		}
	}
}
