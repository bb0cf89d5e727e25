package regress

import "math"

// estimate is one run's figure with its confidence interval.
type estimate struct{ e, lo, hi float64 }

// normalQuantile is z such that a standard normal lies within ±z with
// probability level.
func normalQuantile(level float64) float64 { return math.Sqrt2 * math.Erfinv(level) }

// tQuantile is Student's t quantile of df degrees of freedom at the tail
// of the normal quantile z, by the Cornish-Fisher expansion (Abramowitz
// and Stegun 26.7.5): within 1e-4 of the exact value from 10 degrees of
// freedom on, and a mean needs 30 requests (minRequests).
func tQuantile(z, df float64) float64 {
	z2 := z * z
	g1 := (z2 + 1) * z / 4
	g2 := ((5*z2+16)*z2 + 3) * z / 96
	g3 := (((3*z2+19)*z2+17)*z2 - 15) * z / 384
	g4 := ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) * z / 92160
	return z + (g1+(g2+(g3+g4/df)/df)/df)/df
}

// wilson is the proportion x/n with its Wilson score interval (Wilson
// 1927) at normal quantile z: unlike the textbook p ± z·√(p(1-p)/n), it
// stays within [0, 1] and does not collapse to a point at 0 failures.
func wilson(x, n int64, z float64) estimate {
	p := float64(x) / float64(n)
	nf := float64(n)
	z2n := z * z / nf
	center := (p + z2n/2) / (1 + z2n)
	half := z / (1 + z2n) * math.Sqrt(p*(1-p)/nf+z2n/(4*nf))
	e := estimate{e: p, lo: max(center-half, 0), hi: min(center+half, 1)}
	if x == 0 { // exactly, not within rounding
		e.lo = 0
	}
	if x == n {
		e.hi = 1
	}
	return e
}

// meanInterval is a mean of n values of standard deviation sd, with its
// t interval at normal quantile z. A latency's mean is not negative: a
// lower bound below 0 (a long tail over few requests) says no more than
// 0, and is cut there, which keeps moverRatio's bounds monotone.
func meanInterval(mean, sd float64, n int64, z float64) estimate {
	half := tQuantile(z, float64(n-1)) * sd / math.Sqrt(float64(n))
	return estimate{e: mean, lo: max(mean-half, 0), hi: mean + half}
}

// moverDiff is the interval of now - base from the runs' own intervals,
// by MOVER (Zou and Donner, "Construction of confidence limits about
// effect measures", Statistical Methods in Medical Research 17, 2008):
// each bound moves from the difference by the root of the squared
// distances to the bounds that make it more extreme. Over Wilson
// intervals it is Newcombe's hybrid score interval (Newcombe 1998,
// method 10); over symmetric t intervals, close to Welch's.
func moverDiff(base, now estimate) (lo, hi float64) {
	d := now.e - base.e
	return d - math.Hypot(now.e-now.lo, base.hi-base.e), d + math.Hypot(now.hi-now.e, base.e-base.lo)
}

// moverRatio is the interval of now/base, by MOVER-R (Donner and Zou,
// "Closed-form confidence intervals for functions of the normal mean and
// standard deviation", Statistical Methods in Medical Research 21, 2012):
// the ratios θ for which moverDiff's interval of now - θ·base holds 0.
// Both bounds of that interval fall as θ grows (the runs' lower bounds
// are not negative), so the ratios form one interval, whose ends are the
// roots of a quadratic. The upper end is +Inf when the base's interval
// reaches 0: the base may be as small as one likes.
func moverRatio(base, now estimate) (lo, hi float64) {
	e0, e1 := base.e, now.e
	// Lower end: e1 - θe0 = √(a² + θ²b²), with e1 - θe0 >= 0; the root in
	// the form that needs no division by e0² - b², which may be 0.
	a, b := e1-now.lo, base.hi-e0
	num := e1*e1 - a*a // = now.lo·(2e1 - now.lo) >= 0
	den := e0*e1 + math.Sqrt(max(e0*e0*a*a+b*b*e1*e1-a*a*b*b, 0))
	switch {
	case num <= 0: // now may be 0: any ratio down to 0
		lo = 0
	case den == 0: // base is exactly 0 and now is not
		lo = math.Inf(1)
	default:
		lo = num / den
	}
	// Upper end: θe0 - e1 = √(c² + θ²d²), with θe0 - e1 >= 0.
	c, d := now.hi-e1, e0-base.lo
	if q := e0*e0 - d*d; q > 0 {
		hi = (e0*e1 + math.Sqrt(max(e0*e0*c*c+d*d*e1*e1-c*c*d*d, 0))) / q
	} else {
		hi = math.Inf(1)
	}
	return lo, hi
}

// percentiles collects resampled values for their percentile interval at
// a level: the m-th smallest and the m-th largest of R values, m =
// max(⌊R·α/2⌋, 1), α = 1 - level (the 10th of each end, of 2,000 at
// 0.99). It keeps only the m smallest and m largest seen, not the R
// values: a heap each, whose top is the bound, and which a value joins
// rarely once the heaps are full. So a bound costs a comparison a
// resample, not a sort.
type percentiles struct {
	low, high extremes // high holds the values negated
}

func newPercentiles(r int, level float64) *percentiles {
	m := max(int(math.Floor(float64(r)*(1-level)/2+1e-9)), 1) // 1e-9: 2000·(1-0.9)/2 is 99.99999999999997
	return &percentiles{low: extremes{m: m}, high: extremes{m: m}}
}

func (p *percentiles) add(v float64) {
	p.low.add(v)
	p.high.add(-v)
}

// bounds are the interval's ends; at least one value was added.
func (p *percentiles) bounds() (lo, hi float64) { return p.low.top(), -p.high.top() }

// extremes keeps the m smallest values added, in a max-heap.
type extremes struct {
	m int
	h []float64
}

func (e *extremes) add(v float64) {
	h := e.h
	if len(h) < e.m {
		// Push: up from the end while above its parent.
		h = append(h, v)
		for i := len(h) - 1; i > 0; {
			parent := (i - 1) / 2
			if h[parent] >= h[i] {
				break
			}
			h[parent], h[i] = h[i], h[parent]
			i = parent
		}
		e.h = h
		return
	}
	if v >= h[0] {
		return
	}
	// Replace the largest: down from the root while below a child.
	h[0] = v
	for i := 0; ; {
		big, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l] > h[big] {
			big = l
		}
		if r < len(h) && h[r] > h[big] {
			big = r
		}
		if big == i {
			return
		}
		h[i], h[big] = h[big], h[i]
		i = big
	}
}

// top is the m-th smallest value added (the largest, when fewer were).
func (e *extremes) top() float64 { return e.h[0] }
