package regress

import (
	"math"
	"testing"
)

var z95 = normalQuantile(0.95)

func TestNormalQuantile(t *testing.T) {
	for _, tc := range []struct{ level, want float64 }{
		{0.95, 1.959964}, {0.99, 2.575829}, {0.9, 1.644854}, {0.5, 0.674490},
	} {
		if got := normalQuantile(tc.level); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("level %g: z %f, want %f", tc.level, got, tc.want)
		}
	}
}

// Student's t quantiles, two-sided 95% and 99%, from the tables.
func TestTQuantile(t *testing.T) {
	for _, tc := range []struct{ level, df, want float64 }{
		{0.95, 9, 2.262157}, {0.95, 29, 2.045230}, {0.95, 99, 1.984217}, {0.95, 9999, 1.960201},
		{0.99, 29, 2.756386}, {0.99, 99, 2.626405},
	} {
		if got := tQuantile(normalQuantile(tc.level), tc.df); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("level %g, %g degrees of freedom: t %f, want %f", tc.level, tc.df, got, tc.want)
		}
	}
}

// Wilson score intervals as Newcombe ("Two-sided confidence intervals
// for the single proportion", Statistics in Medicine 17, 1998, table I,
// method 3) gives them.
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		x, n   int64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{29, 29, 0.8830, 1},
	} {
		e := wilson(tc.x, tc.n, z95)
		if e.e != float64(tc.x)/float64(tc.n) || math.Abs(e.lo-tc.lo) > 5e-5 || math.Abs(e.hi-tc.hi) > 5e-5 {
			t.Errorf("%d/%d: %.4f [%.4f, %.4f], want [%.4f, %.4f]", tc.x, tc.n, e.e, e.lo, e.hi, tc.lo, tc.hi)
		}
	}
}

// The difference of two proportions: Newcombe's hybrid score interval,
// as Newcombe ("Interval estimation for the difference between
// independent proportions", Statistics in Medicine 17, 1998, table II,
// method 10) gives it for his examples (a) to (f).
func TestNewcombe(t *testing.T) {
	for _, tc := range []struct {
		now, nNow, base, nBase int64
		lo, hi                 float64
	}{
		{56, 70, 48, 80, 0.0524, 0.3339},
		{9, 10, 3, 10, 0.1705, 0.8090},
		{6, 7, 2, 7, 0.0582, 0.8062},
		{5, 56, 0, 29, -0.0381, 0.1926},
		{0, 10, 0, 20, -0.1611, 0.2775},
		{10, 10, 0, 20, 0.6791, 1},
	} {
		lo, hi := moverDiff(wilson(tc.base, tc.nBase, z95), wilson(tc.now, tc.nNow, z95))
		if math.Abs(lo-tc.lo) > 5e-5 || math.Abs(hi-tc.hi) > 5e-5 {
			t.Errorf("%d/%d - %d/%d: [%.4f, %.4f], want [%.4f, %.4f]", tc.now, tc.nNow, tc.base, tc.nBase, lo, hi, tc.lo, tc.hi)
		}
	}
}

// moverRatio's bounds are the ratios θ at which moverDiff's interval of
// now - θ·base reaches 0: inside them it holds 0, outside it does not.
func TestMoverRatioInvertsMoverDiff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, now estimate
	}{
		{"means", estimate{100, 95, 105}, estimate{120, 110, 130}},
		{"wide base", estimate{10, 1, 25}, estimate{12, 11, 13}},
		{"base reaching 0", estimate{10, 0, 25}, estimate{12, 11, 13}},
		{"rates", wilson(100, 10000, z95), wilson(150, 10000, z95)},
		{"base rate 0", wilson(0, 10000, z95), wilson(50, 10000, z95)},
		{"both rates 0", wilson(0, 10000, z95), wilson(0, 10000, z95)},
		{"all failing", wilson(10000, 10000, z95), wilson(10000, 10000, z95)},
		{"points", estimate{50, 50, 50}, estimate{60, 60, 60}},
	} {
		lo, hi := moverRatio(tc.base, tc.now)
		if !(lo >= 0 && lo <= hi) {
			t.Errorf("%s: ratio in [%g, %g]", tc.name, lo, hi)
			continue
		}
		holds := func(θ float64) bool {
			b := estimate{θ * tc.base.e, θ * tc.base.lo, θ * tc.base.hi}
			l, h := moverDiff(b, tc.now)
			return l <= 1e-12 && h >= -1e-12
		}
		for _, θ := range []float64{lo * (1 - 1e-6), hi * (1 + 1e-6)} {
			if θ > 0 && !math.IsInf(θ, 0) && holds(θ) {
				t.Errorf("%s: ratio in [%g, %g], yet %g holds", tc.name, lo, hi, θ)
			}
		}
		inside := []float64{(lo + min(hi, 10*lo+10)) / 2}
		if hi > lo*(1+1e-5) {
			inside = append(inside, lo*(1+1e-6), min(hi*(1-1e-6), 10*lo+10))
		}
		for _, θ := range inside {
			if !holds(θ) {
				t.Errorf("%s: ratio in [%g, %g], yet %g does not hold", tc.name, lo, hi, θ)
			}
		}
	}
	if _, hi := moverRatio(estimate{10, 0, 25}, estimate{12, 11, 13}); !math.IsInf(hi, 1) {
		t.Errorf("a base that may be 0: ratio up to %g, want +Inf", hi)
	}
}

// The interval's ends are the m-th smallest and largest resampled values,
// whatever their order.
func TestPercentiles(t *testing.T) {
	for _, tc := range []struct {
		r            int
		level        float64
		wantLo, want int // of 0..r-1: the ends
	}{
		{2000, 0.99, 9, 1990},  // 9 below, 9 above
		{2000, 0.95, 49, 1950}, // 49 below, 49 above
		{2000, 0.9, 99, 1900},
		{2000, 0.5, 499, 1500},
		{3, 0.95, 0, 2},
		{1, 0.95, 0, 0},
	} {
		p := newPercentiles(tc.r, tc.level)
		for i := range tc.r {
			p.add(float64((i * 7919) % tc.r)) // 0..r-1, shuffled (7919 is prime)
		}
		if lo, hi := p.bounds(); lo != float64(tc.wantLo) || hi != float64(tc.want) {
			t.Errorf("%d values at %g: [%g, %g], want [%d, %d]", tc.r, tc.level, lo, hi, tc.wantLo, tc.want)
		}
	}
	// Ties and infinities.
	p := newPercentiles(2000, 0.99)
	for i := range 2000 {
		v := 0.0
		if i%100 == 0 {
			v = math.Inf(1)
		}
		p.add(v)
	}
	if lo, hi := p.bounds(); lo != 0 || !math.IsInf(hi, 1) {
		t.Errorf("1,980 zeros and 20 +Inf at 0.99: [%g, %g], want [0, +Inf]", lo, hi)
	}
}
