package analysis

import (
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/resultstest"
)

// The time some run was running is the union of their spans.
func TestActiveTime(t *testing.T) {
	at := func(s, e int) RunSpan {
		return RunSpan{Start: resultstest.T0.Add(time.Duration(s) * time.Second), End: resultstest.T0.Add(time.Duration(e) * time.Second)}
	}
	for _, tc := range []struct {
		spans []RunSpan
		want  int
	}{
		{nil, 0},
		{[]RunSpan{at(0, 10)}, 10},
		{[]RunSpan{at(100, 110), at(0, 10)}, 20},
		{[]RunSpan{at(0, 10), at(5, 20), at(6, 7), at(30, 31)}, 21},
	} {
		if got := activeTime(tc.spans); got != time.Duration(tc.want)*time.Second {
			t.Errorf("%v: %v, want %ds", tc.spans, got, tc.want)
		}
	}
}
