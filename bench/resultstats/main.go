// Command resultstats prints what bench scripts need from a results file:
// requests, failures, the achieved rate, send lateness (sent - scheduled)
// and latency percentiles, on one line of key=value pairs. For the
// recorded scenario it adds the start lateness (sent - scheduled +
// behind_ns: how late each request left against its time on the recorded
// timeline), how far behind requests were made ready (behind_ns), and the
// recorded requests the run meant to send (the footer's timeline, times
// --amplify).
package main

import (
	"fmt"
	"os"
	"strconv"
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
	newHist := func() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Hour), 3) }
	late, start, behind, lat := newHist(), newHist(), newHist(), newHist()
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
		send := max(int64(r.Sent.Sub(r.Scheduled)), 0)
		late.RecordValue(send)
		start.RecordValue(send + max(r.BehindNanos, 0))
		behind.RecordValue(max(r.BehindNanos, 0))
		lat.RecordValue(max(r.LatencyNanos, 1))
		return nil
	})
	if err != nil || n == 0 {
		fmt.Fprintln(os.Stderr, "resultstats:", err, n)
		os.Exit(2)
	}
	span := last.Sub(first).Seconds()
	us := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	fmt.Printf("requests=%d failed=%d rate=%.0f late_p50_us=%.0f late_p99_us=%.0f latency_p50_us=%.0f latency_p99_us=%.0f",
		n, failed, float64(n-1)/max(span, 1e-9), us(late, 50), us(late, 99), us(lat, 50), us(lat, 99))
	fmt.Printf(" late_max_us=%.0f start_late_p50_us=%.0f start_late_p99_us=%.0f start_late_max_us=%.0f behind_p99_us=%.0f behind_max_us=%.0f",
		float64(late.Max())/1e3, us(start, 50), us(start, 99), float64(start.Max())/1e3, us(behind, 99), float64(behind.Max())/1e3)
	unsent, _ := f.Meta(results.MetaUnsent)
	if _, err := strconv.ParseInt(unsent, 10, 64); err != nil {
		unsent = "0"
	}
	recorded := "0" // not a recorded-scenario run
	if s, ok := f.Meta(results.MetaTimeline); ok {
		t, err := results.ParseTimeline(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "resultstats:", err)
			os.Exit(2)
		}
		var sum int64
		for _, c := range t.Recorded {
			sum += c
		}
		recorded = strconv.FormatFloat(float64(sum)*t.Amplify, 'f', 0, 64)
	}
	fmt.Printf(" unsent=%s timeline_recorded=%s\n", unsent, recorded)
}
