package correlate

import (
	"bytes"
	"hash/maphash"

	"github.com/replaykit/replaykit/trace"
)

// placeCache remembers the places of recent answers' bodies by their
// bytes: an answer the server gives again and again (a list that did not
// change) is walked once. A body's places depend on its Content-Type,
// its Content-Encoding and its bytes: an entry is taken only when all
// three are the same, bytes compared (a hash alone could collide).
// Bounded (placeCacheEntries, placeCacheBytes of bodies and places):
// emptied when full. Bodies that could not be decoded are not kept.
type placeCache struct {
	seed    maphash.Seed
	entries map[uint64][]placeEntry
	n       int
	bytes   int
}

type placeEntry struct {
	ct, ce string
	body   []byte // a copy
	places []place
}

// Bounds of a placeCache: bodies over placeCacheBody are walked every
// time.
const (
	placeCacheEntries = 1024
	placeCacheBytes   = 8 << 20
	placeCacheBody    = 64 << 10
)

func newPlaceCache() placeCache {
	return placeCache{seed: maphash.MakeSeed(), entries: map[uint64][]placeEntry{}}
}

// get returns the places of an answer seen before, and the key to put
// them under when not.
func (c *placeCache) get(headers []trace.Header, body []byte) (places []place, h uint64, ok bool) {
	if len(body) > placeCacheBody {
		return nil, 0, false
	}
	ct, _ := trace.HeaderValue(headers, "Content-Type")
	ce, _ := trace.HeaderValue(headers, "Content-Encoding")
	h = maphash.Bytes(c.seed, body)
	for _, e := range c.entries[h] {
		if e.ct == ct && e.ce == ce && bytes.Equal(e.body, body) {
			return e.places, h, true
		}
	}
	return nil, h, false
}

// put keeps the places of an answer that get did not have.
func (c *placeCache) put(h uint64, headers []trace.Header, body []byte, places []place) {
	if len(body) > placeCacheBody {
		return
	}
	ct, _ := trace.HeaderValue(headers, "Content-Type")
	ce, _ := trace.HeaderValue(headers, "Content-Encoding")
	size := len(body) + len(ct) + len(ce)
	for i := range places {
		size += 64 + len(places[i].pos) + len(places[i].name) + len(places[i].value)
	}
	if c.n >= placeCacheEntries || c.bytes+size > placeCacheBytes {
		clear(c.entries)
		c.n, c.bytes = 0, 0
	}
	c.entries[h] = append(c.entries[h], placeEntry{ct: ct, ce: ce, body: bytes.Clone(body), places: places})
	c.n++
	c.bytes += size
}
