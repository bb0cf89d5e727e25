package signature

import (
	"testing"

	"github.com/replaykit/replaykit/trace"
)

func TestVolatileNames(t *testing.T) {
	for key, want := range map[string]bool{
		"id": true, "user_id": true, "userId": true, "ids": true, "project-id": true, "uuid": true, "request_uuid": true,
		"created_at": true, "updatedAt": true, "timestamp": true, "ts": true, "etag": true, "access_token": true, "refreshToken": true,
		"nonce": true, "expires": true, "date": true, "startTime": true,
		"status": false, "state": false, "name": false, "title": false, "version": false, "count": false, "kind": false,
		"video": false, "paid": false, "": false, "Identity": false, "android": false,
	} {
		if got := volatileName(key); got != want {
			t.Errorf("volatileName(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestVolatileText(t *testing.T) {
	for _, tt := range []struct {
		t    uint8
		text string
		want bool
	}{
		{typeString, "2026-12-01T10:00:00Z", true},
		{typeString, "2026-12-01", true},
		{typeString, "10:00:00", true},
		{typeString, "3b241101-e2bb-4255-8caf-4136c566a962", true},
		{typeString, "9f86d081884c7d659a2feaa0c55ad015", true},
		{typeString, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123", true},
		{typeString, "ok", false},
		{typeString, "in_progress", false},
		{typeString, "Task 12", false},
		{typeString, "a sentence with 2026 in it", false},
		{typeString, "deadbeef", false},
		{typeString, "abcdefabcdefabcdefab", false}, // hex letters, no digit: a word
		{typeNumber, "1764583200", true},
		{typeNumber, "1764583200123", true},
		{typeNumber, "1764583200.123", true},
		{typeNumber, "42", false},
		{typeNumber, "-3.5", false},
		{typeBool, "true", false},
	} {
		if got := volatileText(tt.t, []byte(tt.text)); got != tt.want {
			t.Errorf("volatileText(%s) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// A server's start time is the same in every recorded answer, and
// another in every live one: a volatile value, never a difference; a
// stable word that changed is one.
func TestVolatileValuesAreNotCompared(t *testing.T) {
	k := NewKey()
	json := []trace.Header{{Name: "Content-Type", Value: "application/json"}}
	var m Model
	rec := func(started, state string) Signature {
		return Of(k, json, []byte(`{"started":"`+started+`","booted_at":17,"state":"`+state+`","n":1}`), false)
	}
	for range MinStable {
		m.Learn(200, rec("2026-12-01T09:00:00Z", "ok"))
	}
	r := rec("2026-12-01T09:00:00Z", "ok")
	if d := m.Diff(200, r, 200, rec("2026-12-02T11:30:00Z", "ok")); d != "" {
		t.Errorf("another start time: %q", d)
	}
	if d := m.Diff(200, r, 200, rec("2026-12-01T09:00:00Z", "down")); d != "value $.state" {
		t.Errorf("another state: %q, want value $.state", d)
	}
	var leaf Leaf
	for _, l := range r.Leaves {
		if l.Path == "$.booted_at" {
			leaf = l
		}
	}
	if !leaf.Volatile {
		t.Errorf("$.booted_at (named *_at) not volatile: %+v", r.Leaves)
	}
}
