package regress

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Gamma and beta draws have their distributions' means and variances,
// small shapes and a million alike.
func TestBetaMoments(t *testing.T) {
	const draws = 20000
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ a, b float64 }{
		{1, 1}, {2, 5}, {1, 1e6}, {9500, 501}, {950000, 50001},
	} {
		var sum, sum2 float64
		for range draws {
			x := beta(rng, tc.a, tc.b)
			sum += x
			sum2 += x * x
		}
		mean := sum / draws
		variance := sum2/draws - mean*mean
		n := tc.a + tc.b
		wantMean, wantVar := tc.a/n, tc.a*tc.b/(n*n*(n+1))
		// 5 standard errors for the mean, 10% for the variance (its
		// standard error is some 1.5% here).
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/draws) || math.Abs(variance/wantVar-1) > 0.1 {
			t.Errorf("Beta(%g, %g): mean %g, variance %g; want %g, %g", tc.a, tc.b, mean, variance, wantMean, wantVar)
		}
	}
}
