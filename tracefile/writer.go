package tracefile

import (
	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/trace"
)

// WriterOptions bound how much a Writer holds in memory before it writes a
// row group out (see pqfile.Options).
type WriterOptions = pqfile.Options

// Writer streams exchanges into a trace file. It writes NAME.tmp and
// renames it to NAME on Close, so a file under its final name always has a
// footer and is readable. Files are created 0600: traces hold user traffic.
// A Writer is not safe for concurrent use.
type Writer struct {
	w *pqfile.Writer[trace.Exchange]
}

// Create opens a new trace file at path, replacing any file there on Close.
func Create(path string, opts WriterOptions) (*Writer, error) {
	w, err := pqfile.Create[trace.Exchange]("trace", path, "trace/1", opts,
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
	if err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// Path is the final name of the file.
func (w *Writer) Path() string { return w.w.Path() }

// Rows is how many exchanges were written so far.
func (w *Writer) Rows() int64 { return w.w.Rows() }

// Write appends one exchange and sets its ID to its row number. The
// exchange is copied; the caller may reuse it.
func (w *Writer) Write(e *trace.Exchange) error {
	e.ID = w.w.Rows()
	return w.w.Write(e, approxSize(e))
}

// Flush writes the buffered rows out as a row group.
func (w *Writer) Flush() error { return w.w.Flush() }

// Close writes the footer, syncs, and renames the file to its final name.
func (w *Writer) Close() error { return w.w.Close() }

// Abort closes and removes the unfinished file.
func (w *Writer) Abort() { w.w.Abort() }

func approxSize(e *trace.Exchange) int64 {
	n := int64(len(e.Path) + len(e.ReqBody) + 128)
	for _, h := range e.ReqHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	for _, h := range e.RespHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	return n
}

// WriteAll writes rows to a new trace file at path: for tests and small
// files.
func WriteAll(path string, rows []trace.Exchange) error {
	w, err := Create(path, WriterOptions{})
	if err != nil {
		return err
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}
