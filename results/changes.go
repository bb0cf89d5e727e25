package results

import (
	"encoding/json"
	"fmt"
	"time"
)

// Change is a change made to a run while it ran (replay.Control): the
// virtual users of the closed model, or the rate of the open model.
// A run's changes are kept in its results file's footer (MetaChanges).
type Change struct {
	// At is when the change took effect, UTC.
	At time.Time `json:"at"`
	// What was changed: ChangeUsers or ChangeRate.
	What string `json:"what"`
	// Value is what it was set to: the virtual users wanted from then
	// on (all shards together, as --scale), or the open model's requests
	// a second.
	Value float64 `json:"value"`
}

// What a Change changes.
const (
	ChangeUsers = "users"
	ChangeRate  = "rate"
)

// MetaChanges are the changes made to a run while it ran: a JSON array
// of Change, in order.
const MetaChanges = "replaykit.changes"

// EncodeChanges is the footer value of a run's changes.
func EncodeChanges(cs []Change) string {
	b, _ := json.Marshal(cs) // times and numbers: it cannot fail
	return string(b)
}

// DecodeChanges reads a footer value of EncodeChanges.
func DecodeChanges(s string) ([]Change, error) {
	var cs []Change
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, fmt.Errorf("the results file's %s is not a list of changes: %w", MetaChanges, err)
	}
	return cs, nil
}
