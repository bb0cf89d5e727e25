package tracefile

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
)

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	// Tiny row groups so the reader crosses group boundaries.
	w, err := Create(path, WriterOptions{RowGroupRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleExchanges(1000)
	for i := range in {
		if err := w.Write(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("final name exists before Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	got, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d rows, want %d", len(got), len(in))
	}
	for i := range in {
		in[i].ID = int64(i)
		if len(in[i].RespHeaders) == 0 {
			in[i].RespHeaders = nil
		}
		if len(got[i].RespHeaders) == 0 {
			got[i].RespHeaders = nil
		}
		if len(in[i].Links) == 0 {
			in[i].Links = nil
		}
		if len(got[i].Links) == 0 {
			got[i].Links = nil
		}
		if len(got[i].RespTrailers) == 0 && len(in[i].RespTrailers) == 0 {
			got[i].RespTrailers, in[i].RespTrailers = nil, nil
		}
		if len(got[i].RespSig.Leaves) == 0 && len(in[i].RespSig.Leaves) == 0 {
			got[i].RespSig.Leaves, in[i].RespSig.Leaves = nil, nil
		}
		if !reflect.DeepEqual(got[i], in[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], in[i])
		}
	}
}

// A struct with three of the columns reads only those.
type methodStatus struct {
	Method string `parquet:"method"`
	Status int32  `parquet:"status"`
	Route  string `parquet:"route"`
}

// writeTrace writes rows to a new trace file at path.
func writeTrace(t *testing.T, path string, rows []trace.Exchange) {
	t.Helper()
	if err := WriteAll(path, rows); err != nil {
		t.Fatal(err)
	}
}

func TestScanProjection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	in := sampleExchanges(10)
	writeTrace(t, path, in)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int
	err = Scan(f, func(r *methodStatus) error {
		if r.Method != in[n].Method || r.Status != in[n].Status || r.Route != in[n].Route {
			t.Errorf("row %d: %+v", n, *r)
		}
		n++
		return nil
	})
	if err != nil || n != 10 {
		t.Fatalf("scan: %d rows, %v", n, err)
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeTrace(t, good, sampleExchanges(100))
	data, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, not parquet"),
		"truncated": data[:len(data)/2],
		"no footer": data[:len(data)-8],
	}
	for name, b := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		if _, err := Open(p); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: Open succeeded")
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(filepath.Join(dir, "a.parquet"), WriterOptions{})
	in := sampleExchanges(3)
	w.Write(&in[0])
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}

// Row groups are flushed by row count, by bytes, and by time while rows
// come in, so a recording's memory stays flat. (The interval is wide so a
// slow machine cannot make it flush early.)
func TestWriterFlushes(t *testing.T) {
	rows := sampleExchanges(512)
	big := sampleExchanges(8)
	for i := range big {
		big[i].ReqBody = make([]byte, 1<<20)
	}
	tests := []struct {
		name   string
		opts   WriterOptions
		rows   []trace.Exchange
		pause  time.Duration // after each half
		groups int
	}{
		{"by rows", WriterOptions{RowGroupRows: 100, FlushInterval: -1}, rows, 0, 6},
		{"by bytes", WriterOptions{RowGroupBytes: 2 << 20, FlushInterval: -1}, big, 0, 4},
		{"by time", WriterOptions{FlushInterval: 500 * time.Millisecond}, rows, 700 * time.Millisecond, 2},
		{"never early", WriterOptions{FlushInterval: -1}, rows, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.parquet")
			w, err := Create(path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			half := len(tt.rows) / 2
			for i := range tt.rows {
				if i == half {
					time.Sleep(tt.pause)
				}
				if err := w.Write(&tt.rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.NumRowGroups(); got != tt.groups || f.NumRows() != int64(len(tt.rows)) {
				t.Errorf("%d row groups, %d rows; want %d groups, %d rows", got, f.NumRows(), tt.groups, len(tt.rows))
			}
		})
	}
}

func sampleExchanges(n int) []trace.Exchange {
	base := time.Date(2026, 11, 28, 9, 0, 0, 123456789, time.UTC)
	out := make([]trace.Exchange, n)
	for i := range out {
		out[i] = trace.Exchange{
			TS:      base.Add(time.Duration(i) * time.Millisecond),
			Session: "ip:127.0.0.1", Conn: int64(i / 3),
			Client: "127.0.0.1:5000", Server: "127.0.0.1:8000",
			Method: "POST", Host: "localhost:8000", Path: "/api/tasks/1?x=y", Route: "/api/tasks/{id}",
			Proto:       "HTTP/1.1",
			ReqHeaders:  []trace.Header{{Name: "Host", Value: "localhost:8000"}, {Name: "X-Dup", Value: "a"}, {Name: "X-Dup", Value: "b"}},
			RespHeaders: []trace.Header{{Name: "Content-Type", Value: "application/json"}},
			ReqBody:     []byte(`{"title":"t"}`), ReqSize: 13, RespSize: int64(i),
			Status: 201, TTFBNanos: 1000, DurationNanos: 2000, Kind: trace.KindWrite,
		}
	}
	out[1].ReqBody, out[1].ReqSize, out[1].Method, out[1].Kind = nil, 0, "GET", trace.KindRead
	out[2].RespHeaders, out[2].Status = nil, 0
	// gRPC calls over HTTP/2: trailers, a status (0 and not), messages.
	for i := 5; i < n; i += 10 {
		st := int32(i % 3)
		out[i].Proto, out[i].Path, out[i].Route = "HTTP/2.0", "/demo.v1.Things/Chat", "/demo.v1.Things/Chat"
		out[i].RespTrailers = []trace.Header{{Name: "grpc-status", Value: strconv.Itoa(int(st))}, {Name: "grpc-message", Value: "m"}}
		out[i].GRPCStatus, out[i].GRPCMessage, out[i].ReqMessages, out[i].RespMessages = &st, "m", int64(i), 3
	}
	for i := 3; i < n; i += 2 {
		out[i].RespSig = trace.Signature{Type: "application/json", Kind: "json", Class: "<100", Cut: i%4 == 1, Leaves: []trace.Leaf{
			{Path: "$", Types: "object"}, {Path: "$.id", Types: "number", Hash: int64(i) * 7919}, {Path: "$.tags[]", Types: "null|string", Hash: -1}}}
	}
	return out
}
