//go:build linux && amd64

package record

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/replaykit/replaykit/capture/tlsprobe"
	"github.com/replaykit/replaykit/trace"
)

// needTLSProbe skips unless the machine can run the --tls tests: root,
// nginx and curl, both mapping one libssl (returned).
func needTLSProbe(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("--tls loads BPF programs: run the tests as root, as CI does")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("--tls needs a kernel with BTF (/sys/kernel/btf/vmlinux)")
	}
	var lib string
	for _, cmd := range []string{"nginx", "curl"} {
		path, err := exec.LookPath(cmd)
		if err != nil {
			t.Skipf("the --tls tests need %s (apt-get install nginx curl)", cmd)
		}
		l := linkedLibssl(t, path)
		if l == "" || (lib != "" && l != lib) {
			t.Skipf("nginx and curl do not map one libssl (%q, %q): the test traces one library", lib, l)
		}
		lib = l
	}
	return lib
}

// linkedLibssl is the libssl that ldd says path loads, its symlinks
// resolved ("" when none).
func linkedLibssl(t *testing.T, path string) string {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[0], "libssl.so") {
			real, err := filepath.EvalSymlinks(f[2])
			if err != nil {
				return ""
			}
			return real
		}
	}
	return ""
}

// nginx is one nginx the test started: a TLS port and a clear-text port
// serving the same files.
type nginx struct {
	tlsPort, plainPort uint16
	// h2TLSPort offers HTTP/2 by ALPN (and HTTP/1.1); h2PlainPort speaks
	// h2c by prior knowledge: the same files.
	h2TLSPort, h2PlainPort uint16
	cmd                    *exec.Cmd
}

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// bigSize is over the BPF program's 16 KiB per event: nginx writes it in
// several SSL_write calls, each split in events.
const bigSize = 200 << 10

func startNginx(t *testing.T) *nginx {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "small.txt"), []byte("hello, tls\n"), 0o644)
	os.WriteFile(filepath.Join(www, "big.bin"), []byte(strings.Repeat("0123456789abcdef", bigSize/16)), 0o644)
	n := &nginx{tlsPort: freePort(t), plainPort: freePort(t), h2TLSPort: freePort(t), h2PlainPort: freePort(t)}
	site := fmt.Sprintf(`root %s; location = /echo { return 200 "echo\n"; }`, www)
	conf := fmt.Sprintf(`user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
	default_type application/octet-stream;
	keepalive_timeout 60s;
	server { listen 127.0.0.1:%[2]d ssl; ssl_certificate %[4]s; ssl_certificate_key %[5]s; %[6]s }
	server { listen 127.0.0.1:%[3]d; %[6]s }
	server { listen 127.0.0.1:%[7]d ssl http2; ssl_certificate %[4]s; ssl_certificate_key %[5]s; %[6]s }
	server { listen 127.0.0.1:%[8]d http2; %[6]s }
}
`, dir, n.tlsPort, n.plainPort, cert, key, site, n.h2TLSPort, n.h2PlainPort)
	path := filepath.Join(dir, "nginx.conf")
	os.WriteFile(path, []byte(conf), 0o600)
	n.cmd = exec.Command("nginx", "-p", dir, "-c", path)
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The master ends its workers on SIGTERM; it is ours, by PID.
		n.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	})
	for _, p := range []uint16{n.tlsPort, n.plainPort, n.h2TLSPort, n.h2PlainPort} {
		waitListening(t, p)
	}
	return n
}

func waitListening(t *testing.T, port uint16) {
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if i >= 300 {
			t.Fatalf("nginx does not listen on %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workerPID is the pid of the nginx master's one worker.
func (n *nginx) workerPID(t *testing.T) int {
	pid := n.cmd.Process.Pid
	for range 200 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) == 1 {
			w, _ := strconv.Atoi(f[0])
			return w
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no nginx worker")
	return 0
}

// curlTraffic sends the test's mix to base (https://127.0.0.1:P or
// http://...): one curl keeping its connection for four requests, and
// fresh connections, one curl each. It returns how many requests it sent.
func curlTraffic(t *testing.T, base string) int {
	run := func(args ...string) {
		args = append([]string{"-sSk", "--http1.1", "--max-time", "20"}, args...)
		if out, err := exec.Command("curl", args...).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// Keep-alive: curl reuses its connection for every URL, and across --next.
	run("-H", "X-API-Key: key-alice", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
		base+"/small.txt", base+"/big.bin", base+"/missing",
		"--next", "-sSk", "--http1.1", "-H", "X-API-Key: key-alice", "-o", "/dev/null", "-d", "name=alice", base+"/echo")
	// Fresh connections.
	run("-H", "X-API-Key: key-bob", "-o", "/dev/null", base+"/echo?q=1")
	run("-H", "X-API-Key: key-bob", "-o", "/dev/null", "-X", "POST", "-d", "a body for a static file", base+"/small.txt")
	run("-o", "/dev/null", base+"/big.bin")
	return 7
}

// pythonClient keeps one connection for three requests and opens a fresh
// one for a fourth, with Python's http.client (whose ssl module calls
// SSL_read_ex and SSL_write_ex).
const pythonClient = `
import http.client, ssl, sys
scheme, port = sys.argv[1], int(sys.argv[2])
def conn():
    if scheme == "https":
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=ssl._create_unverified_context())
    return http.client.HTTPConnection("127.0.0.1", port, timeout=20)
c = conn()
for method, path, body in [("GET", "/small.txt", None), ("POST", "/echo", "py=1"), ("GET", "/big.bin", None)]:
    c.request(method, path, body=body, headers={"X-API-Key": "key-carol"})
    c.getresponse().read()
c.close()
c = conn()
c.request("GET", "/missing", headers={"X-API-Key": "key-dave"})
c.getresponse().read()
c.close()
`

// pythonTraffic sends pythonClient's requests to 127.0.0.1:port; it
// returns how many (0: no python3 with an ssl module).
func pythonTraffic(t *testing.T, scheme string, port uint16) int {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import ssl").Run() != nil {
		return 0
	}
	if out, err := exec.Command(py, "-c", pythonClient, scheme, strconv.Itoa(int(port))).CombinedOutput(); err != nil {
		t.Fatalf("python client: %v: %s", err, out)
	}
	return 4
}

// recordTLS records --tls targets on port (0: any) while traffic runs, until want
// rows are written (and a little longer, so that one too many would show).
func recordTLS(t *testing.T, targets []tlsprobe.Target, port uint16, want int, traffic func()) ([]trace.Exchange, *Summary) {
	dir := t.TempDir()
	ready := make(chan struct{})
	var written atomic.Int64
	cfg := Config{Out: dir + "/", RedactKey: []byte("tls-test"), MaxBody: 1 << 20,
		Flush: time.Second, Ready: func(string) { close(ready) },
		Progress: func(s *Summary) { written.Store(s.Written) }}
	if port > 0 {
		cfg.Ports = []uint16{port}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := TLS(ctx, TLSSource{Targets: targets}, cfg)
		done <- result{sum, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("record --tls: %v", r.err)
	}
	traffic()
	// Exchanges are written as each answer ends; a loaded machine may
	// take a while to read the ring buffer.
	for deadline := time.Now().Add(30 * time.Second); written.Load() < int64(want) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatalf("record --tls: %v", r.err)
	}
	var b strings.Builder
	r.sum.Print(&b)
	t.Logf("record --tls summary:\n%s", b.String())
	return readTraces(t, dir), r.sum
}

// recordPcap captures port with tcpdump while traffic runs and records
// the capture file, as `record --pcap` does.
func recordPcap(t *testing.T, port uint16, traffic func()) []trace.Exchange {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("the comparison with --pcap needs tcpdump (apt-get install tcpdump)")
	}
	dir := t.TempDir()
	pcap := filepath.Join(dir, "plain.pcap")
	cmd := exec.Command("tcpdump", "-i", "lo", "--immediate-mode", "-B", "32768", "-U", "-n", "-s", "0", "-w", pcap, fmt.Sprintf("tcp port %d", port))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			t.Log("tcpdump:", sc.Text())
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(listening)
			}
		}
		if !once {
			close(listening)
		}
	}()
	select {
	case <-listening:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("tcpdump did not start")
	}
	traffic()
	time.Sleep(time.Second)          // the last packets reach tcpdump's file
	cmd.Process.Signal(os.Interrupt) // ours, by PID
	cmd.Wait()
	var b strings.Builder
	sum, err := FromPcap(context.Background(), pcap, Config{Out: filepath.Join(dir, "plain.parquet"), RedactKey: []byte("tls-test"), MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sum.Print(&b)
	t.Logf("record --pcap summary:\n%s", b.String())
	rows := readTraces(t, dir)
	if int64(len(rows)) != sum.Written {
		t.Fatalf("pcap: %d rows read, %d written", len(rows), sum.Written)
	}
	return rows
}

// shape is what must be equal between a --tls and a --pcap trace of the
// same requests: each exchange's method, path, status and sizes, which
// session it is in and which connection (numbered by first appearance,
// since the two recordings number their connections apart).
func shape(rows []trace.Exchange) []string {
	slices.SortStableFunc(rows, func(a, b trace.Exchange) int { return a.TS.Compare(b.TS) })
	conns := map[int64]int{}
	out := make([]string, len(rows))
	for i, e := range rows {
		c, ok := conns[e.Conn]
		if !ok {
			c = len(conns)
			conns[e.Conn] = c
		}
		out[i] = fmt.Sprintf("%s %s %d req=%d resp=%d session=%s conn=%d", e.Method, e.Path, e.Status, e.ReqSize, e.RespSize, e.Session, c)
	}
	return out
}

// The trace --tls makes of curl and Python talking HTTPS to nginx is the trace
// --pcap makes of the same requests in clear text to the same nginx:
// every exchange, with its method, path, status, sizes, session and
// connection. Curl, Python and nginx are all traced (the one library they map):
// each connection is recorded once.
func TestTLSEqualsPcap(t *testing.T) {
	lib := needTLSProbe(t)
	n := startNginx(t)
	py, err := exec.LookPath("python3")
	if err == nil && linkedLibssl(t, py) != lib {
		// A python3 of its own build (pyenv) may map another libssl.
		if l := linkedLibssl(t, "/usr/bin/python3"); l == lib {
			t.Setenv("PATH", "/usr/bin:"+os.Getenv("PATH"))
		}
	}
	sent := 7 + pythonTraffic(t, "http", n.plainPort) // warms python up, and says whether it runs
	tlsRows, sum := recordTLS(t, []tlsprobe.Target{{Lib: lib}}, n.tlsPort, sent, func() {
		curlTraffic(t, fmt.Sprintf("https://127.0.0.1:%d", n.tlsPort))
		pythonTraffic(t, "https", n.tlsPort)
	})
	plainRows := recordPcap(t, n.plainPort, func() {
		curlTraffic(t, fmt.Sprintf("http://127.0.0.1:%d", n.plainPort))
		pythonTraffic(t, "http", n.plainPort)
	})
	got, want := shape(tlsRows), shape(plainRows)
	if len(want) != sent {
		t.Fatalf("--pcap recorded %d exchanges of %d sent:\n%s", len(want), sent, strings.Join(want, "\n"))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("--tls and --pcap traces differ:\n%s", diffLines(want, got))
	}
	if c := sum.TLS.Conns; c.OtherEnd != c.Connections/2 || c.MissedStart != 0 || c.NoAddress != 0 {
		t.Errorf("connections: %+v, want each seen from both ends, none mid-message or without addresses", c)
	}
	if p := sum.TLS.Probe; p.LostEvents != 0 || p.Busy != 0 || p.TooLong != 0 {
		t.Errorf("probe lost events: %+v", p)
	}
	for _, e := range tlsRows {
		if e.Server != fmt.Sprintf("127.0.0.1:%d", n.tlsPort) || !strings.HasPrefix(e.Client, "127.0.0.1:") {
			t.Errorf("row %s %s: client %s server %s", e.Method, e.Path, e.Client, e.Server)
		}
	}
}

// HTTP/2 inside TLS (curl --http2 to nginx's `ssl http2` listener: ALPN
// h2): the trace --tls makes is the trace --pcap makes of the same
// requests over h2c (prior knowledge) to nginx's clear-text http2
// listener: every stream, with its method, path, status, sizes, session
// and connection.
func TestTLSH2EqualsPcap(t *testing.T) {
	lib := needTLSProbe(t)
	n := startNginx(t)
	traffic := func(flag, base string) {
		run := func(args ...string) {
			args = append([]string{"-sSk", flag, "--max-time", "20", "-H", "X-API-Key: key-h2"}, args...)
			if out, err := exec.Command("curl", args...).CombinedOutput(); err != nil {
				t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		run("-o", "/dev/null", base+"/small.txt")
		// No body to /echo: nginx answers a `return` before reading it and
		// resets the stream, which curl over h2c reports as an error.
		run("-o", "/dev/null", base+"/echo?q=h2")
		// Three streams at once on one connection.
		run("-Z", "--parallel-immediate", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", base+"/big.bin", base+"/missing", base+"/small.txt?n=2")
	}
	const sent = 5
	tlsRows, sum := recordTLS(t, []tlsprobe.Target{{Lib: lib}}, n.h2TLSPort, sent, func() {
		traffic("--http2", fmt.Sprintf("https://127.0.0.1:%d", n.h2TLSPort))
	})
	plainRows := recordPcap(t, n.h2PlainPort, func() {
		traffic("--http2-prior-knowledge", fmt.Sprintf("http://127.0.0.1:%d", n.h2PlainPort))
	})
	// The parallel transfers start in either order: by path, without the
	// connection's place; the connections are counted apart.
	byPath := func(rows []trace.Exchange) []string {
		out := shape(rows)
		conns := map[int64]bool{}
		for i := range out {
			out[i], _, _ = strings.Cut(out[i], " conn=")
			conns[rows[i].Conn] = true
		}
		slices.Sort(out)
		return append(out, fmt.Sprintf("%d connections", len(conns)))
	}
	got, want := byPath(tlsRows), byPath(plainRows)
	if len(want) != sent+1 {
		t.Fatalf("--pcap recorded %d exchanges of %d sent:\n%s", len(want)-1, sent, strings.Join(want, "\n"))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("--tls and --pcap traces differ:\n%s", diffLines(want, got))
	}
	for _, e := range tlsRows {
		if e.Proto != "HTTP/2.0" {
			t.Errorf("row %s %s: proto %q", e.Method, e.Path, e.Proto)
		}
	}
	if h2 := sum.Capture.HTTP2; h2.Exchanges != sent || h2.NoStart != 0 {
		t.Errorf("HTTP/2 stats %+v: want %d exchanges, every connection from its start", h2, sent)
	}
}

// With pid:N only that process's connections are recorded: requests to
// another nginx (another process mapping the same libssl) are not.
func TestTLSPidFilter(t *testing.T) {
	needTLSProbe(t)
	a, b := startNginx(t), startNginx(t)
	pid := a.workerPID(t)
	rows, sum := recordTLS(t, []tlsprobe.Target{{PID: pid}}, 0, 7, func() {
		curlTraffic(t, fmt.Sprintf("https://127.0.0.1:%d", b.tlsPort))
		curlTraffic(t, fmt.Sprintf("https://127.0.0.1:%d", a.tlsPort))
	})
	if len(rows) != 7 {
		t.Fatalf("%d rows, want the 7 sent to pid %d", len(rows), pid)
	}
	for _, e := range rows {
		if e.Server != fmt.Sprintf("127.0.0.1:%d", a.tlsPort) {
			t.Errorf("row %s %s to %s: not pid %d's", e.Method, e.Path, e.Server, pid)
		}
	}
	if c := sum.TLS.Conns; c.OtherEnd != 0 {
		t.Errorf("connections seen from both ends with one process traced: %+v", c)
	}
}

// With exe:PATH only the processes running PATH are recorded: nginx's
// view of each connection, none of curl's (which maps the same libssl).
func TestTLSExeFilter(t *testing.T) {
	needTLSProbe(t)
	n := startNginx(t)
	exe, err := filepath.EvalSymlinks(n.cmd.Path)
	if err != nil {
		t.Fatal(err)
	}
	rows, sum := recordTLS(t, []tlsprobe.Target{{Exe: exe}}, n.tlsPort, 7, func() {
		curlTraffic(t, fmt.Sprintf("https://127.0.0.1:%d", n.tlsPort))
	})
	if len(rows) != 7 {
		t.Fatalf("%d rows, want the 7 sent", len(rows))
	}
	if p, c := sum.TLS.Probe, sum.TLS.Conns; p.OtherProcesses == 0 || c.OtherEnd != 0 || c.Connections != 4 {
		t.Errorf("curl's chunks not left out: %+v %+v", p, c)
	}
}

// goTLS builds testdata/gotls (Go's crypto/tls, with symbols) and starts
// its server: a TLS port and a clear-text port with one handler.
func goTLS(t *testing.T) (bin string, tlsPort, plainPort uint16) {
	dir := t.TempDir()
	bin = filepath.Join(dir, "gotls")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/gotls").CombinedOutput(); err != nil {
		t.Fatalf("build testdata/gotls: %v: %s", err, out)
	}
	cert, key := selfSigned(t, dir)
	tlsPort, plainPort = freePort(t), freePort(t)
	cmd := exec.Command(bin, "serve", strconv.Itoa(int(tlsPort)), strconv.Itoa(int(plainPort)), cert, key)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // ours, by PID
	waitListening(t, tlsPort)
	waitListening(t, plainPort)
	return bin, tlsPort, plainPort
}

func goGet(t *testing.T, bin, base string) {
	if out, err := exec.Command(bin, "get", base).CombinedOutput(); err != nil {
		t.Fatalf("gotls get %s: %v: %s", base, err, out)
	}
}

// A Go HTTPS server and client (crypto/tls: no OpenSSL) give with
// --tls exe:GOBIN the trace --pcap makes of the same requests in clear
// text. Both ends run the executable: each connection is recorded once.
func TestTLSGoEqualsPcap(t *testing.T) {
	needTLSProbe(t)
	bin, tlsPort, plainPort := goTLS(t)
	tlsRows, sum := recordTLS(t, []tlsprobe.Target{{Exe: bin}}, tlsPort, 6, func() {
		goGet(t, bin, fmt.Sprintf("https://127.0.0.1:%d", tlsPort))
	})
	plainRows := recordPcap(t, plainPort, func() { goGet(t, bin, fmt.Sprintf("http://127.0.0.1:%d", plainPort)) })
	got, want := shape(tlsRows), shape(plainRows)
	if len(want) != 6 {
		t.Fatalf("--pcap recorded %d exchanges of 6 sent:\n%s", len(want), strings.Join(want, "\n"))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("--tls and --pcap traces differ:\n%s", diffLines(want, got))
	}
	if c := sum.TLS.Conns; c.MissedStart != 0 || c.NoAddress != 0 || c.OtherEnd != c.Connections/2 {
		t.Errorf("connections: %+v, want each seen from both ends, none mid-message or without addresses", c)
	}
}
