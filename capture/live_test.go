//go:build linux

package capture

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// On loopback the kernel hands a raw socket every packet twice; the filter
// drops the outgoing copy. Two sockets on the same traffic, one keeping the
// copies, must count exactly one and two of each packet.
func TestLoopbackSeesEachPacketOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root (or CAP_NET_RAW): run the tests as root, as CI does")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	once, err := OpenLive(LiveOptions{Iface: "lo", Ports: []uint16{uint16(port)}, PollTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	twice, err := OpenLive(LiveOptions{Iface: "lo", Ports: []uint16{uint16(port)}, PollTimeout: 50 * time.Millisecond, KeepOutgoing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer twice.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 5; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	time.Sleep(100 * time.Millisecond)
	count := func(l *Live) int {
		n := 0
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			_, _, err := l.ReadPacket()
			if errors.Is(err, ErrNoPacket) {
				return n
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	a, b := count(once), count(twice)
	if a == 0 || b != 2*a {
		t.Errorf("with the outgoing drop %d packets, without %d: want n and 2n", a, b)
	}
	if k, err := once.Stats(); err != nil || k.Packets != uint64(a) || k.Drops != 0 {
		t.Errorf("kernel stats %+v (%v), read %d", k, err, a)
	}
}
