package capture

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// Headers built by hand around a real inner frame, for the damage no real
// tunnel endpoint sends.

func ether(ethertype uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], ethertype)
	return append(b, payload...)
}

func ipv4(proto uint8, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	copy(b[12:], []byte{10, 99, 0, 1, 10, 99, 0, 2}) // outer addresses, never kept
	return append(b, payload...)
}

func udp(port uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b, 40000)
	binary.BigEndian.PutUint16(b[2:], port)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func vxlan(frame []byte) []byte {
	return ether(etherIPv4, ipv4(17, udp(portVXLAN, cat([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, frame))))
}

func geneve(proto uint16, options int, inner []byte) []byte {
	h := make([]byte, 8+4*options)
	h[0] = byte(options)
	binary.BigEndian.PutUint16(h[2:], proto)
	return ether(etherIPv4, ipv4(17, udp(portGENEVE, cat(h, inner))))
}

// greIP is IP protocol 47 with flags, protocol, and extra (checksum, key,
// sequence number, ERSPAN header) before inner.
func greIP(flags, proto uint16, extra, inner []byte) []byte {
	h := make([]byte, 4)
	binary.BigEndian.PutUint16(h, flags)
	binary.BigEndian.PutUint16(h[2:], proto)
	return ipv4(47, cat(h, extra, inner))
}

// innerFrame is the first TCP segment of a real capture, as an Ethernet
// frame, and the IP packet in it.
func innerFrame(t *testing.T) (frame, packet []byte) {
	pkts, _, _ := readPackets(t, "go-curl.pcap")
	for _, p := range pkts {
		if len(p) > 54 && p[23] == 6 {
			return p, p[14:]
		}
	}
	t.Fatal("no TCP in go-curl.pcap")
	return nil, nil
}

func TestDecapsulation(t *testing.T) {
	frame, packet := innerFrame(t)
	erspan2 := []byte{0x10, 0, 0, 123, 0, 0, 0, 0}
	erspan3 := func(ft, o byte) []byte {
		h := make([]byte, 12)
		h[0], h[10], h[11] = 0x20, ft<<2, o
		if o != 0 {
			h = append(h, make([]byte, 8)...)
		}
		return h
	}
	seq := []byte{0, 0, 0, 1}
	nested := func(n int) []byte {
		p := frame
		for range n {
			p = vxlan(p)
		}
		return p
	}
	fragment := append([]byte(nil), packet...)
	fragment[6] = 0x20 // more fragments
	tests := []struct {
		name    string
		data    []byte
		want    decoded
		tunnels int64
	}{
		{"vxlan", vxlan(frame), decodedTCP, 1},
		{"vxlan without its I flag", ether(etherIPv4, ipv4(17, udp(portVXLAN, cat(make([]byte, 8), frame)))), decodedBad, 0},
		{"udp to another port", ether(etherIPv4, ipv4(17, udp(53, frame))), decodedOther, 0},
		{"geneve, Ethernet", geneve(etherTEB, 0, frame), decodedTCP, 1},
		{"geneve, IP, options", geneve(etherIPv4, 6, packet), decodedTCP, 1},
		{"geneve, options past the end", func() []byte { p := geneve(etherIPv4, 0, nil); p[42] = 63; return p }(), decodedBad, 0},
		{"geneve, unknown protocol", geneve(0x88CC, 0, frame), decodedOther, 0},
		{"geneve version 1", func() []byte { p := geneve(etherTEB, 0, frame); p[42] |= 0x40; return p }(), decodedBad, 0},
		{"gretap", ether(etherIPv4, greIP(0, etherTEB, nil, frame)), decodedTCP, 1},
		{"gre, IP, checksum key and sequence", ether(etherIPv4, greIP(0xB000, etherIPv4, make([]byte, 12), packet)), decodedTCP, 1},
		{"gre, key past the end", ether(etherIPv4, greIP(0xB000, etherIPv4, nil, nil)), decodedBad, 0},
		{"gre, source routing", ether(etherIPv4, greIP(0x4000, etherIPv4, nil, packet)), decodedOther, 0},
		{"gre version 1 (PPTP)", ether(etherIPv4, greIP(0x3001, 0x880B, make([]byte, 8), nil)), decodedOther, 0},
		{"erspan type I", ether(etherIPv4, greIP(0, greERSPAN2, nil, frame)), decodedTCP, 1},
		{"erspan type II", ether(etherIPv4, greIP(0x1000, greERSPAN2, cat(seq, erspan2), frame)), decodedTCP, 1},
		{"erspan type II, wrong version", ether(etherIPv4, greIP(0x1000, greERSPAN2, cat(seq, make([]byte, 8)), frame)), decodedBad, 0},
		{"erspan type II, cut", ether(etherIPv4, greIP(0x1000, greERSPAN2, cat(seq, erspan2[:5]), nil)), decodedBad, 0},
		{"erspan type III", ether(etherIPv4, greIP(0x1000, greERSPAN3, cat(seq, erspan3(0, 0)), frame)), decodedTCP, 1},
		{"erspan type III, subheader", ether(etherIPv4, greIP(0x1000, greERSPAN3, cat(seq, erspan3(0, 1)), frame)), decodedTCP, 1},
		{"erspan type III, IP frame", ether(etherIPv4, greIP(0x1000, greERSPAN3, cat(seq, erspan3(2, 0)), packet)), decodedTCP, 1},
		{"erspan type III, other frame type", ether(etherIPv4, greIP(0x1000, greERSPAN3, cat(seq, erspan3(3, 0)), frame)), decodedOther, 0},
		{"raw IP link, gre", greIP(0, etherTEB, nil, frame), decodedTCP, 1},
		{"tunnel inner fragment", vxlan(ether(etherIPv4, fragment)), decodedFragment, 1},
		{"outer fragment", func() []byte { p := vxlan(frame); p[20] = 0x20; return p }(), decodedFragment, 0},
		{"tunnel inner ARP", vxlan(ether(0x0806, make([]byte, 28))), decodedOther, 1},
		{"nested 4 deep", nested(maxTunnels), decodedTCP, maxTunnels},
		{"nested 5 deep", nested(maxTunnels + 1), decodedBad, maxTunnels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder()
			l := linkEthernet
			if tt.data[0]>>4 == 4 {
				l = linkRaw
			}
			flow, r := d.decode(tt.data, l)
			var n int64
			for _, c := range d.tunnels {
				n += c
			}
			if r != tt.want || n != tt.tunnels {
				t.Fatalf("decoded %d with %d tunnel headers, want %d with %d", r, n, tt.want, tt.tunnels)
			}
			if r == decodedTCP {
				if src := flow.Src().Raw(); string(src) != string(packet[12:16]) {
					t.Errorf("source %v, want the inner packet's %v", src, packet[12:16])
				}
				if d.tcp.SrcPort == 0 {
					t.Error("no TCP header")
				}
			}
		})
	}
}

// A tunnelled packet cut anywhere before the end of its inner TCP header
// is damaged: counted as malformed, never read past its end.
func TestTruncatedTunnelHeaders(t *testing.T) {
	frame, packet := innerFrame(t)
	tcpEnd := 14 + int(packet[0]&0x0F)*4 + int(packet[20+12]>>4)*4
	for name, p := range map[string][]byte{
		"vxlan":          vxlan(frame),
		"gre in vxlan":   vxlan(ether(etherIPv4, greIP(0x3000, etherTEB, make([]byte, 8), frame))),
		"erspan III":     ether(etherIPv4, greIP(0x1000, greERSPAN3, cat([]byte{0, 0, 0, 1, 0x20}, make([]byte, 11)), frame)),
		"geneve options": geneve(etherTEB, 2, frame),
	} {
		headers := len(p) - len(frame) + tcpEnd
		for n := range headers {
			cut := append([]byte(nil), p[:n]...) // a copy: the decoder must not read past it
			if _, r := newDecoder().decode(cut, linkEthernet); r != decodedBad {
				t.Errorf("%s cut to %d of %d header bytes: decoded %d, want malformed", name, n, headers, r)
			}
		}
	}
}

// Decapsulating allocates nothing.
func TestDecapsulationAllocatesNothing(t *testing.T) {
	frame, _ := innerFrame(t)
	p := vxlan(ether(etherIPv4, greIP(0x1000, greERSPAN3, cat([]byte{0, 0, 0, 1, 0x20}, make([]byte, 11)), frame)))
	d := newDecoder()
	if n := testing.AllocsPerRun(100, func() { d.decode(p, linkEthernet) }); n != 0 {
		t.Errorf("%v allocations a packet", n)
	}
}

// FuzzDecode feeds whole packets of each link type to the decoder: no
// panic, no read past the end, at most maxTunnels headers taken off.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"vxlan", "vxlan6", "geneve-ip", "gre", "erspan1", "erspan2", "gre-vxlan"} {
		data, err := os.ReadFile("../testdata/tunnels/" + name + ".pcap")
		if err != nil {
			f.Fatal(err)
		}
		pkts, _ := packetsOf(f, data)
		for _, p := range pkts[:min(len(pkts), 6)] {
			f.Add(uint8(linkEthernet), p)
			f.Add(uint8(linkRaw), p[14:])
			f.Add(uint8(linkSLL), cat(make([]byte, 14), p[12:]))
			f.Add(uint8(linkSLL2), cat(p[12:14], make([]byte, 18), p[14:]))
			f.Add(uint8(linkNull), cat([]byte{2, 0, 0, 0}, p[14:]))
		}
	}
	f.Fuzz(func(t *testing.T, l uint8, data []byte) {
		d := newDecoder()
		flow, r := d.decode(data, link(l%(uint8(linkRaw)+1)))
		var n int64
		for _, c := range d.tunnels {
			n += c
		}
		if n > maxTunnels {
			t.Fatalf("%d tunnel headers taken off one packet", n)
		}
		if r == decodedTCP && flow.EndpointType() != layers.EndpointIPv4 && flow.EndpointType() != layers.EndpointIPv6 {
			t.Fatalf("TCP with a %v flow", flow.EndpointType())
		}
	})
}

// packetsOf reads every packet of a capture in memory.
func packetsOf(t testing.TB, capture []byte) ([][]byte, layers.LinkType) {
	src, _, err := NewReader(bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for {
		d, _, err := src.ReadPacket()
		if err != nil {
			return pkts, src.LinkType()
		}
		pkts = append(pkts, append([]byte(nil), d...))
	}
}
