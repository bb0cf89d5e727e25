package pqfile_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// FuzzOpenScan reads arbitrary bytes as a trace and as a results file:
// analyze and replay open files from other machines. An error is fine;
// a panic, a hang or a runaway allocation is not.
func FuzzOpenScan(f *testing.F) {
	sample, err := os.ReadFile("../testdata/sample/demo.parquet")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	dir := f.TempDir()
	rp := filepath.Join(dir, "r.parquet")
	w, _ := results.Create(rp, results.WriterOptions{})
	for i := 0; i < 20; i++ {
		w.Write(&results.Result{Run: "r", Name: "/x/{id}", Status: 200, Sent: time.Unix(int64(i), 0).UTC(), LatencyNanos: int64(i)})
	}
	w.Close()
	small, _ := os.ReadFile(rp)
	f.Add(small)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if tf, err := tracefile.Open(p); err == nil {
			tracefile.Scan(tf, func(*trace.Exchange) error { return nil })
			tf.Close()
		}
		if rf, err := results.Open(p); err == nil {
			results.Scan(rf, func(*results.Result) error { return nil })
			rf.Close()
		}
	})
}
