package session

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/pqfile"
)

// spilledFile is the merged file of spilled sessions, read back a range of
// rows at a time (a session taken, a chunk of From) by readers kept from
// one read to the next.
//
// Kept, not made for each read as pqfile.ReadRange does: parquet-go sets a
// finalizer on a reader's rows, so a reader no longer used, and its value
// buffers (170 values of 24 bytes a column: 112 KiB for Request's 28
// columns), outlive the collection that finds it unused; the next one
// frees them, if the finalizer goroutine has run by then. Taking sessions
// one by one, a reader each, the heap held as many of them as that
// goroutine was behind: from none to 17 MiB at the same point of the same
// run, and under a steady stream of reads each collection kept the
// readers of the cycle before. A kept reader is never garbage; an idle
// one holds its buffers and a read buffer of 4 KiB a column, 400 KiB
// whatever the rows (idle).
type spilledFile struct {
	*pqfile.File
	mu      sync.Mutex
	readers []*parquet.GenericReader[Request] // idle, at most keptReaders
}

// keptReaders bounds the idle readers: reads running at once beyond it
// make readers of their own, closed after (garbage as before).
const keptReaders = 4

// readRows is how many rows a reader decodes at once: it keeps room for
// the values of as many rows as it was last asked for.
const readRows = 64

// ReadRange reads the n rows from row offset on (fewer at the end of the
// file), as pqfile.ReadRange does. Safe to call from several goroutines.
func (f *spilledFile) ReadRange(offset, n int64) (out []Request, err error) {
	if offset < 0 || n < 0 {
		return nil, fmt.Errorf("read %s: bad range %d+%d", f.Path(), offset, n)
	}
	f.mu.Lock()
	var r *parquet.GenericReader[Request]
	if k := len(f.readers); k > 0 {
		r, f.readers = f.readers[k-1], f.readers[:k-1]
	}
	f.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("read %s: damaged file: %v", f.Path(), p)
		}
		if r == nil {
			return
		}
		if err == nil && idle(r) == nil {
			f.mu.Lock()
			if len(f.readers) < keptReaders {
				f.readers, r = append(f.readers, r), nil
			}
			f.mu.Unlock()
		}
		if r != nil {
			r.Close() // a reader that failed may be anywhere
		}
	}()
	if r == nil {
		// One reader over every row group: it seeks between them.
		r = parquet.NewGenericRowGroupReader[Request](parquet.MultiRowGroup(f.Parquet().RowGroups()...))
	}
	n = min(n, max(f.NumRows()-offset, 0))
	if err := r.SeekToRow(offset); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path(), err)
	}
	// Zeroed rows: the reader allocates each its own slices.
	out = make([]Request, n)
	for got := 0; got < len(out); {
		k, err := r.Read(out[got:min(got+readRows, len(out))])
		got += k
		switch {
		case errors.Is(err, io.EOF) || (err == nil && k == 0):
			return out[:got], nil
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", f.Path(), err)
		}
	}
	return out, nil
}

// idle makes r let go of what it holds of its last read: a page of each
// column, and the values of the rows it decoded, which point into those
// pages (with 1 MiB uploads, megabytes). Reset does it, but parquet-go
// 0.32's rowGroupRows.Reset rewinds the columns and leaves the row index
// where it was, and a seek to that row is then taken for a no-op and
// reads row 0: seeking to row 0 first makes them agree.
func idle(r *parquet.GenericReader[Request]) error {
	if err := r.SeekToRow(0); err != nil {
		return err
	}
	r.Reset()
	return nil
}

// Close closes the idle readers and the file.
func (f *spilledFile) Close() error {
	f.mu.Lock()
	for _, r := range f.readers {
		r.Close()
	}
	f.readers = nil
	f.mu.Unlock()
	return f.File.Close()
}

// Stream yields the rows from row offset on, in order, batch rows at a
// time (fewer at the end) into fresh zeroed slices, by one reader of its
// own that never seeks again: read by ranges, each chunk seeked anew and
// decoded the pages it starts in a second time (a run of the recorded
// timeline allocated 1.5 GB an hour of trace that way, most of its
// garbage). It is closed when the sequence ends.
func (f *spilledFile) Stream(offset int64, batch int) iter.Seq2[[]Request, error] {
	return func(yield func([]Request, error) bool) {
		r := parquet.NewGenericRowGroupReader[Request](parquet.MultiRowGroup(f.Parquet().RowGroups()...))
		defer r.Close()
		read := func(out []Request) (n int, err error) {
			defer func() {
				if p := recover(); p != nil {
					n, err = 0, fmt.Errorf("read %s: damaged file: %v", f.Path(), p)
				}
			}()
			return r.Read(out)
		}
		if err := r.SeekToRow(offset); err != nil {
			yield(nil, fmt.Errorf("read %s: %w", f.Path(), err))
			return
		}
		for {
			out := make([]Request, batch)
			n, err := read(out)
			if n > 0 && !yield(out[:n], nil) {
				return
			}
			switch {
			case errors.Is(err, io.EOF) || (err == nil && n == 0):
				return
			case err != nil:
				yield(nil, fmt.Errorf("read %s: %w", f.Path(), err))
				return
			}
		}
	}
}
