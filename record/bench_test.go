package record

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
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
		sum, err = FromPcap(context.Background(), path, Config{Out: out, Force: true, MaxBody: 1 << 20, RedactKey: []byte("k")})
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

// BenchmarkProxy measures the latency the recording proxy adds: the same
// keep-alive client against an upstream directly, through a plain
// httputil.ReverseProxy (the cost of any proxy hop), and through the
// recording proxy (which also writes every exchange to a trace).
func BenchmarkProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":1,"title":"a task"}`)
	}))
	defer upstream.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Proxy(ctx, "127.0.0.1:0", upstream.URL, Config{Out: b.TempDir() + "/", MaxBody: 1 << 20,
			Ready: func(addr string) { ready <- addr }})
		done <- err
	}()
	proxyURL := "http://" + <-ready
	// The peer: the same reverse proxy hop without recording.
	u, _ := url.Parse(upstream.URL)
	plain := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	defer plain.Close()
	for _, target := range []struct{ name, url string }{{"direct", upstream.URL}, {"plain-reverse-proxy", plain.URL}, {"recording-proxy", proxyURL}} {
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			lat := make([]time.Duration, 0, b.N)
			body := strings.Repeat("x", 512)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				resp, err := client.Post(target.url+"/api/tasks", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
