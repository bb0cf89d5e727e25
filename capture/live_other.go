//go:build !linux

package capture

import (
	"errors"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// LiveOptions configure a live capture (Linux only).
type LiveOptions struct {
	Iface        string
	Ports        []uint16
	Filter       []bpf.RawInstruction
	RingBytes    int
	PollTimeout  time.Duration
	KeepOutgoing bool
}

// ErrNoPacket is returned by Live.ReadPacket when no packet came in time.
var ErrNoPacket = errors.New("no packet within the poll timeout")

// KernelStats are the kernel's counters for the capture socket.
type KernelStats struct{ Packets, Drops, QueueFreezes uint64 }

// Live is a live capture; this system has none.
type Live struct{}

// OpenLive fails: live capture uses Linux's AF_PACKET.
func OpenLive(LiveOptions) (*Live, error) {
	return nil, errors.New("live capture needs Linux (AF_PACKET); here, record with --proxy, or capture with tcpdump and use --pcap")
}

func (l *Live) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, ErrNoPacket
}
func (l *Live) LinkType() layers.LinkType   { return layers.LinkTypeEthernet }
func (l *Live) Stats() (KernelStats, error) { return KernelStats{}, nil }
func (l *Live) Close()                      {}
