package proxyproto

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a version 2 header: signature, ver/cmd, family, length, body.
func v2(verCmd, fam byte, body string) string {
	n := len(body)
	return v2sig + string([]byte{verCmd, fam, byte(n >> 8), byte(n)}) + body
}

// tlv builds one version 2 TLV.
func tlv(typ byte, value string) string {
	return string([]byte{typ, byte(len(value) >> 8), byte(len(value))}) + value
}

const (
	// 192.0.2.1:56324 -> 192.0.2.11:443 as version 2 addresses.
	inet4 = "\xc0\x00\x02\x01" + "\xc0\x00\x02\x0b" + "\xdc\x04" + "\x01\xbb"
	// 2001:db8::1:56324 -> 2001:db8::2:443.
	inet6 = "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
		"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02" + "\xdc\x04" + "\x01\xbb"
	get = "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
	// HAProxy's header for 127.0.0.7:58598 -> 127.0.0.1:18192: a CRC32c
	// TLV (fdd3abe4) and a unique ID TLV ("127.0.0.7:58598_1796164651").
	haproxyV2 = "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x30" + "\x7f\x00\x00\x07\x7f\x00\x00\x01\xe4\xe6\x47\x10" +
		"\x03\x00\x04\xfd\xd3\xab\xe4" + "\x05\x00\x1a127.0.0.7:58598_1796164651"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParse(t *testing.T) {
	ffff := strings.Repeat("ffff:", 7) + "ffff"
	unix := strings.Repeat("\x00", 216)
	tests := []struct {
		name    string
		in      string
		want    Header
		err     error  // nil, ErrNeedMore, ErrNotProxy or ErrBad
		why     string // part of a bad header's message
		badSkip int    // Len of a bad header whose end is known
	}{
		// proxy-protocol.txt, section 2.1: its example and maximum lines.
		{name: "spec example", in: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + get,
			want: Header{Version: 1, Command: Proxy, Family: TCP4, Src: ap("192.168.0.1:56324"), Dst: ap("192.168.0.11:443"), Len: 47}},
		{name: "v1 longest TCP4", in: "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP4, Src: ap("255.255.255.255:65535"), Dst: ap("255.255.255.255:65535"), Len: 56}},
		{name: "v1 longest TCP6", in: "PROXY TCP6 " + ffff + " " + ffff + " 65535 65535\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP6, Src: ap("[" + ffff + "]:65535"), Dst: ap("[" + ffff + "]:65535"), Len: 104}},
		{name: "v1 unknown short", in: "PROXY UNKNOWN\r\n" + get,
			want: Header{Version: 1, Command: Proxy, Family: Unspec, Len: 15}},
		{name: "v1 unknown worst case", in: "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n",
			want: Header{Version: 1, Command: Proxy, Family: Unspec, Len: 107}},
		{name: "v1 load balancer", in: "PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP4, Src: ap("203.0.113.7:51234"), Dst: ap("10.0.0.5:80"), Len: 42}},
		{name: "v1 TCP6 compressed", in: "PROXY TCP6 2001:db8::1 ::1 0 8080\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP6, Src: ap("[2001:db8::1]:0"), Dst: ap("[::1]:8080"), Len: 35}},
		{name: "v1 TCP6 v4-mapped, as inet_ntop writes it", in: "PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.11 56324 443\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP6, Src: ap("[::ffff:192.0.2.1]:56324"), Dst: ap("[::ffff:192.0.2.11]:443"), Len: 57}},
		{name: "v1 TCP6 full, upper case", in: "PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 2001:db8::2 1 2\r\n",
			want: Header{Version: 1, Command: Proxy, Family: TCP6, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:2"), Len: 68}},

		{name: "v1 empty", in: "", err: ErrNeedMore},
		{name: "v1 P", in: "P", err: ErrNeedMore},
		{name: "v1 PROXY", in: "PROXY", err: ErrNeedMore},
		{name: "v1 half address", in: "PROXY TCP4 192.168.", err: ErrNeedMore},
		{name: "v1 CR without LF yet", in: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r", err: ErrNeedMore},

		{name: "GET", in: get, err: ErrNotProxy},
		{name: "POST", in: "POST /x HTTP/1.1\r\n", err: ErrNotProxy},
		{name: "PROPFIND", in: "PROPFIND / HTTP/1.1\r\n", err: ErrNotProxy},
		{name: "CRLF before a request", in: "\r\nGET / HTTP/1.1\r\n", err: ErrNotProxy},
		{name: "binary", in: "\x16\x03\x01\x02\x00", err: ErrNotProxy},

		{name: "v1 no space", in: "PROXYTCP4", err: ErrBad, why: "no space"},
		{name: "v1 LF alone", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET", err: ErrBad, why: "CR"},
		{name: "v1 CR alone", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET", err: ErrBad, why: "CR"},
		{name: "v1 binary byte", in: "PROXY TCP4 1.2.3.4\x00", err: ErrBad, why: "US-ASCII"},
		{name: "v1 no CRLF in 107 bytes", in: "PROXY UNKNOWN " + strings.Repeat("x", 100), err: ErrBad, why: "107"},
		{name: "v1 CR at byte 107", in: "PROXY UNKNOWN " + strings.Repeat("x", 92) + "\r\n", err: ErrBad, why: "107"},
		{name: "v1 UDP4", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", err: ErrBad, why: "protocol", badSkip: 32},
		{name: "v1 lower case", in: "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", err: ErrBad, why: "protocol", badSkip: 32},
		{name: "v1 missing port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", err: ErrBad, why: "fields", badSkip: 30},
		{name: "v1 extra field", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", err: ErrBad, why: "fields", badSkip: 34},
		{name: "v1 two spaces", in: "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", err: ErrBad, why: "fields", badSkip: 33},
		{name: "v1 trailing space", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", err: ErrBad, why: "fields", badSkip: 33},
		{name: "v1 octet 256", in: "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", err: ErrBad, why: "address", badSkip: 34},
		{name: "v1 octet heading zero", in: "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", err: ErrBad, why: "address", badSkip: 33},
		{name: "v1 TCP4 with IPv6", in: "PROXY TCP4 ::1 ::1 1 2\r\n", err: ErrBad, why: "address", badSkip: 24},
		{name: "v1 TCP6 with IPv4", in: "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", err: ErrBad, why: "address", badSkip: 32},
		{name: "v1 zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", err: ErrBad, why: "address", badSkip: 33},
		{name: "v1 IPv6 two ellipses", in: "PROXY TCP6 1::2::3 ::1 1 2\r\n", err: ErrBad, why: "address", badSkip: 28},
		{name: "v1 IPv6 five hex digits", in: "PROXY TCP6 12345::1 ::1 1 2\r\n", err: ErrBad, why: "address", badSkip: 29},
		{name: "v1 IPv6 too short", in: "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", err: ErrBad, why: "address", badSkip: 34},
		{name: "v1 port 65536", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", err: ErrBad, why: "port", badSkip: 36},
		{name: "v1 port heading zero", in: "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", err: ErrBad, why: "port", badSkip: 34},
		{name: "v1 port sign", in: "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", err: ErrBad, why: "port", badSkip: 34},

		// Section 2.2: the binary format.
		{name: "v2 TCP4", in: v2(0x21, 0x11, inet4) + get,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Src: ap("192.0.2.1:56324"), Dst: ap("192.0.2.11:443"), Len: 28}},
		{name: "v2 UDP4", in: v2(0x21, 0x12, inet4),
			want: Header{Version: 2, Command: Proxy, Family: UDP4, Src: ap("192.0.2.1:56324"), Dst: ap("192.0.2.11:443"), Len: 28}},
		{name: "v2 TCP6", in: v2(0x21, 0x21, inet6),
			want: Header{Version: 2, Command: Proxy, Family: TCP6, Src: ap("[2001:db8::1]:56324"), Dst: ap("[2001:db8::2]:443"), Len: 52}},
		{name: "v2 LOCAL", in: v2(0x20, 0x00, "") + get,
			want: Header{Version: 2, Command: Local, Family: Unspec, Len: 16}},
		{name: "v2 LOCAL with addresses ignored", in: v2(0x20, 0x11, inet4),
			want: Header{Version: 2, Command: Local, Family: Unspec, Len: 28}},
		{name: "v2 UNSPEC", in: v2(0x21, 0x00, ""),
			want: Header{Version: 2, Command: Proxy, Family: Unspec, Len: 16}},
		{name: "v2 INET without transport", in: v2(0x21, 0x10, inet4),
			want: Header{Version: 2, Command: Proxy, Family: Unspec, Len: 28}},
		{name: "v2 UNIX", in: v2(0x21, 0x31, unix),
			want: Header{Version: 2, Command: Proxy, Family: UnixStream, Len: 232}},
		{name: "v2 TLVs", in: v2(0x21, 0x11, inet4+tlv(0x02, "example.com")+tlv(0x04, "")+tlv(0xea, "\x01vpce-08d2bf15fac5001c9")) + get,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Src: ap("192.0.2.1:56324"), Dst: ap("192.0.2.11:443"), Len: 28 + 14 + 3 + 26, TLVBytes: 14 + 3 + 26}},
		{name: "v2 longest", in: v2(0x21, 0x11, inet4+tlv(0x04, strings.Repeat("\x00", MaxV2-16-12-3))),
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Src: ap("192.0.2.1:56324"), Dst: ap("192.0.2.11:443"), Len: MaxV2, TLVBytes: MaxV2 - 28}},

		// HAProxy 2.6's send-proxy-v2 with proxy-v2-options crc32c,unique-id,
		// from testdata/proxyproto/v2.pcap.
		{name: "v2 HAProxy with CRC32c and unique ID", in: haproxyV2 + get,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Src: ap("127.0.0.7:58598"), Dst: ap("127.0.0.1:18192"), Len: 64, TLVBytes: 36}},
		{name: "v2 HAProxy's, a byte of its unique ID changed", in: strings.Replace(haproxyV2, "58598", "58599", 1),
			err: ErrBad, why: "CRC32c", badSkip: 64},
		{name: "v2 HAProxy's, its CRC changed", in: strings.Replace(haproxyV2, "\xfd\xd3", "\xfd\xd4", 1),
			err: ErrBad, why: "CRC32c", badSkip: 64},

		{name: "v2 CR", in: "\r", err: ErrNeedMore},
		{name: "v2 signature", in: v2sig, err: ErrNeedMore},
		{name: "v2 half addresses", in: v2(0x21, 0x11, inet4)[:20], err: ErrNeedMore},
		{name: "v2 half TLV", in: v2(0x21, 0x11, inet4+tlv(0x02, "example.com"))[:30], err: ErrNeedMore},

		{name: "v2 not quite the signature", in: "\r\n\r\n\x00\r\nQUIT\r", err: ErrNotProxy},
		{name: "v2 version 1", in: v2(0x11, 0x11, inet4), err: ErrBad, why: "version is not 2"},
		{name: "v2 version 3", in: v2(0x31, 0x11, inet4), err: ErrBad, why: "version is not 2"},
		{name: "v2 command 2", in: v2(0x22, 0x11, inet4), err: ErrBad, why: "command"},
		{name: "v2 family 4", in: v2(0x21, 0x41, inet4), err: ErrBad, why: "family"},
		{name: "v2 transport 3", in: v2(0x21, 0x13, inet4), err: ErrBad, why: "family"},
		{name: "v2 too long", in: v2(0x21, 0x11, inet4+tlv(0x04, strings.Repeat("\x00", MaxV2-16-12-2))), err: ErrBad, why: "longer"},
		{name: "v2 length field too long", in: v2sig + "\x21\x11\xff\xff", err: ErrBad, why: "longer"},
		{name: "v2 short addresses", in: v2(0x21, 0x11, inet4[:8]), err: ErrBad, why: "too short", badSkip: 24},
		{name: "v2 short IPv6 addresses", in: v2(0x21, 0x21, inet4), err: ErrBad, why: "too short", badSkip: 28},
		{name: "v2 TLV overruns", in: v2(0x21, 0x11, inet4+tlv(0x02, "example.com")[:10]), err: ErrBad, why: "TLV", badSkip: 38},
		{name: "v2 TLV cut in its head", in: v2(0x21, 0x11, inet4+"\x02\x00"), err: ErrBad, why: "TLV", badSkip: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got != tt.want {
					t.Fatalf("Parse = %+v\nwant    %+v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse error = %v, want %v (header %+v)", err, tt.err, got)
			}
			if tt.why != "" && !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not say %q", err, tt.why)
			}
			if got.Len != tt.badSkip {
				t.Errorf("Len = %d, want %d", got.Len, tt.badSkip)
			}
		})
	}
}

func TestSource(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when the header carries no client address
	}{
		{"PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\n", "203.0.113.7:51234"},
		{"PROXY TCP6 2001:db8::7 2001:db8::5 51234 80\r\n", "[2001:db8::7]:51234"},
		{"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", ""},
		{v2(0x21, 0x11, inet4), "192.0.2.1:56324"},
		{v2(0x21, 0x22, inet6), "[2001:db8::1]:56324"},
		{v2(0x20, 0x11, inet4), ""}, // LOCAL: a health check
		{v2(0x21, 0x00, ""), ""},
		{v2(0x21, 0x31, strings.Repeat("\x00", 216)), ""},
	}
	for _, tt := range tests {
		h, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		src, ok := h.Source()
		got := ""
		if ok {
			got = src.String()
		}
		if got != tt.want {
			t.Errorf("Parse(%q).Source() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInPieces: a header cut anywhere needs more bytes, then parses as a
// whole one does.
func TestInPieces(t *testing.T) {
	for _, in := range []string{
		"PROXY TCP6 2001:db8::1 ::1 0 8080\r\n" + get,
		v2(0x21, 0x11, inet4+tlv(0x02, "example.com")) + get,
	} {
		whole, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < whole.Len; k++ {
			if _, err := Parse([]byte(in[:k])); err != ErrNeedMore {
				t.Fatalf("Parse(%q) = %v, want ErrNeedMore", in[:k], err)
			}
		}
		for k := whole.Len; k <= len(in); k++ {
			if h, err := Parse([]byte(in[:k])); err != nil || h != whole {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", in[:k], h, err, whole)
			}
		}
	}
}

// TestNoAllocations: parsing costs no allocation, whatever the outcome.
func TestNoAllocations(t *testing.T) {
	for _, in := range []string{
		"PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\n" + get,
		"PROXY TCP6 2001:db8::1 ::1 0 8080\r\n",
		v2(0x21, 0x21, inet6+tlv(0x02, "example.com")),
		haproxyV2,
		get,
		"PROXY TCP4 1.2.3.4",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { _, _ = Parse(b) }); n != 0 {
			t.Errorf("Parse(%q): %v allocations", in, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"v1-tcp4", "PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\n" + get},
		{"v1-tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 51234 80\r\n" + get},
		{"v2-tcp4-tlv", v2(0x21, 0x11, inet4+tlv(0xea, "\x01vpce-08d2bf15fac5001c9")) + get},
		{"v2-haproxy-crc32c", haproxyV2 + get},
		{"not-proxy", get},
	} {
		in := []byte(bc.in)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(in)
			}
		})
	}
}
