package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"golang.org/x/net/bpf"
)

// The port filter, run in x/net/bpf's VM over the frames of real captures,
// keeps exactly the TCP packets of the watched ports. (The VM cannot run
// the packet-type extension; the live test on lo covers dropOutgoing.)
func TestPortFilterOnRealFrames(t *testing.T) {
	data, err := os.ReadFile("../testdata/pcap/nginx-ab.pcap")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ports []uint16
		want  bool
	}{
		{[]uint16{18081}, true},
		{[]uint16{80, 18081, 443}, true},
		{[]uint16{18080}, false},
		{nil, true},
	}
	for _, tt := range tests {
		prog, err := PortFilter(tt.ports, false)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(mustDisassemble(t, prog))
		if err != nil {
			t.Fatalf("ports %v: %v", tt.ports, err)
		}
		src, _, _ := NewReader(bytes.NewReader(data))
		var n int
		for {
			pkt, _, err := src.ReadPacket()
			if errors.Is(err, io.EOF) {
				break
			}
			keep, err := vm.Run(pkt)
			if err != nil {
				t.Fatal(err)
			}
			if (keep == snapLen) != tt.want {
				t.Fatalf("ports %v: packet %d kept=%d, want %v", tt.ports, n, keep, tt.want)
			}
			n++
		}
		if n == 0 {
			t.Fatal("no packets")
		}
	}
}

func mustDisassemble(t *testing.T, raw []bpf.RawInstruction) []bpf.Instruction {
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("cannot disassemble")
	}
	return ins
}

func TestParseDDD(t *testing.T) {
	// tcpdump -i lo -ddd 'tcp port 8000', abridged to its IPv4 half.
	good := "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"
	prog, err := ParseDDD(good)
	if err != nil || len(prog) != 4 || prog[1].K != 2048 {
		t.Fatalf("%v %v", prog, err)
	}
	for _, bad := range []string{"", "x", "2\n40 0 0 12\n", "1\n40 0 0\n", "1\n40 0 999 12\n"} {
		if _, err := ParseDDD(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	withDrop, err := DropOutgoing(prog)
	if err != nil || len(withDrop) != len(prog)+4 {
		t.Fatalf("DropOutgoing: %d instructions, %v", len(withDrop), err)
	}
}

// With --port, the filter lets through every tunnel packet (its outer port
// is the tunnel's) and nothing else of the underlay; the inner port is
// checked after decapsulation, so the exchanges on port 80 are all there.
func TestPortFilterLetsTunnelsThrough(t *testing.T) {
	for _, name := range []string{"vxlan", "vxlan6", "geneve", "gre", "erspan2", "gre-vxlan"} {
		data, err := os.ReadFile("../testdata/tunnels/" + name + ".pcap")
		if err != nil {
			t.Fatal(err)
		}
		pkts, lt := packetsOf(t, data)
		prog, err := PortFilter([]uint16{80}, false)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(mustDisassemble(t, prog))
		if err != nil {
			t.Fatal(err)
		}
		sink := &countSink{}
		x := NewExtractor(Options{Ports: []uint16{80}}, sink)
		var kept int
		for i, p := range pkts {
			keep, err := vm.Run(p)
			if err != nil {
				t.Fatal(err)
			}
			d := newDecoder()
			d.decode(p, linkOf(lt))
			if tunnelled := d.tunnels != [numTunnels]int64{}; (keep == snapLen) != tunnelled {
				t.Fatalf("%s: packet %d kept=%d, tunnelled %v", name, i, keep, tunnelled)
			}
			if keep > 0 {
				kept++
				x.Packet(p, gopacket.CaptureInfo{CaptureLength: len(p), Length: len(p)}, lt)
			}
		}
		x.Close()
		if kept == 0 || sink.n != 7 {
			t.Errorf("%s: %d of %d packets kept, %d exchanges (tshark: 7)", name, kept, len(pkts), sink.n)
		}
	}
}
