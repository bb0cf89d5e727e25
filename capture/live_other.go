//go:build !linux

package capture

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

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
