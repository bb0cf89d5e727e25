// Command vxlanwrap rewrites a pcap of Ethernet frames as the same
// frames inside VXLAN (VNI 42) over IPv4/UDP 4789, as a VPC traffic
// mirror delivers them: the input of bench/record-vs-tshark.sh TUNNEL=vxlan.
// The kernel-made VXLAN captures under testdata/tunnels test that the
// decapsulation is right; this makes large ones fast.
//
//	vxlanwrap IN.pcap OUT.pcap
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vxlanwrap IN.pcap OUT.pcap")
		os.Exit(2)
	}
	if err := wrap(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "vxlanwrap:", err)
		os.Exit(1)
	}
}

func wrap(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return err
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return fmt.Errorf("%s: link type %v, want Ethernet", in, r.LinkType())
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriterNanos(o)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	// Outer headers: Ethernet (14), IPv4 (20), UDP (8), VXLAN (8).
	hdr := make([]byte, 50)
	copy(hdr[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(hdr[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(hdr[12:], 0x0800)
	ip := hdr[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	udp := hdr[34:42]
	binary.BigEndian.PutUint16(udp[2:], 4789)
	vx := hdr[42:50]
	vx[0] = 0x08 // the VNI is valid
	vx[6] = 42   // VNI 42
	frame := make([]byte, 0, 70000)
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+8+len(data)))
		binary.BigEndian.PutUint16(ip[10:], 0)
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		binary.BigEndian.PutUint16(udp[0:], uint16(49152+len(data)%16384)) // the source port a flow hash picks
		binary.BigEndian.PutUint16(udp[4:], uint16(8+8+len(data)))
		frame = append(append(frame[:0], hdr...), data...)
		ci.CaptureLength, ci.Length = len(frame), ci.Length+len(hdr)
		if err := w.WritePacket(ci, frame); err != nil {
			return err
		}
	}
	return o.Close()
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
