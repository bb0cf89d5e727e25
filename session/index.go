package session

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"
)

// index is what a Source knows of each session without reading it, in
// order of the sessions' first requests. Its entries hold no pointer and
// the keys live in a few large byte arrays, so the collector never looks
// into it: a million sessions indexed as Info values (96 bytes and a key
// string each) made every collection mark about 130 MB, and on a load
// generator's one core that held the run for a few hundred milliseconds.
type index struct {
	entries []entry
	keys    [][]byte // arenas, appended to and never changed
}

// entry is one session: about 48 bytes beside its key.
type entry struct {
	first, last int64 // its first and last requests' times, Unix ns
	offset      int64 // its first row in the spilled file
	arena, at   uint32
	keyLen      uint32
	requests    uint32
	reads       uint32
}

// arenaBytes is the size of a key arena: keys longer than it get one of
// their own.
const arenaBytes = 1 << 20

// entryBytes is what an entry takes in memory.
const entryBytes = int64(unsafe.Sizeof(entry{}))

// add appends session in, whose first row in the spilled file is offset.
func (x *index) add(in Info, offset int64) error {
	if in.Requests > math.MaxUint32 {
		return fmt.Errorf("session %q holds %d requests: more than replay can index (%d)", in.Key, in.Requests, uint32(math.MaxUint32))
	}
	if len(in.Key) > math.MaxUint32 {
		return fmt.Errorf("a session key of %d bytes is longer than replay can index", len(in.Key))
	}
	n := len(x.keys)
	if n == 0 || len(x.keys[n-1])+len(in.Key) > cap(x.keys[n-1]) {
		x.keys = append(x.keys, make([]byte, 0, max(arenaBytes, len(in.Key))))
		n++
	}
	a := &x.keys[n-1]
	at := len(*a)
	*a = append(*a, in.Key...)
	x.entries = append(x.entries, entry{
		first: in.First.UnixNano(), last: in.Last.UnixNano(), offset: offset,
		arena: uint32(n - 1), at: uint32(at), keyLen: uint32(len(in.Key)),
		requests: uint32(in.Requests), reads: uint32(in.Reads),
	})
	return nil
}

// key is session i's key: a string over the arena, which no one changes.
func (x *index) key(i int) string {
	e := &x.entries[i]
	if e.keyLen == 0 {
		return ""
	}
	return unsafe.String(&x.keys[e.arena][e.at], int(e.keyLen))
}

// info describes session i.
func (x *index) info(i int) Info {
	e := &x.entries[i]
	return Info{
		Key: x.key(i), First: time.Unix(0, e.first).UTC(), Last: time.Unix(0, e.last).UTC(),
		Requests: int(e.requests), Reads: int(e.reads), Writes: int(e.requests - e.reads),
	}
}

// bytes is what the index holds.
func (x *index) bytes() int64 {
	n := int64(cap(x.entries)) * entryBytes
	for _, a := range x.keys {
		n += int64(cap(a))
	}
	return n
}

// search is the first session whose first request is at or after t
// (len when there is none).
func (x *index) search(t time.Time) int {
	ns := t.UnixNano()
	i, _ := slices.BinarySearchFunc(x.entries, ns, func(e entry, ns int64) int { return cmp.Compare(e.first, ns) })
	return i
}
