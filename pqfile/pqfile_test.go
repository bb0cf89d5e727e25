package pqfile

import (
	"path/filepath"
	"slices"
	"testing"
)

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
