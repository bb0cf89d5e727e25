package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/analysistest"
	"github.com/replaykit/replaykit/internal/resultstest"
)

// Compare gives the same intervals whatever the order and cores: each
// name's resampling is seeded by the name.
func TestCompareIsDeterministic(t *testing.T) {
	base, now := analysistest.Aggregate(resultstest.Shifted(5000, 1, 1)), analysistest.Aggregate(resultstest.Shifted(5000, 2, 1.1))
	first := comparisonJSON(analysis.Compare(now, base))
	for range 5 {
		again := comparisonJSON(analysis.Compare(now, base))
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("two comparisons differ:\n%s\n%s", a, b)
		}
	}
}
