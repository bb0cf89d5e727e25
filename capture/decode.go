package capture

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder finds the TCP segment in a packet. Link and IP headers are read by
// hand: it needs a handful of fields, and gopacket's DecodingLayerParser
// cost 600 ns a packet. The TCP header goes to gopacket, whose reassembly
// takes a layers.TCP.
type decoder struct {
	tcp layers.TCP
	// tunnels counts the tunnel headers taken off, by kind.
	tunnels [numTunnels]int64
}

func newDecoder() *decoder { return &decoder{} }

// link is how a capture's packets begin.
type link uint8

const (
	linkUnknown  link = iota
	linkEthernet      // DLT_EN10MB
	linkSLL           // Linux "any" device, v1
	linkSLL2          // Linux "any" device, v2
	linkNull          // BSD loopback, family in host byte order
	linkLoop          // OpenBSD loopback, family in network byte order
	linkRaw           // IP directly; the version nibble says which
)

func linkOf(lt layers.LinkType) link {
	switch lt {
	case layers.LinkTypeEthernet:
		return linkEthernet
	case layers.LinkTypeLinuxSLL:
		return linkSLL
	case layers.LinkTypeLinuxSLL2:
		return linkSLL2
	case layers.LinkTypeNull:
		return linkNull
	case layers.LinkTypeLoop:
		return linkLoop
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		return linkRaw
	}
	return linkUnknown
}

// result of decoding one packet.
type decoded int

const (
	decodedTCP      decoded = iota
	decodedOther            // a valid packet that is not TCP over IP
	decodedFragment         // an IP fragment: not reassembled
	decodedBad              // damaged headers

	decodedMore // within decode: a header read, more to read
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86DD
	etherVLAN = 0x8100
	etherQinQ = 0x88A8
	etherTEB  = 0x6558 // transparent Ethernet bridging: an Ethernet frame
)

// decode finds the IP packet behind the link header, then the TCP segment,
// taking off the tunnel headers of mirrored traffic on the way (see
// tunnel.go). On decodedTCP, d.tcp and netFlow hold the segment; netFlow
// has the innermost addresses.
func (d *decoder) decode(data []byte, l link) (netFlow gopacket.Flow, r decoded) {
	ethertype, data, r := linkHeader(data, l)
	for depth := 0; r == decodedMore; depth++ {
		ip := data
		var proto uint8
		if proto, data, r = ipHeader(ethertype, ip); r != decodedMore {
			return netFlow, r
		}
		if proto == 6 {
			if err := d.tcp.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
				return netFlow, decodedBad
			}
			if ethertype == etherIPv4 {
				return gopacket.NewFlow(layers.EndpointIPv4, ip[12:16], ip[16:20]), decodedTCP
			}
			return gopacket.NewFlow(layers.EndpointIPv6, ip[8:24], ip[24:40]), decodedTCP
		}
		var t tunnel
		if ethertype, data, t, r = tunnelHeader(proto, data); r != decodedMore {
			return netFlow, r
		}
		if depth == maxTunnels {
			return netFlow, decodedBad
		}
		d.tunnels[t]++
		if ethertype == etherTEB {
			ethertype, data, r = linkHeader(data, linkEthernet)
		}
	}
	return netFlow, r
}

// linkHeader reads the link header: the ethertype of what follows it, and
// that. r is decodedMore when there is an IP packet to read.
func linkHeader(data []byte, l link) (ethertype uint16, rest []byte, r decoded) {
	switch l {
	case linkEthernet:
		if len(data) < 14 {
			return 0, nil, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[12:]), data[14:]
		for ethertype == etherVLAN || ethertype == etherQinQ {
			if len(data) < 4 {
				return 0, nil, decodedBad
			}
			ethertype, data = binary.BigEndian.Uint16(data[2:]), data[4:]
		}
	case linkSLL:
		if len(data) < 16 {
			return 0, nil, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[14:]), data[16:]
	case linkSLL2:
		if len(data) < 20 {
			return 0, nil, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[0:]), data[20:]
	case linkNull, linkLoop:
		if len(data) < 4 {
			return 0, nil, decodedBad
		}
		family := binary.LittleEndian.Uint32(data)
		if l == linkLoop || family > 0xFFFF {
			family = binary.BigEndian.Uint32(data) // other byte order
		}
		switch family {
		case 2:
			ethertype = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, BSDs, macOS
			ethertype = etherIPv6
		}
		data = data[4:]
	case linkRaw:
		if len(data) == 0 {
			return 0, nil, decodedBad
		}
		switch data[0] >> 4 {
		case 4:
			ethertype = etherIPv4
		case 6:
			ethertype = etherIPv6
		}
	default:
		return 0, nil, decodedOther
	}
	return ethertype, data, decodedMore
}

// ipHeader reads an IPv4 or IPv6 header: the protocol it carries (IPv6
// extension headers skipped) and the payload. r is decodedMore when the
// payload is whole enough to read on.
func ipHeader(ethertype uint16, data []byte) (proto uint8, payload []byte, r decoded) {
	switch ethertype {
	case etherIPv4:
		if len(data) < 20 || data[0]>>4 != 4 {
			return 0, nil, decodedBad
		}
		ihl := int(data[0]&0x0F) * 4
		if ihl < 20 || len(data) < ihl {
			return 0, nil, decodedBad
		}
		if p := data[9]; p != 6 && p != 17 && p != 47 {
			return 0, nil, decodedOther // neither TCP nor a tunnel
		}
		if flags := binary.BigEndian.Uint16(data[6:]); flags&0x3FFF != 0 { // MF or an offset
			return 0, nil, decodedFragment
		}
		end := int(binary.BigEndian.Uint16(data[2:]))
		if end == 0 || end > len(data) {
			end = len(data) // 0: segmentation offload; larger: cut by snaplen
		}
		if end < ihl {
			return 0, nil, decodedBad
		}
		return data[9], data[ihl:end], decodedMore
	case etherIPv6:
		if len(data) < 40 || data[0]>>4 != 6 {
			return 0, nil, decodedBad
		}
		next, hdr := data[6], data[40:]
		if n := int(binary.BigEndian.Uint16(data[4:])); n != 0 && n < len(hdr) {
			hdr = hdr[:n]
		}
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(hdr) < 8 || len(hdr) < (int(hdr[1])+1)*8 {
					return 0, nil, decodedBad
				}
				next, hdr = hdr[0], hdr[(int(hdr[1])+1)*8:]
			case 44:
				return 0, nil, decodedFragment
			default:
				return next, hdr, decodedMore
			}
		}
	}
	return 0, nil, decodedOther
}
