package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/results"
)

// Results files are read column by column, a row group at a time, and row
// groups are shared among the cores: decoding rows one struct at a time
// through reflection cost six times more than the figures themselves.

// batch is one row group's columns.
type batch struct {
	latency, ttfb, respSize, scheduled, sent, behind, shadowLatency []int64
	status, shard, users, carried, notCarried, seq, shadowStatus    []int32
	recordedStatus                                                  []int32
	method, name, errText, run, scenario, diff                      []string
	shadowError, shadowDiff, targetsDiff                            []string
	compared, bodySkipped                                           []bool
}

// columnsRead are the columns analyze needs, by name. Those results
// written before them lack (laterColumns) read as 0, false or "" when
// absent.
var (
	int64Columns  = []string{"latency_ns", "ttfb_ns", "resp_size", "scheduled", "sent", "behind_ns", "shadow_latency_ns"}
	int32Columns  = []string{"status", "shard", "users", "carried", "not_carried", "seq", "shadow_status", "recorded_status"}
	stringColumns = []string{"method", "name", "error", "run", "scenario", "diff", "shadow_error", "shadow_diff", "targets_diff"}
	boolColumns   = []string{"compared", "body_skipped"}
	laterColumns  = (*results.Result).LaterColumns(nil)
)

func (b *batch) int64s(i int) *[]int64 {
	return [...]*[]int64{&b.latency, &b.ttfb, &b.respSize, &b.scheduled, &b.sent, &b.behind, &b.shadowLatency}[i]
}

func (b *batch) int32s(i int) *[]int32 {
	return [...]*[]int32{&b.status, &b.shard, &b.users, &b.carried, &b.notCarried, &b.seq, &b.shadowStatus, &b.recordedStatus}[i]
}

func (b *batch) strings(i int) *[]string {
	return [...]*[]string{&b.method, &b.name, &b.errText, &b.run, &b.scenario, &b.diff, &b.shadowError, &b.shadowDiff, &b.targetsDiff}[i]
}

func (b *batch) bools(i int) *[]bool {
	return [...]*[]bool{&b.compared, &b.bodySkipped}[i]
}

// absent is the index of a later column the file lacks: it reads as 0.
const absent = -1

// columnIndexes finds each needed column; results.Open has checked that
// they exist with the right types, but for the later columns, which an
// older file lacks (absent).
func columnIndexes(pf *parquet.File, names []string) ([]int, error) {
	var out []int
	for _, n := range names {
		leaf, ok := pf.Schema().Lookup(n)
		if !ok && slices.Contains(laterColumns, n) {
			out = append(out, absent)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("no column %q", n)
		}
		out = append(out, leaf.ColumnIndex)
	}
	return out, nil
}

// addFileColumns reads path into a with one worker per core; timed says
// its rows count in a's timeline.
func (a *Aggregate) addFileColumns(f *pqfile.File, timed bool) (err error) {
	pf := f.Parquet()
	i64, err := columnIndexes(pf, int64Columns)
	if err != nil {
		return err
	}
	i32, err := columnIndexes(pf, int32Columns)
	if err != nil {
		return err
	}
	istr, err := columnIndexes(pf, stringColumns)
	if err != nil {
		return err
	}
	ibool, err := columnIndexes(pf, boolColumns)
	if err != nil {
		return err
	}
	workers := min(runtime.GOMAXPROCS(0), len(pf.RowGroups()))
	parts := make([]*Aggregate, workers)
	var windowsMu sync.Mutex // guards a's windows
	for w := range workers {
		parts[w] = New(a.step)
		parts[w].keep = a.keep
		if timed {
			parts[w].timeline = a.timeline.empty()
		}
	}
	err = eachRowGroup(f, workers, func(w int, r *groupReader, rg parquet.RowGroup) error {
		if err := r.read(rg, columnSet{i64, i32, istr, ibool}, parts[w].addBatch); err != nil {
			return err
		}
		// A row group spans a few windows: hand them over now, so that
		// workers do not each hold every window.
		windowsMu.Lock()
		a.mergeWindows(parts[w])
		windowsMu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range parts {
		a.Merge(p)
	}
	return nil
}

// eachRowGroup hands f's row groups to workers goroutines, each with a
// reader of its own, and returns the first error (a worker that failed
// skips the rest of its groups).
func eachRowGroup(f *pqfile.File, workers int, work func(w int, r *groupReader, rg parquet.RowGroup) error) error {
	next := make(chan parquet.RowGroup)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := &groupReader{in: interner{}}
			for rg := range next {
				if errs[w] == nil {
					errs[w] = work(w, r, rg)
				}
			}
		})
	}
	for _, rg := range f.Parquet().RowGroups() {
		next <- rg
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("read results %s: %w", f.Path(), err)
		}
	}
	return nil
}

// interner keeps one copy of each string a worker reads: the columns are
// dictionaries of a few values repeated in every row.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 1<<16 {
		in[s] = s
	}
	return s
}

// batchRows bounds the rows decoded at once, whatever a row group holds
// or a damaged footer claims: memory stays a few MB per worker.
const batchRows = 4096

// groupReader reads row groups in batches of batchRows, every column in
// step. One per worker; its buffers are reused.
type groupReader struct {
	b    batch
	in   interner
	vals [batchRows]parquet.Value
	cols []*column
}

// column is a cursor over one column chunk's values, across pages.
type column struct {
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
	// done are pages read to the end whose values (byte arrays point
	// into them) the current batch may still use: released after it.
	done []parquet.Page
}

func (c *column) release() {
	for _, p := range c.done {
		parquet.Release(p)
	}
	c.done = c.done[:0]
}

func (c *column) close() {
	c.release()
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.pages.Close()
}

// next makes sure a page with values left is open; false at the end.
func (c *column) next() (bool, error) {
	if c.vals != nil {
		return true, nil
	}
	if c.page != nil {
		c.done = append(c.done, c.page)
		c.page = nil
	}
	p, err := c.pages.ReadPage()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.page, c.vals = p, p.Values()
	return true, nil
}

// fill reads n values across pages: readPage reads from the current
// page into the slots from got on and says how many it read.
func (c *column) fill(n int, readPage func(got int) (int, error)) error {
	for got := 0; got < n; {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			return errShortColumn
		}
		k, err := readPage(got)
		got += k
		if errors.Is(err, io.EOF) || (err == nil && k == 0) {
			c.vals = nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// readValues fills dst, across pages.
func (c *column) readValues(dst []parquet.Value) error {
	return c.fill(len(dst), func(got int) (int, error) { return c.vals.ReadValues(dst[got:]) })
}

// readInt64s fills dst, through the page's typed reader when it has one.
func (c *column) readInt64s(dst []int64, vals []parquet.Value) error {
	return c.fill(len(dst), func(got int) (int, error) {
		if ir, typed := c.vals.(parquet.Int64Reader); typed {
			return ir.ReadInt64s(dst[got:])
		}
		k, err := c.vals.ReadValues(vals[:len(dst)-got])
		for j := range k {
			dst[got+j] = vals[j].Int64()
		}
		return k, err
	})
}

var errShortColumn = errors.New("damaged file: a column holds fewer values than its row group has rows")

// columnSet is the indexes of the columns read, by type, in the order
// of int64Columns, int32Columns, stringColumns and boolColumns (absent:
// a later column the file lacks).
type columnSet struct{ i64, i32, str, bools []int }

// read decodes a row group batch by batch and hands each batch to fn.
func (g *groupReader) read(rg parquet.RowGroup, idx columnSet, fn func(*batch)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged file: %v", p)
		}
	}()
	chunks := rg.ColumnChunks()
	g.cols = g.cols[:0]
	defer func() {
		for _, c := range g.cols {
			c.close()
		}
	}()
	open := func(idx []int) []*column {
		var out []*column
		for _, ci := range idx {
			if ci == absent {
				out = append(out, nil) // read as 0
				continue
			}
			if ci < 0 || ci >= len(chunks) {
				panic("column index past the row group's columns")
			}
			c := &column{pages: chunks[ci].Pages()}
			g.cols = append(g.cols, c)
			out = append(out, c)
		}
		return out
	}
	c64, c32, cstr, cbool := open(idx.i64), open(idx.i32), open(idx.str), open(idx.bools)
	for left := rg.NumRows(); left > 0; {
		n := int(min(left, batchRows))
		left -= int64(n)
		for k, c := range c64 {
			dst := resize(g.b.int64s(k), n)
			if c == nil {
				clear(dst)
				continue
			}
			if err := c.readInt64s(dst, g.vals[:]); err != nil {
				return fmt.Errorf("column %s: %w", int64Columns[k], err)
			}
		}
		for k, c := range c32 {
			dst := resize(g.b.int32s(k), n)
			if c == nil {
				clear(dst)
				continue
			}
			if err := c.readValues(g.vals[:n]); err != nil {
				return fmt.Errorf("column %s: %w", int32Columns[k], err)
			}
			for j := range n {
				dst[j] = g.vals[j].Int32()
			}
		}
		for k, c := range cbool {
			dst := resize(g.b.bools(k), n)
			if c == nil {
				clear(dst)
				continue
			}
			if err := c.readValues(g.vals[:n]); err != nil {
				return fmt.Errorf("column %s: %w", boolColumns[k], err)
			}
			for j := range n {
				dst[j] = g.vals[j].Boolean()
			}
		}
		for k, c := range cstr {
			dst := resize(g.b.strings(k), n)
			if c == nil {
				clear(dst)
				continue
			}
			if err := c.readValues(g.vals[:n]); err != nil {
				return fmt.Errorf("column %s: %w", stringColumns[k], err)
			}
			// Runs of the same value are common (run, scenario, no
			// error): compare with the last one before looking it up.
			var last []byte
			lastS, have := "", false
			for j := range n {
				if b := g.vals[j].ByteArray(); have && bytes.Equal(b, last) {
					dst[j] = lastS
				} else {
					lastS, have = g.in.get(b), true
					last = append(last[:0], b...)
					dst[j] = lastS
				}
			}
		}
		fn(&g.b)
		for _, c := range g.cols {
			c.release()
		}
	}
	return nil
}

func resize[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
	return *s
}

// addBatch counts a batch of rows.
func (a *Aggregate) addBatch(b *batch) {
	var r results.Result
	for i := range b.latency {
		r = results.Result{Run: b.run[i], Scenario: b.scenario[i], Shard: b.shard[i], Method: b.method[i], Name: b.name[i],
			Scheduled: time.Unix(0, b.scheduled[i]).UTC(), Sent: time.Unix(0, b.sent[i]).UTC(), LatencyNanos: b.latency[i],
			TTFBNanos: b.ttfb[i], Status: b.status[i], Error: b.errText[i], RespSize: b.respSize[i], Users: b.users[i],
			Carried: b.carried[i], NotCarried: b.notCarried[i], BehindNanos: b.behind[i], Seq: b.seq[i],
			Compared: b.compared[i], BodySkipped: b.bodySkipped[i], Diff: b.diff[i], RecordedStatus: b.recordedStatus[i], ShadowStatus: b.shadowStatus[i], ShadowLatencyNanos: b.shadowLatency[i],
			ShadowError: b.shadowError[i], ShadowDiff: b.shadowDiff[i], TargetsDiff: b.targetsDiff[i]}
		a.Add(&r)
	}
}
