package regress

import (
	"fmt"
	"testing"
)

// The cost of one comparison, by requests per run: it grows with the
// histograms' non-empty buckets (read once), not with requests.
func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{100, 10000, 1000000} {
		base, now := lognormal(1, 1, n, 1, 0.01), lognormal(1, 2, n, 1.05, 0.012)
		for _, figure := range []string{"p50", "p95", "avg", "error_rate"} {
			b.Run(fmt.Sprintf("%s/%d", figure, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := Compare(base, now, figure, Options{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("all/%d", n), func(b *testing.B) {
			for b.Loop() {
				CompareAll(base, now, Options{})
			}
		})
	}
}
