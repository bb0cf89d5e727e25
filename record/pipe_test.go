package record

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// The rows handed to a pipe are the file's rows, in the order handed
// over, however many batches they fill.
func TestPipeKeepsTheOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	w, err := tracefile.Create(path, tracefile.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(w)
	const n = 10*pipeBatchRows + 7
	for i := 0; i < n; i++ {
		e := trace.Exchange{Path: "/" + string(rune('a'+i%26)), ReqSize: int64(i)}
		if i%100 == 0 {
			e.ReqBody = make([]byte, pipeBatchBytes/3) // batches handed over by bytes too
			e.ReqSize = int64(i)
		}
		if err := p.Write(&e, sign{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.ID != int64(i) || r.ReqSize != int64(i) {
			t.Fatalf("row %d has id %d and size %d: out of order", i, r.ID, r.ReqSize)
		}
	}
}

// A write that fails on the pipe's goroutine reaches the recorder: a
// later Write returns it, Close returns it and leaves no file.
func TestPipeWriteError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	w, err := tracefile.Create(path, tracefile.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Abort() // every write fails from here on
	p := newPipe(w)
	var werr error
	for i := 0; i < 100*pipeBatchRows && werr == nil; i++ {
		werr = p.Write(&trace.Exchange{Path: "/"}, sign{})
	}
	if werr == nil {
		t.Fatal("the write error never reached Write")
	}
	if err := p.Close(); err == nil {
		t.Fatal("Close after a write error returned nil")
	}
	if rows, err := tracefile.ReadAll(path); err == nil {
		t.Fatalf("a failed trace was left with %d rows", len(rows))
	}
}

// A recording stopped part way (ctx) through the relay says so, and its
// trace holds what the recorder had when it stopped, a complete file; its
// counters are the recorder's (Written is the rows of the file).
func TestRelayStopsWithTheSummarySynced(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "t.parquet")
	sum, err := FromPcap(ctx, filepath.Join(fixtures, "pcap", "nginx-ab.pcap"), Config{Out: out, RedactKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != "interrupted" || sum.Written != int64(len(rows)) {
		t.Errorf("stopped %q, %d rows written and %d in the file", sum.Stopped, sum.Written, len(rows))
	}
}
