// Command genresults writes a results file of N synthetic rows for the
// analyze benchmark: 24 routes and 4 methods, log-normal latencies, 2%
// failures, spread evenly over -span (so that files of different sizes
// have the same time series windows). Deterministic from -seed.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/replaykit/replaykit/results"
)

func main() {
	n := flag.Int("rows", 1_000_000, "rows to write")
	out := flag.String("o", "results.parquet", "file to write")
	seed := flag.Uint64("seed", 1, "random seed")
	span := flag.Duration("span", 30*time.Minute, "time the rows are spread over")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, 1))
	var names []string
	for _, r := range []string{"tasks", "projects", "documents", "users", "comments", "search"} {
		names = append(names, "/api/v1/"+r, "/api/v1/"+r+"/{id}", "/api/v1/"+r+"/{id}/history", "/api/v2/"+r)
	}
	methods := []string{"GET", "GET", "GET", "POST", "PATCH", "DELETE"} // 4 distinct
	w, err := results.Create(*out, results.WriterOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	rate := float64(*n) / span.Seconds()
	for i := range *n {
		name := names[rng.IntN(len(names))]
		sent := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		lat := int64(math.Exp(rng.NormFloat64()*0.9 + math.Log(15e6)))
		r := results.Result{Run: "bench_run", Scenario: "high_load", VU: int32(i % 100), TraceID: int64(i), Method: methods[rng.IntN(len(methods))],
			Name: name, URL: "http://127.0.0.1:8000" + name, Scheduled: sent, Sent: sent, LatencyNanos: lat, TTFBNanos: lat * 8 / 10,
			Status: 200, RespSize: int64(200 + rng.IntN(2000)), RecordedStatus: 200, Users: 100}
		if rng.IntN(50) == 0 {
			r.Status = []int32{404, 429, 500, 503}[rng.IntN(4)]
		}
		if err := w.Write(&r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
