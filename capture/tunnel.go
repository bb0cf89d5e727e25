package capture

import "encoding/binary"

// Production traffic is often mirrored inside a tunnel: AWS VPC Traffic
// Mirroring and Azure's virtual network TAP send VXLAN, AWS Gateway Load
// Balancer GENEVE, switches' mirror sessions ERSPAN, Linux gretap GRE. Each
// header taken off leaves an Ethernet frame or an IP packet, decoded as if
// it had been captured alone: only the innermost addresses are kept.
//
//	outer IP -> UDP dst 4789 -> VXLAN (8 bytes)          -> Ethernet
//	         -> UDP dst 6081 -> GENEVE (8 + options)     -> Ethernet or IP
//	         -> GRE (4-16 bytes) -> 0x6558               -> Ethernet
//	                             -> 0x0800, 0x86DD       -> IP
//	                             -> 0x88BE ERSPAN I, II  -> Ethernet
//	                             -> 0x22EB ERSPAN III    -> Ethernet

// maxTunnels bounds the tunnel headers taken off one packet: a mirror of a
// tunnel is a tunnel in a tunnel, and a crafted packet could nest
// thousands. Deeper packets count as malformed.
const maxTunnels = 4

// tunnel is a kind of tunnel header.
type tunnel uint8

const (
	tunnelVXLAN tunnel = iota
	tunnelGENEVE
	tunnelGRE // GRE carrying IP or Ethernet
	tunnelERSPAN
	numTunnels
)

// The IANA UDP ports of the tunnels (destination port).
const (
	portVXLAN  = 4789
	portGENEVE = 6081
)

const (
	greERSPAN2 = 0x88BE // ERSPAN type II, or type I without a sequence number
	greERSPAN3 = 0x22EB
)

// tunnelHeader takes a tunnel header off the payload of IP protocol proto:
// what it carries (etherTEB: an Ethernet frame) and its kind. r is
// decodedMore when there is something to decode; decodedOther when the
// payload is no tunnel (not TCP, not on a tunnel port); decodedBad when a
// tunnel header is damaged or cut short.
func tunnelHeader(proto uint8, data []byte) (ethertype uint16, inner []byte, t tunnel, r decoded) {
	switch proto {
	case 17:
		return udpTunnel(data)
	case 47:
		return gre(data)
	}
	return 0, nil, 0, decodedOther
}

// udpTunnel reads VXLAN (RFC 7348) or GENEVE (RFC 8926) from a UDP
// datagram, told apart by the destination port.
func udpTunnel(data []byte) (ethertype uint16, inner []byte, t tunnel, r decoded) {
	if len(data) < 8 {
		return 0, nil, 0, decodedBad
	}
	port := binary.BigEndian.Uint16(data[2:])
	if port != portVXLAN && port != portGENEVE {
		return 0, nil, 0, decodedOther
	}
	if n := int(binary.BigEndian.Uint16(data[4:])); n >= 8 && n < len(data) {
		data = data[:n] // a shorter UDP length: the rest is padding
	}
	data = data[8:]
	if port == portVXLAN {
		// Flags (the I bit says the VNI is valid), reserved, VNI, reserved.
		if len(data) < 8 || data[0]&0x08 == 0 {
			return 0, nil, 0, decodedBad
		}
		return etherTEB, data[8:], tunnelVXLAN, decodedMore
	}
	// Version (2 bits, 0) and options length (6 bits, in 4-byte words),
	// flags, protocol type, VNI, reserved, then the options.
	if len(data) < 8 || data[0]>>6 != 0 {
		return 0, nil, 0, decodedBad
	}
	n := 8 + int(data[0]&0x3F)*4
	if len(data) < n {
		return 0, nil, 0, decodedBad
	}
	return innerOf(binary.BigEndian.Uint16(data[2:]), data[n:], tunnelGENEVE)
}

// gre reads a GRE header (RFC 2784 with RFC 2890's key and sequence
// number) and, for ERSPAN, the ERSPAN header after it.
func gre(data []byte) (ethertype uint16, inner []byte, t tunnel, r decoded) {
	if len(data) < 4 {
		return 0, nil, 0, decodedBad
	}
	flags, proto := binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
	if flags&0x4000 != 0 || flags&7 != 0 {
		// Source routing (RFC 1701, deprecated) or version 1 (PPTP's
		// enhanced GRE): never a mirror.
		return 0, nil, 0, decodedOther
	}
	n := 4
	for _, bit := range []uint16{0x8000, 0x2000, 0x1000} { // checksum, key, sequence number
		if flags&bit != 0 {
			n += 4
		}
	}
	if len(data) < n {
		return 0, nil, 0, decodedBad
	}
	data = data[n:]
	switch proto {
	case greERSPAN2:
		if flags&0x1000 == 0 {
			// Type I has no ERSPAN header; a GRE header without a
			// sequence number says which (as Wireshark reads it).
			return etherTEB, data, tunnelERSPAN, decodedMore
		}
		// Version 1 (4 bits), VLAN, COS, encapsulation, truncated,
		// session, reserved, index: 8 bytes.
		if len(data) < 8 || data[0]>>4 != 1 {
			return 0, nil, 0, decodedBad
		}
		return etherTEB, data[8:], tunnelERSPAN, decodedMore
	case greERSPAN3:
		// Version 2, ..., timestamp, SGT, P, frame type (5 bits: 0
		// Ethernet, 2 IP), hardware ID, direction, granularity, O: 12
		// bytes, then 8 of platform specific subheader when O is set.
		if len(data) < 12 || data[0]>>4 != 2 {
			return 0, nil, 0, decodedBad
		}
		n := 12
		if data[11]&1 != 0 {
			n += 8
		}
		if len(data) < n {
			return 0, nil, 0, decodedBad
		}
		ft, data := data[10]>>2&0x1F, data[n:]
		switch {
		case ft == 0:
			return etherTEB, data, tunnelERSPAN, decodedMore
		case ft == 2 && len(data) > 0 && data[0]>>4 == 4:
			return etherIPv4, data, tunnelERSPAN, decodedMore
		case ft == 2 && len(data) > 0 && data[0]>>4 == 6:
			return etherIPv6, data, tunnelERSPAN, decodedMore
		}
		return 0, nil, 0, decodedOther // another frame type
	}
	return innerOf(proto, data, tunnelGRE)
}

// innerOf is what a tunnel whose header names an ethertype carries.
func innerOf(proto uint16, data []byte, t tunnel) (ethertype uint16, inner []byte, _ tunnel, r decoded) {
	switch proto {
	case etherTEB, etherIPv4, etherIPv6:
		return proto, data, t, decodedMore
	}
	return 0, nil, 0, decodedOther
}
