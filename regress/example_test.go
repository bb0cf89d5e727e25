package regress_test

import (
	"fmt"
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/regress"
)

// run is n requests whose latencies (µs) spread log-normally around
// median, as a histogram like analysis's, and failures of them failed.
func run(n int, median float64, failures int64) regress.Sample {
	h := hdrhistogram.New(1, 3_600_000_000, 3)
	for i := range n {
		z := math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(n)-1)
		h.RecordValue(int64(median * math.Exp(0.6*z)))
	}
	return regress.Sample{Latency: h, Requests: int64(n), Failures: failures}
}

func Example() {
	// 10,000 requests each; the run's latencies are 20% slower, its
	// failures a few more.
	base, now := run(10000, 50000, 100), run(10000, 60000, 110)
	for _, c := range regress.CompareAll(base, now, regress.Options{Seed: 1}) {
		unit, scale := "ms", 1.0
		if c.Figure == "error_rate" {
			unit, scale = "%", 100
		}
		fmt.Printf("%-10s %6.2f%s to %6.2f%s: %+5.1f%% [%+5.1f%%, %+5.1f%%] %v\n",
			c.Figure, scale*c.Base, unit, scale*c.Now, unit, 100*c.Rel, 100*c.RelLo, 100*c.RelHi, c.Verdict)
	}
	// A threshold p95 < baseline+10%: the run's +20% is past it, surely.
	p95, _ := regress.Compare(base, now, "p95", regress.Options{Seed: 1})
	fmt.Println("p95 < baseline+10% fails:", regress.Exceeds(p95, 0.10, true))
	// Three requests tell nothing.
	few, _ := regress.Compare(run(3, 50000, 0), run(3, 89000, 0), "p95", regress.Options{})
	fmt.Printf("p95 of 3 requests: %+.0f%%: %v\n", 100*few.Rel, few.Verdict)
	// Output:
	// p50         50.02ms to  60.00ms: +20.0% [+17.1%, +23.3%] worse
	// p95        134.14ms to 161.02ms: +20.0% [+14.9%, +25.5%] worse
	// p99        201.73ms to 242.05ms: +20.0% [+10.3%, +30.1%] worse
	// avg         59.86ms to  71.83ms: +20.0% [+17.2%, +22.9%] worse
	// error_rate   1.00% to   1.10%: +10.0% [-22.7%, +56.6%] no detectable change
	// p95 < baseline+10% fails: true
	// p95 of 3 requests: +78%: too few requests to tell
}
