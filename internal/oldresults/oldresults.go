// Package oldresults writes results files as replaykit wrote them
// before the carried and not_carried columns, for the tests that check
// such files still read (analysis, cmd/analyze).
package oldresults

import (
	"os"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/results"
)

// row is a results row as replaykit wrote it before the carried
// and not_carried columns.
type row struct {
	Run            string    `parquet:"run,dict"`
	Scenario       string    `parquet:"scenario,dict"`
	Shard          int32     `parquet:"shard"`
	VU             int32     `parquet:"vu"`
	TraceID        int64     `parquet:"trace_id"`
	Method         string    `parquet:"method,dict"`
	Name           string    `parquet:"name,dict"`
	URL            string    `parquet:"url"`
	Scheduled      time.Time `parquet:"scheduled,timestamp(nanosecond)"`
	Sent           time.Time `parquet:"sent,timestamp(nanosecond)"`
	LatencyNanos   int64     `parquet:"latency_ns"`
	TTFBNanos      int64     `parquet:"ttfb_ns"`
	Status         int32     `parquet:"status"`
	Error          string    `parquet:"error,dict"`
	ReqSize        int64     `parquet:"req_size"`
	RespSize       int64     `parquet:"resp_size"`
	RecordedStatus int32     `parquet:"recorded_status"`
	Users          int32     `parquet:"users"`
}

// Write writes rows as an older replaykit did: their carried and
// not_carried are lost.
func Write(t testing.TB, path string, rows []results.Result) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.MaxRowsPerRowGroup(1000))
	for _, r := range rows {
		if _, err := w.Write([]row{{r.Run, r.Scenario, r.Shard, r.VU, r.TraceID, r.Method, r.Name, r.URL, r.Scheduled, r.Sent,
			r.LatencyNanos, r.TTFBNanos, r.Status, r.Error, r.ReqSize, r.RespSize, r.RecordedStatus, r.Users}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
