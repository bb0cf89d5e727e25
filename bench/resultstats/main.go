// Command resultstats prints what bench scripts need from a results file:
// requests, failures, the achieved rate, send lateness (sent - scheduled)
// and latency percentiles, on one line of key=value pairs.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: resultstats RESULTS.parquet")
		os.Exit(2)
	}
	f, err := results.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	late := hdrhistogram.New(1, int64(time.Minute), 3)
	lat := hdrhistogram.New(1, int64(time.Minute), 3)
	var n, failed int64
	var first, last time.Time
	err = results.Scan(f, func(r *results.Result) error {
		n++
		if r.Failed() {
			failed++
		}
		if first.IsZero() || r.Scheduled.Before(first) {
			first = r.Scheduled
		}
		if r.Scheduled.After(last) {
			last = r.Scheduled
		}
		late.RecordValue(max(int64(r.Sent.Sub(r.Scheduled)), 0))
		lat.RecordValue(max(r.LatencyNanos, 1))
		return nil
	})
	if err != nil || n == 0 {
		fmt.Fprintln(os.Stderr, "resultstats:", err, n)
		os.Exit(2)
	}
	span := last.Sub(first).Seconds()
	us := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	fmt.Printf("requests=%d failed=%d rate=%.0f late_p50_us=%.0f late_p99_us=%.0f latency_p50_us=%.0f latency_p99_us=%.0f\n",
		n, failed, float64(n-1)/max(span, 1e-9), us(late, 50), us(late, 99), us(lat, 50), us(lat, 99))
}
