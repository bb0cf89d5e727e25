package regress

import (
	"math"
	"math/rand/v2"
)

// gamma draws from the Gamma(a, 1) distribution, a >= 1, by Marsaglia and
// Tsang's method ("A simple method for generating gamma variables", ACM
// TOMS 26(3), 2000): one normal and one uniform per try, and the tries are
// accepted 95% of the time or more, whatever a. Its cost does not grow
// with a, which is what lets a percentile be resampled from a million
// requests as fast as from a hundred.
func gamma(rng *rand.Rand, a float64) float64 {
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 { // the squeeze: no logarithm most of the time
			return d * v
		}
		if math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// beta draws from the Beta(a, b) distribution, a, b >= 1, as the share of
// the first of two gamma draws in their sum.
func beta(rng *rand.Rand, a, b float64) float64 {
	x := gamma(rng, a)
	y := gamma(rng, b)
	return x / (x + y)
}
