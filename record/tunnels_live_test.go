//go:build linux

package record

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace the test made (and deletes).
type netns string

func (n netns) ip(t *testing.T, args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", string(n)}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s %s: %v: %s", n, strings.Join(args, " "), err, out)
	}
	return nil
}

// enter moves the calling goroutine's thread into the namespace, for the
// sockets it opens from then on (they stay in it). The thread is never
// unlocked: when the goroutine ends, Go ends the thread with it.
func (n netns) enter() error {
	runtime.LockOSThread()
	f, err := os.Open("/run/netns/" + string(n))
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// Live capture on the underlay of a tunnel with --port 80 records the HTTP
// inside it: two network namespaces joined by a veth pair, a tunnel device
// of each kind the kernel has on top, a Go HTTP server in one, curl in the
// other, record on the client's veth. Kinds this kernel was built without
// skip, saying so.
func TestLiveCaptureInsideTunnels(t *testing.T) {
	needRoot(t)
	for _, cmd := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("needs %s (scripts/test.sh installs it)", cmd)
		}
	}
	a, b := netns(fmt.Sprintf("rkt-live-a-%d", os.Getpid())), netns(fmt.Sprintf("rkt-live-b-%d", os.Getpid()))
	for _, n := range []netns{a, b} {
		if out, err := exec.Command("ip", "netns", "add", string(n)).CombinedOutput(); err != nil {
			t.Skipf("cannot make a network namespace: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", string(n)).Run() })
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.ip(t, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b", "netns", string(b)))
	for _, s := range []struct {
		n        netns
		dev, ip4 string
	}{{a, "veth-a", "10.77.0.1/24"}, {b, "veth-b", "10.77.0.2/24"}} {
		must(s.n.ip(t, "addr", "add", s.ip4, "dev", s.dev))
		must(s.n.ip(t, "link", "set", s.dev, "up"))
		must(s.n.ip(t, "link", "set", "lo", "up"))
	}

	// The server listens in b on every address, the tunnels' included.
	listening := make(chan error, 1)
	var l net.Listener
	go func() {
		err := b.enter()
		if err == nil {
			l, err = net.Listen("tcp", ":80")
		}
		listening <- err
	}()
	must(<-listening)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"path":%q,"got":%d}`, r.URL.Path, n)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	kinds := []struct {
		name string
		args []string // after "type"; local and remote follow
	}{
		{"vxlan", []string{"vxlan", "id", "42", "dstport", "4789"}},
		{"geneve", []string{"geneve", "id", "42"}},
		{"gretap", []string{"gretap"}},
		{"erspan1", []string{"erspan", "seq", "key", "10", "erspan_ver", "1", "erspan", "123"}},
		{"erspan2", []string{"erspan", "seq", "key", "11", "erspan_ver", "2", "erspan_dir", "ingress", "erspan_hwid", "7"}},
		{"gre", []string{"gre"}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for i, n := range []netns{a, b} {
				local, remote := "10.77.0.1", "10.77.0.2"
				if i == 1 {
					local, remote = remote, local
				}
				args := append([]string{"link", "add", "tun0", "type"}, k.args...)
				if k.name == "geneve" {
					args = append(args, "remote", remote) // geneve takes no local
				} else {
					args = append(args, "local", local, "remote", remote)
				}
				if err := n.ip(t, args...); err != nil {
					t.Skipf("this kernel has no %s device: %v", k.name, err)
				}
				t.Cleanup(func() { n.ip(t, "link", "del", "tun0") })
				must(n.ip(t, "addr", "add", "10.78.0."+strconv.Itoa(i+1)+"/24", "dev", "tun0"))
				must(n.ip(t, "link", "set", "tun0", "mtu", "1400", "up"))
			}
			liveInTunnel(t, a, k.name)
		})
	}
}

// liveInTunnel records on a's veth while curl in a sends requests through
// the tunnel, and checks the trace holds them.
func liveInTunnel(t *testing.T, a netns, kind string) {
	requests := []struct {
		args []string
		line string // method, path and status in the trace
	}{
		{[]string{"http://10.78.0.2/api/items?page=2"}, "GET /api/items?page=2 200"},
		{[]string{"-d", `{"title":"tunnelled"}`, "http://10.78.0.2/api/items"}, "POST /api/items 200"},
		{[]string{"http://10.78.0.2/missing"}, "GET /missing 404"},
	}
	// The inner ARP first, so that the capture's packets are the requests'.
	curl := func(args ...string) error {
		full := append([]string{"netns", "exec", string(a), "curl", "-s", "-o", "/dev/null", "--max-time", "5"}, args...)
		return exec.Command("ip", full...).Run()
	}
	if err := curl("http://10.78.0.2/warmup"); err != nil {
		t.Fatalf("curl through the %s tunnel: %v", kind, err)
	}
	dir := t.TempDir()
	ready := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	cfg := Config{Out: dir + "/", Ports: []uint16{80}, RedactKey: []byte("k"), MaxBody: 1 << 20, Flush: time.Second,
		MaxExchanges: int64(len(requests)), Ready: func(string) { close(ready) }}
	go func() {
		if err := a.enter(); err != nil {
			done <- result{nil, err}
			return
		}
		sum, err := Live(ctx, LiveSource{Iface: "veth-a"}, cfg)
		done <- result{sum, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("capture did not start: %v", r.err)
	}
	for _, r := range requests {
		if err := curl(r.args...); err != nil {
			t.Fatalf("curl %v: %v", r.args, err)
		}
	}
	// Live stops by itself at MaxExchanges; the timeout is only a bound.
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	rows := readTraces(t, dir)
	got, want := exchangeLines(rows), []string{}
	for _, r := range requests {
		want = append(want, r.line)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: recorded %q, want %q (stopped: %q)", kind, got, want, r.sum.Stopped)
	}
	for _, e := range rows {
		if e.Session != "ip:10.78.0.1" {
			t.Errorf("session %q: want the inner client ip:10.78.0.1", e.Session)
		}
	}
	if r.sum.Capture.Decapsulated.Total() == 0 {
		t.Errorf("no tunnel header counted: %+v", r.sum.Capture)
	}
}
