package pqfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func parquetColumns[T any]() [][]string { return parquet.SchemaOf(new(T)).Columns() }

type row struct {
	N    int64  `parquet:"n"`
	Text string `parquet:"text"`
}

// ReadRange gives exactly the rows asked for, across row group and page
// boundaries, and fewer at the end of the file.
func TestReadRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	w, err := Create[row]("test", path, "test.v1", Options{RowGroupRows: 100, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const total = 1000
	for i := range int64(total) {
		if err := w.Write(&row{N: i, Text: string(rune('a' + i%26))}, 16); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open[row]("test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.NumRowGroups() < 10 {
		t.Fatalf("%d row groups: the test needs several", f.NumRowGroups())
	}
	for _, tc := range []struct{ offset, n, want int64 }{
		{0, 1, 1}, {0, 0, 0}, {99, 2, 2}, {150, 500, 500}, {999, 10, 1}, {1000, 5, 0}, {0, total, total}, {337, 1, 1},
	} {
		got, err := ReadRange[row](f, tc.offset, tc.n)
		if err != nil {
			t.Fatalf("%d+%d: %v", tc.offset, tc.n, err)
		}
		var ns []int64
		for _, r := range got {
			ns = append(ns, r.N)
		}
		var want []int64
		for i := tc.offset; i < tc.offset+tc.want; i++ {
			want = append(want, i)
		}
		if !slices.Equal(ns, want) {
			t.Errorf("%d+%d: got %d rows %v...", tc.offset, tc.n, len(ns), ns[:min(len(ns), 5)])
		}
	}
	if _, err := ReadRange[row](f, -1, 3); err == nil {
		t.Error("negative offset: no error")
	}
}

// Large rows are decoded a few at a time when a batch is bounded in bytes,
// and handed to parquet a few at a time when written: neither side holds
// hundreds of 1 MiB bodies at once.
func TestLargeRowsAreBatchedByBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.parquet")
	w, err := Create[row]("test", path, "test.v1", Options{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 256<<10)
	const total = 40
	for i := range int64(total) {
		if err := w.Write(&row{N: i, Text: text}, int64(len(text))); err != nil {
			t.Fatal(err)
		}
		if held := int64(len(w.batch)) * int64(len(text)); held > batchBytes {
			t.Fatalf("writer batch holds %d rows of %d KiB", len(w.batch), len(text)>>10)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open[row]("test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.NumRowGroups() != 1 {
		t.Fatalf("%d row groups: the test wants one holding every row", f.NumRowGroups())
	}
	if n := batchRowsFor(f.Parquet().Metadata().RowGroups[0], parquetColumns[row](), 1<<20); n < 3 || n > 4 {
		t.Errorf("1 MiB batches of 256 KiB rows: %d rows a batch", n)
	}
	var got []int64
	if err := ScanBytes(f, 1<<20, func(r *row) error {
		if r.Text != text {
			t.Fatalf("row %d: text of %d bytes", r.N, len(r.Text))
		}
		got = append(got, r.N)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != total || !slices.IsSorted(got) {
		t.Errorf("ScanBytes read %v", got)
	}
}

// PageBytes sees a page holding many large rows: a reader decodes it whole.
func TestPageBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.parquet")
	w, err := Create[row]("test", path, "test.v1", Options{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 1<<20)
	for i := range int64(3) { // one batch, so one page of 3 MiB
		w.Write(&row{N: i, Text: text}, 1)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open[row]("test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := PageBytes[row](f); n < 3<<20 {
		t.Errorf("PageBytes %d for a page of 3 MiB of text", n)
	}
}

// NoReplace never writes over a file: not a finished one, not one another
// writer is writing; a NAME.tmp that a killed writer left behind is taken
// over.
func TestNoReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.parquet")
	opts := Options{NoReplace: true, FlushInterval: -1}
	// A killed writer's leftover: no lock holds it.
	if err := os.WriteFile(path+".tmp", []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Create[row]("test", path, "test.v1", opts)
	if err != nil {
		t.Fatalf("a stale .tmp was not taken over: %v", err)
	}
	// While w writes, another writer of the same name is refused.
	if _, err := Create[row]("test", path, "test.v1", opts); !errors.Is(err, os.ErrExist) {
		t.Errorf("a second writer of a name being written: %v", err)
	}
	if err := w.Write(&row{N: 1}, 8); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the .tmp is still there: %v", err)
	}
	// Finished: nobody writes it again.
	if _, err := Create[row]("test", path, "test.v1", opts); !errors.Is(err, os.ErrExist) {
		t.Errorf("a finished file: %v", err)
	}
	// A file that appears under the name while a writer writes is kept.
	other := filepath.Join(dir, "o.parquet")
	w, err = Create[row]("test", other, "test.v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(other, []byte("someone else's"), 0o600)
	if err := w.Close(); !errors.Is(err, os.ErrExist) {
		t.Errorf("closing over a file that appeared: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "someone else's" {
		t.Errorf("the file that appeared was replaced")
	}
	rows, err := ReadAll[row]("test", path)
	if err != nil || len(rows) != 1 {
		t.Errorf("%v %v", rows, err)
	}
}

// Options.Meta is in the file for File.Meta, beside the format.
func TestMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.parquet")
	w, err := Create[row]("test", path, "test.v1", Options{Meta: map[string]string{"a.key": "one", "b.key": "two"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&row{}, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open[row]("test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for k, want := range map[string]string{"a.key": "one", "b.key": "two", "replaykit.format": "test.v1"} {
		if got, ok := f.Meta(k); !ok || got != want {
			t.Errorf("Meta(%q) = %q, %v; want %q", k, got, ok, want)
		}
	}
	if _, ok := f.Meta("c.key"); ok {
		t.Error("Meta of a key never set")
	}
}
