package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

func TestPartsRotateAndMerge(t *testing.T) {
	tests := []struct {
		name        string
		flush       time.Duration
		rotateEvery time.Duration
		rotateBytes int64
		steps       int // ticks, each after 10 rows, each 1s apart
		files       int
	}{
		{"one period, many parts merged", time.Second, 0, 0, 5, 1},
		{"rotate by time", time.Second, 2 * time.Second, 0, 6, 3},
		{"rotate by size", time.Second, 0, 1, 4, 4},
		{"no flush within the run: one part renamed", time.Hour, 0, 0, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := newParts(dir, "lo", tt.flush, tt.rotateEvery, tt.rotateBytes, tracefile.WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rows := sampleRows(10 * tt.steps)
			now := time.Now()
			p.now = func() time.Time { return now }
			for s := 0; s < tt.steps; s++ {
				for i := 0; i < 10; i++ {
					if err := p.Write(&rows[s*10+i], sign{}); err != nil {
						t.Fatal(err)
					}
				}
				now = now.Add(time.Second + time.Millisecond)
				if err := p.Tick(now); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*"))
			for _, f := range left {
				if strings.Contains(f, ".part-") || strings.HasSuffix(f, ".tmp") {
					t.Errorf("left behind: %s", f)
				}
			}
			if len(p.Files()) != tt.files || len(left) != tt.files {
				t.Errorf("files %v (on disk %v), want %d", p.Files(), left, tt.files)
			}
			seen := map[string]bool{}
			for _, f := range p.Files() {
				got, err := tracefile.ReadAll(f)
				if err != nil {
					t.Fatal(err)
				}
				for i, e := range got {
					if e.ID != int64(i) {
						t.Errorf("%s row %d has id %d", f, i, e.ID)
					}
					if seen[e.Path] {
						t.Errorf("%s twice", e.Path)
					}
					seen[e.Path] = true
				}
			}
			if len(seen) != len(rows) {
				t.Errorf("%d rows on disk, %d written", len(seen), len(rows))
			}
		})
	}
}

func sampleRows(n int) []trace.Exchange {
	out := make([]trace.Exchange, n)
	for i := range out {
		out[i] = trace.Exchange{TS: time.Unix(0, int64(i)).UTC(), Method: "GET", Path: "/r/" + itoa(i+1), Route: "/r/{id}", Kind: trace.KindRead, Status: 200}
	}
	return out
}

// A stop between writing a merged file and deleting its parts leaves both:
// the next start deletes the parts, so no row is read twice.
func TestMergedPartsAreCleanedUp(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"lo_1.parquet", "lo_1.part-0001.parquet", "lo_2.part-0001.parquet"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	if _, err := newParts(dir, "lo", time.Second, 0, 0, tracefile.WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := []string{filepath.Join(dir, "lo_1.parquet"), filepath.Join(dir, "lo_2.part-0001.parquet")}
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("left %v, want %v", left, want)
	}
}
