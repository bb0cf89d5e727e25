package regress

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencies are one run's non-empty histogram buckets, in ascending
// order of value: all the figures and resamples need.
type latencies struct {
	// n is the number of latencies recorded.
	n int64
	// cum are the buckets' cumulative counts: cum[i] latencies lie in
	// buckets 0..i.
	cum []int64
	// top is each bucket's highest value (µs): what a percentile reports,
	// as analysis reports it.
	top []int64
	// mean and sd are the latencies' mean and sample standard deviation
	// (µs), each latency at its bucket's middle, as HDR's Mean counts it.
	mean, sd float64
	// width0 is the first bucket's width (µs), for the check of exported.
	width0 int64
	// guide[j] is the first bucket whose cumulative count reaches
	// j·n/len(guide): a guide table (Chen and Asau 1974), from which the
	// bucket at a share u of the latencies is a step or two away, where a
	// binary search over all the buckets takes a dozen.
	guide []int32
}

// latenciesOf reads a sample's histogram; nil is an empty one.
func latenciesOf(s Sample) *latencies {
	h := s.Latency
	if h == nil || h.TotalCount() == 0 {
		return &latencies{}
	}
	if l := exported(h); l != nil {
		return l
	}
	// Distribution walks every bucket up to the highest value, and makes a
	// 24-byte Bar of each, empty or not: 2 MB for a histogram of a hundred
	// requests. It is the slow, sure way.
	bars := h.Distribution()
	return read(h, len(bars), func(yield func(from, to, count int64)) {
		for _, b := range bars {
			yield(b.From, b.To, b.Count)
		}
	})
}

// exported reads the histogram from its Export, a copy of its counts
// array, finding each bucket's values from its index by HDR's geometry:
// many times faster than Distribution, which keeps a comparison cheap.
// Nil when the values disagree with the histogram's own at the ends: a
// geometry this does not know.
func exported(h *hdrhistogram.Histogram) *latencies {
	snap := h.Export()
	// HDR's geometry (geometryMagnitudes in hdr.go): sub-buckets of unit
	// resolution up to 2·10^digits, rounded up to a power of 2; the counts
	// array holds the first bucket whole, then the upper half of each of
	// the next, each twice as wide as the one before.
	sub := int(math.Ceil(math.Log2(2 * math.Pow10(int(snap.SignificantFigures)))))
	halfMag := max(sub, 1) - 1
	half := 1 << halfMag
	unitMag := 0
	if snap.LowestTrackableValue > 1 {
		unitMag = int(math.Floor(math.Log2(float64(snap.LowestTrackableValue))))
	}
	// The counts array is long (23,552 slots for 1 µs to 1 hour at 3
	// digits) and mostly empty: walked once, for the slots that are not.
	var nonEmpty []int32
	for i, c := range snap.Counts {
		if c > 0 {
			nonEmpty = append(nonEmpty, int32(i))
		}
	}
	l := read(h, len(nonEmpty), func(yield func(from, to, count int64)) {
		for _, i32 := range nonEmpty {
			i, c := int(i32), snap.Counts[i32]
			bucket, subBucket := (i>>halfMag)-1, (i&(half-1))+half
			if bucket < 0 {
				bucket, subBucket = 0, subBucket-half
			}
			from := int64(subBucket) << (bucket + unitMag)
			yield(from, from+int64(1)<<(bucket+unitMag)-1, c)
		}
	})
	if l.n != h.TotalCount() || l.top[0]-l.width0+1 != h.ValueAtQuantile(0) || l.top[len(l.top)-1] != h.ValueAtQuantile(100) {
		return nil
	}
	return l
}

// read makes latencies of a histogram's buckets (from..to µs, count),
// in ascending order, walked twice (once for the mean, once for the
// standard deviation); size is about how many are not empty.
func read(h *hdrhistogram.Histogram, size int, buckets func(yield func(from, to, count int64))) *latencies {
	l := &latencies{cum: make([]int64, 0, size), top: make([]int64, 0, size)}
	total := float64(h.TotalCount())
	buckets(func(from, to, count int64) {
		if count <= 0 {
			return
		}
		if l.n == 0 {
			l.width0 = to - from + 1
		}
		l.n += count
		l.cum = append(l.cum, l.n)
		l.top = append(l.top, to)
		// As HDR's Mean sums, term by term: the mean the report shows, to
		// the bit.
		l.mean += float64(count) * middle(from, to) / total
	})
	if l.n > 1 {
		var ss float64
		buckets(func(from, to, count int64) {
			if count > 0 {
				d := middle(from, to) - l.mean
				ss += float64(count) * d * d
			}
		})
		l.sd = math.Sqrt(ss / float64(l.n-1))
	}
	l.guide = make([]int32, len(l.cum))
	i := 0
	for j := range l.guide {
		for t := float64(j) * float64(l.n) / float64(len(l.guide)); float64(l.cum[i]) < t; {
			i++
		}
		l.guide[j] = int32(i)
	}
	return l
}

// middle is HDR's median equivalent value of a bucket [from, to]: the
// value its Mean counts the bucket's latencies at.
func middle(from, to int64) float64 { return float64(from + (to-from+1)>>1) }

// rank is the nearest rank of percentile q (0-100) among n: ⌈q·n/100⌉,
// within 1..n, as analysis ranks them (its quantile function).
func rank(q float64, n int64) int64 {
	r := math.Ceil(q / 100 * float64(n) * (1 - 1e-12)) // no rank above q·n from float error
	return int64(min(max(r, 1), float64(n)))
}

// at is the value (µs) of the latency at rank r (1..n).
func (l *latencies) at(r int64) int64 {
	i, _ := slices.BinarySearch(l.cum, r) // the first bucket with cum >= r
	return l.top[min(i, len(l.top)-1)]
}

// percentile is the nearest-rank percentile q (0-100), µs; 0 without
// latencies.
func (l *latencies) percentile(q float64) int64 {
	if l.n == 0 {
		return 0
	}
	return l.at(rank(q, l.n))
}

// resample draws the latency at rank r of a bootstrap resample: n
// latencies drawn with replacement from the buckets. It draws it
// directly: the r-th smallest of n draws F⁻¹(U₁..Uₙ), F⁻¹ the buckets'
// inverse distribution, is F⁻¹ of the r-th smallest of n uniforms, which
// is Beta(r, n-r+1). So a resample costs two gamma draws and a look-up in
// the guide table, not n draws.
func (l *latencies) resample(rng *rand.Rand, r int64) int64 {
	return l.inverse(beta(rng, float64(r), float64(l.n-r+1)))
}

// inverse is F⁻¹(u), 0 <= u <= 1: the highest value of the first bucket
// whose cumulative share reaches u. The bucket lies between the guide's
// slots around u's, one slot wider on each side to be clear of rounding:
// a bucket or two, found by binary search (which keeps a slot holding a
// thousand buckets of one request each, a long tail behind a mode, to a
// dozen steps).
func (l *latencies) inverse(u float64) int64 {
	t := u * float64(l.n)
	g := len(l.guide)
	j := min(int(u*float64(g)), g-1)
	lo, hi := int(l.guide[max(j-1, 0)]), len(l.cum)-1
	if j+2 < g {
		hi = int(l.guide[j+2])
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if float64(l.cum[mid]) >= t {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return l.top[lo]
}
