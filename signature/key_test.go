package signature

import (
	"encoding/binary"
	"testing"
)

func TestKeyString(t *testing.T) {
	k := NewKey()
	if k == (Key{}) {
		t.Fatal("NewKey is all zeros")
	}
	s := k.String()
	if len(s) != 32 {
		t.Fatalf("String is %q, want 32 hex digits", s)
	}
	back, err := ParseKey(s)
	if err != nil || back != k {
		t.Fatalf("ParseKey(%q) = %v, %v; want %v", s, back, err, k)
	}
	for _, bad := range []string{"", "00", "zz0102030405060708090a0b0c0d0e0f", "000102030405060708090a0b0c0d0e0f00"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) took it", bad)
		}
	}
}

// The reference vectors of the SipHash paper (key 00 01 .. 0f, message
// 00 01 .. n-1): sip takes the first message byte apart.
func TestSipVectors(t *testing.T) {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	k0, k1 := k.halves()
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, c := range []struct {
		n    int
		want uint64
	}{
		{1, binary.LittleEndian.Uint64([]byte{0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74})},
		{15, 0xa129ca6149be45e5}, // the paper's worked example
	} {
		if got := sip(k0, k1, msg[0], msg[1:c.n]); got != c.want {
			t.Errorf("SipHash of %d bytes = %#x, want %#x", c.n, got, c.want)
		}
	}
}

// sipPlain is SipHash-2-4 written the plain way, over one message: sip
// must agree with it at every length, across the block boundaries.
func sipPlain(k0, k1 uint64, m []byte) uint64 {
	v := [4]uint64{k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573}
	padded := make([]byte, (len(m)/8+1)*8)
	copy(padded, m)
	padded[len(padded)-1] = byte(len(m))
	for i := 0; i < len(padded); i += 8 {
		w := binary.LittleEndian.Uint64(padded[i:])
		v[3] ^= w
		v[0], v[1], v[2], v[3] = sipRound(v[0], v[1], v[2], v[3])
		v[0], v[1], v[2], v[3] = sipRound(v[0], v[1], v[2], v[3])
		v[0] ^= w
	}
	v[2] ^= 0xff
	for range 4 {
		v[0], v[1], v[2], v[3] = sipRound(v[0], v[1], v[2], v[3])
	}
	return v[0] ^ v[1] ^ v[2] ^ v[3]
}

func TestSipLengths(t *testing.T) {
	k0, k1 := uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908)
	if got := sipPlain(k0, k1, nil); got != 0x726fdb47dd0e0e31 {
		t.Fatalf("plain SipHash of nothing = %#x, want the paper's 0x726fdb47dd0e0e31", got)
	}
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for n := 1; n <= len(msg); n++ {
		if got, want := sip(k0, k1, msg[0], msg[1:n]), sipPlain(k0, k1, msg[:n]); got != want {
			t.Fatalf("SipHash of %d bytes = %#x, want %#x", n, got, want)
		}
	}
}
