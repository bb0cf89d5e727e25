// Package session reads what replay sends again: the requests of a trace,
// grouped into sessions (one recorded user each) in the order they were
// sent, and a deterministic order in which virtual users take sessions.
//
// Traces can be larger than memory. Open reads them once as a stream,
// keeping the request side (responses are never read) while it fits in
// Options.Memory; past that it sorts requests by session into temporary
// parquet files, merges them into one, and reads each session back when a
// virtual user takes it, through a cache bounded in bytes.
package session

import (
	"cmp"
	"container/list"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/trace"
)

// Request is the part of a trace row that replay needs: the request and
// what the recording saw come back. Only these columns are read.
type Request struct {
	// ID is the row's id in its trace file.
	ID int64 `parquet:"id"`
	// TS is when the request was first seen.
	TS time.Time `parquet:"ts,timestamp(nanosecond)"`
	// Session is the recorded session key.
	Session string `parquet:"session"`
	// Method, Host and Path are the request as sent; Route its template.
	Method string `parquet:"method"`
	Host   string `parquet:"host"`
	Path   string `parquet:"path"`
	Route  string `parquet:"route"`
	// Headers are the request headers in wire order, secrets redacted.
	Headers []trace.Header `parquet:"req_headers,list"`
	// Body is the recorded body; BodyTruncated says it was cut by --max-body.
	Body          []byte `parquet:"req_body,optional"`
	BodyTruncated bool   `parquet:"req_body_truncated"`
	// Size is the body's full length.
	Size int64 `parquet:"req_size"`
	// Status is what the recording saw come back (0: nothing).
	Status int32 `parquet:"status"`
	// Kind is "read" or "write".
	Kind string `parquet:"kind"`
}

// size is about how many bytes r holds in memory.
func (r *Request) size() int64 {
	n := 160 + len(r.Session) + len(r.Method) + len(r.Host) + len(r.Path) + len(r.Route) + len(r.Body) + len(r.Kind)
	for _, h := range r.Headers {
		n += 32 + len(h.Name) + len(h.Value)
	}
	return int64(n)
}

// Session is the requests of one recorded user, in the order sent.
type Session struct {
	// Key is the recorded session key.
	Key string
	// Requests are in TS order.
	Requests []Request
	// Ready is what Options.Ready made of the session when it was read
	// (nil without one): work done once per session in memory rather than
	// once per use, such as replay's requests made ready to send.
	Ready any
}

// Info is what the index knows of a session without reading it.
type Info struct {
	// Key is the recorded session key; First and Last its first and
	// last requests' times.
	Key         string
	First, Last time.Time
	// Requests, Reads and Writes count its requests.
	Requests, Reads, Writes int

	offset int64 // first row in the sorted file
}

// Stats say what Open read.
type Stats struct {
	// Files and Requests count what was read; Sessions what it made.
	Files, Requests, Sessions int
	// Reads and Writes count requests by kind.
	Reads, Writes int
	// Truncated counts requests whose body was cut at recording
	// (--max-body): they are sent with the part that was kept.
	Truncated int
	// Spilled says the request side did not fit in Options.Memory and
	// sessions are read back from a temporary file.
	Spilled bool
}

// Options bound the memory Open and Source use.
type Options struct {
	// Memory bounds the request side held while reading (default 256 MiB).
	Memory int64
	// Cache bounds the sessions kept decoded once spilled (default 64 MiB;
	// a session larger than it is read each time it is taken).
	Cache int64
	// TempDir holds the spilled files (default: the system's).
	TempDir string
	// Ready, when set, is called once for each session as it comes into
	// memory; what it returns is kept in Session.Ready. Its memory is
	// counted as readyBytes a request.
	Ready func(*Session) any
}

// readyBytes is about what Options.Ready keeps per request (replay's
// prepared URL and headers), for the cache's bound.
const readyBytes = 768

func (o *Options) defaults() {
	if o.Memory <= 0 {
		o.Memory = 256 << 20
	}
	if o.Cache <= 0 {
		o.Cache = 64 << 20
	}
}

// Source hands out sessions by index, in order of their first request.
// Safe for concurrent use.
type Source struct {
	infos []Info
	mem   []Session // everything, when it fitted in memory

	// Spilled: sessions sorted by key in one file, read back on demand.
	dir    string
	sorted *pqfile.File
	mu     sync.Mutex
	cache  map[int]*list.Element // of *cached
	lru    list.List
	bytes  int64
	limit  int64
	ready  func(*Session) any
}

type cached struct {
	i     int
	s     *Session
	bytes int64
}

// FromSessions is a Source over sessions already in memory.
func FromSessions(sessions []Session) *Source {
	src := &Source{mem: sessions}
	for _, s := range sessions {
		src.infos = append(src.infos, infoOf(s.Key, s.Requests))
	}
	return src
}

func infoOf(key string, reqs []Request) Info {
	in := Info{Key: key, Requests: len(reqs)}
	if len(reqs) > 0 {
		in.First, in.Last = reqs[0].TS, reqs[len(reqs)-1].TS
	}
	for _, r := range reqs {
		if r.Kind == trace.KindRead {
			in.Reads++
		} else {
			in.Writes++
		}
	}
	return in
}

// Open reads every trace file matching the globs, as described in the
// package comment. Close the Source to remove its temporary files.
func Open(opts Options, globs ...string) (*Source, Stats, error) {
	opts.defaults()
	var st Stats
	var files []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, st, fmt.Errorf("--trace %q: %w", g, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if len(files) == 0 {
		return nil, st, fmt.Errorf("no trace matches %q: record one first (record --iface, --pcap or --proxy)", globs)
	}
	sp := &spiller{opts: opts}
	var buf []Request
	var held int64
	for _, path := range files {
		f, err := trace.Open(path)
		if err != nil {
			sp.remove()
			return nil, st, err
		}
		err = trace.Scan(f, func(r *Request) error {
			st.Requests++
			if r.Kind == trace.KindRead {
				st.Reads++
			} else {
				st.Writes++
			}
			if r.BodyTruncated {
				st.Truncated++
			}
			buf = append(buf, *r)
			if held += r.size(); held > opts.Memory {
				if err := sp.run(buf); err != nil {
					return err
				}
				buf, held = buf[:0], 0
			}
			return nil
		})
		f.Close()
		if err != nil {
			sp.remove()
			return nil, st, err
		}
		st.Files++
	}
	if st.Requests == 0 {
		sp.remove()
		return nil, st, fmt.Errorf("the traces %q hold no request", files)
	}
	var src *Source
	if len(sp.runs) == 0 {
		sessions := group(buf)
		if opts.Ready != nil {
			for i := range sessions {
				sessions[i].Ready = opts.Ready(&sessions[i])
			}
		}
		src = FromSessions(sessions)
	} else {
		if len(buf) > 0 {
			if err := sp.run(buf); err != nil {
				sp.remove()
				return nil, st, err
			}
		}
		buf = nil
		var err error
		if src, err = sp.merge(); err != nil {
			sp.remove()
			return nil, st, err
		}
		st.Spilled = true
	}
	// Sessions in order of their first request; the index remembers where
	// each one is.
	perm := make([]int, len(src.infos))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int {
		x, y := &src.infos[a], &src.infos[b]
		return cmp.Or(x.First.Compare(y.First), cmp.Compare(x.Key, y.Key))
	})
	infos := make([]Info, len(perm))
	for i, j := range perm {
		infos[i] = src.infos[j]
	}
	src.infos = infos
	if src.mem != nil {
		mem := make([]Session, len(perm))
		for i, j := range perm {
			mem[i] = src.mem[j]
		}
		src.mem = mem
	}
	st.Sessions = len(src.infos)
	return src, st, nil
}

// byStart orders requests by session, then start, then row id.
func byStart(a, b Request) int {
	return cmp.Or(cmp.Compare(a.Session, b.Session), a.TS.Compare(b.TS), cmp.Compare(a.ID, b.ID))
}

// group makes sessions of requests held in memory.
func group(reqs []Request) []Session {
	// Rows are stored in the order exchanges completed: sort by start.
	slices.SortStableFunc(reqs, byStart)
	var out []Session
	for i := 0; i < len(reqs); {
		j := i + 1
		for j < len(reqs) && reqs[j].Session == reqs[i].Session {
			j++
		}
		out = append(out, Session{Key: reqs[i].Session, Requests: reqs[i:j:j]})
		i = j
	}
	return out
}

// spiller writes sorted runs of requests to temporary files and merges them.
type spiller struct {
	opts Options
	dir  string
	runs []string
}

// spillOptions keep row groups small: a session is read back by seeking
// to its first row, and a reader decodes whole pages of its row group.
var spillOptions = pqfile.Options{RowGroupRows: 4096, RowGroupBytes: 8 << 20, FlushInterval: -1}

func (sp *spiller) run(reqs []Request) error {
	if sp.dir == "" {
		dir, err := os.MkdirTemp(sp.opts.TempDir, "replaykit-sessions-")
		if err != nil {
			return fmt.Errorf("the trace does not fit in memory (%d MiB) and no temporary directory could be made for it: %w", sp.opts.Memory>>20, err)
		}
		sp.dir = dir
	}
	slices.SortStableFunc(reqs, byStart)
	path := filepath.Join(sp.dir, fmt.Sprintf("run-%04d.parquet", len(sp.runs)))
	w, err := pqfile.Create[Request]("session spill", path, "replaykit.sessions.v1", spillOptions)
	if err != nil {
		return err
	}
	for i := range reqs {
		if err := w.Write(&reqs[i], reqs[i].size()); err != nil {
			w.Abort()
			return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
	}
	sp.runs = append(sp.runs, path)
	return nil
}

// merge merges the runs into one file sorted by session and indexes it.
func (sp *spiller) merge() (*Source, error) {
	type head struct {
		r    Request
		next func() (*Request, error, bool)
		stop func()
	}
	var heads []*head
	defer func() {
		for _, h := range heads {
			h.stop()
		}
	}()
	for _, path := range sp.runs {
		f, err := pqfile.Open[Request]("session spill", path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		next, stop := iter.Pull2(rowsOf(f))
		h := &head{next: next, stop: stop}
		if r, err, ok := next(); ok {
			if err != nil {
				stop()
				return nil, err
			}
			h.r = *r
			heads = append(heads, h)
		} else {
			stop()
		}
	}
	path := filepath.Join(sp.dir, "sessions.parquet")
	w, err := pqfile.Create[Request]("session spill", path, "replaykit.sessions.v1", spillOptions)
	if err != nil {
		return nil, err
	}
	src := &Source{dir: sp.dir}
	var cur Info
	var row int64
	flush := func() {
		if cur.Requests > 0 {
			src.infos = append(src.infos, cur)
		}
	}
	for len(heads) > 0 {
		// A linear scan for the smallest head: runs are few (the trace's
		// size over Options.Memory).
		m := 0
		for i := 1; i < len(heads); i++ {
			if byStart(heads[i].r, heads[m].r) < 0 {
				m = i
			}
		}
		h := heads[m]
		r := h.r
		if cur.Requests == 0 || r.Session != cur.Key {
			flush()
			cur = Info{Key: r.Session, First: r.TS, offset: row}
		}
		cur.Requests++
		cur.Last = r.TS
		if r.Kind == trace.KindRead {
			cur.Reads++
		} else {
			cur.Writes++
		}
		if err := w.Write(&r, r.size()); err != nil {
			w.Abort()
			return nil, fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
		}
		row++
		next, err, ok := h.next()
		switch {
		case !ok:
			h.stop()
			heads = slices.Delete(heads, m, m+1)
		case err != nil:
			w.Abort()
			return nil, err
		default:
			h.r = *next
		}
	}
	flush()
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
	}
	for _, p := range sp.runs {
		os.Remove(p)
	}
	f, err := pqfile.Open[Request]("session spill", path)
	if err != nil {
		return nil, err
	}
	src.sorted = f
	src.limit = sp.opts.Cache
	src.ready = sp.opts.Ready
	src.cache = map[int]*list.Element{}
	return src, nil
}

// rowsOf yields the rows of f in order.
func rowsOf(f *pqfile.File) iter.Seq2[*Request, error] {
	return func(yield func(*Request, error) bool) {
		stopped := errors.New("stopped")
		err := pqfile.Scan(f, func(r *Request) error {
			if !yield(r, nil) {
				return stopped
			}
			return nil
		})
		if err != nil && err != stopped {
			yield(nil, err)
		}
	}
}

func (sp *spiller) remove() {
	if sp.dir != "" {
		os.RemoveAll(sp.dir)
	}
}

// Len is the number of sessions.
func (s *Source) Len() int { return len(s.infos) }

// Info describes session i without reading it.
func (s *Source) Info(i int) Info { return s.infos[i] }

// Session reads session i (0 <= i < Len()). The caller must not change it.
func (s *Source) Session(i int) (*Session, error) {
	if s.mem != nil {
		return &s.mem[i], nil
	}
	s.mu.Lock()
	if el, ok := s.cache[i]; ok {
		s.lru.MoveToFront(el)
		sess := el.Value.(*cached).s
		s.mu.Unlock()
		return sess, nil
	}
	s.mu.Unlock()
	// Read outside the lock: two users taking the same session at once
	// may both read it, which is cheaper than making every reader wait.
	in := s.infos[i]
	reqs, err := pqfile.ReadRange[Request](s.sorted, in.offset, int64(in.Requests))
	if err != nil {
		return nil, err
	}
	if len(reqs) != in.Requests || (len(reqs) > 0 && reqs[0].Session != in.Key) {
		return nil, fmt.Errorf("session %q: the spilled file %s does not match its index", in.Key, s.sorted.Path())
	}
	sess := &Session{Key: in.Key, Requests: reqs}
	var n int64
	for j := range reqs {
		n += reqs[j].size()
	}
	if s.ready != nil {
		sess.Ready = s.ready(sess)
		n += int64(len(reqs)) * readyBytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[i]; ok || n > s.limit {
		return sess, nil
	}
	s.cache[i] = s.lru.PushFront(&cached{i: i, s: sess, bytes: n})
	for s.bytes += n; s.bytes > s.limit; {
		old := s.lru.Remove(s.lru.Back()).(*cached)
		delete(s.cache, old.i)
		s.bytes -= old.bytes
	}
	return sess, nil
}

// Close removes the temporary files, if any.
func (s *Source) Close() error {
	if s.sorted == nil {
		return nil
	}
	s.sorted.Close()
	return os.RemoveAll(s.dir)
}

// Order returns a permutation of the n sessions drawn from seed: the
// order a Walk goes through them, so that two runs with the same seed
// send the same requests.
func Order(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909)).Perm(n)
}
