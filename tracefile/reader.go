package tracefile

import (
	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/trace"
)

// File is an open trace file.
type File = pqfile.File

// Open opens a trace file and checks that it has the trace columns.
func Open(path string) (*File, error) { return pqfile.Open[trace.Exchange]("trace", path) }

// Scan calls fn for every row of t, decoded into a T, in file order. T is
// Exchange, or a struct with a subset of its columns (same parquet tags):
// only those columns are read. Rows are streamed row group by row group.
// fn must not keep the pointer.
func Scan[T any](t *File, fn func(*T) error) error { return pqfile.Scan(t, fn) }

// ReadAll reads a whole trace file into memory. For tests and small files;
// Scan streams.
func ReadAll(path string) ([]trace.Exchange, error) {
	return pqfile.ReadAll[trace.Exchange]("trace", path)
}
