package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

func TestOpenSample(t *testing.T) {
	src, st, err := Open(Options{}, "../testdata/sample/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if st.Files != 1 || st.Requests < 300 || st.Sessions != src.Len() || st.Reads+st.Writes != st.Requests || st.Spilled {
		t.Errorf("stats %+v", st)
	}
	total := 0
	for i := range src.Len() {
		s, err := src.Session(i)
		if err != nil {
			t.Fatal(err)
		}
		total += len(s.Requests)
		for j := 1; j < len(s.Requests); j++ {
			if s.Requests[j].TS.Before(s.Requests[j-1].TS) {
				t.Fatalf("session %s out of order at %d", s.Key, j)
			}
		}
		for _, r := range s.Requests {
			if r.Session != s.Key || r.Method == "" || r.Path == "" || r.Kind == "" {
				t.Fatalf("bad request %+v", r)
			}
		}
		in := src.Info(i)
		if in.Key != s.Key || in.Requests != len(s.Requests) || in.Reads+in.Writes != in.Requests || !in.First.Equal(s.Requests[0].TS) {
			t.Errorf("info %+v for session %s of %d requests", in, s.Key, len(s.Requests))
		}
		if i > 0 && in.First.Before(src.Info(i-1).First) {
			t.Fatalf("sessions not in order of first request")
		}
	}
	if total != st.Requests {
		t.Errorf("%d requests in sessions, %d read", total, st.Requests)
	}
}

// A trace larger than Options.Memory is spilled to disk, sorted by
// session, and read back: the sessions are the same as in memory, whatever
// the cache holds, and the temporary files go with Close.
func TestSpilledSessionsAreTheSame(t *testing.T) {
	mem, _, err := Open(Options{}, "../testdata/sample/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{
		{Memory: 32 << 10, Cache: 1},       // many runs, merged in rounds; nothing cached
		{Memory: 64 << 10, Cache: 8 << 10}, // a few runs; the cache evicts
		{Memory: 256 << 10, Cache: 64 << 20},
	} {
		t.Run(fmt.Sprintf("%d KiB", opts.Memory>>10), func(t *testing.T) {
			t.Parallel() // the memory tests, which sample the heap, are not running meanwhile
			spilledSameAs(t, mem, opts)
		})
	}
}

// Sessions many times longer than From's batches are read straight
// through whole, in order, the same as in memory.
func TestFromLongSessions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "long.parquet")
	writeTrace(t, path, 3000, 7, 0) // about 430 requests a session
	mem, _, err := Open(Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	disk, st, err := Open(Options{Memory: 512 << 10, TempDir: dir}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if !st.Spilled || disk.Len() != 7 {
		t.Fatalf("spilled %v, %d sessions", st.Spilled, disk.Len())
	}
	for _, from := range []int{0, 1, 6} {
		seq, failed := disk.From(from)
		want := from
		for i, b := range seq {
			a, _ := mem.Session(i)
			if i != want || len(b.Requests) < 400 || !reflect.DeepEqual(a.Requests, b.Requests) {
				t.Fatalf("From(%d): session %d where %d was due (%d requests), or it differs", from, i, want, len(b.Requests))
			}
			want++
		}
		if want != 7 || failed() != nil {
			t.Fatalf("From(%d) stopped at %d: %v", from, want, failed())
		}
	}
	// Stopped part way: the reader goes with the sequence.
	seq, _ := disk.From(0)
	for range seq {
		break
	}
}

// spilledSameAs checks that sessions opened with opts are mem's.
func spilledSameAs(t *testing.T, mem *Source, opts Options) {
	opts.TempDir = t.TempDir()
	disk, st, err := Open(opts, "../testdata/sample/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Spilled || disk.Len() != mem.Len() {
		t.Fatalf("%+v: spilled %v, %d sessions, want %d", opts, st.Spilled, disk.Len(), mem.Len())
	}
	// Twice round, so that the second reads come from the cache.
	for range 2 {
		for i := range mem.Len() {
			a, _ := mem.Session(i)
			b, err := disk.Session(i)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%+v: session %d differs after spilling", opts, i)
			}
		}
	}
	// In the orders virtual users take them, several at once: the readers
	// kept between reads seek back and forth over the file.
	var wg sync.WaitGroup
	for seed := range uint64(8) {
		wg.Go(func() {
			for _, i := range Order(mem.Len(), seed) {
				a, _ := mem.Session(i)
				b, err := disk.Session(i)
				if err != nil || !reflect.DeepEqual(a.Requests, b.Requests) {
					t.Errorf("%+v: session %d differs when taken in order %d: %v", opts, i, seed, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Read straight through, from anywhere, as the timeline does.
	for _, from := range []int{0, 3, mem.Len() - 1, mem.Len()} {
		seq, failed := disk.From(from)
		want := from
		for i, b := range seq {
			a, _ := mem.Session(i)
			if i != want || !reflect.DeepEqual(a.Requests, b.Requests) {
				t.Fatalf("%+v: From(%d) gave session %d where %d was due, or it differs", opts, from, i, want)
			}
			want++
		}
		if want != mem.Len() || failed() != nil {
			t.Fatalf("%+v: From(%d) stopped at %d of %d: %v", opts, from, want, mem.Len(), failed())
		}
	}
	if err := disk.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("%+v: %d temporary files left after Close", opts, len(left))
	}
}

// Sessions are in order of their first request, however they were
// spread over files and runs, and Search finds where a time falls.
func TestSessionsAreInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	writeTrace(t, path, 5000, 700, 0)
	for _, opts := range []Options{{}, {Memory: 1 << 20, Cache: 1 << 20, TempDir: dir}} {
		src, st, err := Open(opts, path)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Memory > 0 && !st.Spilled {
			t.Fatal("the trace did not spill")
		}
		for i := 1; i < src.Len(); i++ {
			if src.Info(i).First.Before(src.Info(i - 1).First) {
				t.Fatalf("%+v: session %d starts before session %d", opts, i, i-1)
			}
		}
		at := src.Info(100).First
		if got := src.Search(at); got != 100 {
			t.Errorf("%+v: Search(first of session 100) = %d", opts, got)
		}
		if got := src.Search(at.Add(time.Nanosecond)); got != 101 {
			t.Errorf("%+v: Search(just after) = %d", opts, got)
		}
		if got := src.Search(src.Info(src.Len() - 1).First.Add(time.Hour)); got != src.Len() {
			t.Errorf("%+v: Search(after the end) = %d", opts, got)
		}
		src.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	if _, _, err := Open(Options{}, "../testdata/nothing/*.parquet"); err == nil {
		t.Error("no files: no error")
	}
	if _, _, err := Open(Options{}, "../testdata/pcap/go-curl.pcap"); err == nil {
		t.Error("a pcap as a trace: no error")
	}
	// A failing spill leaves nothing behind and says why.
	dir := t.TempDir()
	if _, _, err := Open(Options{Memory: 1, TempDir: filepath.Join(dir, "missing")}, "../testdata/sample/*.parquet"); err == nil || !strings.Contains(err.Error(), "temporary directory") {
		t.Errorf("spill into a missing directory: %v", err)
	}
}

// Same seed, same order; another seed, another; each user's sequence is
// fixed whatever the others do.
func TestOrder(t *testing.T) {
	a, b, c := Order(50, 1), Order(50, 1), Order(50, 2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("order must depend on the seed alone")
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatal("not a permutation")
		}
	}
}

// A trace far larger than Options.Memory is read as a stream: after Open,
// and while every session is taken in turn, the heap holds about the
// memory and cache bounds, not the trace.
func TestOpenIsBoundedByOptions(t *testing.T) {
	measuresHeap(t)
	if testing.Short() {
		t.Skip("writes a 48 MiB trace")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.parquet")
	w, err := tracefile.Create(path, tracefile.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4<<10)
	const n = 12000 // 48 MiB of bodies, in 300 sessions interleaved
	start := time.Unix(1e9, 0).UTC()
	for i := range n {
		rand.Read(body) // incompressible, as real bodies often are
		e := trace.Exchange{TS: start.Add(time.Duration(i) * time.Millisecond), Session: fmt.Sprintf("s%03d", i%300),
			Method: "POST", Path: fmt.Sprintf("/api/v1/tasks/%d", i), Route: "/api/v1/tasks/{id}", Kind: trace.KindWrite,
			ReqBody: body, ReqSize: int64(len(body)), Status: 201}
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	src, st, err := Open(Options{Memory: 4 << 20, Cache: 4 << 20, TempDir: dir}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if !st.Spilled || src.Len() != 300 || st.Requests != n {
		t.Fatalf("stats %+v, %d sessions", st, src.Len())
	}
	peak := heap()
	for i := range src.Len() {
		s, err := src.Session(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Requests) != n/300 {
			t.Fatalf("session %d has %d requests", i, len(s.Requests))
		}
		if i%50 == 0 {
			peak = max(peak, heap())
		}
	}
	held := int64(peak) - int64(before)
	t.Logf("trace %d MiB, heap held after Open and while reading: %.1f MiB", n*len(body)>>20, float64(held)/(1<<20))
	if held > 24<<20 {
		t.Errorf("heap grew by %d MiB for a 48 MiB trace with 4 MiB bounds", held>>20)
	}
}

// Options.Ready runs once for each session as it comes into memory: once
// per session in memory, once per read when spilled.
func TestReadyRunsOncePerSessionRead(t *testing.T) {
	for _, opts := range []Options{{}, {Memory: 512 << 10, Cache: 64 << 20, TempDir: t.TempDir()}} {
		calls := map[string]int{}
		opts.Ready = func(s *Session) (any, int64) { calls[s.Key]++; return len(s.Requests), 0 }
		src, st, err := Open(opts, "../testdata/sample/*.parquet")
		if err != nil {
			t.Fatal(err)
		}
		if st.Spilled != (opts.Memory > 0) {
			t.Fatalf("Memory %d KiB: spilled %v", opts.Memory>>10, st.Spilled)
		}
		for range 3 {
			for i := range src.Len() {
				s, err := src.Session(i)
				if err != nil {
					t.Fatal(err)
				}
				if s.Ready != len(s.Requests) {
					t.Fatalf("spilled %v: session %s Ready %v", st.Spilled, s.Key, s.Ready)
				}
			}
		}
		for k, n := range calls {
			if n != 1 {
				t.Errorf("spilled %v: Ready ran %d times for session %s (the cache holds them all)", st.Spilled, n, k)
			}
		}
		src.Close()
	}
}

// A slice keeps the sessions that started in it, cut at its end, and
// nothing else, whatever order the rows are stored in, in memory or
// spilled; Span is the whole trace's.
func TestSliceKeepsTheSessionsStartedInIt(t *testing.T) {
	dir := t.TempDir()
	start := time.Unix(1.7e9, 0).UTC()
	rng := mrand.New(mrand.NewPCG(7, 7))
	var rows []trace.Exchange
	for k := range 400 {
		at := start.Add(time.Duration(rng.IntN(100_000)) * time.Millisecond)
		for j := range 1 + rng.IntN(6) {
			rows = append(rows, trace.Exchange{TS: at, Session: fmt.Sprintf("s%03d", k), Method: "GET",
				Path: fmt.Sprintf("/items/%d", j), Route: "/items/{id}", Kind: trace.KindRead, Status: 200})
			at = at.Add(time.Duration(rng.IntN(20_000)) * time.Millisecond)
		}
	}
	// Stored in completion order, not start order; over two files.
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for f, part := range [][]trace.Exchange{rows[:len(rows)/2], rows[len(rows)/2:]} {
		w, err := tracefile.Create(filepath.Join(dir, fmt.Sprintf("t%d.parquet", f)), tracefile.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range part {
			if err := w.Write(&part[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	glob := filepath.Join(dir, "*.parquet")
	all, _, err := Open(Options{}, glob)
	if err != nil {
		t.Fatal(err)
	}
	first, last := all.Span()
	for _, tt := range []struct {
		name     string
		from, to time.Duration
	}{
		{"middle", 30 * time.Second, 50 * time.Second},
		{"from the start", 0, 10 * time.Second},
		{"past the end", 90 * time.Second, time.Hour},
		{"no session starts", 200 * time.Second, 300 * time.Second},
		{"one instant", 40 * time.Second, 40*time.Second + time.Millisecond},
	} {
		from, to := first.Add(tt.from), first.Add(tt.to)
		// What the slice should hold, from the whole trace.
		var want []Session
		outside := 0
		for i := range all.Len() {
			s, _ := all.Session(i)
			if s.Requests[0].TS.Before(from) || !s.Requests[0].TS.Before(to) {
				outside += len(s.Requests)
				continue
			}
			n := 0
			for n < len(s.Requests) && s.Requests[n].TS.Before(to) {
				n++
			}
			outside += len(s.Requests) - n
			want = append(want, Session{Key: s.Key, Requests: s.Requests[:n]})
		}
		for _, opts := range []Options{{}, {Memory: 32 << 10, Cache: 16 << 10}} {
			t.Run(fmt.Sprintf("%s/memory %d", tt.name, opts.Memory), func(t *testing.T) {
				opts.TempDir = t.TempDir()
				calls := 0
				opts.Slice = func(f time.Time) (time.Time, time.Time) {
					calls++
					if !f.Equal(first) {
						t.Errorf("Slice given %v, the trace starts at %v", f, first)
					}
					return from, to
				}
				src, st, err := Open(opts, glob)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				if opts.Memory > 0 && !st.Spilled && len(want) > 50 {
					t.Errorf("the slice of %d sessions did not spill", len(want))
				}
				if f, l := src.Span(); calls != 1 || !f.Equal(first) || !l.Equal(last) || !st.First.Equal(first) || !st.Last.Equal(last) {
					t.Errorf("Slice called %d times; Span %v..%v, Stats %v..%v, want %v..%v", calls, f, l, st.First, st.Last, first, last)
				}
				if src.Len() != len(want) || st.Sessions != len(want) || st.Outside != outside || st.Requests != len(rows) {
					t.Fatalf("%d sessions (stats %d), %d requests outside of %d, want %d sessions, %d outside of %d",
						src.Len(), st.Sessions, st.Outside, st.Requests, len(want), outside, len(rows))
				}
				for i, w := range want {
					s, err := src.Session(i)
					if err != nil {
						t.Fatal(err)
					}
					if s.Key != w.Key || !reflect.DeepEqual(s.Requests, w.Requests) || src.Info(i).Requests != len(w.Requests) {
						t.Fatalf("session %d: %s with %d requests, want %s with %d", i, s.Key, len(s.Requests), w.Key, len(w.Requests))
					}
				}
				if src.Len() > 0 && src.Search(from) != 0 {
					t.Errorf("Search(from) = %d", src.Search(from))
				}
			})
		}
	}
}

// A context that ends stops Open wherever it is (reading, the slice's
// pass over the times, the spill's merges), with its cause, and leaves no
// temporary file.
func TestOpenContextStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	writeTrace(t, path, 20000, 700, 0)
	stopped := errors.New("stopped by the test")
	for _, tt := range []struct {
		name  string
		opts  Options
		after int // rows read before the context ends
	}{
		{"at once", Options{}, 0},
		{"while reading", Options{}, 10000},
		{"with a slice", Options{Slice: func(f time.Time) (time.Time, time.Time) { return f, f.Add(time.Hour) }}, 0},
		// 1 MiB sorts runs of a few hundred rows: by row 3,000 several
		// are on disk (checked below), and the merge is still to come.
		{"while spilling", Options{Memory: 1 << 20}, 3000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			tt.opts.TempDir = tmp
			ctx, cancel := context.WithCancelCause(context.Background())
			n := 0
			runs := 0
			tt.opts.Observe = func(*Request) {
				if n++; n > tt.after && ctx.Err() == nil {
					cancel(stopped)
					files, _ := filepath.Glob(filepath.Join(tmp, "*", "run-*.parquet"))
					runs = len(files)
				}
			}
			if tt.after == 0 {
				cancel(stopped)
			}
			src, _, err := OpenContext(ctx, tt.opts, path)
			if !errors.Is(err, stopped) {
				t.Fatalf("Open gave %v, %v; want the context's cause", src, err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("%d temporary files left", len(left))
			}
			// The trace's pages alone are over 1 MiB: runs are still a
			// quarter of Memory (a few hundred rows), not one row each.
			if tt.opts.Memory > 0 && (runs == 0 || runs > 30) {
				t.Errorf("%d runs spilled by row %d, want a few", runs, tt.after)
			}
		})
	}
}

// The recording proxy's own answer (its 502 when the upstream was down)
// is no answer of the application's: the request reads as recorded
// without one, so replay neither compares it nor carries from it.
func TestProxyAnswerIsNoAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	start := time.Unix(1.7e9, 0).UTC()
	rows := []trace.Exchange{
		{TS: start, Session: "s", Method: "GET", Path: "/a", Route: "/a", Kind: trace.KindRead, Status: 200,
			RespSig: trace.Signature{Type: "application/json", Kind: "json", Class: "<100"}},
		{TS: start.Add(time.Second), Session: "s", Method: "GET", Path: "/b", Route: "/b", Kind: trace.KindRead, Status: 502,
			RespSig: trace.Signature{Type: "text/plain", Kind: "other", Class: "<100"}, ProxyAnswer: true},
	}
	if err := tracefile.WriteAll(path, rows); err != nil {
		t.Fatal(err)
	}
	src, _, err := Open(Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s, err := src.Session(0)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Requests[0], s.Requests[1]; a.Status != 200 || a.RespSig.Kind != "json" || b.Status != 0 || b.RespSig.Kind != "" {
		t.Errorf("read %d %q and %d %q: want the application's 200 kept, the proxy's 502 no answer", a.Status, a.RespSig.Kind, b.Status, b.RespSig.Kind)
	}
}
