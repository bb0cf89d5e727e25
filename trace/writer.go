package trace

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/parquet-go/parquet-go"
)

// WriterOptions bound how much a Writer holds in memory before it writes a
// row group out.
type WriterOptions struct {
	// RowGroupRows flushes a row group after this many rows (default 16384:
	// a few MB held, and still large enough for fast scans).
	RowGroupRows int
	// RowGroupBytes flushes a row group once the rows buffered since the last
	// flush hold about this many bytes of headers and bodies (default 64 MiB).
	RowGroupBytes int64
	// FlushInterval flushes a row group when this much wall time has passed
	// since the last flush, checked every 64 rows written (default 5s;
	// negative: never). With no rows coming, nothing is flushed.
	FlushInterval time.Duration
}

func (o *WriterOptions) defaults() {
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
// costs more than the encoding itself.
const batchRows = 256

// Writer streams exchanges into a trace file. It writes to NAME.tmp and
// renames it to NAME on Close, so a file under its final name always has a
// footer and is readable. Files are created 0600: traces hold user traffic.
// A Writer is not safe for concurrent use.
type Writer struct {
	path, tmp string
	f         *os.File
	pw        *parquet.GenericWriter[Exchange]
	opts      WriterOptions

	batch      []Exchange
	groupRows  int
	groupBytes int64
	lastFlush  time.Time
	rows       int64
	closed     bool
}

// Create opens a new trace file at path, replacing any file there on Close.
func Create(path string, opts WriterOptions) (*Writer, error) {
	opts.defaults()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create trace %s: %w", path, err)
	}
	pw := parquet.NewGenericWriter[Exchange](f,
		parquet.Compression(&zstdCodec{}),
		parquet.CreatedBy("replaykit", "0.1", ""),
		parquet.KeyValueMetadata("replaykit.format", "trace/1"),
		// Min/max statistics of a body column would copy the largest and
		// smallest bodies (up to --max-body each) into every page header
		// and the footer: 2 MiB of metadata per 1 MiB upload. Nobody
		// filters on them.
		parquet.SkipPageBounds("req_body"),
		parquet.SkipPageStatistics("req_body"),
		// Bounds cost time on every page; keep them where a query filters
		// by range (ts, id, status, sizes, timings), not on free text.
		parquet.SkipPageStatistics("req_headers", "list", "element", "name"),
		parquet.SkipPageStatistics("req_headers", "list", "element", "value"),
		parquet.SkipPageStatistics("resp_headers", "list", "element", "name"),
		parquet.SkipPageStatistics("resp_headers", "list", "element", "value"),
		parquet.SkipPageBounds("req_headers", "list", "element", "name"),
		parquet.SkipPageBounds("req_headers", "list", "element", "value"),
		parquet.SkipPageBounds("resp_headers", "list", "element", "name"),
		parquet.SkipPageBounds("resp_headers", "list", "element", "value"),
		parquet.SkipPageBounds("session"),
		parquet.SkipPageBounds("client"),
		parquet.SkipPageBounds("server"),
		parquet.SkipPageBounds("host"),
		parquet.SkipPageBounds("path"),
	)
	return &Writer{
		path: path, tmp: tmp, f: f, pw: pw, opts: opts,
		batch:     make([]Exchange, 0, batchRows),
		lastFlush: time.Now(),
	}, nil
}

// Path is the final name of the file.
func (w *Writer) Path() string { return w.path }

// Rows is how many exchanges were written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Write appends one exchange and sets its ID to its row number. The
// exchange is copied; the caller may reuse it.
func (w *Writer) Write(e *Exchange) error {
	if w.closed {
		return errors.New("write trace: writer is closed")
	}
	e.ID = w.rows
	w.rows++
	w.batch = append(w.batch, *e)
	w.groupRows++
	w.groupBytes += approxSize(e)
	if len(w.batch) == cap(w.batch) {
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

func (w *Writer) writeBatch() error {
	if len(w.batch) == 0 {
		return nil
	}
	if _, err := w.pw.Write(w.batch); err != nil {
		return fmt.Errorf("write trace %s: %w", w.path, err)
	}
	clear(w.batch) // drop references to bodies and headers
	w.batch = w.batch[:0]
	return nil
}

// Flush writes the buffered rows out as a row group.
func (w *Writer) Flush() error {
	if err := w.writeBatch(); err != nil {
		return err
	}
	if w.groupRows > 0 {
		if err := w.pw.Flush(); err != nil {
			return fmt.Errorf("flush trace %s: %w", w.path, err)
		}
	}
	w.groupRows, w.groupBytes, w.lastFlush = 0, 0, time.Now()
	return nil
}

// Close writes the footer, syncs, and renames the file to its final name.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.writeBatch()
	if err == nil {
		err = w.pw.Close()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err != nil {
		return fmt.Errorf("close trace %s: %w", w.path, err)
	}
	return nil
}

// Abort closes and removes the unfinished file.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.f.Close()
	os.Remove(w.tmp)
}

func approxSize(e *Exchange) int64 {
	n := int64(len(e.Path) + len(e.ReqBody) + 128)
	for _, h := range e.ReqHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	for _, h := range e.RespHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	return n
}
