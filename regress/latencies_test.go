package regress

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The one-step resample is the bootstrap: the percentile of n latencies
// drawn with replacement from the buckets. Its distribution is known
// exactly: the r-th smallest of the resample is at most bucket j's value
// when at least r of the n draws land at or below j, a binomial tail.
func TestResampleIsTheBootstrap(t *testing.T) {
	// 40 latencies in 6 buckets, uneven.
	s := values(1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4,
		4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 8, 8, 8, 8, 30)
	l := latenciesOf(s)
	const draws = 20000
	rng := rand.New(rand.NewPCG(1, 2))
	for _, q := range []float64{10, 50, 75, 95} {
		r := rank(q, l.n)
		got := make([]int, len(l.top))
		for range draws {
			v := l.resample(rng, r)
			for j, top := range l.top {
				if top == v {
					got[j]++
				}
			}
		}
		// The largest gap between the cumulative distributions; 0.015 is
		// past the 0.1% critical value (Kolmogorov's 1.95/√20000).
		var cum, worst float64
		for j := range l.top {
			cum += float64(got[j]) / draws
			want := binomialTail(l.n, float64(l.cum[j])/float64(l.n), r)
			worst = max(worst, math.Abs(cum-want))
		}
		if worst > 0.015 {
			t.Errorf("p%g: the resampled distribution is %.4f away from the bootstrap's", q, worst)
		}
	}
}

// The guide table finds the bucket a binary search finds, at every
// bucket's edge and between.
func TestInverse(t *testing.T) {
	// A mode and a long tail of one request a bucket: a guide slot then
	// holds hundreds of buckets.
	tail := Sample{Latency: newHist()}
	tail.Latency.RecordValues(1000, 1000000)
	for v := range int64(1000) {
		tail.Latency.RecordValue(5000 + 10*v)
	}
	for _, s := range []Sample{values(1, 1, 1, 2, 30, 30, 4000), lognormal(8, 1, 10000, 1, 0), spread(3, 1, 0), values(5), tail} {
		l := latenciesOf(s)
		us := []float64{0, 1, math.Nextafter(1, 0), 1e-300}
		for _, c := range l.cum {
			share := float64(c) / float64(l.n)
			us = append(us, share, math.Nextafter(share, 0), math.Nextafter(share, 1))
		}
		rng := rand.New(rand.NewPCG(9, 9))
		for range 1000 {
			us = append(us, rng.Float64())
		}
		for _, u := range us {
			if u < 0 || u > 1 {
				continue
			}
			i, _ := slices.BinarySearchFunc(l.cum, u*float64(l.n), func(c int64, t float64) int {
				if float64(c) < t {
					return -1
				}
				return 1
			})
			if got, want := l.inverse(u), l.top[i]; got != want {
				t.Errorf("%d latencies, u %v: %d µs, want %d", l.n, u, got, want)
			}
		}
	}
}

// binomialTail is P(Binomial(n, p) >= r).
func binomialTail(n int64, p float64, r int64) float64 {
	if p >= 1 {
		return 1
	}
	var sum float64
	for k := r; k <= n; k++ {
		lc, _ := math.Lgamma(float64(n + 1))
		a, _ := math.Lgamma(float64(k + 1))
		b, _ := math.Lgamma(float64(n - k + 1))
		sum += math.Exp(lc - a - b + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	return sum
}

// Percentiles are nearest-rank: the latency at rank ⌈q·n⌉ of a sorted
// list, its bucket's highest value.
func TestPercentileIsNearestRank(t *testing.T) {
	s := values(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	l := latenciesOf(s)
	for _, tc := range []struct {
		q    float64
		want int64 // µs
	}{
		{10, 1000}, {10.0001, 2000}, {50, 5000}, {95, 10000}, {99.9, 10000}, {0.0001, 1000},
	} {
		// The bucket's highest value: within 0.1% above (3 digits).
		if got := l.percentile(tc.q); got < tc.want || got > tc.want+tc.want/1000 {
			t.Errorf("p%g of 1..10 ms: %d µs, want %d", tc.q, got, tc.want)
		}
	}
	if got := latenciesOf(Sample{}).percentile(50); got != 0 {
		t.Errorf("p50 of nothing: %d", got)
	}
}

// The standard deviation is the sample one, over the buckets' middles.
func TestLatencySpread(t *testing.T) {
	l := latenciesOf(values(1, 2, 3, 4))
	// 1, 2, 3 and 4 ms: mean 2.5 ms, sample sd √(5/3) ms, within the
	// 2 µs buckets above 2,048 µs.
	if math.Abs(l.mean-2500) > 2 || math.Abs(l.sd-1000*math.Sqrt(5.0/3)) > 2 {
		t.Errorf("1..4 ms: mean %g µs, sd %g µs; want 2500, %g", l.mean, l.sd, 1000*math.Sqrt(5.0/3))
	}
	if l := latenciesOf(values(7)); l.sd != 0 || l.n != 1 {
		t.Errorf("one latency: sd %g, n %d", l.sd, l.n)
	}
}

// Reading a histogram from its exported counts gives what its
// Distribution gives, whatever its geometry: digits, a lowest value above
// 1 (nanoseconds with microsecond resolution), values at both ends.
func TestExportedIsDistribution(t *testing.T) {
	for _, tc := range []struct {
		lowest, highest int64
		digits          int
	}{
		{1, histMax, 3}, {1, histMax, 2}, {1, histMax, 1}, {1, 1e6, 5}, {1000, 3.6e12, 3}, {3, 1e9, 2},
	} {
		h := hdrhistogram.New(tc.lowest, tc.highest, tc.digits)
		rng := rand.New(rand.NewPCG(5, 6))
		for range 5000 {
			h.RecordValue(min(int64(float64(tc.lowest)*20*math.Exp(3*rng.NormFloat64())), tc.highest))
		}
		h.RecordValues(0, 3)
		h.RecordValues(tc.highest, 2)
		got := exported(h)
		bars := h.Distribution()
		want := read(h, 0, func(yield func(from, to, count int64)) {
			for _, b := range bars {
				yield(b.From, b.To, b.Count)
			}
		})
		if got == nil || !slices.Equal(got.cum, want.cum) || !slices.Equal(got.top, want.top) || got.n != want.n || got.mean != want.mean || got.sd != want.sd {
			t.Errorf("New(%d, %d, %d): exported %+v, distributed %+v", tc.lowest, tc.highest, tc.digits, got, want)
		}
		if got != nil && got.mean != h.Mean() {
			t.Errorf("New(%d, %d, %d): mean %g, HDR's %g", tc.lowest, tc.highest, tc.digits, got.mean, h.Mean())
		}
	}
}
