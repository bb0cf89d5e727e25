package record

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// h2Golden reads testdata/h2/NAME.txt (scripts/tshark-h2.py: tshark's
// HTTP/2 and gRPC dissectors), one "CLIENT STREAM METHOD PATH STATUS
// GRPC-STATUS" line per exchange, leaving out the streams in lost
// ("CLIENT STREAM" lines); it returns the lines without their stream,
// sorted, the way a trace row reads.
func h2Golden(t *testing.T, name string, lost map[string]bool) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "h2", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("%s: bad line %q", name, line)
		}
		if lost[f[0]+" "+f[1]] {
			continue
		}
		rows = append(rows, strings.Join(append(f[:1:1], f[2:]...), " "))
	}
	slices.Sort(rows)
	return rows
}

// h2Row is what h2Golden's lines say of a trace row.
func h2Row(e *trace.Exchange) string {
	g := "-"
	if e.GRPCStatus != nil {
		g = strconv.Itoa(int(*e.GRPCStatus))
	}
	return e.Client + " " + e.Method + " " + e.Path + " " + itoa(int(e.Status)) + " " + g
}

// h2Rows are the rows as h2Row gives them, sorted.
func h2Rows(rows []trace.Exchange) []string {
	var out []string
	for i := range rows {
		out = append(out, h2Row(&rows[i]))
	}
	slices.Sort(out)
	return out
}

func recordH2(t *testing.T, name string) (*Summary, []trace.Exchange) {
	t.Helper()
	sum, err := FromPcap(context.Background(), filepath.Join(fixtures, "h2", name+".pcap"),
		Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rows
}

// Recording each HTTP/2 capture (scripts/make-h2-fixtures.sh: curl and
// h2load against nginx, Python's grpcio client and server, curl and
// nghttp upgrading to h2c against Apache, h2load and curl against
// nghttpd padding every frame) writes every exchange tshark
// finds in it, exact: client, method, path, status and grpc-status.
func TestH2Captures(t *testing.T) {
	for _, name := range []string{"nginx-curl", "nginx-h2load", "grpc-python", "apache-upgrade", "nginx-mtu", "nghttpd-padded"} {
		t.Run(name, func(t *testing.T) {
			want := h2Golden(t, name, nil)
			sum, rows := recordH2(t, name)
			got := h2Rows(rows)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ from tshark's\n%s", diffLines(want, got))
			}
			h, h2 := sum.Capture.HTTP, sum.Capture.HTTP2
			if h2.Incomplete != 0 || h2.Orphans != 0 || h2.Gaps != 0 || h2.HPACKErrors != 0 || h2.Desyncs != 0 || h2.NoStart != 0 ||
				h.Incomplete != 0 || h.Resyncs != 0 || h.SkippedBytes != 0 || h.Tunnels != 0 {
				t.Errorf("losses counted in a whole capture: http2 %+v, http %+v", h2, h)
			}
			if h2.Exchanges+h2.Unanswered != sum.Written {
				t.Errorf("summary says %d written, http2 %d+%d", sum.Written, h2.Exchanges, h2.Unanswered)
			}
			for i := range rows {
				if e := &rows[i]; e.Proto != "HTTP/2.0" && !(name == "apache-upgrade" && e.Proto == "HTTP/1.1") {
					t.Errorf("row %d: proto %q", e.ID, e.Proto)
				}
			}
		})
	}
}

// What the rows hold besides what tshark's lines compare: the authority as
// host, no pseudo-header among the headers, secrets redacted, bodies,
// trailers, gRPC message counts, and capture times in order.
func TestH2Rows(t *testing.T) {
	_, rows := recordH2(t, "nginx-curl")
	for i := range rows {
		e := &rows[i]
		if e.Host != "127.0.0.1:18480" {
			t.Errorf("%s: host %q", e.Path, e.Host)
		}
		for _, h := range append(e.ReqHeaders, e.RespHeaders...) {
			if strings.HasPrefix(h.Name, ":") {
				t.Errorf("%s: pseudo-header %q among the headers", e.Path, h.Name)
			}
			if strings.Contains(h.Value, "key-h2-alice") || strings.Contains(h.Value, "s-h2-bob") {
				t.Errorf("%s: a secret on disk: %s: %s", e.Path, h.Name, h.Value)
			}
		}
		if e.TTFBNanos < 0 || e.DurationNanos <= 0 || e.TS.Year() != 2026 {
			t.Errorf("%s: ts %v ttfb %d duration %d", e.Path, e.TS, e.TTFBNanos, e.DurationNanos)
		}
		switch e.Path {
		case "/api/tasks":
			if string(e.ReqBody) != `{"title":"write the h2 fixtures"}` || e.ReqSize != 33 || e.Method != "POST" || e.Kind != trace.KindWrite {
				t.Errorf("POST: body %q size %d", e.ReqBody, e.ReqSize)
			}
			if !strings.HasPrefix(e.Session, "redacted:") && !strings.HasPrefix(e.Session, "key:") {
				if v, _ := trace.HeaderValue(e.ReqHeaders, "x-api-key"); !strings.HasPrefix(v, "redacted:") {
					t.Errorf("POST: x-api-key %q", v)
				}
			}
		case "/big.bin":
			if e.RespSize != 100000 {
				t.Errorf("big.bin: resp_size %d", e.RespSize)
			}
		}
	}

	// nghttpd pads every frame: the padding is not body.
	_, rows = recordH2(t, "nghttpd-padded")
	for i := range rows {
		if e := &rows[i]; e.Path == "/big.bin" && e.RespSize != 100000 || e.Path == "/index.html" && e.RespSize != 16 {
			t.Errorf("padded %s: resp_size %d", e.Path, e.RespSize)
		}
	}

	_, rows = recordH2(t, "grpc-python")
	calls := map[string][]string{}
	for i := range rows {
		e := &rows[i]
		tr := make([]string, 0, len(e.RespTrailers))
		for _, h := range e.RespTrailers {
			tr = append(tr, h.Name)
		}
		g := "-"
		if e.GRPCStatus != nil {
			g = strconv.Itoa(int(*e.GRPCStatus))
		}
		calls[e.Route] = append(calls[e.Route], strconv.FormatInt(e.ReqMessages, 10)+"/"+strconv.FormatInt(e.RespMessages, 10)+" "+g+" "+e.GRPCMessage)
		if e.Route != e.Path || !strings.HasPrefix(e.Path, "/demo.v1.Things/") {
			t.Errorf("route %q of path %q", e.Route, e.Path)
		}
	}
	for route, want := range map[string]string{
		"/demo.v1.Things/Count":    "1/5 0 ",
		"/demo.v1.Things/Total":    "3/1 0 ",
		"/demo.v1.Things/Chat":     "4/4 0 ",
		"/demo.v1.Things/Fail":     "1/0 5 no such thing: widget-7",
		"/demo.v1.Things/LateFail": "2/2 8 too many",
	} {
		if got := calls[route]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: messages, status and message %q, want %q", route, got, want)
		}
	}
	if got := calls["/demo.v1.Things/Echo"]; len(got) != 12 || got[0] != "1/1 0 " {
		t.Errorf("Echo: %q", got)
	}
}

// A copy of nginx-mtu.pcap with a segment removed from inside a DATA
// frame of each of three streams of one connection (h2load's, 4 streams
// at a time) loses those three exchanges, and only them: the connection's
// other streams, before and after the holes, are written.
func TestH2Holes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "h2", "nginx-mtu-holes.lost"))
	if err != nil {
		t.Fatal(err)
	}
	lost := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		lost[line] = true
	}
	want := h2Golden(t, "nginx-mtu", lost)
	if all := h2Golden(t, "nginx-mtu", nil); len(all)-len(want) != 3 {
		t.Fatalf("%d exchanges lost of %d: want 3", len(all)-len(want), len(all))
	}
	sum, rows := recordH2(t, "nginx-mtu-holes")
	got := h2Rows(rows)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ from tshark's less the three streams\n%s", diffLines(want, got))
	}
	h2 := sum.Capture.HTTP2
	if h2.Incomplete != 3 || h2.Gaps != 3 || h2.Desyncs != 0 || h2.HPACKErrors != 0 {
		t.Errorf("http2 counts %+v: want 3 incomplete, 3 gaps, no desync", h2)
	}
}

// The second half of nginx-h2load.pcap: its four connections' starts were
// not captured, so without their HPACK state nothing of them can be
// decoded. They are counted and said, and no row is guessed.
func TestH2MidStream(t *testing.T) {
	sum, rows := recordH2(t, "nginx-h2load-midstream")
	h2 := sum.Capture.HTTP2
	if len(rows) != 0 || h2.NoStart != 4 || h2.Connections != 0 || sum.Capture.HTTP.SkippedBytes != 0 {
		t.Errorf("%d rows, http2 %+v, http skipped %d", len(rows), h2, sum.Capture.HTTP.SkippedBytes)
	}
	var out strings.Builder
	sum.Print(&out)
	if !strings.Contains(out.String(), "4 connections whose start was not captured") {
		t.Errorf("the summary does not say it:\n%s", out.String())
	}
}

// Recording lo live while Go's HTTP/2 client talks h2c (prior knowledge,
// streams multiplexed on one connection) to Go's server, and curl does
// too, yields exactly the exchanges sent.
func TestLiveH2C(t *testing.T) {
	needRoot(t)
	srv := httptest.NewUnstartedServer(testHandler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	port := serverPort(t, srv)
	dir := t.TempDir()
	key := []byte("live-h2-test")
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	cfg := Config{Ports: []uint16{port}, Out: dir + "/", RedactKey: key, MaxBody: 1 << 20, Flush: time.Second,
		Ready: func(string) { close(ready) }}
	go func() {
		sum, err := Live(ctx, LiveSource{Iface: "lo"}, cfg)
		done <- result{sum, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("capture did not start: %v", r.err)
	}

	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: h2c}, Timeout: 10 * time.Second}
	r := redact.New(key, nil)
	var mu sync.Mutex
	var want []sent
	do := func(method, path, body, apiKey string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if apiKey != "" {
			req.Header.Set("X-API-Key", apiKey)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("%s %s went over %s", method, path, resp.Proto)
		}
		mu.Lock() // the Redactor is not safe for concurrent use
		defer mu.Unlock()
		session := ""
		if apiKey != "" {
			session = "x-api-key:" + r.Hash(apiKey)
		}
		want = append(want, sent{method, path, resp.StatusCode, len(body), session})
	}
	do("GET", "/first", "", "") // the connection, before the streams at once
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { do("GET", "/api/tasks/"+strconv.Itoa(i), "", "key-h2-alice") })
	}
	wg.Wait()
	do("POST", "/api/tasks", `{"title":"over h2c"}`, "key-h2-bob")
	do("PUT", "/api/tasks/3", strings.Repeat("x", 50000), "key-h2-bob")
	do("DELETE", "/api/tasks/3", "", "")
	do("GET", "/missing", "", "")
	if curl, err := exec.LookPath("curl"); err == nil {
		if err := exec.Command(curl, "-s", "-o", "/dev/null", "--http2-prior-knowledge", srv.URL+"/curl/h2").Run(); err != nil {
			t.Fatal(err)
		}
		want = append(want, sent{"GET", "/curl/h2", 200, 0, ""})
	}
	time.Sleep(300 * time.Millisecond) // the last packets reach the ring
	cancel()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rows := readTraces(t, dir)
	compare(t, want, rows)
	h2 := res.sum.Capture.HTTP2
	if h2.Connections < 2 || h2.Exchanges != int64(len(want)) || h2.Incomplete != 0 {
		t.Errorf("http2 %+v", h2)
	}
	for _, e := range rows {
		if e.Proto != "HTTP/2.0" || e.Host != srv.Listener.Addr().String() {
			t.Errorf("%s: proto %q host %q", e.Path, e.Proto, e.Host)
		}
	}
}

// A copy of nginx-h2load.pcap without the client segment that carries the
// second batch of request header blocks of one connection: that side's
// HPACK table is unknown from there on, so every later request of that
// connection is lost, none guessed (their answers are counted without
// their request); the streams before the hole and the other connections
// are whole.
func TestH2HeadersHole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "h2", "nginx-h2load-headers-hole.lost"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	client := f[0]
	from, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join(fixtures, "h2", "nginx-h2load.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	lost := 0
	for _, line := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
		g := strings.Fields(line)
		if id, _ := strconv.Atoi(g[1]); g[0] == client && id >= from {
			lost++
			continue
		}
		want = append(want, strings.Join(append(g[:1:1], g[2:]...), " "))
	}
	slices.Sort(want)
	sum, rows := recordH2(t, "nginx-h2load-headers-hole")
	got := h2Rows(rows)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ from tshark's less the lost streams\n%s", diffLines(want, got))
	}
	h2 := sum.Capture.HTTP2
	if lost == 0 || h2.Orphans+h2.Incomplete != int64(lost) || h2.Desyncs != 1 {
		t.Errorf("%d streams lost, http2 counts %+v", lost, h2)
	}
}

// rewritePcap copies testdata/h2/NAME.pcap to a temporary file, passing
// each packet (its number, from 0) through edit, which may change its
// capture info or drop it (false).
func rewritePcap(t *testing.T, name string, edit func(i int, ci *gopacket.CaptureInfo, data []byte) bool) string {
	t.Helper()
	in, err := os.Open(filepath.Join(fixtures, "h2", name+".pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".pcap")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(262144, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !edit(i, &ci, data) {
			continue
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// grpc-python.pcap with its one connection quiet for 5 minutes half-way
// (a gRPC channel between calls): reassembly closes it as idle after 2,
// but its HPACK state waits, so the calls after the pause are read as
// those before (every one of tshark's), on the same connection.
func TestH2QuietConnection(t *testing.T) {
	path := rewritePcap(t, "grpc-python", func(i int, ci *gopacket.CaptureInfo, data []byte) bool {
		if i >= 60 {
			ci.Timestamp = ci.Timestamp.Add(5 * time.Minute)
		}
		return true
	})
	sum, err := FromPcap(context.Background(), path, Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	late := 0
	for i := range rows {
		got = append(got, h2Row(&rows[i]))
		if rows[i].Conn != rows[0].Conn {
			t.Errorf("row %d on connection %d, row 0 on %d", i, rows[i].Conn, rows[0].Conn)
		}
		if rows[i].TS.Sub(rows[0].TS) > 4*time.Minute {
			late++
		}
	}
	slices.Sort(got)
	if want := h2Golden(t, "grpc-python", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ from tshark's\n%s", diffLines(want, got))
	}
	if h2 := sum.Capture.HTTP2; h2.NoStart != 0 || h2.Incomplete != 0 || h2.Connections != 1 || late == 0 {
		t.Errorf("http2 %+v, %d rows after the pause", h2, late)
	}
}

// The same pause, and the first segment after it lost: the side it was
// on cannot go on (its frames' places are gone), so what it carried and
// what follows it is lost, counted, never decoded from the wrong place.
func TestH2QuietConnectionLosesASegment(t *testing.T) {
	dropped := false
	path := rewritePcap(t, "grpc-python", func(i int, ci *gopacket.CaptureInfo, data []byte) bool {
		if i < 60 {
			return true
		}
		ci.Timestamp = ci.Timestamp.Add(5 * time.Minute)
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && len(tcp.Payload) > 0 && !dropped {
			dropped = true
			return false
		}
		return true
	})
	sum, err := FromPcap(context.Background(), path, Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, w := range h2Golden(t, "grpc-python", nil) {
		want[w]++
	}
	for i := range rows {
		if r := h2Row(&rows[i]); want[r] == 0 {
			t.Errorf("a row tshark does not have: %s", r)
		} else {
			want[r]--
		}
	}
	h2 := sum.Capture.HTTP2
	if h2.Desyncs != 1 || len(rows) == 17 || len(rows) < 6 {
		t.Errorf("%d rows, http2 %+v", len(rows), h2)
	}
}

// A capture without the handshakes (every SYN removed from nginx-curl.pcap)
// still holds each connection's preface: each is decoded whole, as tshark
// decoded the capture with them.
func TestH2WithoutHandshakes(t *testing.T) {
	removed := 0
	path := rewritePcap(t, "nginx-curl", func(i int, ci *gopacket.CaptureInfo, data []byte) bool {
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SYN {
			removed++
			return false
		}
		return true
	})
	if removed < 20 {
		t.Fatalf("removed %d SYNs", removed)
	}
	sum, err := FromPcap(context.Background(), path, Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	got := h2Rows(rows)
	if want := h2Golden(t, "nginx-curl", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ from tshark's\n%s", diffLines(want, got))
	}
	if h2 := sum.Capture.HTTP2; h2.NoStart != 0 || h2.Incomplete != 0 {
		t.Errorf("http2 %+v", h2)
	}
}
