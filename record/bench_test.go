package record

import (
	"context"
	"os"
	"testing"
)

// BenchmarkRecord is a capture file to a trace file, all of it: reading,
// extraction, sessions, redaction and parquet writing. Set
// REPLAYKIT_BENCH_PCAP to measure another capture.
func BenchmarkRecord(b *testing.B) {
	path := os.Getenv("REPLAYKIT_BENCH_PCAP")
	if path == "" {
		path = "../testdata/pcap/nginx-ab.pcap"
	}
	out := b.TempDir() + "/t.parquet"
	var sum *Summary
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		sum, err = FromPcap(context.Background(), path, Config{Out: out, MaxBody: 1 << 20, RedactKey: []byte("k")})
		if err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(sum.Capture.Packets*int64(b.N))/secs, "packets/s")
	b.ReportMetric(float64(sum.Written*int64(b.N))/secs, "exchanges/s")
	b.ReportMetric(float64(sum.OutputBytes)/float64(max(sum.Written, 1)), "B/exchange")
	b.ReportMetric(0, "ns/op")
}
