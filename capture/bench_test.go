package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/replaykit/replaykit/httpstream"
)

type packet struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// loadPackets reads a whole capture into memory, so the benchmark measures
// decoding, reassembly and HTTP, not the disk.
func loadPackets(b *testing.B, path string) ([]packet, layers.LinkType) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	src, _, err := NewReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var pkts []packet
	for {
		d, ci, err := src.ReadPacket()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			break
		}
		pkts = append(pkts, packet{append([]byte(nil), d...), ci})
	}
	return pkts, src.LinkType()
}

// BenchmarkExtract is packets to exchanges: decode, reassembly, HTTP
// parsing and pairing, with a sink that only counts. Set
// REPLAYKIT_BENCH_PCAP to measure another capture (bench/record-vs-tshark.sh
// makes a large one).
func BenchmarkExtract(b *testing.B) {
	path := os.Getenv("REPLAYKIT_BENCH_PCAP")
	if path == "" {
		path = "../testdata/pcap/nginx-ab.pcap"
	}
	pkts, lt := loadPackets(b, path)
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		sink := &countSink{}
		x := NewExtractor(Options{HTTP: httpstream.Options{MaxBody: 1 << 20}}, sink)
		for _, p := range pkts {
			x.Packet(p.data, p.ci, lt)
		}
		x.Close()
		n = sink.n
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(len(pkts)*b.N)/secs, "packets/s")
	b.ReportMetric(float64(n*b.N)/secs, "exchanges/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDecode is the link, IP, tunnel and TCP headers alone, packet by
// packet, for a plain capture and tunnelled ones of the same traffic.
func BenchmarkDecode(b *testing.B) {
	for _, path := range []string{"../testdata/pcap/go-curl.pcap", "../testdata/tunnels/vxlan.pcap", "../testdata/tunnels/gre-vxlan.pcap"} {
		pkts, lt := loadPackets(b, path)
		b.Run(strings.TrimSuffix(filepath.Base(path), ".pcap"), func(b *testing.B) {
			d, l := newDecoder(), linkOf(lt)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d.decode(pkts[i%len(pkts)].data, l)
			}
		})
	}
}
