package har

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/internal/race"
)

// entries is a HAR file of n entries made as it is read: nothing of it is
// held but the entry being made.
type entries struct {
	n, next int
	buf     strings.Builder
	rest    string
}

func (e *entries) Read(p []byte) (int, error) {
	for len(e.rest) == 0 {
		switch {
		case e.next == 0:
			e.rest = `{"log": {"version": "1.2", "creator": {"name": "test"}, "entries": [`
		case e.next > e.n+1:
			return 0, io.EOF
		case e.next == e.n+1:
			e.rest = "]}}\n"
		default:
			e.buf.Reset()
			if e.next > 1 {
				e.buf.WriteString(",\n")
			}
			fmt.Fprintf(&e.buf, `{"startedDateTime": "2026-01-02T03:04:05.%03dZ", "time": 3, "request": {"method": "GET", "url": "http://h/api/items/%d",
				"httpVersion": "HTTP/1.1", "headers": [{"name": "Accept", "value": "application/json"}, {"name": "X-API-Key", "value": "k%d"},
				{"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"}]},
				"response": {"status": 200, "httpVersion": "HTTP/1.1", "headers": [{"name": "Content-Type", "value": "application/json"}],
				"content": {"size": 260, "text": "{\"id\": %d, \"items\": [%s]}"}}, "timings": {"send": 0.1, "wait": 2, "receive": 0.9}}`,
				e.next%1000, e.next, e.next%50, e.next, strings.Repeat(`\"an item of the list\", `, 10)+`\"last\"`)
			e.rest = e.buf.String()
		}
		e.next++
	}
	n := copy(p, e.rest)
	e.rest = e.rest[n:]
	return n, nil
}

// A HAR is read entry by entry: reading 17 MB of entries holds well under
// a megabyte, as much as one entry needs, whatever the file's size (a
// 1 GB export: the same).
func TestStreamsLargeFile(t *testing.T) {
	if race.Enabled {
		t.Skip("measures the heap, which the race detector inflates")
	}
	src := &entries{n: 20000}
	r, err := NewReader(src, Options{MaxBody: 1 << 20, MaxRespBody: 4097})
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	peak, read := uint64(0), 0
	for ; ; read++ {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		if read%5000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if read != src.n || r.Offset() < 15<<20 {
		t.Fatalf("read %d entries, %d bytes; want %d entries, over 15 MiB", read, r.Offset(), src.n)
	}
	if peak > 8<<20 {
		t.Errorf("heap reached %d MiB reading %d MiB of HAR", peak>>20, r.Offset()>>20)
	}
	t.Logf("%d entries, %d MiB: heap at most %.1f MiB", read, r.Offset()>>20, float64(peak)/(1<<20))
}
