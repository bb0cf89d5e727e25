package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/observed"
)

// conv builds the packets of one TCP connection, as a capture on the
// wire would hold them, for inputs no real client can be asked to make
// (a 1 GB body, a sequence number wrapping around) or that must be exact
// (10,000 pipelined requests).
type conv struct {
	t                  testing.TB
	cport              uint16
	cseq, sseq         uint32
	ts                 time.Time
	emit               func(data []byte, ci gopacket.CaptureInfo)
	buf                gopacket.SerializeBuffer
	clientMAC, srvMAC  net.HardwareAddr
	clientIP, serverIP net.IP
}

func newConv(t testing.TB, cport uint16, cisn, sisn uint32, emit func([]byte, gopacket.CaptureInfo)) *conv {
	return &conv{t: t, cport: cport, cseq: cisn, sseq: sisn, ts: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), emit: emit,
		buf:       gopacket.NewSerializeBuffer(),
		clientMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, srvMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		clientIP: net.IPv4(127, 0, 0, 1).To4(), serverIP: net.IPv4(127, 0, 0, 1).To4()}
}

const serverPort = 8000

// packet emits one segment from the client (or the server) with flags and
// payload, and advances that side's sequence number.
func (c *conv) packet(fromClient bool, syn, ack, fin, rst bool, payload []byte) {
	c.ts = c.ts.Add(10 * time.Microsecond)
	eth := &layers.Ethernet{SrcMAC: c.clientMAC, DstMAC: c.srvMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c.clientIP, DstIP: c.serverIP}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(c.cport), DstPort: serverPort, Seq: c.cseq, Ack: c.sseq,
		SYN: syn, ACK: ack, FIN: fin, RST: rst, Window: 65535}
	if !fromClient {
		eth.SrcMAC, eth.DstMAC = c.srvMAC, c.clientMAC
		tcp.SrcPort, tcp.DstPort, tcp.Seq, tcp.Ack = serverPort, layers.TCPPort(c.cport), c.sseq, c.cseq
	}
	tcp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(c.buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	data := c.buf.Bytes()
	c.emit(data, gopacket.CaptureInfo{Timestamp: c.ts, CaptureLength: len(data), Length: len(data)})
	n := uint32(len(payload))
	if syn || fin {
		n++
	}
	if fromClient {
		c.cseq += n
	} else {
		c.sseq += n
	}
}

func (c *conv) handshake() {
	c.packet(true, true, false, false, false, nil)
	c.packet(false, true, true, false, false, nil)
	c.packet(true, false, true, false, false, nil)
}

// send sends data from one side in segments of at most mss bytes.
func (c *conv) send(fromClient bool, data []byte, mss int) {
	for len(data) > 0 {
		n := min(len(data), mss)
		c.packet(fromClient, false, true, false, false, data[:n])
		data = data[n:]
	}
}

func (c *conv) close() {
	c.packet(true, false, true, true, false, nil)
	c.packet(false, false, true, true, false, nil)
	c.packet(true, false, true, false, false, nil)
}

// feed returns an emit function that hands packets to an extractor, and
// the extractor with its sink.
func feed(opts Options) (*Extractor, *countSink, func([]byte, gopacket.CaptureInfo)) {
	sink := &countSink{}
	x := NewExtractor(opts, sink)
	return x, sink, func(data []byte, ci gopacket.CaptureInfo) { x.Packet(data, ci, layers.LinkTypeEthernet) }
}

// peakHeap samples the live heap while fn runs.
func peakHeap(fn func(sample func())) uint64 {
	var peak uint64
	var ms runtime.MemStats
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	runtime.GC()
	fn(sample)
	sample()
	return peak
}

// 10,000 pipelined requests on one connection, all sent before the first
// response (the worst case), then 10,000 responses: every exchange kept,
// in a bounded heap.
func TestTenThousandPipelinedRequests(t *testing.T) {
	const n = 10000
	x, sink, emit := feed(Options{Ports: []uint16{serverPort}})
	peak := peakHeap(func(sample func()) {
		c := newConv(t, 40000, 1000, 5000, emit)
		c.handshake()
		var reqs, resps bytes.Buffer
		for i := range n {
			fmt.Fprintf(&reqs, "GET /api/v1/tasks/%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
			fmt.Fprintf(&resps, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}
		c.send(true, reqs.Bytes(), 1400)
		sample()
		c.send(false, resps.Bytes(), 1400)
		c.close()
		x.Close()
	})
	st := x.Stats()
	if sink.n != n || st.HTTP.Exchanges != n || st.HTTP.Incomplete != 0 {
		t.Errorf("%d exchanges delivered, stats %+v", sink.n, st.HTTP)
	}
	t.Logf("10,000 pipelined requests: %d exchanges, peak heap %.1f MB", sink.n, float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak heap %d MB", peak>>20)
	}
}

// A 1 GB request body streams through: one exchange, its full size
// counted, only MaxBody of it kept, the heap flat.
func TestOneGigabyteBody(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() || raceEnabled {
		size = 64 << 20 // the same path, in the time a short or race run has
	}
	x, sink, emit := feed(Options{Ports: []uint16{serverPort}, HTTP: httpstream.Options{MaxBody: 1 << 20}})
	var got *observed.Message
	sink.onExchange = func(req, resp *observed.Message) { got = req }
	peak := peakHeap(func(sample func()) {
		c := newConv(t, 40001, 1, 1, emit)
		c.handshake()
		c.send(true, []byte(fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)), 1400)
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 60000/16)
		for sent := int64(0); sent < size; {
			k := min(int64(len(chunk)), size-sent)
			c.packet(true, false, true, false, false, chunk[:k])
			sent += k
			if sent%(64<<20) == 0 {
				sample()
			}
		}
		c.send(false, []byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), 1400)
		c.close()
		x.Close()
	})
	if sink.n != 1 || got == nil || got.BodySize != size || len(got.Body) != 1<<20 {
		t.Fatalf("%d exchanges; body %d of %d bytes kept", sink.n, len(got.Body), size)
	}
	t.Logf("%d MB body: peak heap %.1f MB", size>>20, float64(peak)/(1<<20))
	if peak > 96<<20 {
		t.Errorf("peak heap %d MB for a %d MB body", peak>>20, size>>20)
	}
}

// Sequence numbers wrapping around 2^32 in the middle of a request body
// and of a response: both whole.
func TestSequenceWrapAround(t *testing.T) {
	x, sink, emit := feed(Options{Ports: []uint16{serverPort}, HTTP: httpstream.Options{MaxBody: 1 << 20}})
	var req, resp *observed.Message
	sink.onExchange = func(q, p *observed.Message) { req, resp = q, p }
	c := newConv(t, 40002, 1<<32-3000, 1<<32-100, emit)
	c.handshake()
	body := strings.Repeat("w", 10000)
	c.send(true, []byte(fmt.Sprintf("POST /wrap HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)), 1400)
	c.send(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"+strings.Repeat("r", 5000)), 1400)
	c.close()
	x.Close()
	if sink.n != 1 || req == nil || string(req.Body) != body || resp == nil || resp.BodySize != 5000 {
		t.Fatalf("%d exchanges; %+v", sink.n, x.Stats().HTTP)
	}
}

// Garbage and another protocol on the HTTP port are skipped and counted,
// and an HTTP connection beside them is kept.
func TestNotHTTPOnThePort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	tls := []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x8a", 500))
	ssh := []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + strings.Repeat("\x00\x00\x05\xdc\x0a\x14", 200))
	x, sink, emit := feed(Options{Ports: []uint16{serverPort}})
	for i, junk := range [][]byte{garbage, tls, ssh} {
		c := newConv(t, uint16(41000+i), 7, 9, emit)
		c.handshake()
		c.send(true, junk, 1400)
		c.send(false, junk[:min(len(junk), 3000)], 1400)
		c.close()
	}
	c := newConv(t, 41010, 7, 9, emit)
	c.handshake()
	c.send(true, []byte("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"), 1400)
	c.send(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 1400)
	c.close()
	x.Close()
	st := x.Stats()
	if sink.n != 1 || st.HTTP.Exchanges != 1 || st.HTTP.SkippedBytes < int64(len(garbage)) {
		t.Errorf("%d exchanges; skipped %d bytes; %+v", sink.n, st.HTTP.SkippedBytes, st.HTTP)
	}
}

// readPackets reads a capture fixture into memory.
func readPackets(t *testing.T, name string) ([][]byte, []gopacket.CaptureInfo, layers.LinkType) {
	data, err := os.ReadFile("../testdata/pcap/" + name)
	if err != nil {
		t.Fatal(err)
	}
	src, _, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	var cis []gopacket.CaptureInfo
	for {
		d, ci, err := src.ReadPacket()
		if err != nil {
			break
		}
		pkts, cis = append(pkts, append([]byte(nil), d...)), append(cis, ci)
	}
	return pkts, cis, src.LinkType()
}

// exchangesOf runs packets through an extractor and lists the exchanges.
func exchangesOf(pkts [][]byte, cis []gopacket.CaptureInfo, lt layers.LinkType) (map[string]int, Stats) {
	sink := &countSink{seen: map[string]int{}}
	x := NewExtractor(Options{HTTP: httpstream.Options{MaxBody: 1 << 20}}, sink)
	for i := range pkts {
		x.Packet(pkts[i], cis[i], lt)
	}
	x.Close()
	return sink.seen, x.Stats()
}

// Duplicated and reordered segments (as retransmissions and multipath
// give) change nothing: the same exchanges, with the same bodies.
func TestDuplicatedAndReorderedSegments(t *testing.T) {
	pkts, cis, lt := readPackets(t, "go-curl.pcap")
	want, _ := exchangesOf(pkts, cis, lt)
	var dp [][]byte
	var dc []gopacket.CaptureInfo
	for i := range pkts {
		dp, dc = append(dp, pkts[i]), append(dc, cis[i])
		if i%3 == 0 {
			dp, dc = append(dp, pkts[i]), append(dc, cis[i]) // a duplicate
		}
	}
	// Swap neighbours here and there (keeping each packet's own time).
	for i := 5; i+1 < len(dp); i += 7 {
		dp[i], dp[i+1] = dp[i+1], dp[i]
		dc[i], dc[i+1] = dc[i+1], dc[i]
	}
	got, st := exchangesOf(dp, dc, lt)
	if !equalCounts(got, want) {
		t.Errorf("duplicated and reordered: %d exchange kinds, want %d; %+v", len(got), len(want), st.HTTP)
	}
}

// Frames cut by a small snap length, or truncated in their headers, are
// counted; what is delivered is only what the clean capture holds; nothing
// crashes.
func TestSnapLengthCutsAndTruncatedFrames(t *testing.T) {
	pkts, cis, lt := readPackets(t, "go-curl.pcap")
	want, _ := exchangesOf(pkts, cis, lt)
	for _, snap := range []int{20, 54, 96, 200, 600} {
		cp := make([][]byte, len(pkts))
		cc := make([]gopacket.CaptureInfo, len(pkts))
		for i := range pkts {
			cp[i] = pkts[i][:min(len(pkts[i]), snap)]
			cc[i] = cis[i]
			cc[i].CaptureLength = len(cp[i])
		}
		got, st := exchangesOf(cp, cc, lt)
		for k, n := range got {
			if want[k] < n {
				t.Errorf("snap %d: delivered %q %d times, the clean capture has it %d times", snap, k, n, want[k])
			}
		}
		if st.Truncated+st.Malformed == 0 {
			t.Errorf("snap %d: no packet counted as cut: %+v", snap, st)
		}
		t.Logf("snap %d: %d of %d exchange kinds; truncated %d, malformed %d, incomplete %d", snap, len(got), len(want),
			st.Truncated, st.Malformed, st.HTTP.Incomplete)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
