package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder decodes link, IP and TCP headers into reused structs: no
// allocation per packet (gopacket.NewPacket would allocate several).
type decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}, decoded: make([]gopacket.LayerType, 0, 8)}
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL,
		layers.LayerTypeLinuxSLL2, layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6} {
		p := gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.tcp)
		// Stop quietly at layers we do not decode (UDP, ICMP, ARP...).
		p.IgnoreUnsupported = true
		d.parsers[first] = p
	}
	return d
}

// firstLayer maps a capture's link type to the layer its packets start with.
// Raw IP link types return LayerTypeZero: the version nibble decides.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		return gopacket.LayerTypeZero, true
	}
	return gopacket.LayerTypeZero, false
}

// result of decoding one packet.
type decoded int

const (
	decodedTCP      decoded = iota
	decodedOther            // a valid packet that is not TCP over IP
	decodedFragment         // an IP fragment: not reassembled
	decodedBad              // damaged headers
)

// decode decodes data whose first layer is first. On decodedTCP, d.tcp and
// netFlow hold the segment.
func (d *decoder) decode(data []byte, first gopacket.LayerType) (netFlow gopacket.Flow, r decoded) {
	if first == gopacket.LayerTypeZero {
		if len(data) == 0 {
			return netFlow, decodedBad
		}
		switch data[0] >> 4 {
		case 4:
			first = layers.LayerTypeIPv4
		case 6:
			first = layers.LayerTypeIPv6
		default:
			return netFlow, decodedBad
		}
	}
	if err := d.parsers[first].DecodeLayers(data, &d.decoded); err != nil {
		return netFlow, decodedBad
	}
	var sawIP, sawTCP bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return netFlow, decodedFragment
			}
			netFlow, sawIP = d.ip4.NetworkFlow(), true
		case layers.LayerTypeIPv6:
			netFlow, sawIP = d.ip6.NetworkFlow(), true
		case layers.LayerTypeTCP:
			sawTCP = true
		}
	}
	if !sawIP || !sawTCP {
		return netFlow, decodedOther
	}
	return netFlow, decodedTCP
}
