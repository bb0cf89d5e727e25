package results_test

import (
	"path/filepath"
	"testing"

	"github.com/replaykit/replaykit/internal/oldresults"
	"github.com/replaykit/replaykit/results"
)

// A file written before the grpc_status column reads it as
// NoGRPCStatus, not as 0 (gRPC's OK), row by row and column by column.
func TestOldFilesHaveNoGRPCStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.parquet")
	oldresults.Write(t, path, []results.Result{{Run: "r", Method: "GET", Name: "/", Status: 200}, {Run: "r", Method: "GET", Name: "/", Status: 503}})
	rows, err := results.ReadAll(path)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	f, err := results.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var scanned []int32
	err = results.ScanBatches(f, results.ScanOptions{Workers: 1, Batch: func(_ int, b *results.Batch) error {
		scanned = append(scanned, b.GRPCStatus...)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.GRPCStatus != results.NoGRPCStatus || r.Proto != "" || scanned[i] != results.NoGRPCStatus {
			t.Errorf("row %d: grpc_status %d (scanned %d), proto %q", i, r.GRPCStatus, scanned[i], r.Proto)
		}
	}
	if rows[1].Failed() != true || rows[0].Failed() {
		t.Error("the HTTP statuses no longer decide")
	}
}
