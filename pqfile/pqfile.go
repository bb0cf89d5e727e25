// Package pqfile writes and reads the parquet files replaykit keeps rows
// in (traces and results): written as NAME.tmp and renamed when complete,
// mode 0600, zstd, row groups flushed by rows, bytes and time; read row
// group by row group, only the columns asked for, with damage reported as
// an error rather than a panic.
package pqfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Options bound how much a Writer holds in memory before it writes a row
// group out, and describe the file.
type Options struct {
	// RowGroupRows flushes a row group after this many rows (default 16384:
	// a few MB held, and still large enough for fast scans).
	RowGroupRows int
	// RowGroupBytes flushes a row group once the rows buffered since the last
	// flush hold about this many bytes (default 64 MiB).
	RowGroupBytes int64
	// FlushInterval flushes a row group when this much wall time has passed
	// since the last flush, checked every 64 rows written (default 5s;
	// negative: never). With no rows coming, nothing is flushed.
	FlushInterval time.Duration
	// NoReplace refuses to create or finish the file over one that exists
	// (an error wrapping os.ErrExist), and refuses a NAME.tmp that another
	// writer is writing: two writers never write over each other.
	NoReplace bool
	// NoSync skips the fsync at Close: for temporary files, which nobody
	// reads after a crash (replay's spilled sessions).
	NoSync bool
	// Meta is key-value metadata the file carries (File.Meta reads it).
	Meta map[string]string
}

func (o *Options) defaults() {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 16384
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = 64 << 20
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 5 * time.Second
	}
}

// batchRows is how many rows are handed to parquet at once: one call per row
// costs more than the encoding itself. batchBytes hands them over sooner
// when they are large: the batch holds the rows' bodies alive, and 256
// uploads of 1 MiB would be 256 MiB held for nothing.
const (
	batchRows  = 256
	batchBytes = 4 << 20
)

// Writer streams rows of type T into a parquet file. It writes NAME.tmp and
// renames it to NAME on Close, so a file under its final name always has a
// footer. Not safe for concurrent use.
type Writer[T any] struct {
	what      string // "trace", "results": for error messages
	path, tmp string
	f         *os.File
	pw        *parquet.GenericWriter[T]
	opts      Options

	batch      []T
	batchSize  int64 // bytes of the rows in batch
	groupRows  int
	groupBytes int64
	lastFlush  time.Time
	rows       int64
	closed     bool
}

// Create opens a new file at path for rows of T. what names the kind of
// file in errors; format is stored in the file's metadata; extra writer
// options (such as skipped page statistics) are passed to parquet-go.
func Create[T any](what, path, format string, opts Options, extra ...parquet.WriterOption) (*Writer[T], error) {
	opts.defaults()
	tmp := path + ".tmp"
	var f *os.File
	var err error
	if opts.NoReplace {
		f, err = createLocked(path, tmp)
	} else {
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s %s: %w", what, path, err)
	}
	wopts := append([]parquet.WriterOption{
		parquet.Compression(&zstdCodec{}),
		parquet.CreatedBy("replaykit", "0.1", ""),
		parquet.KeyValueMetadata("replaykit.format", format),
	}, extra...)
	for _, k := range slices.Sorted(maps.Keys(opts.Meta)) {
		wopts = append(wopts, parquet.KeyValueMetadata(k, opts.Meta[k]))
	}
	return &Writer[T]{
		what: what, path: path, tmp: tmp, f: f, opts: opts,
		pw:        parquet.NewGenericWriter[T](f, wopts...),
		batch:     make([]T, 0, batchRows),
		lastFlush: time.Now(),
	}, nil
}

// Path is the final name of the file.
func (w *Writer[T]) Path() string { return w.path }

// SetMeta sets a key of the file's metadata, written in the footer at
// Close: facts known only at the end of a run.
func (w *Writer[T]) SetMeta(key, value string) { w.pw.SetKeyValueMetadata(key, value) }

// Meta reads a key of the file's metadata.
func (t *File) Meta(key string) (string, bool) { return t.pf.Lookup(key) }

// Rows is how many rows were written so far.
func (w *Writer[T]) Rows() int64 { return w.rows }

// Write appends one row, copied; size is about how many bytes it holds.
func (w *Writer[T]) Write(row *T, size int64) error {
	if w.closed {
		return fmt.Errorf("write %s %s: writer is closed", w.what, w.path)
	}
	w.rows++
	w.batch = append(w.batch, *row)
	w.batchSize += size
	w.groupRows++
	w.groupBytes += size
	if len(w.batch) == cap(w.batch) || w.batchSize >= batchBytes {
		if err := w.writeBatch(); err != nil {
			return err
		}
	}
	if w.groupRows >= w.opts.RowGroupRows || w.groupBytes >= w.opts.RowGroupBytes ||
		(w.opts.FlushInterval > 0 && w.groupRows%64 == 0 && time.Since(w.lastFlush) >= w.opts.FlushInterval) {
		return w.Flush()
	}
	return nil
}

func (w *Writer[T]) writeBatch() error {
	if len(w.batch) == 0 {
		return nil
	}
	if _, err := w.pw.Write(w.batch); err != nil {
		return fmt.Errorf("write %s %s: %w", w.what, w.path, err)
	}
	clear(w.batch) // drop references to bodies and headers
	w.batch, w.batchSize = w.batch[:0], 0
	return nil
}

// Flush writes the buffered rows out as a row group.
func (w *Writer[T]) Flush() error {
	if err := w.writeBatch(); err != nil {
		return err
	}
	if w.groupRows > 0 {
		if err := w.pw.Flush(); err != nil {
			return fmt.Errorf("flush %s %s: %w", w.what, w.path, err)
		}
	}
	w.groupRows, w.groupBytes, w.lastFlush = 0, 0, time.Now()
	return nil
}

// Close writes the footer, syncs, and renames the file to its final name.
// When that fails (a full disk), the unfinished NAME.tmp is removed.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.writeBatch()
	if err == nil {
		err = w.pw.Close()
	}
	if err == nil && !w.opts.NoSync {
		err = w.f.Sync()
	}
	if w.opts.NoReplace && err == nil {
		// Named while still locked: no other writer can take the
		// temporary name over between the two.
		err = w.rename()
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	} else {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = w.rename()
		}
	}
	if err != nil {
		os.Remove(w.tmp) // a file that could not be finished is not left half-written
		return fmt.Errorf("close %s %s: %w", w.what, w.path, err)
	}
	return nil
}

// createLocked opens tmp for a writer that must not replace path, and
// holds an exclusive lock on it while it writes: a NAME.tmp another
// writer holds is refused (os.ErrExist), one a killed writer left behind
// is taken over (its lock died with it).
func createLocked(path, tmp string) (*os.File, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, os.ErrExist
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another process is writing %s: %w", tmp, os.ErrExist)
		}
		return nil, err
	}
	// Locked: whoever had it is gone. The final name may have come
	// meanwhile (the lock's last holder finished), and the locked file
	// must still be the one under tmp.
	var fst, pst syscall.Stat_t
	if _, err := os.Lstat(path); err == nil {
		f.Close()
		return nil, os.ErrExist
	}
	if syscall.Fstat(int(f.Fd()), &fst) != nil || syscall.Stat(tmp, &pst) != nil || fst.Ino != pst.Ino || fst.Dev != pst.Dev {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was being opened: %w", tmp, os.ErrExist)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// rename gives the finished file its name; with NoReplace, a hard link
// then the temporary name's removal, so that a file that appeared under
// the name meanwhile is not replaced.
func (w *Writer[T]) rename() error {
	if !w.opts.NoReplace {
		return os.Rename(w.tmp, w.path)
	}
	if err := os.Link(w.tmp, w.path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return err
		}
		// No hard links here (some file systems): check, then rename.
		if _, serr := os.Lstat(w.path); serr == nil {
			return fmt.Errorf("%s: %w", w.path, os.ErrExist)
		}
		return os.Rename(w.tmp, w.path)
	}
	return os.Remove(w.tmp)
}

// Abort closes and removes the unfinished file.
func (w *Writer[T]) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	os.Remove(w.tmp) // before the lock goes, with NoReplace
	w.f.Close()
}

// readBatch is how many rows Scan decodes at once.
const readBatch = 1024

// File is an open parquet file.
type File struct {
	what, path string
	f          *os.File
	pf         *parquet.File
}

// Open opens a parquet file and checks that it has the columns of T (with
// their types). Extra columns are fine: a newer writer may add some.
// opts are parquet-go's (SkipPageIndex for a reader that never seeks).
func Open[T any](what, path string, opts ...parquet.FileOption) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	pf, err := openParquet(f, st.Size(), opts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s %s: not a readable parquet file (%v); was it written to the end?", what, path, err)
	}
	if err := hasColumns[T](pf.Schema()); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	return &File{what: what, path: path, f: f, pf: pf}, nil
}

// openParquet opens a parquet file, turning a panic on damaged bytes into an
// error: files come from other machines.
func openParquet(r io.ReaderAt, size int64, opts ...parquet.FileOption) (pf *parquet.File, err error) {
	// parquet-go allocates the footer length the file claims (up to 4 GiB)
	// before comparing it with the file's size: a 20 KB file could make us
	// allocate gigabytes. Check it first.
	if size < 12 {
		return nil, errors.New("too short for a parquet file")
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	if footer := int64(binary.LittleEndian.Uint32(tail[:4])); footer > size-12 {
		return nil, fmt.Errorf("footer length %d is larger than the file (%d bytes)", footer, size)
	}
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("damaged file: %v", p)
		}
	}()
	return parquet.OpenFile(r, size, opts...)
}

// Later says which columns of a row type came after its first files: a
// file without them is read with them zero.
type Later interface {
	LaterColumns() []string
}

// hasColumns checks that every leaf of T is in got with the same type,
// but for the columns T says came later (Later).
func hasColumns[T any](got *parquet.Schema) error {
	want := parquet.SchemaOf(new(T))
	var later []string
	if l, ok := any(new(T)).(Later); ok {
		later = l.LaterColumns()
	}
	for _, path := range want.Columns() {
		g, ok := got.Lookup(path...)
		if !ok && slices.Contains(later, path[0]) {
			continue
		}
		if !ok {
			return fmt.Errorf("column %q is missing: not a replaykit file of this kind, or an older format", strings.Join(path, "."))
		}
		w, _ := want.Lookup(path...)
		if g.Node.Type().Kind() != w.Node.Type().Kind() {
			return fmt.Errorf("column %q has type %s, want %s", strings.Join(path, "."), g.Node.Type(), w.Node.Type())
		}
	}
	return nil
}

// Path is the file's name.
func (t *File) Path() string { return t.path }

// NumRows is the number of rows in the file.
func (t *File) NumRows() int64 { return t.pf.NumRows() }

// NumRowGroups is the number of row groups in the file.
func (t *File) NumRowGroups() int { return len(t.pf.RowGroups()) }

// Parquet is the underlying parquet file, for readers that decode
// columns themselves (analyze): Open has checked its footer and columns.
func (t *File) Parquet() *parquet.File { return t.pf }

// Close closes the file.
func (t *File) Close() error { return t.f.Close() }

// ReadAll reads a whole file of T rows into memory. For tests and small
// files; Scan streams.
func ReadAll[T any](what, path string) ([]T, error) {
	f, err := Open[T](what, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]T, 0, f.NumRows())
	err = Scan(f, func(r *T) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// Scan calls fn for every row of f, decoded into a T, in file order. T is
// the file's row type, or a struct with a subset of its columns (same
// parquet tags): only those columns are read. Rows are streamed row group
// by row group, so memory holds one batch, not the file. fn must not keep
// the pointer, but may keep the row's slices and strings.
func Scan[T any](f *File, fn func(*T) error) (err error) {
	return ScanBytes(f, 0, fn)
}

// ScanBytes is Scan decoding about batchBytes of rows at a time rather
// than up to 1024 rows (0: no bound): the row group's metadata says how
// many bytes its rows hold in the columns of T, uncompressed, and a batch
// takes as many rows as fit (at least one). A trace of 1 MiB uploads
// would otherwise decode a whole row group, 64 of them, at once.
func ScanBytes[T any](f *File, batchBytes int64, fn func(*T) error) (err error) {
	if err := hasColumns[T](f.pf.Schema()); err != nil {
		return fmt.Errorf("read %s %s: %w", f.what, f.path, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s %s: damaged file: %v", f.what, f.path, p)
		}
	}()
	want := parquet.SchemaOf(new(T)).Columns()
	rows := make([]T, readBatch)
	for g, rg := range f.pf.RowGroups() {
		batch := rows
		if batchBytes > 0 {
			batch = rows[:batchRowsFor(f.pf.Metadata().RowGroups[g], want, batchBytes)]
		}
		r := parquet.NewGenericRowGroupReader[T](rg)
		for {
			// Zeroed rows make the reader allocate fresh slices, so a row
			// kept by fn is not overwritten by the next batch.
			clear(batch)
			n, rerr := r.Read(batch)
			for i := 0; i < n; i++ {
				if err := fn(&batch[i]); err != nil {
					r.Close()
					return err
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				r.Close()
				return fmt.Errorf("read %s %s: %w", f.what, f.path, rerr)
			}
		}
		r.Close()
	}
	return nil
}

// batchRowsFor is how many rows of row group rg hold about batchBytes in
// the columns want, between 1 and readBatch.
func batchRowsFor(rg format.RowGroup, want [][]string, batchBytes int64) int {
	if rg.NumRows <= 0 {
		return readBatch
	}
	var bytes int64
	for _, c := range rg.Columns {
		if slices.ContainsFunc(want, func(p []string) bool { return slices.Equal(p, c.MetaData.PathInSchema) }) {
			bytes += c.MetaData.TotalUncompressedSize
		}
	}
	perRow := max(bytes/rg.NumRows, 1)
	return int(min(max(batchBytes/perRow, 1), readBatch))
}

// PageBytes is about the most a reader of f's columns of T holds in pages
// at once: a page of each column, compressed and decompressed (a page is
// decoded whole, and a trace written in batches of 1 MiB uploads holds a
// batch in one page). From the offset index, else the column chunks.
func PageBytes[T any](f *File) int64 {
	want := parquet.SchemaOf(new(T)).Columns()
	offsets := f.pf.OffsetIndexes()
	var most int64
	for g, rg := range f.pf.Metadata().RowGroups {
		var sum int64
		for j, c := range rg.Columns {
			m := c.MetaData
			if m.TotalCompressedSize <= 0 || !slices.ContainsFunc(want, func(p []string) bool { return slices.Equal(p, m.PathInSchema) }) {
				continue
			}
			page := m.TotalCompressedSize
			if k := g*len(rg.Columns) + j; k < len(offsets) && len(offsets[k].PageLocations) > 0 {
				page = 0
				for _, l := range offsets[k].PageLocations {
					page = max(page, int64(l.CompressedPageSize))
				}
			}
			sum += page + page*m.TotalUncompressedSize/m.TotalCompressedSize
		}
		most = max(most, sum)
	}
	return most
}

// ReadRange reads the n rows of f from row offset on (fewer at the end of
// the file), decoded into T as Scan does. Only the row groups and pages
// that hold them are decoded. Safe to call from several goroutines.
func ReadRange[T any](f *File, offset, n int64) (out []T, err error) {
	if err := hasColumns[T](f.pf.Schema()); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", f.what, f.path, err)
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("read %s %s: damaged file: %v", f.what, f.path, p)
		}
	}()
	if offset < 0 || n < 0 {
		return nil, fmt.Errorf("read %s %s: bad range %d+%d", f.what, f.path, offset, n)
	}
	out = make([]T, 0, n)
	var start int64 // first row of the row group
	for _, rg := range f.pf.RowGroups() {
		rows := rg.NumRows()
		if start+rows <= offset {
			start += rows
			continue
		}
		want := int(min(int64(cap(out)-len(out)), start+rows-offset))
		if want <= 0 {
			break
		}
		r := parquet.NewGenericRowGroupReader[T](rg)
		if err := r.SeekToRow(offset - start); err != nil {
			r.Close()
			return nil, fmt.Errorf("read %s %s: %w", f.what, f.path, err)
		}
		buf := out[len(out) : len(out)+want]
		got := 0
		for got < want {
			k, rerr := r.Read(buf[got:])
			got += k
			if rerr != nil {
				if errors.Is(rerr, io.EOF) {
					break
				}
				r.Close()
				return nil, fmt.Errorf("read %s %s: %w", f.what, f.path, rerr)
			}
		}
		r.Close()
		out = out[:len(out)+got]
		offset += int64(got)
		start += rows
	}
	return out, nil
}

// RowBytes is about the most one row of f takes decoded: the largest,
// over its row groups, of the uncompressed bytes a row.
func RowBytes(f *File) int64 {
	var most int64 = 1
	for _, rg := range f.pf.Metadata().RowGroups {
		if rg.NumRows > 0 {
			var bytes int64
			for _, c := range rg.Columns {
				bytes += c.MetaData.TotalUncompressedSize
			}
			most = max(most, bytes/rg.NumRows)
		}
	}
	return most
}
