package trace

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// readBatch is how many rows Scan decodes at once.
const readBatch = 1024

// File is an open trace file.
type File struct {
	path string
	f    *os.File
	pf   *parquet.File
}

// Open opens a trace file and checks that it has the trace columns.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open trace: %w", err)
	}
	pf, err := openParquet(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open trace %s: not a readable parquet file (%v); was it written to the end?", path, err)
	}
	if err := hasColumns(pf.Schema(), parquet.SchemaOf(Exchange{})); err != nil {
		f.Close()
		return nil, fmt.Errorf("open trace %s: %w", path, err)
	}
	return &File{path: path, f: f, pf: pf}, nil
}

// openParquet opens a parquet file, turning a panic on damaged bytes into an
// error: trace files come from other machines.
func openParquet(r io.ReaderAt, size int64) (pf *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("damaged file: %v", p)
		}
	}()
	return parquet.OpenFile(r, size)
}

// hasColumns checks that every leaf of want is in got with the same type.
func hasColumns(got, want *parquet.Schema) error {
	for _, path := range want.Columns() {
		g, ok := got.Lookup(path...)
		if !ok {
			return fmt.Errorf("column %q is missing: not a replaykit trace, or an older format", joinPath(path))
		}
		w, _ := want.Lookup(path...)
		if g.Node.Type().Kind() != w.Node.Type().Kind() {
			return fmt.Errorf("column %q has type %s, want %s", joinPath(path), g.Node.Type(), w.Node.Type())
		}
	}
	return nil
}

func joinPath(p []string) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "."
		}
		s += e
	}
	return s
}

// Path is the file's name.
func (t *File) Path() string { return t.path }

// NumRowGroups is the number of row groups in the file.
func (t *File) NumRowGroups() int { return len(t.pf.RowGroups()) }

// NumRows is the number of exchanges in the file.
func (t *File) NumRows() int64 { return t.pf.NumRows() }

// Close closes the file.
func (t *File) Close() error { return t.f.Close() }

// Scan calls fn for every row of t, decoded into a T, in file order. T is
// Exchange, or a struct with a subset of its columns (same parquet tags):
// only those columns are read. Rows are streamed row group by row group, so
// memory holds one batch, not the file. fn must not keep the pointer.
func Scan[T any](t *File, fn func(*T) error) (err error) {
	if err := hasColumns(t.pf.Schema(), parquet.SchemaOf(new(T))); err != nil {
		return fmt.Errorf("read trace %s: %w", t.path, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read trace %s: damaged file: %v", t.path, p)
		}
	}()
	rows := make([]T, readBatch)
	for _, rg := range t.pf.RowGroups() {
		r := parquet.NewGenericRowGroupReader[T](rg)
		for {
			// Zeroed rows make the reader allocate fresh slices, so a row
			// copied out by fn is not overwritten by the next batch.
			clear(rows)
			n, rerr := r.Read(rows)
			for i := 0; i < n; i++ {
				if err := fn(&rows[i]); err != nil {
					r.Close()
					return err
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				r.Close()
				return fmt.Errorf("read trace %s: %w", t.path, rerr)
			}
		}
		r.Close()
	}
	return nil
}

// ReadAll reads a whole trace file into memory. For tests and small files;
// Scan streams.
func ReadAll(path string) ([]Exchange, error) {
	t, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	out := make([]Exchange, 0, t.NumRows())
	err = Scan(t, func(e *Exchange) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}
