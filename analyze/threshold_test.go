package analyze

import (
	"strings"
	"testing"

	"github.com/replaykit/replaykit/analysis"
)

// The same threshold given twice, or a default given again in other
// words, is checked once.
func TestThresholdGivenTwice(t *testing.T) {
	ths, err := Config{Thresholds: []string{"p99<1s", "p99 < 1000ms", "p95<2s", "name=/x:p99<1s"}}.Check()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, th := range ths {
		got = append(got, th.Expr)
	}
	want := append(append([]string{}, analysis.DefaultThresholds...), "p99<1s", "name=/x:p99<1s")
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("checked %q, want %q", got, want)
	}
}
