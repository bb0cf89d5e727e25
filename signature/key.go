package signature

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// Key keys the value hashes; it is kept in the trace's metadata so that
// replay hashes live values the same way.
type Key [16]byte

// NewKey returns a random key.
func NewKey() Key {
	var k Key
	rand.Read(k[:]) // never fails (crypto/rand, Go 1.24 and later)
	return k
}

// ParseKey reads a key as String writes it: 32 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil {
		return k, fmt.Errorf("signature key: %w", err)
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("signature key: %d bytes, want %d", len(b), len(k))
	}
	copy(k[:], b)
	return k, nil
}

// String is the key as 32 lower-case hex digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// halves are the key as SipHash takes it.
func (k Key) halves() (k0, k1 uint64) {
	return binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])
}

// sip is SipHash-2-4 (Aumasson and Bernstein, 2012) keyed with k0, k1, of
// the message t followed by b: t is the type of a value, b its text, so
// that the string "1" and the number 1 hash apart without a copy.
// SipHash is a keyed pseudo-random function made for short inputs, which
// JSON values mostly are; HMAC-SHA256 would cost several times more.
func sip(k0, k1 uint64, t byte, b []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	n := 1 + len(b)

	// The first block is t and up to 7 bytes of b; the last holds the
	// remaining bytes and the message length in its top byte.
	var tail [8]byte
	tail[0] = t
	head := copy(tail[1:], b)
	b = b[head:]
	if head == 7 {
		v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, binary.LittleEndian.Uint64(tail[:]))
		for ; len(b) >= 8; b = b[8:] {
			v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, binary.LittleEndian.Uint64(b))
		}
		tail = [8]byte{}
		copy(tail[:], b)
	}
	tail[7] = byte(n)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, binary.LittleEndian.Uint64(tail[:]))

	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

// sipBlock takes in one 8-byte block of the message (c = 2 rounds).
func sipBlock(v0, v1, v2, v3, m uint64) (uint64, uint64, uint64, uint64) {
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	return v0, v1, v2, v3
}
