package correlate

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/replaykit/replaykit/trace"
)

// An answer's places from the cache are those a walk of it finds (with
// what remember asks of them: traitsOf),
// whatever came before: the same bytes under another Content-Type or
// Content-Encoding are walked anew; and the cache stays within its bounds.
func TestPlaceCacheIsTheWalk(t *testing.T) {
	f := NewFinder(Options{})
	walk := func(headers []trace.Header, raw []byte) []place {
		body, err := Decode(headers, raw)
		if err != nil {
			return nil
		}
		var out []place
		bodyPlaces(headers, body, func(p place) {
			p.traits, p.hash = f.traitsOf(&p)
			out = append(out, p)
		})
		return out
	}
	type answer struct {
		headers []trace.Header
		body    []byte
	}
	var answers []answer
	list := []byte(`{"items":[{"id":1,"token":"abcdefghijklmnopqrstuvwxyz"},{"id":2}]}`)
	for _, ct := range []string{"application/json", "text/html", ""} {
		for _, ce := range []string{"", "gzip", "identity"} {
			var hs []trace.Header
			if ct != "" {
				hs = append(hs, trace.Header{Name: "Content-Type", Value: ct})
			}
			if ce != "" {
				hs = append(hs, trace.Header{Name: "Content-Encoding", Value: ce})
			}
			answers = append(answers, answer{hs, list})
		}
	}
	for i := 0; i < 3*placeCacheEntries; i++ {
		n := i % 100
		if i > placeCacheEntries {
			n = i
		}
		answers = append(answers, answer{[]trace.Header{{Name: "Content-Type", Value: "application/json"}}, fmt.Appendf(nil, `{"id":%d,"owner":{"id":"%08d"}}`, n, n)})
	}
	for round := 0; round < 2; round++ {
		for i, a := range answers {
			got, want := f.answerPlaces(a.headers, a.body), walk(a.headers, a.body)
			if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
				t.Fatalf("round %d, answer %d: %v, want %v", round, i, got, want)
			}
			if f.bodies.n > placeCacheEntries || f.bodies.bytes > placeCacheBytes {
				t.Fatalf("the cache holds %d entries, %d bytes: over its bounds", f.bodies.n, f.bodies.bytes)
			}
		}
	}
}
