// Package session reads what replay sends again: the requests of a trace,
// grouped into sessions (one recorded user each) in the order they were
// sent, and a deterministic order in which virtual users take sessions.
//
// Traces can be larger than memory. Open reads them once as a stream,
// keeping the request side (responses are never read) while it fits in
// Options.Memory; past that it sorts requests by session into temporary
// parquet files, merges them into one, and reads each session back when a
// virtual user takes it, through a cache bounded in bytes.
//
// What is counted is what is held: each request's struct, strings, header
// slice and body, and what Options.Ready keeps for a session (it says).
// Open holds at most about Options.Memory of it, working buffers included
// (the batch being decoded, the row group being spilled, the readers of a
// merge), whatever the trace; after Open, the Source holds either every
// session (when they fitted in Memory, Ready included) or the index (about
// 100 bytes a session), the cache (Options.Cache) and a few readers of the
// spilled file (spilledFile). Sessions that virtual users hold beyond the
// cache are shared while held: one copy each.
package session

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
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
	// Proto is the protocol it was recorded over: "HTTP/1.1", "HTTP/2.0"...
	Proto string `parquet:"proto"`
	// Headers are the request headers in wire order, secrets redacted.
	Headers []trace.Header `parquet:"req_headers,list"`
	// Body is the recorded body, nil when empty (parquet-go decodes a
	// null after a value as empty, not nil); BodyTruncated says it was cut
	// by --max-body.
	Body          []byte `parquet:"req_body,optional"`
	BodyTruncated bool   `parquet:"req_body_truncated"`
	// Size is the body's full length.
	Size int64 `parquet:"req_size"`
	// Status is what the recording saw come back (0: nothing).
	Status int32 `parquet:"status"`
	// DurationNanos is how long the recorded exchange took, to the last
	// byte of the answer: the recorded timeline waits for an answer where
	// the recorded client did.
	DurationNanos int64 `parquet:"duration_ns"`
	// Kind is "read" or "write".
	Kind string `parquet:"kind"`
	// Links are the values it reuses from earlier responses of its
	// session, or made up (trace.Link); none in traces recorded before
	// links existed.
	Links []trace.Link `parquet:"links,list"`
	// RespSig is the recorded answer's signature (trace.Signature): what
	// replay compares the live answer with. Empty in older traces.
	RespSig trace.Signature `parquet:"resp_sig"`
	// File is the index of the request's trace file among those Open
	// read (Source.SignatureKey): row ids count from 0 in each.
	File int32 `parquet:"trace_file"`
	// ProxyAnswer: the recording proxy answered itself, the application
	// did not (decoded makes it a request recorded without an answer).
	ProxyAnswer bool `parquet:"proxy_answer"`
}

// LaterColumns are the trace columns older traces lack (pqfile.Later),
// and the one no trace has (File: set as each file is read, kept in the
// spilled files).
func (*Request) LaterColumns() []string {
	return []string{"links", "resp_sig", "trace_file", "proxy_answer"}
}

// decoded makes a decoded row's empty slices nil, as they were written:
// parquet-go decodes a null after a value as empty, not nil.
func (r *Request) decoded() {
	if len(r.Body) == 0 {
		r.Body = nil
	}
	if r.ProxyAnswer {
		// The proxy's 502 is no answer of the application's to compare
		// with, nor to carry values from.
		r.Status, r.RespSig = 0, trace.Signature{}
	}
	if len(r.RespSig.Leaves) == 0 {
		r.RespSig.Leaves = nil
	}
}

// Sizes of what a decoded request holds, for size.
const (
	requestBytes = int64(unsafe.Sizeof(Request{}))
	headerBytes  = int64(unsafe.Sizeof(trace.Header{}))
	linkBytes    = int64(unsafe.Sizeof(trace.Link{}))
	leafBytes    = int64(unsafe.Sizeof(trace.Leaf{}))
	sessionBytes = int64(unsafe.Sizeof(Session{}))
)

// size is how many bytes r holds in memory: its struct, and each string
// and slice it points to (decoded rows share none), rounded up to the
// allocator's 8 bytes.
func (r *Request) size() int64 {
	n := requestBytes + alloc(len(r.Session)) + alloc(len(r.Method)) + alloc(len(r.Host)) + alloc(len(r.Path)) +
		alloc(len(r.Route)) + alloc(len(r.Kind)) + alloc(cap(r.Body)) + int64(cap(r.Headers))*headerBytes
	for _, h := range r.Headers {
		n += alloc(len(h.Name)) + alloc(len(h.Value))
	}
	n += int64(cap(r.Links)) * linkBytes
	for _, l := range r.Links {
		n += alloc(len(l.At)) + alloc(len(l.Src))
	}
	sig := &r.RespSig
	n += alloc(len(sig.Type)) + alloc(len(sig.Kind)) + alloc(len(sig.Class)) + int64(cap(sig.Leaves))*leafBytes
	for _, l := range sig.Leaves {
		n += alloc(len(l.Path)) + alloc(len(l.Types))
	}
	return n
}

// alloc is about what the heap takes for n bytes: size classes below
// 1 KiB are 8 or 16 bytes apart.
func alloc(n int) int64 {
	if n == 0 {
		return 0
	}
	return int64(n+15) &^ 15
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
	// First and Last are the traces' first and last requests' times, of
	// every request read (Source.Span), kept or not.
	First, Last time.Time
	// Outside counts the requests Options.Slice left out.
	Outside int
	// Held is the bytes the Source keeps after Open: every session with
	// its Ready when in memory, else the index (the cache comes on top,
	// up to Options.Cache).
	Held int64
}

// Options bound the memory Open and Source use.
type Options struct {
	// Memory bounds the bytes Open holds while reading, in bytes: the
	// request side kept, its working buffers, and, when the sessions stay
	// in memory, what Ready keeps for them (default 256 MiB).
	Memory int64
	// Cache bounds the sessions kept decoded once spilled, Ready included,
	// in bytes (default 64 MiB; a session larger than it is read each time
	// it is taken).
	Cache int64
	// TempDir holds the spilled files (default: the system's).
	TempDir string
	// Ready, when set, is called once for each session as it comes into
	// memory; what it returns is kept in Session.Ready, with the bytes it
	// holds beyond the session's requests, counted against Memory or Cache.
	Ready func(*Session) (ready any, bytes int64)
	// Observe, when set, is called with every request Open reads, as it
	// reads it, kept by Slice or not: a pass over the whole trace at no
	// cost, such as learning what the recorded answers of each route look
	// like. It must not keep the pointer.
	Observe func(*Request)
	// Slice, when set, keeps only the sessions whose first request is
	// in the span it returns [from, to) for the traces' first request,
	// and of those the requests before to: a slice of a long trace is
	// read without sorting the rest of it. Open reads the traces' request
	// times once more first, to know where they start.
	Slice func(first time.Time) (from, to time.Time)
}

func (o *Options) defaults() {
	if o.Memory <= 0 {
		o.Memory = 256 << 20
	}
	if o.Cache <= 0 {
		o.Cache = 64 << 20
	}
}

// work is what one working buffer of Open may hold, out of Memory: the
// batch of rows being decoded, the row group being spilled.
func (o *Options) work() int64 { return min(max(o.Memory/16, 1<<10), 8<<20) }

// sortBuffer is what the sort of whole sessions by first request holds
// at once: it runs during the last merge by key, when nothing but that
// merge's buffers is held, so it may take a quarter of Memory.
func (o *Options) sortBuffer() int64 { return max(o.Memory/4, o.work()) }

// fanIn is how many spilled runs one merge reads at once: each reader holds
// a batch and a page of each column.
func (o *Options) fanIn() int { return int(min(max(o.Memory/(4<<20), 4), 16)) }

// Source hands out sessions by index, in order of their first request.
// Safe for concurrent use.
type Source struct {
	index       index
	mem         []Session // everything, when it fitted in memory
	first, last time.Time // Span
	sigKeys     []string  // of each trace file, by Request.File

	// Spilled: sessions sorted by key in one file, read back on demand.
	dir    string
	sorted *spilledFile
	ready  func(*Session) (any, int64)
	mu     sync.Mutex
	cache  map[int]*list.Element // of *cached, most recently taken first
	lru    list.List
	bytes  int64
	limit  int64
	// held are the sessions read and not yet collected, cached or not: one
	// that users still hold is handed out again rather than read twice.
	held map[int]held
}

type cached struct {
	i     int
	s     *Session
	bytes int64
}

type held struct {
	s     weak.Pointer[Session]
	bytes int64
}

// FromSessions is a Source over sessions already in memory.
func FromSessions(sessions []Session) *Source {
	src := &Source{mem: sessions, index: index{entries: make([]entry, 0, len(sessions))}}
	for i, s := range sessions {
		if in := infoOf(s.Key, s.Requests); i == 0 {
			src.first, src.last = in.First, in.Last
		} else {
			src.first, src.last = minTime(src.first, in.First), maxTime(src.last, in.Last)
		}
		// In memory, each session is as large as an entry: none can be
		// too large to index.
		_ = src.index.add(infoOf(s.Key, s.Requests), 0)
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

// sample, set by tests, is called where Open and Session hold the most:
// each row read, spilled or merged, and each session made ready.
var sample func()

// Open reads every trace file matching the globs, as described in the
// package comment. Close the Source to remove its temporary files.
func Open(opts Options, globs ...string) (*Source, Stats, error) {
	return OpenContext(context.Background(), opts, globs...)
}

// OpenContext is Open, given up when ctx ends (its cause is the error):
// a large trace takes a while to read and sort.
func OpenContext(ctx context.Context, opts Options, globs ...string) (*Source, Stats, error) {
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
	// With a slice: requests before it, whose sessions are left out
	// (they started before it), and after it are not kept.
	var from, to time.Time
	var before map[uint64]struct{}
	seed := maphash.MakeSeed()
	if opts.Slice != nil {
		first, _, err := span(ctx, files)
		if err != nil {
			return nil, st, err
		}
		from, to = opts.Slice(first)
		before = map[uint64]struct{}{}
	}
	sp := &spiller{opts: opts, ctx: ctx}
	if before != nil {
		sp.drop = func(key string) bool { _, ok := before[maphash.String(seed, key)]; return ok }
	}
	// buf holds the requests read since the last spill: content counts
	// their strings and bodies, cap(buf) their structs. The batch being
	// decoded, the reader's pages and the row group being spilled come on
	// top, out of Memory.
	var buf []Request
	var content int64
	spill := func() error {
		if ctx.Err() != nil { // a run written is a second's work on a slow disk
			return context.Cause(ctx)
		}
		if err := sp.run(buf); err != nil {
			return err
		}
		clear(buf) // the array is reused: drop its bodies now, not as it refills
		buf, content = buf[:0], 0
		return nil
	}
	var sigKeys []string
	for file, path := range files {
		f, err := tracefile.Open(path)
		if err != nil {
			sp.remove()
			return nil, st, err
		}
		k, _ := f.Meta(trace.MetaSignatureKey)
		sigKeys = append(sigKeys, k)
		// The reader's pages count too; when they alone are over Memory
		// (a file of huge pages), runs of a quarter of it, not of one row
		// each: 20,000 runs of one row took 28 s to spill and merge.
		limit := max(opts.Memory-2*opts.work()-pqfile.PageBytes[Request](f), opts.Memory/4)
		err = pqfile.ScanBytes(f, opts.work(), func(r *Request) error {
			if st.Requests%checkEvery == 0 && ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if st.Requests == 0 {
				st.First, st.Last = r.TS, r.TS
			}
			st.First, st.Last = minTime(st.First, r.TS), maxTime(st.Last, r.TS)
			st.Requests++
			if r.Kind == trace.KindRead {
				st.Reads++
			} else {
				st.Writes++
			}
			if r.BodyTruncated {
				st.Truncated++
			}
			r.decoded()
			r.File = int32(file)
			if opts.Observe != nil {
				opts.Observe(r)
			}
			if before != nil && (r.TS.Before(from) || !r.TS.Before(to)) {
				// Sessions are known by a hash of their keys: two of
				// 64 bits meet about once in 10^19 pairs.
				if r.TS.Before(from) {
					before[maphash.String(seed, r.Session)] = struct{}{}
				}
				st.Outside++
				return nil
			}
			n := r.size() - requestBytes
			slots := int64(cap(buf))
			if len(buf) == cap(buf) {
				// Growing copies the array: old and new are both held
				// for a moment.
				slots += int64(max(256, cap(buf)+cap(buf)/4))
			}
			if len(buf) > 0 && content+n+slots*requestBytes > limit {
				if err := spill(); err != nil {
					return err
				}
			}
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, max(256, cap(buf)/4))
			}
			buf = append(buf, *r)
			content += n
			if sample != nil {
				sample()
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
		// Everything fits. What Ready keeps is kept too if it fits with
		// the requests; else it is made as each session is taken, and
		// kept in the cache, within its bound, as spilled sessions are.
		sessions := group(buf)
		if sp.drop != nil {
			sessions = slices.DeleteFunc(sessions, func(s Session) bool {
				if sp.drop(s.Key) {
					st.Outside += len(s.Requests)
					return true
				}
				return false
			})
		}
		total := content + int64(cap(buf))*requestBytes + int64(len(sessions))*(sessionBytes+entryBytes) + alloc(len(buf))
		all := total
		for i := 0; i < len(sessions) && opts.Ready != nil && all <= opts.Memory; i++ {
			var n int64
			sessions[i].Ready, n = opts.Ready(&sessions[i])
			all += n
			if sample != nil {
				sample()
			}
		}
		slices.SortFunc(sessions, func(a, b Session) int {
			return cmp.Or(a.Requests[0].TS.Compare(b.Requests[0].TS), cmp.Compare(a.Key, b.Key))
		})
		src = FromSessions(sessions)
		src.first, src.last, src.sigKeys = st.First, st.Last, sigKeys
		if st.Held = all; all > opts.Memory {
			for i := range sessions {
				sessions[i].Ready = nil
			}
			st.Held = total
			src.readOnTake(opts)
		}
	} else {
		if len(buf) > 0 {
			if err := spill(); err != nil {
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
		src.first, src.last, src.sigKeys = st.First, st.Last, sigKeys
		st.Outside += sp.dropped
		src.readOnTake(opts)
		st.Spilled = true
		// The index says where each session is in the file, in order of
		// their first request.
		st.Held = src.index.bytes()
	}
	st.Sessions = src.Len()
	return src, st, nil
}

// checkEvery is how many rows Open reads or merges between looks at its
// context.
const checkEvery = 4096

// stamp is the one column span reads.
type stamp struct {
	TS time.Time `parquet:"ts,timestamp(nanosecond)"`
}

// span is the first and last request times of the trace files.
func span(ctx context.Context, files []string) (first, last time.Time, err error) {
	n := 0
	for _, path := range files {
		f, err := tracefile.Open(path)
		if err != nil {
			return first, last, err
		}
		err = pqfile.Scan(f, func(s *stamp) error {
			if n%checkEvery == 0 && ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if n == 0 {
				first, last = s.TS, s.TS
			}
			first, last = minTime(first, s.TS), maxTime(last, s.TS)
			n++
			return nil
		})
		f.Close()
		if err != nil {
			return first, last, err
		}
	}
	return first, last, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// byStart orders requests by session, then start, then row id.
func byStart(a, b Request) int {
	return cmp.Or(cmp.Compare(a.Session, b.Session), a.TS.Compare(b.TS), cmp.Compare(a.ID, b.ID))
}

// group makes sessions of requests held in memory.
func group(reqs []Request) []Session {
	// Rows are stored in the order exchanges completed: sort by start.
	slices.SortStableFunc(reqs, byStart)
	n := 0
	for i := range reqs {
		if i == 0 || reqs[i].Session != reqs[i-1].Session {
			n++
		}
	}
	out := make([]Session, 0, n)
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
	ctx   context.Context // given up when it ends
	opts  Options
	dir   string
	runs  []string
	files int // made so far, for their names
	// drop, when set, says which sessions to leave out as they are made
	// whole; dropped counts their requests.
	drop    func(key string) bool
	dropped int
}

// spillFormat is the spilled files' parquet: small pages, since a session
// is read back by seeking to its first row and a reader decodes whole
// pages; no statistics, which would copy the smallest and largest body of
// every page into its header and the footer (2 MiB of metadata a row
// group of 1 MiB uploads); nothing reads them.
var spillFormat = []parquet.WriterOption{
	parquet.PageBufferSize(64 << 10),
	parquet.DataPageStatistics(false),
	parquet.SkipPageBounds("session"), parquet.SkipPageBounds("method"), parquet.SkipPageBounds("host"),
	parquet.SkipPageBounds("path"), parquet.SkipPageBounds("route"), parquet.SkipPageBounds("kind"),
	parquet.SkipPageBounds("req_body"),
	parquet.SkipPageBounds("req_headers", "list", "element", "name"),
	parquet.SkipPageBounds("req_headers", "list", "element", "value"),
}

// create makes the spilled file name, and the temporary directory first.
func (sp *spiller) create(name string) (*pqfile.Writer[Request], error) {
	if sp.dir == "" {
		dir, err := os.MkdirTemp(sp.opts.TempDir, "replaykit-sessions-")
		if err != nil {
			return nil, fmt.Errorf("the trace does not fit in memory (%d MiB) and no temporary directory could be made for it: %w", sp.opts.Memory>>20, err)
		}
		sp.dir = dir
	}
	sp.files++
	// Row groups of one working buffer: the writer holds one.
	opts := pqfile.Options{RowGroupRows: 4096, RowGroupBytes: sp.opts.work(), FlushInterval: -1, NoSync: true}
	return pqfile.Create[Request]("session spill", filepath.Join(sp.dir, name), "replaykit.sessions.v1", opts, spillFormat...)
}

func (sp *spiller) run(reqs []Request) error {
	slices.SortStableFunc(reqs, byStart)
	w, err := sp.create(fmt.Sprintf("run-%04d.parquet", sp.files))
	if err != nil {
		return err
	}
	for i := range reqs {
		if err := w.Write(&reqs[i], reqs[i].size()); err != nil {
			w.Abort()
			return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
		}
		if sample != nil {
			sample()
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
	}
	sp.runs = append(sp.runs, w.Path())
	return nil
}

// merge merges the runs into one file of whole sessions in order of their
// first request, and indexes it: read in that order (Source.From), the
// file is read straight through. Sessions are made whole by merging the
// runs by session key (runs hold parts of sessions), then sorted by first
// request in runs of whole sessions, merged again. Each merge reads at
// most fanIn runs at once: past that, runs are merged into longer runs
// first.
func (sp *spiller) merge() (*Source, error) {
	if err := sp.reduce(false); err != nil {
		return nil, err
	}
	keyed := sp.runs
	sp.runs = nil
	bs := &byFirstRuns{sp: sp}
	add := bs.add
	if sp.drop != nil {
		add = func(r *Request) error {
			if sp.drop(r.Session) {
				sp.dropped++
				return nil
			}
			return bs.add(r)
		}
	}
	if err := sp.mergeInto(add, keyed, false); err != nil {
		return nil, err
	}
	if err := bs.flush(); err != nil {
		return nil, err
	}
	if err := sp.reduce(true); err != nil {
		return nil, err
	}
	w, err := sp.create("sessions.parquet")
	if err != nil {
		return nil, err
	}
	src := &Source{dir: sp.dir}
	var cur Info
	var row, at int64
	index := func(r *Request) error {
		if cur.Requests == 0 || r.Session != cur.Key {
			if cur.Requests > 0 {
				if err := src.index.add(cur, at); err != nil {
					return err
				}
			}
			cur, at = Info{Key: r.Session, First: r.TS}, row
		}
		cur.Requests++
		cur.Last = r.TS
		if r.Kind == trace.KindRead {
			cur.Reads++
		} else {
			cur.Writes++
		}
		row++
		return w.Write(r, r.size())
	}
	if err := sp.mergeInto(index, sp.runs, true); err != nil {
		w.Abort()
		return nil, err
	}
	if cur.Requests > 0 {
		if err := src.index.add(cur, at); err != nil {
			w.Abort()
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
	}
	sp.runs = nil
	f, err := pqfile.Open[Request]("session spill", w.Path())
	if err != nil {
		return nil, err
	}
	src.sorted = &spilledFile{File: f}
	return src, nil
}

// reduce merges runs, fanIn at a time, until at most fanIn are left.
func (sp *spiller) reduce(byFirst bool) error {
	for k := sp.opts.fanIn(); len(sp.runs) > k; {
		w, err := sp.create(fmt.Sprintf("run-%04d.parquet", sp.files))
		if err != nil {
			return err
		}
		write := func(r *Request) error { return w.Write(r, r.size()) }
		if err := sp.mergeInto(write, sp.runs[:k], byFirst); err != nil {
			w.Abort()
			return err
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
		}
		sp.runs = append(sp.runs[k:], w.Path())
	}
	return nil
}

// byFirstRuns takes whole sessions in any order and writes them in runs
// sorted by first request, one working buffer at a time.
type byFirstRuns struct {
	sp    *spiller
	buf   []Request
	bytes int64
}

// add takes the next request; a session's requests come together, in order.
func (b *byFirstRuns) add(r *Request) error {
	if n := len(b.buf); n > 0 && r.Session != b.buf[n-1].Session && b.bytes > b.sp.opts.sortBuffer() {
		if err := b.flush(); err != nil {
			return err
		}
	}
	b.buf = append(b.buf, *r)
	b.bytes += r.size()
	return nil
}

func (b *byFirstRuns) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	// Sessions by their first request, each one's requests kept in order.
	var sessions [][]Request
	for i := 0; i < len(b.buf); {
		j := i + 1
		for j < len(b.buf) && b.buf[j].Session == b.buf[i].Session {
			j++
		}
		sessions = append(sessions, b.buf[i:j])
		i = j
	}
	slices.SortFunc(sessions, func(x, y []Request) int {
		return cmp.Or(x[0].TS.Compare(y[0].TS), cmp.Compare(x[0].Session, y[0].Session))
	})
	w, err := b.sp.create(fmt.Sprintf("run-%04d.parquet", b.sp.files))
	if err != nil {
		return err
	}
	for _, s := range sessions {
		for i := range s {
			if err := w.Write(&s[i], s[i].size()); err != nil {
				w.Abort()
				return fmt.Errorf("spill sessions to %s: %w", b.sp.dir, err)
			}
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("spill sessions to %s: %w", b.sp.dir, err)
	}
	b.sp.runs = append(b.sp.runs, w.Path())
	clear(b.buf)
	b.buf, b.bytes = b.buf[:0], 0
	return nil
}

// mergeInto merges the sorted runs into emit and removes them. Runs are
// sorted by session key (parts of sessions), or, byFirst, hold whole
// sessions in order of their first request.
func (sp *spiller) mergeInto(emit func(*Request) error, runs []string, byFirst bool) error {
	type head struct {
		r     Request
		first time.Time // of r's session (byFirst: its first row's)
		next  func() (*Request, error, bool)
		stop  func()
	}
	less := func(a, b *head) bool {
		if byFirst {
			if c := a.first.Compare(b.first); c != 0 {
				return c < 0
			}
		}
		return byStart(a.r, b.r) < 0
	}
	var heads []*head
	defer func() {
		for _, h := range heads {
			h.stop()
		}
	}()
	// The readers share one working buffer between them.
	batch := sp.opts.work() / int64(len(runs))
	for _, path := range runs {
		f, err := pqfile.Open[Request]("session spill", path)
		if err != nil {
			return err
		}
		defer f.Close()
		next, stop := iter.Pull2(rowsOf(f, batch))
		h := &head{next: next, stop: stop}
		if r, err, ok := next(); ok {
			if err != nil {
				stop()
				return err
			}
			h.r, h.first = *r, r.TS
			heads = append(heads, h)
		} else {
			stop()
		}
	}
	for n := 0; len(heads) > 0; n++ {
		if n%checkEvery == 0 && sp.ctx.Err() != nil {
			return context.Cause(sp.ctx)
		}
		// A linear scan for the smallest head: runs are at most fanIn.
		m := 0
		for i := 1; i < len(heads); i++ {
			if less(heads[i], heads[m]) {
				m = i
			}
		}
		h := heads[m]
		if err := emit(&h.r); err != nil {
			return fmt.Errorf("spill sessions to %s: %w", sp.dir, err)
		}
		if sample != nil {
			sample()
		}
		next, err, ok := h.next()
		switch {
		case !ok:
			h.stop()
			heads = slices.Delete(heads, m, m+1)
		case err != nil:
			return err
		default:
			if next.Session != h.r.Session {
				h.first = next.TS
			}
			h.r = *next
		}
	}
	for _, p := range runs {
		os.Remove(p)
	}
	return nil
}

// rowsOf yields the rows of f in order, decoding about batch bytes at once.
func rowsOf(f *pqfile.File, batch int64) iter.Seq2[*Request, error] {
	return func(yield func(*Request, error) bool) {
		stopped := errors.New("stopped")
		err := pqfile.ScanBytes(f, batch, func(r *Request) error {
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

// readOnTake makes Session read each session as it is taken (from the
// spilled file, or from memory to make it ready) through the cache.
func (s *Source) readOnTake(opts Options) {
	s.limit = opts.Cache
	s.ready = opts.Ready
	s.cache = map[int]*list.Element{}
	s.held = map[int]held{}
}

// Span is the traces' first and last requests' times, of every request
// Open read, including those Options.Slice left out.
func (s *Source) Span() (first, last time.Time) { return s.first, s.last }

// SignatureKey is the key of the answer signatures of trace file i
// (Request.File; trace.MetaSignatureKey), "" for a trace without them.
func (s *Source) SignatureKey(file int32) string {
	if int(file) < len(s.sigKeys) {
		return s.sigKeys[file]
	}
	return ""
}

// Len is the number of sessions.
func (s *Source) Len() int { return len(s.index.entries) }

// Info describes session i without reading it.
func (s *Source) Info(i int) Info { return s.index.info(i) }

// Session reads session i (0 <= i < Len()). The caller must not change it.
func (s *Source) Session(i int) (*Session, error) {
	if s.cache == nil {
		return &s.mem[i], nil // everything is in memory, made ready
	}
	s.mu.Lock()
	sess := s.lookup(i)
	s.mu.Unlock()
	if sess != nil {
		return sess, nil
	}
	// Read outside the lock: two users taking the same session at once
	// may both read it, which is cheaper than making every reader wait;
	// the second copy is dropped at once.
	sess, n, err := s.read(i)
	if err != nil {
		return nil, err
	}
	if s.ready != nil {
		var rn int64
		sess.Ready, rn = s.ready(sess)
		n += rn
		if sample != nil {
			sample()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.lookup(i); other != nil {
		return other, nil
	}
	h := held{s: weak.Make(sess), bytes: n}
	s.held[i] = h
	runtime.AddCleanup(sess, forget, heldSession{weak.Make(s), i, h.s})
	s.remember(i, sess, n)
	return sess, nil
}

// read reads session i back from the spilled file, or copies it from
// memory to make it ready; n is what it holds that Held does not count.
func (s *Source) read(i int) (sess *Session, n int64, err error) {
	if s.mem != nil {
		return &Session{Key: s.mem[i].Key, Requests: s.mem[i].Requests}, sessionBytes, nil
	}
	in, key := s.index.entries[i], s.index.key(i)
	reqs, err := s.sorted.ReadRange(in.offset, int64(in.requests))
	if err != nil {
		return nil, 0, err
	}
	if len(reqs) != int(in.requests) || (len(reqs) > 0 && reqs[0].Session != key) {
		return nil, 0, fmt.Errorf("session %q: the spilled file %s does not match its index", key, s.sorted.Path())
	}
	n = sessionBytes + int64(cap(reqs)-len(reqs))*requestBytes
	for j := range reqs {
		reqs[j].decoded()
		n += reqs[j].size()
	}
	return &Session{Key: key, Requests: reqs}, n, nil
}

// heldSession names an entry of Source.held for its cleanup.
type heldSession struct {
	src weak.Pointer[Source]
	i   int
	s   weak.Pointer[Session]
}

// forget drops the entry of a session no longer held anywhere. Not a
// method value, nor anything holding the Source: a cleanup's function and
// argument are reachable until it runs, and the Source reaches the cached
// sessions, whose cleanups then never run; a closed Source, its cache and
// its sessions in memory would never be collected.
func forget(h heldSession) {
	s := h.src.Value()
	if s == nil {
		return // the Source went first
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[h.i].s == h.s {
		delete(s.held, h.i)
	}
}

// lookup is session i if it is in memory: cached, or still held by a
// user (then cached again). s.mu is held.
func (s *Source) lookup(i int) *Session {
	if el, ok := s.cache[i]; ok {
		s.lru.MoveToFront(el)
		return el.Value.(*cached).s
	}
	h, ok := s.held[i]
	if !ok {
		return nil
	}
	sess := h.s.Value()
	if sess != nil {
		s.remember(i, sess, h.bytes)
	}
	return sess
}

// remember caches session i of n bytes, evicting the least recently taken
// past the cache's bound. s.mu is held.
func (s *Source) remember(i int, sess *Session, n int64) {
	if n > s.limit {
		return
	}
	s.cache[i] = s.lru.PushFront(&cached{i: i, s: sess, bytes: n})
	for s.bytes += n; s.bytes > s.limit; {
		old := s.lru.Remove(s.lru.Back()).(*cached)
		delete(s.cache, old.i)
		s.bytes -= old.bytes
	}
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

// From yields the sessions from index i on, in order, each with its
// index: the timeline's way through a trace. A spilled Source is read
// straight through, a few thousand rows at a time (sessions are in the
// file in this order), without the cache: each session is made ready as
// it is read, and held only as long as the caller holds it. err says,
// once the sequence has ended, why it ended before the last session.
func (s *Source) From(i int) (seq iter.Seq2[int, *Session], err func() error) {
	var failed error
	return func(yield func(int, *Session) bool) {
		if s.sorted == nil {
			for ; i < s.Len(); i++ {
				sess, err := s.Session(i)
				if err != nil || !yield(i, sess) {
					return // in memory: Session cannot fail
				}
			}
			return
		}
		// Read straight through: sessions are in the file in index order,
		// each its entry's requests rows long.
		if i >= s.Len() {
			return
		}
		// Batches of about streamBytes decoded: fewer rows when they
		// are large (uploads).
		batch := int(min(max(streamBytes/pqfile.RowBytes(s.sorted.File), 1), streamRows))
		stream, stop := iter.Pull2(s.sorted.Stream(s.index.entries[i].offset, batch))
		defer stop()
		var rows []Request // read, not yet handed out
		for ; i < s.Len(); i++ {
			n, key := int(s.index.entries[i].requests), s.index.key(i)
			for len(rows) < n {
				batch, err, ok := stream()
				if !ok || err != nil {
					failed = fmt.Errorf("read sessions back from %s: %v", s.sorted.Path(), cmp.Or(err, errors.New("the file is shorter than its index")))
					return
				}
				if len(rows) == 0 {
					rows = batch
				} else {
					rows = append(slices.Clip(rows), batch...)
				}
			}
			// Its own copy: a session held long would keep the batch.
			part := slices.Clone(rows[:n])
			clear(rows[:n])
			rows = rows[n:]
			if part[0].Session != key {
				failed = fmt.Errorf("session %q: the spilled file %s does not match its index", key, s.sorted.Path())
				return
			}
			for r := range part {
				part[r].decoded()
			}
			sess := &Session{Key: part[0].Session, Requests: part}
			if s.ready != nil {
				sess.Ready, _ = s.ready(sess)
			}
			if sample != nil {
				sample()
			}
			if !yield(i, sess) {
				return
			}
		}
	}, func() error { return failed }
}

// streamRows and streamBytes bound what From decodes at once: on a load
// generator's one core nothing else runs meanwhile (4,096 rows took
// about 30 ms; 64 are a fraction of a millisecond).
const (
	streamRows  = 64
	streamBytes = 1 << 20
)

// Search is the index of the first session whose first request is at or
// after t (Len() when there is none): sessions are in that order.
func (s *Source) Search(t time.Time) int {
	return s.index.search(t)
}
