package results

import (
	"strings"
	"testing"
	"time"
)

// A run's changes go through its footer as they were made.
func TestChanges(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name    string
		changes []Change
	}{
		{"users", []Change{{At: at, What: ChangeUsers, Value: 20}, {At: at.Add(time.Second), What: ChangeUsers, Value: 0}}},
		{"rate", []Change{{At: at, What: ChangeRate, Value: 12.5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeChanges(EncodeChanges(tt.changes))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.changes) {
				t.Fatalf("%+v, want %+v", got, tt.changes)
			}
			for i := range got {
				if !got[i].At.Equal(tt.changes[i].At) || got[i].What != tt.changes[i].What || got[i].Value != tt.changes[i].Value {
					t.Errorf("change %d: %+v, want %+v", i, got[i], tt.changes[i])
				}
			}
		})
	}
	if _, err := DecodeChanges("users 20"); err == nil || !strings.Contains(err.Error(), MetaChanges) {
		t.Errorf("a bad footer value: %v", err)
	}
}
