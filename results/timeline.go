package results

import (
	"encoding/json"
	"fmt"
	"time"
)

// Timeline is what a run of the recorded scenario replays, kept in its
// results file's footer (MetaTimeline) so that a report can put the
// recorded arrivals beside the replayed ones.
type Timeline struct {
	// Start is the run's start, from which the seconds count.
	Start time.Time `json:"start"`
	// Step is the width of one count, in seconds (1 unless the run is too
	// long for a count a second).
	Step int `json:"step_s"`
	// Recorded counts, for each Step of the run, the recorded requests
	// that fall in it once the trace's clock is divided by Speed (the
	// window's, looped when the run loops), before amplification: the
	// same in every shard.
	Recorded []int64 `json:"recorded"`
	// Amplify and Speed are the run's --amplify and --speed: the run
	// means to send Recorded times Amplify, all shards together.
	Amplify float64 `json:"amplify"`
	Speed   float64 `json:"speed"`
}

// MaxTimelineSteps bounds the counts a Timeline holds: a longer run
// counts wider steps.
const MaxTimelineSteps = 20000

// Encode is t as the footer holds it.
func (t *Timeline) Encode() string {
	b, _ := json.Marshal(t) // plain numbers and a time: cannot fail
	return string(b)
}

// ParseTimeline reads a footer's MetaTimeline value.
func ParseTimeline(s string) (*Timeline, error) {
	var t Timeline
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, fmt.Errorf("the results file's %s is damaged: %w", MetaTimeline, err)
	}
	if t.Step <= 0 || len(t.Recorded) > MaxTimelineSteps || t.Amplify <= 0 || t.Speed <= 0 {
		return nil, fmt.Errorf("the results file's %s is damaged: step %d s, %d counts, amplify %g, speed %g", MetaTimeline, t.Step, len(t.Recorded), t.Amplify, t.Speed)
	}
	return &t, nil
}
