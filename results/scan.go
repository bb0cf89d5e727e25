package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
)

// A results file is read column by column, a row group at a time, its
// row groups shared among workers: decoding rows one struct at a time
// through reflection cost six times more than analyze's figures
// themselves.

// Batch is consecutive rows of a results file, column by column: the
// columns analyze reads, by their Result fields' names. Columns a scan
// was not asked for are left empty.
type Batch struct {
	// Len is the number of rows.
	Len int

	LatencyNanos, TTFBNanos, RespSize, Scheduled, Sent, BehindNanos, ShadowLatencyNanos []int64

	Status, Shard, Users, Carried, NotCarried, Seq, ShadowStatus, RecordedStatus, GRPCStatus []int32

	Method, Name, Error, Run, Scenario, Diff, ShadowError, ShadowDiff, TargetsDiff []string

	Compared, BodySkipped []bool
}

// batchColumn is a column a Batch holds: its parquet name and its field.
type batchColumn struct {
	name string
	i64  func(*Batch) *[]int64
	i32  func(*Batch) *[]int32
	str  func(*Batch) *[]string
	bl   func(*Batch) *[]bool
	// none is what an int32 column reads in files that lack it.
	none int32
}

var batchColumns = []batchColumn{
	{name: "latency_ns", i64: func(b *Batch) *[]int64 { return &b.LatencyNanos }},
	{name: "ttfb_ns", i64: func(b *Batch) *[]int64 { return &b.TTFBNanos }},
	{name: "resp_size", i64: func(b *Batch) *[]int64 { return &b.RespSize }},
	{name: "scheduled", i64: func(b *Batch) *[]int64 { return &b.Scheduled }},
	{name: "sent", i64: func(b *Batch) *[]int64 { return &b.Sent }},
	{name: "behind_ns", i64: func(b *Batch) *[]int64 { return &b.BehindNanos }},
	{name: "shadow_latency_ns", i64: func(b *Batch) *[]int64 { return &b.ShadowLatencyNanos }},
	{name: "status", i32: func(b *Batch) *[]int32 { return &b.Status }},
	{name: "shard", i32: func(b *Batch) *[]int32 { return &b.Shard }},
	{name: "users", i32: func(b *Batch) *[]int32 { return &b.Users }},
	{name: "carried", i32: func(b *Batch) *[]int32 { return &b.Carried }},
	{name: "not_carried", i32: func(b *Batch) *[]int32 { return &b.NotCarried }},
	{name: "seq", i32: func(b *Batch) *[]int32 { return &b.Seq }},
	{name: "shadow_status", i32: func(b *Batch) *[]int32 { return &b.ShadowStatus }},
	{name: "recorded_status", i32: func(b *Batch) *[]int32 { return &b.RecordedStatus }},
	{name: "grpc_status", i32: func(b *Batch) *[]int32 { return &b.GRPCStatus }, none: NoGRPCStatus},
	{name: "method", str: func(b *Batch) *[]string { return &b.Method }},
	{name: "name", str: func(b *Batch) *[]string { return &b.Name }},
	{name: "error", str: func(b *Batch) *[]string { return &b.Error }},
	{name: "run", str: func(b *Batch) *[]string { return &b.Run }},
	{name: "scenario", str: func(b *Batch) *[]string { return &b.Scenario }},
	{name: "diff", str: func(b *Batch) *[]string { return &b.Diff }},
	{name: "shadow_error", str: func(b *Batch) *[]string { return &b.ShadowError }},
	{name: "shadow_diff", str: func(b *Batch) *[]string { return &b.ShadowDiff }},
	{name: "targets_diff", str: func(b *Batch) *[]string { return &b.TargetsDiff }},
	{name: "compared", bl: func(b *Batch) *[]bool { return &b.Compared }},
	{name: "body_skipped", bl: func(b *Batch) *[]bool { return &b.BodySkipped }},
}

// Row sets r to row i of the batch: the columns it holds, the others
// zero.
func (b *Batch) Row(i int, r *Result) {
	*r = Result{}
	at := func(s []int64) int64 {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	at32 := func(s []int32) int32 {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	grpc := int32(NoGRPCStatus)
	if i < len(b.GRPCStatus) {
		grpc = b.GRPCStatus[i]
	}
	str := func(s []string) string {
		if i < len(s) {
			return s[i]
		}
		return ""
	}
	bl := func(s []bool) bool { return i < len(s) && s[i] }
	r.Run, r.Scenario, r.Shard, r.Method, r.Name = str(b.Run), str(b.Scenario), at32(b.Shard), str(b.Method), str(b.Name)
	r.Scheduled, r.Sent = time.Unix(0, at(b.Scheduled)).UTC(), time.Unix(0, at(b.Sent)).UTC()
	r.LatencyNanos, r.TTFBNanos, r.Status, r.Error, r.RespSize = at(b.LatencyNanos), at(b.TTFBNanos), at32(b.Status), str(b.Error), at(b.RespSize)
	r.RecordedStatus, r.Users, r.Carried, r.NotCarried = at32(b.RecordedStatus), at32(b.Users), at32(b.Carried), at32(b.NotCarried)
	r.BehindNanos, r.Seq, r.Compared, r.Diff, r.BodySkipped = at(b.BehindNanos), at32(b.Seq), bl(b.Compared), str(b.Diff), bl(b.BodySkipped)
	r.ShadowStatus, r.ShadowLatencyNanos, r.ShadowError = at32(b.ShadowStatus), at(b.ShadowLatencyNanos), str(b.ShadowError)
	r.ShadowDiff, r.TargetsDiff, r.GRPCStatus = str(b.ShadowDiff), str(b.TargetsDiff), grpc
}

// Append adds r as the batch's last row, in every column.
func (b *Batch) Append(r *Result) {
	b.LatencyNanos = append(b.LatencyNanos, r.LatencyNanos)
	b.TTFBNanos = append(b.TTFBNanos, r.TTFBNanos)
	b.RespSize = append(b.RespSize, r.RespSize)
	b.Scheduled = append(b.Scheduled, r.Scheduled.UnixNano())
	b.Sent = append(b.Sent, r.Sent.UnixNano())
	b.BehindNanos = append(b.BehindNanos, r.BehindNanos)
	b.ShadowLatencyNanos = append(b.ShadowLatencyNanos, r.ShadowLatencyNanos)
	b.Status = append(b.Status, r.Status)
	b.Shard = append(b.Shard, r.Shard)
	b.Users = append(b.Users, r.Users)
	b.Carried = append(b.Carried, r.Carried)
	b.NotCarried = append(b.NotCarried, r.NotCarried)
	b.Seq = append(b.Seq, r.Seq)
	b.ShadowStatus = append(b.ShadowStatus, r.ShadowStatus)
	b.RecordedStatus = append(b.RecordedStatus, r.RecordedStatus)
	b.GRPCStatus = append(b.GRPCStatus, r.GRPCStatus)
	b.Method = append(b.Method, r.Method)
	b.Name = append(b.Name, r.Name)
	b.Error = append(b.Error, r.Error)
	b.Run = append(b.Run, r.Run)
	b.Scenario = append(b.Scenario, r.Scenario)
	b.Diff = append(b.Diff, r.Diff)
	b.ShadowError = append(b.ShadowError, r.ShadowError)
	b.ShadowDiff = append(b.ShadowDiff, r.ShadowDiff)
	b.TargetsDiff = append(b.TargetsDiff, r.TargetsDiff)
	b.Compared = append(b.Compared, r.Compared)
	b.BodySkipped = append(b.BodySkipped, r.BodySkipped)
	b.Len++
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	for _, c := range batchColumns {
		switch {
		case c.i64 != nil:
			*c.i64(b) = (*c.i64(b))[:0]
		case c.i32 != nil:
			*c.i32(b) = (*c.i32(b))[:0]
		case c.str != nil:
			*c.str(b) = (*c.str(b))[:0]
		default:
			*c.bl(b) = (*c.bl(b))[:0]
		}
	}
	b.Len = 0
}

// ScanOptions say how ScanBatches reads a file.
type ScanOptions struct {
	// Workers is how many goroutines read row groups; at least 1.
	Workers int
	// Columns are the parquet names of the columns read (nil: every
	// column a Batch holds).
	Columns []string
	// Batch is called with each batch of rows by worker w (0 to
	// Workers-1); b is reused once it returns.
	Batch func(w int, b *Batch) error
	// Group, if set, is called by worker w after each of its row groups.
	Group func(w int) error
}

// scanRows bounds the rows decoded at once, whatever a row group holds
// or a damaged footer claims: memory stays a few MB per worker.
const scanRows = 4096

// ScanBatches reads every row of f in batches, its row groups shared
// among opts.Workers goroutines, and returns the first error (a worker
// that failed skips the rest of its groups). Columns of a later version
// of the format (LaterColumns) that f lacks read as zero. A damaged
// file is an error, never a crash.
func ScanBatches(f *File, opts ScanOptions) error {
	cols, err := scanColumns(f.Parquet(), opts.Columns)
	if err != nil {
		return fmt.Errorf("read results %s: %w", f.Path(), err)
	}
	workers := max(opts.Workers, 1)
	next := make(chan parquet.RowGroup)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := &groupReader{in: interner{}}
			for rg := range next {
				if errs[w] != nil {
					continue
				}
				errs[w] = r.read(rg, cols, func(b *Batch) error { return opts.Batch(w, b) })
				if errs[w] == nil && opts.Group != nil {
					errs[w] = opts.Group(w)
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

// absent is the column index of a later column the file lacks.
const absent = -1

// scanColumn is a column read: what it fills and where it is in the file.
type scanColumn struct {
	*batchColumn
	index int
}

// scanColumns finds the columns asked for in pf; results.Open has
// checked that they exist with the right types, but for the later
// columns, which an older file lacks.
func scanColumns(pf *parquet.File, names []string) ([]scanColumn, error) {
	later := (*Result).LaterColumns(nil)
	var out []scanColumn
	for i := range batchColumns {
		c := &batchColumns[i]
		if names != nil && !slices.Contains(names, c.name) {
			continue
		}
		leaf, ok := pf.Schema().Lookup(c.name)
		switch {
		case ok:
			out = append(out, scanColumn{c, leaf.ColumnIndex})
		case slices.Contains(later, c.name):
			out = append(out, scanColumn{c, absent})
		default:
			return nil, fmt.Errorf("no column %q", c.name)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(batchColumns, func(c batchColumn) bool { return c.name == n }) {
			return nil, fmt.Errorf("a scan of column %q, which a batch does not hold", n)
		}
	}
	return out, nil
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

// groupReader reads row groups in batches of scanRows, every column in
// step. One per worker; its buffers are reused.
type groupReader struct {
	b    Batch
	in   interner
	vals [scanRows]parquet.Value
	cols []*column
}

// read decodes a row group batch by batch and hands each batch to fn.
func (g *groupReader) read(rg parquet.RowGroup, want []scanColumn, fn func(*Batch) error) (err error) {
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
	for _, sc := range want {
		c := &column{batchColumn: sc.batchColumn}
		if sc.index != absent {
			if sc.index < 0 || sc.index >= len(chunks) {
				return errors.New("damaged file: a column index past the row group's columns")
			}
			c.pages = chunks[sc.index].Pages()
		}
		g.cols = append(g.cols, c)
	}
	for left := rg.NumRows(); left > 0; {
		n := int(min(left, scanRows))
		left -= int64(n)
		for _, c := range g.cols {
			if err := c.read(g, n); err != nil {
				return fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		g.b.Len = n
		if err := fn(&g.b); err != nil {
			return err
		}
		for _, c := range g.cols {
			c.release()
		}
	}
	return nil
}

// column is a cursor over one column chunk's values, across pages.
type column struct {
	*batchColumn
	pages parquet.Pages // nil: absent, read as zero
	page  parquet.Page
	vals  parquet.ValueReader
	// A dictionary page's values are read as its indexes (idx, from pos
	// on) into dict, the dictionary's strings, each made on first use.
	idx      []int32
	pos      int
	dict     parquet.Dictionary
	dictStr  []string
	dictMade []bool
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
	if c.pages != nil {
		c.pages.Close()
	}
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
	c.page, c.vals, c.idx, c.pos = p, p.Values(), nil, 0
	if c.str != nil {
		c.indexes(p)
	}
	return true, nil
}

// indexes sets up the dictionary path for a string page that has one and
// no nulls (its indexes are then one per row).
func (c *column) indexes(p parquet.Page) {
	d := p.Dictionary()
	if d == nil || p.NumNulls() != 0 || p.NumValues() != p.NumRows() {
		return
	}
	data := p.Data()
	idx := data.Int32()
	if int64(len(idx)) != p.NumValues() {
		return
	}
	if d != c.dict {
		c.dict = d
		c.dictStr = resize(&c.dictStr, d.Len())
		c.dictMade = resize(&c.dictMade, d.Len())
		clear(c.dictMade)
	}
	c.idx = idx
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

var errShortColumn = errors.New("damaged file: a column holds fewer values than its row group has rows")

// read fills the column's field of g.b with the next n values.
func (c *column) read(g *groupReader, n int) error {
	vals := g.vals[:]
	switch {
	case c.i64 != nil:
		dst := resize(c.i64(&g.b), n)
		if c.pages == nil {
			clear(dst)
			return nil
		}
		return c.fill(n, func(got int) (int, error) {
			if r, typed := c.vals.(parquet.Int64Reader); typed {
				return r.ReadInt64s(dst[got:])
			}
			k, err := c.vals.ReadValues(vals[:n-got])
			for j := range k {
				dst[got+j] = vals[j].Int64()
			}
			return k, err
		})
	case c.i32 != nil:
		dst := resize(c.i32(&g.b), n)
		if c.pages == nil {
			for j := range dst {
				dst[j] = c.none
			}
			return nil
		}
		return c.fill(n, func(got int) (int, error) {
			if r, typed := c.vals.(parquet.Int32Reader); typed {
				return r.ReadInt32s(dst[got:])
			}
			k, err := c.vals.ReadValues(vals[:n-got])
			for j := range k {
				dst[got+j] = vals[j].Int32()
			}
			return k, err
		})
	case c.bl != nil:
		dst := resize(c.bl(&g.b), n)
		if c.pages == nil {
			clear(dst)
			return nil
		}
		return c.fill(n, func(got int) (int, error) {
			if r, typed := c.vals.(parquet.BooleanReader); typed {
				return r.ReadBooleans(dst[got:])
			}
			k, err := c.vals.ReadValues(vals[:n-got])
			for j := range k {
				dst[got+j] = vals[j].Boolean()
			}
			return k, err
		})
	default:
		dst := resize(c.str(&g.b), n)
		if c.pages == nil {
			clear(dst)
			return nil
		}
		return c.fill(n, func(got int) (int, error) {
			if c.idx != nil {
				return c.readIndexes(g.in, dst[got:])
			}
			k, err := c.vals.ReadValues(vals[:n-got])
			// Runs of the same value are common (run, scenario, no
			// error): compare with the last one before looking it up.
			var last []byte
			lastS, have := "", false
			for j := range k {
				if b := vals[j].ByteArray(); have && bytes.Equal(b, last) {
					dst[got+j] = lastS
				} else {
					lastS, have = g.in.get(b), true
					last = append(last[:0], b...)
					dst[got+j] = lastS
				}
			}
			return k, err
		})
	}
}

// readIndexes fills dst from the page's dictionary indexes; io.EOF at
// the page's end.
func (c *column) readIndexes(in interner, dst []string) (int, error) {
	k := min(len(dst), len(c.idx)-c.pos)
	for j, ix := range c.idx[c.pos : c.pos+k] {
		if ix < 0 || int(ix) >= len(c.dictStr) {
			return j, errors.New("damaged file: a dictionary index past its dictionary")
		}
		if !c.dictMade[ix] {
			c.dictStr[ix], c.dictMade[ix] = in.get(c.dict.Index(ix).ByteArray()), true
		}
		dst[j] = c.dictStr[ix]
	}
	c.pos += k
	if c.pos == len(c.idx) {
		return k, io.EOF
	}
	return k, nil
}

func resize[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
	return *s
}

// Distinct adds to into the values of a dictionary-encoded string column
// of f, from its row groups' dictionaries alone (no row is read). It says
// false when a row group's column has no dictionary, or when into would
// hold more than limit values: the values are then not all known.
func Distinct(f *File, column string, limit int, into map[string]bool) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("read results %s: damaged file: %v", f.Path(), p)
		}
	}()
	leaf, found := f.Parquet().Schema().Lookup(column)
	if !found {
		return false, fmt.Errorf("read results %s: no column %q", f.Path(), column)
	}
	for _, rg := range f.Parquet().RowGroups() {
		chunks := rg.ColumnChunks()
		if leaf.ColumnIndex >= len(chunks) || !dictionary(chunks[leaf.ColumnIndex], limit, into) {
			return false, nil
		}
	}
	return true, nil
}

// dictionary adds a column chunk's dictionary to into; false without one
// or past limit values.
func dictionary(c parquet.ColumnChunk, limit int, into map[string]bool) bool {
	pages := c.Pages()
	defer pages.Close()
	p, err := pages.ReadPage()
	if err != nil {
		return false
	}
	defer parquet.Release(p)
	d := p.Dictionary()
	if d == nil || d.Len() > limit {
		return false
	}
	for i := range d.Len() {
		into[string(d.Index(int32(i)).ByteArray())] = true
	}
	return len(into) <= limit
}
