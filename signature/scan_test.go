package signature

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// special must find every quote, backslash and control byte, in any of
// the eight places, whatever the other bytes are.
func TestSpecial(t *testing.T) {
	slow := func(w uint64) bool {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		for _, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return true
			}
		}
		return false
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		w := r.Uint64()
		if r.IntN(2) == 0 {
			// Bytes from the edges: control characters, quote, backslash, UTF-8.
			edges := []byte{0, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', 0x7f, 0x80, 0xa2, 0xdc, 0xff}
			var b [8]byte
			for i := range b {
				b[i] = edges[r.IntN(len(edges))]
			}
			w = binary.LittleEndian.Uint64(b[:])
		}
		if special(w) != slow(w) {
			t.Fatalf("special(%#016x) = %v", w, special(w))
		}
	}
}
