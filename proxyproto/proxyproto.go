// Package proxyproto reads the PROXY protocol header (HAProxy's
// proxy-protocol.txt, versions 1 and 2) that load balancers such as AWS
// NLB, HAProxy (send-proxy, send-proxy-v2) and many ingresses put before a
// connection's own bytes, to tell the server who the client really was.
//
// Parse looks at the first bytes of a connection's client side, which may
// have arrived only in part: it says whether they hold a whole header (and
// how long it is), need more bytes, are no PROXY header at all, or are a
// bad one. It keeps no state and allocates nothing, so a caller that got
// ErrNeedMore calls it again on the longer prefix.
package proxyproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
)

const (
	// MaxV1 is the longest version 1 header, CRLF included: the spec's
	// worst case ("PROXY UNKNOWN" with two full IPv6 addresses and ports).
	MaxV1 = 107
	// MaxV2 is the longest version 2 header accepted, in bytes: the 16 fixed
	// bytes and up to 4080 bytes of addresses and TLVs. The length field
	// allows 65,535; real senders send a few dozen bytes of TLVs (AWS NLB's
	// VPC endpoint, HAProxy's SSL details), and a caller holding a header
	// that came in pieces needs a bound.
	MaxV2 = 4096
	// MaxLen is the most bytes Parse asks for before deciding.
	MaxLen = MaxV2
)

// Errors Parse returns. A bad header's error wraps ErrBad and says what
// was wrong with it.
var (
	// ErrNeedMore says the bytes are the start of a header: call again with
	// more of them.
	ErrNeedMore = errors.New("proxyproto: incomplete PROXY protocol header: need more bytes")
	// ErrNotProxy says the bytes do not start with a PROXY protocol header.
	ErrNotProxy = errors.New("proxyproto: not a PROXY protocol header")
	// ErrBad says the bytes start like a PROXY protocol header but break
	// its rules.
	ErrBad = errors.New("proxyproto: bad PROXY protocol header")
)

// Made once: a bad header costs no allocation either.
var (
	errV1Space     = bad("version 1: no space after PROXY")
	errV1Char      = bad("version 1: a byte that is not printable US-ASCII before the CRLF")
	errV1CR        = bad("version 1: a CR not followed by LF, or an LF without a CR")
	errV1Long      = bad("version 1: no CRLF in the first 107 bytes")
	errV1Proto     = bad("version 1: protocol is not TCP4, TCP6 or UNKNOWN")
	errV1Fields    = bad("version 1: not 4 fields separated by single spaces after the protocol")
	errV1Addr      = bad("version 1: an address is not a canonical address of the protocol's family")
	errV1Port      = bad("version 1: a port is not a decimal number in 0..65535 without heading zeroes")
	errV2Version   = bad("version 2: version is not 2")
	errV2Command   = bad("version 2: command is not LOCAL or PROXY")
	errV2Family    = bad("version 2: unknown address family or transport protocol")
	errV2Long      = bad(fmt.Sprintf("version 2: longer than %d bytes", MaxV2))
	errV2AddrShort = bad("version 2: length too short for the family's addresses")
	errV2TLV       = bad("version 2: a TLV runs past the end of the header")
	errV2CRC       = bad("version 2: the CRC32c TLV does not match the header")
)

func bad(why string) error { return fmt.Errorf("%w: %s", ErrBad, why) }

// Command is what the sender says the connection is.
type Command uint8

const (
	// Local is a connection the proxy made on its own (a health check):
	// its endpoints are the connection's own.
	Local Command = 0
	// Proxy is a connection relayed for a client: the header carries the
	// client's addresses. Every version 1 header is a Proxy.
	Proxy Command = 1
)

func (c Command) String() string {
	if c == Local {
		return "LOCAL"
	}
	return "PROXY"
}

// Family is the address family and transport protocol the header names,
// with version 2's byte values (address family in the high 4 bits,
// transport in the low 4).
type Family uint8

const (
	// Unspec carries no addresses: version 1's UNKNOWN, or version 2's
	// AF_UNSPEC (and AF_INET or AF_INET6 with no transport).
	Unspec     Family = 0x00
	TCP4       Family = 0x11
	UDP4       Family = 0x12
	TCP6       Family = 0x21
	UDP6       Family = 0x22
	UnixStream Family = 0x31
	UnixDgram  Family = 0x32
)

func (f Family) String() string {
	switch f {
	case TCP4:
		return "TCP4"
	case UDP4:
		return "UDP4"
	case TCP6:
		return "TCP6"
	case UDP6:
		return "UDP6"
	case UnixStream:
		return "UNIX_STREAM"
	case UnixDgram:
		return "UNIX_DGRAM"
	}
	return fmt.Sprintf("UNSPEC(0x%02x)", uint8(f))
}

// inet says whether f carries IP addresses and ports.
func (f Family) inet() bool { return f == TCP4 || f == UDP4 || f == TCP6 || f == UDP6 }

// Header is what a PROXY protocol header says.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Command is Local or Proxy.
	Command Command
	// Family is the address family and transport of the relayed connection.
	Family Family
	// Src and Dst are the relayed connection's client and server address
	// and port; zero unless Source reports them.
	Src, Dst netip.AddrPort
	// Len is the header's length in bytes, TLVs included: the connection's
	// own bytes start there.
	Len int
	// TLVBytes counts the bytes of version 2 TLVs, which are skipped.
	TLVBytes int
}

// Source returns the client address the header carries, and whether it
// carries one: LOCAL, UNKNOWN, AF_UNSPEC and AF_UNIX headers do not, and
// the connection's own addresses stand.
func (h *Header) Source() (netip.AddrPort, bool) {
	if h.Command != Proxy || !h.Family.inet() {
		return netip.AddrPort{}, false
	}
	return h.Src, true
}

// v2sig is version 2's 12-byte signature.
const v2sig = "\r\n\r\n\x00\r\nQUIT\n"

// Parse reads the PROXY protocol header at the start of b. It returns the
// header, whose Len says where the connection's own bytes start, or one of
// ErrNeedMore (b is a header's start, shorter than MaxLen), ErrNotProxy, or
// an error wrapping ErrBad. A bad header whose end is known still has Len
// set, so a caller may skip it.
func Parse(b []byte) (Header, error) {
	if len(b) == 0 {
		return Header{}, ErrNeedMore
	}
	switch b[0] {
	case 'P':
		return parseV1(b)
	case '\r':
		return parseV2(b)
	}
	return Header{}, ErrNotProxy
}

// prefix says whether b starts with s, or with as much of s as it holds.
func prefix(b []byte, s string) bool {
	n := min(len(b), len(s))
	return string(b[:n]) == s[:n]
}

func parseV1(b []byte) (Header, error) {
	if !prefix(b, "PROXY") {
		return Header{}, ErrNotProxy
	}
	if len(b) < 6 {
		return Header{}, ErrNeedMore
	}
	if b[5] != ' ' {
		return Header{}, errV1Space
	}
	// Find the CRLF, refusing what cannot be in a header as soon as it is
	// seen rather than waiting for 107 bytes.
	end := -1
	for i := 6; i < min(len(b), MaxV1); i++ {
		c := b[i]
		if c == '\r' {
			switch {
			case i+1 == MaxV1:
				return Header{}, errV1Long // its LF would be byte 108
			case i+1 == len(b):
				continue // the LF may come next
			case b[i+1] != '\n':
				return Header{}, errV1CR
			}
			end = i
			break
		}
		if c == '\n' {
			return Header{}, errV1CR
		}
		if c < ' ' || c > '~' {
			return Header{}, errV1Char
		}
	}
	if end < 0 {
		if len(b) >= MaxV1 {
			return Header{}, errV1Long
		}
		return Header{}, ErrNeedMore
	}
	h := Header{Version: 1, Command: Proxy, Len: end + 2}
	line := b[6:end]
	proto, rest := cut(line)
	switch string(proto) {
	case "UNKNOWN":
		// The receiver ignores the rest of the line.
		h.Family = Unspec
		return h, nil
	case "TCP4":
		h.Family = TCP4
	case "TCP6":
		h.Family = TCP6
	default:
		return h, errV1Proto
	}
	var f [4][]byte
	for i := range f {
		f[i], rest = cut(rest)
		if len(f[i]) == 0 {
			return h, errV1Fields
		}
	}
	if rest != nil {
		return h, errV1Fields
	}
	src, ok1 := parseAddr(f[0], h.Family == TCP6)
	dst, ok2 := parseAddr(f[1], h.Family == TCP6)
	if !ok1 || !ok2 {
		return h, errV1Addr
	}
	sp, ok1 := parsePort(f[2])
	dp, ok2 := parsePort(f[3])
	if !ok1 || !ok2 {
		return h, errV1Port
	}
	h.Src, h.Dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return h, nil
}

// cut splits b at its first space. rest is nil when there is none.
func cut(b []byte) (field, rest []byte) {
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// parseAddr parses a version 1 address of the family: IPv4 dotted decimal
// without heading zeroes, or IPv6 (RFC 4291 text, a trailing dotted IPv4
// allowed as inet_ntop writes "::ffff:192.0.2.1", no zone). netip.ParseAddr
// would need a string, which costs an allocation: the fuzz test checks this
// against it.
func parseAddr(b []byte, v6 bool) (netip.Addr, bool) {
	if !v6 {
		v4, ok := parseIPv4(b)
		return netip.AddrFrom4(v4), ok
	}
	return parseIPv6(b)
}

func parseIPv4(b []byte) ([4]byte, bool) {
	var ip [4]byte
	for i := range ip {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return ip, false
			}
			b = b[1:]
		}
		n, d := 0, 0
		for ; d < len(b) && d < 4 && '0' <= b[d] && b[d] <= '9'; d++ {
			n = n*10 + int(b[d]-'0')
		}
		if d == 0 || d > 3 || n > 255 || (d > 1 && b[0] == '0') {
			return ip, false
		}
		ip[i], b = byte(n), b[d:]
	}
	return ip, len(b) == 0
}

func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // where "::" stands, in bytes of ip
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis, b = 0, b[2:]
	}
	i := 0
	for i < 16 && len(b) > 0 {
		n, d := 0, 0
		for ; d < len(b); d++ {
			v := unhex(b[d])
			if v < 0 {
				break
			}
			if d == 4 {
				return netip.Addr{}, false
			}
			n = n<<4 | v
		}
		if d == 0 {
			return netip.Addr{}, false
		}
		if d < len(b) && b[d] == '.' {
			// The last 32 bits as dotted IPv4.
			if i > 12 || (ellipsis < 0 && i != 12) {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], v4[:])
			i, b = i+4, nil
			break
		}
		ip[i], ip[i+1] = byte(n>>8), byte(n)
		i, b = i+2, b[d:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis, b = i, b[1:]
		}
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	switch {
	case i < 16 && ellipsis < 0:
		return netip.Addr{}, false
	case i < 16:
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	case ellipsis >= 0:
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

func parseV2(b []byte) (Header, error) {
	if !prefix(b, v2sig) {
		return Header{}, ErrNotProxy
	}
	if len(b) < 16 {
		return Header{}, ErrNeedMore
	}
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if 16+n > MaxV2 {
		return Header{}, errV2Long
	}
	h := Header{Version: 2, Command: Command(b[12] & 0x0f), Family: Family(b[13])}
	if b[12]>>4 != 2 {
		return Header{}, errV2Version
	}
	if h.Command > Proxy {
		return Header{}, errV2Command
	}
	if h.Family>>4 > 3 || h.Family&0x0f > 2 {
		return Header{}, errV2Family
	}
	if len(b) < 16+n {
		return Header{}, ErrNeedMore
	}
	h.Len = 16 + n
	body := b[16:h.Len]
	if h.Command == Local {
		// The receiver discards the whole block, family included.
		h.Family = Unspec
		return h, nil
	}
	var alen int
	switch h.Family >> 4 {
	case 1:
		alen = 12
	case 2:
		alen = 36
	case 3:
		alen = 216
	}
	if n < alen {
		return h, errV2AddrShort
	}
	switch h.Family {
	case TCP4, UDP4:
		src, dst := netip.AddrFrom4([4]byte(body[0:4])), netip.AddrFrom4([4]byte(body[4:8]))
		h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10]))
		h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12]))
	case TCP6, UDP6:
		src, dst := netip.AddrFrom16([16]byte(body[0:16])), netip.AddrFrom16([16]byte(body[16:32]))
		h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34]))
		h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36]))
	case UnixStream, UnixDgram:
		// Paths, which say nothing of the client's address.
	default:
		// AF_INET or AF_INET6 with no transport: fall back to UNSPEC, as
		// the spec asks of a receiver that does not support a combination.
		h.Family = Unspec
	}
	// TLVs: type (1 byte), length (2), value. Skipped, but each must fit:
	// a header whose TLVs run past its end is bad. At most n/3 steps.
	h.TLVBytes = n - alen
	crcAt := -1
	for p := 16 + alen; p < h.Len; {
		if h.Len-p < 3 {
			return h, errV2TLV
		}
		l := 3 + int(binary.BigEndian.Uint16(b[p+1:p+3]))
		if l > h.Len-p {
			return h, errV2TLV
		}
		if b[p] == tlvCRC32C && l == 3+4 {
			crcAt = p + 3
		}
		p += l
	}
	// A receiver that knows the checksum must check it (HAProxy sends one
	// with proxy-v2-options crc32c).
	if crcAt >= 0 && !crcOK(b[:h.Len], crcAt) {
		return h, errV2CRC
	}
	return h, nil
}

// tlvCRC32C is PP2_TYPE_CRC32C: the header's CRC32c, big-endian.
const tlvCRC32C = 0x03

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcOK checks the CRC32c of header, whose checksum is the 4 bytes at at:
// it is computed with those bytes zero.
func crcOK(header []byte, at int) bool {
	c := crc32.Update(0, castagnoli, header[:at])
	// The 4 zero bytes by hand, as crc32.Update does each byte: a slice of
	// zeros would escape to the heap.
	c = ^c
	for range 4 {
		c = castagnoli[byte(c)] ^ c>>8
	}
	c = ^c
	c = crc32.Update(c, castagnoli, header[at+4:])
	return c == binary.BigEndian.Uint32(header[at:at+4])
}
