package record

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/signature"
)

// A signature from the cache is the one signature.Of makes, whatever
// the answers that came before: the same body under another Content-Type
// or Content-Encoding, cut or whole, is signed anew; and the cache stays
// within its bounds.
func TestSigCacheIsSignatureOf(t *testing.T) {
	var key signature.Key
	copy(key[:], "a recording's signature key")
	c := newSigCache()
	list := `{"items":[{"id":1,"title":"a"},{"id":2,"title":"b"}]}`
	var answers []*observed.Message
	for _, ct := range []string{"application/json", "text/plain", ""} {
		for _, ce := range []string{"", "identity", "gzip"} {
			for _, size := range []int64{int64(len(list)), int64(len(list)) + 10} { // whole, then cut
				m := &observed.Message{Body: []byte(list), BodySize: size}
				if ct != "" {
					m.Headers = append(m.Headers, observed.Header{Name: "Content-Type", Value: ct})
				}
				if ce != "" {
					m.Headers = append(m.Headers, observed.Header{Name: "Content-Encoding", Value: ce})
				}
				answers = append(answers, m)
			}
		}
	}
	for i := 0; i < 3*sigCacheEntries; i++ { // answers that come again, then more distinct ones than the cache holds
		n := i % 100
		if i > sigCacheEntries {
			n = i
		}
		body := fmt.Sprintf(`{"id":%d,"tags":["x","y"],"owner":{"id":%d}}`, n, n)
		answers = append(answers, &observed.Message{Headers: []observed.Header{{Name: "Content-Type", Value: "application/json"}},
			Body: []byte(body), BodySize: int64(len(body))})
	}
	for round := 0; round < 2; round++ {
		for i, m := range answers {
			want := signature.Of(key, m.Headers, m.Body, m.BodyTruncated())
			if got := c.of(key, m); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, answer %d: %+v from the cache, want %+v", round, i, got, want)
			}
			if c.n > sigCacheEntries || c.bytes > sigCacheBytes {
				t.Fatalf("the cache holds %d entries, %d bytes: over its bounds", c.n, c.bytes)
			}
		}
	}
	if c.hits == 0 {
		t.Error("no answer was taken from the cache")
	}
}
