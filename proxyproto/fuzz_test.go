package proxyproto

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzParse: any bytes give one of the four answers without a panic, and
// the answers agree with each other as bytes arrive: a prefix of the input
// either needs more bytes or gets the answer the whole input gets.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"))
	f.Add([]byte(v2(0x21, 0x11, inet4+tlv(0x02, "example.com")) + get))
	f.Add([]byte(v2(0x21, 0x21, inet6)))
	f.Add([]byte(v2(0x20, 0x00, "")))
	f.Add([]byte(v2(0x21, 0x31, string(make([]byte, 216)))))
	f.Add([]byte(v2(0x21, 0x11, inet4+"\x02\x00")))
	f.Add([]byte(get))
	f.Add([]byte(haproxyV2))
	for _, a := range []string{"192.0.2.1", "01.2.3.4", "::ffff:192.0.2.1", "1:2:3:4:5:6:7::", "1::2:3:4:5:6:7:8", "fe80::1%lo", "2001:DB8::a:b"} {
		f.Add([]byte(a))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAddr(t, b)
		h, err := Parse(b)
		switch {
		case err == nil:
			if h.Len < 8 || h.Len > len(b) || h.Len > MaxLen || (h.Version == 1 && h.Len > MaxV1) {
				t.Fatalf("Len %d of %d bytes", h.Len, len(b))
			}
			if h.TLVBytes > h.Len {
				t.Fatalf("TLVBytes %d > Len %d", h.TLVBytes, h.Len)
			}
			if again, err := Parse(b[:h.Len]); err != nil || again != h {
				t.Fatalf("the header alone: %+v, %v; with what follows: %+v", again, err, h)
			}
		case errors.Is(err, ErrNeedMore):
			if len(b) >= MaxLen {
				t.Fatalf("needs more after %d bytes", len(b))
			}
		case errors.Is(err, ErrBad):
			if h.Len > len(b) {
				t.Fatalf("bad header of %d bytes in %d", h.Len, len(b))
			}
		case errors.Is(err, ErrNotProxy):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		// Every shorter prefix, up to the header's end (or a v1 line's
		// worth): more is needed, or the answer is already the same.
		for k := 0; k < min(len(b), max(h.Len, MaxV1+1)); k++ {
			hk, errk := Parse(b[:k])
			if errk == ErrNeedMore {
				if h.Len > 0 && k >= h.Len {
					t.Fatalf("needs more after %d bytes of a %d-byte header", k, h.Len)
				}
				continue
			}
			if class(errk) != class(err) || (err == nil && hk != h) {
				t.Fatalf("%d bytes: %+v, %v; %d bytes: %+v, %v", k, hk, errk, len(b), h, err)
			}
		}
	})
}

// sameAddr: the address parser agrees with netip.ParseAddr.
func sameAddr(t *testing.T, b []byte) {
	if len(b) > 45 {
		return
	}
	want, err := netip.ParseAddr(string(b))
	for _, v6 := range []bool{false, true} {
		got, ok := parseAddr(b, v6)
		wantOK := err == nil && want.Is6() == v6 && want.Zone() == ""
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("parseAddr(%q, v6=%v) = %v, %v; netip says %v, %v", b, v6, got, ok, want, err)
		}
	}
}

func class(err error) error {
	if errors.Is(err, ErrBad) {
		return ErrBad
	}
	return err
}
