package capture

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/observed"
)

// countSink counts exchanges; seen, when set, counts them by what they
// hold; onExchange, when set, sees each one.
type countSink struct {
	n          int
	seen       map[string]int
	onExchange func(req, resp *observed.Message)
}

func (c *countSink) Exchange(x observed.Exchange) {
	req, resp := x.Req, x.Resp
	c.n++
	if c.onExchange != nil {
		c.onExchange(req, resp)
	}
	if c.seen != nil {
		status, size := 0, int64(-1)
		if resp != nil {
			status, size = resp.Status, resp.BodySize
		}
		c.seen[fmt.Sprintf("%s %s %d+%x -> %d %d", req.Method, req.Target, req.BodySize, sha256.Sum256(req.Body), status, size)]++
	}
}

// extract runs a whole capture through the extractor.
func extract(t testing.TB, data []byte, opts Options) (Stats, int, error) {
	src, _, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return Stats{}, 0, err
	}
	sink := &countSink{}
	x := NewExtractor(opts, sink)
	for {
		pkt, ci, err := src.ReadPacket()
		if err != nil {
			if !errors.Is(err, io.EOF) && !IsTruncation(err) {
				x.Close()
				return x.Stats(), sink.n, err
			}
			break
		}
		x.Packet(pkt, ci, src.LinkType())
	}
	x.Close()
	return x.Stats(), sink.n, nil
}

func TestPortFilterAndCounts(t *testing.T) {
	data, err := os.ReadFile("../testdata/pcap/go-curl.pcap")
	if err != nil {
		t.Fatal(err)
	}
	all, n, err := extract(t, data, Options{})
	if err != nil || n == 0 {
		t.Fatalf("%d exchanges, %v", n, err)
	}
	if all.Packets != all.TCP+all.Other+all.Malformed+all.Fragments {
		t.Errorf("packets %d != tcp %d + other %d + malformed %d + fragments %d", all.Packets, all.TCP, all.Other, all.Malformed, all.Fragments)
	}
	watched, n2, _ := extract(t, data, Options{Ports: []uint16{18080}})
	if n2 != n || watched.TCP != all.TCP {
		t.Errorf("watching the server port: %d exchanges, %d TCP; all ports: %d, %d", n2, watched.TCP, n, all.TCP)
	}
	none, n3, _ := extract(t, data, Options{Ports: []uint16{80}})
	if n3 != 0 || none.TCP != 0 || none.Other != all.Packets {
		t.Errorf("unwatched port: %d exchanges, %d TCP, %d other", n3, none.TCP, none.Other)
	}
}

// FuzzCapture feeds arbitrary bytes as a capture file through the whole
// packet path: reader, decoders, reassembly and HTTP. No panic, no hang.
func FuzzCapture(f *testing.F) {
	for _, name := range []string{"pcap/go-curl.pcap", "pcap/go-curl.pcapng", "pcap/nginx-ab.pcap", "pcap/lossy.pcap", "tunnels/gre-vxlan.pcap", "tunnels/erspan2.pcap",
		"h2/grpc-python.pcap", "h2/nginx-curl.pcap", "h2/apache-upgrade.pcap"} {
		b, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 6<<10)]) // small seeds mutate and minimize faster
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, n, _ := extract(t, data, Options{HTTP: httpstream.Options{MaxBody: 1024}})
		if int64(n) != st.HTTP.Exchanges+st.HTTP.Unanswered+st.HTTP2.Exchanges+st.HTTP2.Unanswered {
			t.Fatalf("%d exchanges delivered, stats say %d+%d and HTTP/2 %d+%d", n, st.HTTP.Exchanges, st.HTTP.Unanswered, st.HTTP2.Exchanges, st.HTTP2.Unanswered)
		}
	})
}

type startSink struct{ start map[string]int64 }

func (s *startSink) Exchange(x observed.Exchange) {
	req := x.Req
	s.start[req.Method+" "+req.Target] = req.Start
}

// Data that reassembly holds back for reordering keeps its own capture
// time. (It once got the time of the latest packet: one context object was
// reused for every packet, and reassembly keeps the context of held data.)
func TestReorderedSegmentsKeepTheirTimes(t *testing.T) {
	data, err := os.ReadFile("../testdata/pcap/go-curl.pcap")
	if err != nil {
		t.Fatal(err)
	}
	src, _, _ := NewReader(bytes.NewReader(data))
	type pkt struct {
		data []byte
		ci   gopacket.CaptureInfo
	}
	var pkts []pkt
	for {
		d, ci, err := src.ReadPacket()
		if err != nil {
			break
		}
		pkts = append(pkts, pkt{append([]byte(nil), d...), ci})
	}
	find := func(prefix string) int {
		for i, p := range pkts {
			if bytes.Contains(p.data, []byte(prefix)) {
				return i
			}
		}
		t.Fatalf("no packet with %q", prefix)
		return -1
	}
	first, second := find("GET /api/tasks HTTP/1.1"), find("GET /api/tasks/1 HTTP/1.1")
	want := pkts[second].ci.Timestamp.UnixNano()
	// The first request now arrives after the second: the second waits in
	// reassembly until the first fills the hole.
	moved := pkts[first]
	reordered := append(append(append([]pkt{}, pkts[:first]...), pkts[first+1:second+1]...), moved)
	reordered = append(reordered, pkts[second+1:]...)
	sink := &startSink{start: map[string]int64{}}
	x := NewExtractor(Options{}, sink)
	for _, p := range reordered {
		x.Packet(p.data, p.ci, src.LinkType())
	}
	x.Close()
	got, ok := sink.start["GET /api/tasks/1"]
	if !ok {
		t.Fatalf("exchange lost; got %v", sink.start)
	}
	if got != want {
		t.Errorf("held request starts at %d, its packet was captured at %d (%v off)", got, want, time.Duration(got-want))
	}
}
