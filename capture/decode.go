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
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86DD
	etherVLAN = 0x8100
	etherQinQ = 0x88A8
)

// decode finds the IP packet behind the link header, then the TCP segment.
// On decodedTCP, d.tcp and netFlow hold the segment.
func (d *decoder) decode(data []byte, l link) (netFlow gopacket.Flow, r decoded) {
	var ethertype uint16
	switch l {
	case linkEthernet:
		if len(data) < 14 {
			return netFlow, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[12:]), data[14:]
		for ethertype == etherVLAN || ethertype == etherQinQ {
			if len(data) < 4 {
				return netFlow, decodedBad
			}
			ethertype, data = binary.BigEndian.Uint16(data[2:]), data[4:]
		}
	case linkSLL:
		if len(data) < 16 {
			return netFlow, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[14:]), data[16:]
	case linkSLL2:
		if len(data) < 20 {
			return netFlow, decodedBad
		}
		ethertype, data = binary.BigEndian.Uint16(data[0:]), data[20:]
	case linkNull, linkLoop:
		if len(data) < 4 {
			return netFlow, decodedBad
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
			return netFlow, decodedBad
		}
		switch data[0] >> 4 {
		case 4:
			ethertype = etherIPv4
		case 6:
			ethertype = etherIPv6
		}
	default:
		return netFlow, decodedOther
	}
	var segment []byte
	switch ethertype {
	case etherIPv4:
		if len(data) < 20 || data[0]>>4 != 4 {
			return netFlow, decodedBad
		}
		ihl := int(data[0]&0x0F) * 4
		if ihl < 20 || len(data) < ihl {
			return netFlow, decodedBad
		}
		if data[9] != 6 {
			return netFlow, decodedOther
		}
		if flags := binary.BigEndian.Uint16(data[6:]); flags&0x3FFF != 0 { // MF or an offset
			return netFlow, decodedFragment
		}
		end := int(binary.BigEndian.Uint16(data[2:]))
		if end == 0 || end > len(data) {
			end = len(data) // 0: segmentation offload; larger: cut by snaplen
		}
		if end < ihl {
			return netFlow, decodedBad
		}
		netFlow = gopacket.NewFlow(layers.EndpointIPv4, data[12:16], data[16:20])
		segment = data[ihl:end]
	case etherIPv6:
		if len(data) < 40 || data[0]>>4 != 6 {
			return netFlow, decodedBad
		}
		next, hdr := data[6], data[40:]
		if n := int(binary.BigEndian.Uint16(data[4:])); n != 0 && n < len(hdr) {
			hdr = hdr[:n]
		}
		for next != 6 {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(hdr) < 8 || len(hdr) < (int(hdr[1])+1)*8 {
					return netFlow, decodedBad
				}
				next, hdr = hdr[0], hdr[(int(hdr[1])+1)*8:]
			case 44:
				return netFlow, decodedFragment
			default:
				return netFlow, decodedOther
			}
		}
		netFlow = gopacket.NewFlow(layers.EndpointIPv6, data[8:24], data[24:40])
		segment = hdr
	default:
		return netFlow, decodedOther
	}
	if err := d.tcp.DecodeFromBytes(segment, gopacket.NilDecodeFeedback); err != nil {
		return netFlow, decodedBad
	}
	return netFlow, decodedTCP
}
