package record

import (
	"bytes"
	"hash/maphash"

	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
)

// sigCache remembers the signatures of recent answers by their bytes: an
// answer the server gives again and again (a list that did not change, a
// static file, the same error) is scanned once. A signature depends on
// the answer's Content-Type and Content-Encoding, its body and whether
// the body was cut, and the recording's key: an entry is taken only when
// all of them are the same, bytes compared (a hash alone could collide).
// Bounded (sigCacheEntries, sigCacheBytes of bodies and signatures
// kept): emptied when full. Not safe for concurrent use.
type sigCache struct {
	seed    maphash.Seed
	entries map[uint64][]sigEntry
	n       int
	bytes   int
	// hits and misses count the lookups, for tests and profiles.
	hits, misses int64
}

type sigEntry struct {
	ct, ce string
	cut    bool
	body   []byte // a copy
	sig    trace.Signature
}

// Bounds of a sigCache: bodies over sigCacheBody are signed every time.
const (
	sigCacheEntries = 1024
	sigCacheBytes   = 4 << 20
	sigCacheBody    = 64 << 10
)

func newSigCache() *sigCache {
	return &sigCache{seed: maphash.MakeSeed(), entries: map[uint64][]sigEntry{}}
}

// of is signature.Of(key, resp's headers and body, cut), from the cache
// when an earlier answer was the same.
func (c *sigCache) of(key signature.Key, resp *observed.Message) trace.Signature {
	cut := resp.BodyTruncated()
	if len(resp.Body) == 0 || len(resp.Body) > sigCacheBody {
		return signature.Of(key, resp.Headers, resp.Body, cut)
	}
	ct, _ := observed.HeaderValue(resp.Headers, "Content-Type")
	ce, _ := observed.HeaderValue(resp.Headers, "Content-Encoding")
	h := maphash.Bytes(c.seed, resp.Body)
	for _, e := range c.entries[h] {
		if e.cut == cut && e.ct == ct && e.ce == ce && bytes.Equal(e.body, resp.Body) {
			c.hits++
			return e.sig
		}
	}
	c.misses++
	sig := signature.Of(key, resp.Headers, resp.Body, cut)
	size := len(resp.Body) + len(ct) + len(ce) + sigLeafBytes*len(sig.Leaves)
	if c.n >= sigCacheEntries || c.bytes+size > sigCacheBytes {
		clear(c.entries)
		c.n, c.bytes = 0, 0
	}
	c.entries[h] = append(c.entries[h], sigEntry{ct: ct, ce: ce, cut: cut, body: bytes.Clone(resp.Body), sig: sig})
	c.n++
	c.bytes += size
	return sig
}

// sigLeafBytes is about what a signature's leaf holds (its path, types
// and hash), for the cache's bound.
const sigLeafBytes = 96
