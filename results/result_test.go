package results

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

func sample(n int) []Result {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	out := make([]Result, n)
	for i := range out {
		out[i] = Result{
			Run: "light_load_20261128T100000Z", Scenario: "light_load", Shard: 0, VU: int32(i % 10),
			TraceID: int64(i), Method: "GET", Name: "/api/v1/tasks/{id}", URL: "http://127.0.0.1:8000/api/v1/tasks/7",
			Scheduled: t0.Add(time.Duration(i) * time.Millisecond), Sent: t0.Add(time.Duration(i)*time.Millisecond + 30*time.Microsecond),
			LatencyNanos: int64(2*time.Millisecond) + int64(i), TTFBNanos: int64(time.Millisecond),
			Status: 200, RespSize: 57, RecordedStatus: 200, Users: 10,
		}
	}
	out[3].Status, out[3].Error = 0, "dial tcp 127.0.0.1:8000: connect: connection refused"
	out[4].Status = 429
	out[5].Status = 503
	out[6].Status = 404
	for i := range out {
		out[i].Proto, out[i].GRPCStatus = "HTTP/1.1", NoGRPCStatus
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	w, err := Create(path, WriterOptions{RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	in := sample(1000)
	for i := range in {
		if err := w.Write(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	got, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatal("rows differ after a round trip")
	}
}

func TestRules(t *testing.T) {
	rows := sample(11)
	for i, code := range map[int]int32{7: 0, 8: 5, 9: 14, 10: 8} {
		rows[i].Proto, rows[i].GRPCStatus = "HTTP/2.0", code
	}
	tests := []struct {
		i                          int
		failed, unavailable, limit bool
	}{
		{0, false, false, false}, // 200
		{3, true, true, false},   // transport error
		{4, true, false, true},   // 429
		{5, true, true, false},   // 503
		{6, true, false, false},  // 404
		{7, false, false, false}, // gRPC OK
		{8, true, false, false},  // gRPC NOT_FOUND
		{9, true, true, false},   // gRPC UNAVAILABLE
		{10, true, false, true},  // gRPC RESOURCE_EXHAUSTED
	}
	for _, tt := range tests {
		r := &rows[tt.i]
		if r.Failed() != tt.failed || r.Unavailable() != tt.unavailable || r.RateLimited() != tt.limit {
			t.Errorf("row %d (status %d, error %q): failed=%v unavailable=%v limited=%v", tt.i, r.Status, r.Error, r.Failed(), r.Unavailable(), r.RateLimited())
		}
	}
}

// A file from a newer replaykit, with a column this one does not know,
// still reads; a file missing a column is refused with its name.
func TestSchemaEvolution(t *testing.T) {
	type newer struct {
		Result
		Region string `parquet:"region"`
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "newer.parquet")
	f, _ := os.Create(path)
	pw := parquet.NewGenericWriter[newer](f)
	rows := sample(10)[:3]
	for _, r := range rows {
		pw.Write([]newer{{Result: r, Region: "eu-west"}})
	}
	pw.Close()
	f.Close()
	got, err := ReadAll(path)
	if err != nil || len(got) != 3 || !reflect.DeepEqual(got[1], rows[1]) {
		t.Fatalf("newer file: %d rows, %v", len(got), err)
	}

	type older struct {
		Run    string `parquet:"run"`
		Status int32  `parquet:"status"`
	}
	old := filepath.Join(dir, "older.parquet")
	f, _ = os.Create(old)
	ow := parquet.NewGenericWriter[older](f)
	ow.Write([]older{{"r", 200}})
	ow.Close()
	f.Close()
	if _, err := Open(old); err == nil {
		t.Fatal("a file without the results columns opened")
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	w, _ := Create(good, WriterOptions{})
	for _, r := range sample(50) {
		w.Write(&r)
	}
	w.Close()
	data, _ := os.ReadFile(good)
	for name, b := range map[string][]byte{"empty": nil, "text": []byte("status,latency\n200,3\n"), "truncated": data[:len(data)*2/3]} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		if _, err := ReadAll(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
