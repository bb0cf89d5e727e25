package report

import (
	"fmt"

	"github.com/replaykit/replaykit/analysis"
)

// skippedNote says how many of s's compared answers were compared by
// status alone, and why; "" when none was.
func skippedNote(s *analysis.Stats) string {
	if s.BodySkipped == 0 {
		return ""
	}
	return fmt.Sprintf("%s of them (%.1f%%) by status alone: comparing their bodies too would have taken more than a tenth of replay's CPU (replay --compare-all compares every one)",
		analysis.Thousands(s.BodySkipped), 100*ratio(s.BodySkipped, s.Compared))
}
