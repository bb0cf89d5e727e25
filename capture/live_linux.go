//go:build linux

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live captures from a network interface with an AF_PACKET TPACKET_V3 ring
// (gopacket/afpacket): no libpcap, no cgo, kernel timestamps.
type Live struct {
	tp       *afpacket.TPacket
	lt       layers.LinkType
	loopback bool
	base     KernelStats // counters before the filter was set
}

// OpenLive starts capturing.
func OpenLive(opts LiveOptions) (*Live, error) {
	ifi, err := net.InterfaceByName(opts.Iface)
	if err != nil {
		return nil, fmt.Errorf("capture on %q: %w (see ip link)", opts.Iface, err)
	}
	hwtype, err := hardwareType(opts.Iface)
	if err != nil {
		return nil, fmt.Errorf("capture on %q: %w", opts.Iface, err)
	}
	l := &Live{loopback: ifi.Flags&net.FlagLoopback != 0 && !opts.KeepOutgoing}
	switch hwtype {
	case 1, 772: // Ethernet; Linux loopback has an Ethernet header too
		l.lt = layers.LinkTypeEthernet
	default:
		return nil, fmt.Errorf("capture on %q: link type %d has no Ethernet header; capture on the host's Ethernet interface, or record a pcap with tcpdump and use --pcap", opts.Iface, hwtype)
	}
	prog := opts.Filter
	if prog == nil {
		if prog, err = PortFilter(opts.Ports, l.loopback); err != nil {
			return nil, err
		}
	} else if l.loopback {
		if prog, err = DropOutgoing(prog); err != nil {
			return nil, err
		}
	}
	if opts.RingBytes <= 0 {
		opts.RingBytes = 64 << 20
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 100 * time.Millisecond
	}
	const block = 1 << 20 // a block holds whole packets: 64 KiB offloaded segments fit
	l.tp, err = afpacket.NewTPacket(
		afpacket.OptInterface(opts.Iface),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(max(opts.RingBytes/block, 8)),
		afpacket.OptBlockTimeout(10*time.Millisecond),
		afpacket.OptPollTimeout(opts.PollTimeout),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
			return nil, fmt.Errorf("capture on %q: %w: live capture needs root or CAP_NET_RAW (sudo setcap cap_net_raw+ep bin/record); without either, use --proxy or --pcap", opts.Iface, err)
		}
		return nil, fmt.Errorf("capture on %q: %w", opts.Iface, err)
	}
	// The socket took every packet from its creation until a filter is
	// set. As libpcap does: a filter that drops everything, the ring
	// drained of what came before it, then the real filter. (Without
	// it, a --filter capture on a busy lo recorded other connections'
	// first exchanges.)
	if err := l.tp.SetBPF(dropAll); err != nil {
		l.tp.Close()
		return nil, fmt.Errorf("capture on %q: set filter: %w", opts.Iface, err)
	}
	if err := l.drain(); err != nil {
		l.tp.Close()
		return nil, fmt.Errorf("capture on %q: %w", opts.Iface, err)
	}
	if err := l.tp.SetBPF(prog); err != nil {
		l.tp.Close()
		return nil, fmt.Errorf("capture on %q: set filter: %w", opts.Iface, err)
	}
	// Counters start now.
	l.base, _ = l.Stats()
	return l, nil
}

// hardwareType is the interface's ARPHRD_ type, asked of the kernel in
// the network namespace we are in: /sys/class/net shows the namespace sysfs
// was mounted in, another one after nsenter --net or setns.
func hardwareType(iface string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("hardware type: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return 0, fmt.Errorf("hardware type: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("hardware type: SIOCGIFHWADDR: %w", err)
	}
	return int(ifr.Uint16()), nil // ifr_hwaddr.sa_family
}

// dropAll is a filter that takes no packet (ret #0).
var dropAll = []bpf.RawInstruction{{Op: 0x06, K: 0}}

// drain discards what the ring holds: packets queued before the filter.
// It ends when a read times out (a block is handed over after its 10 ms
// timeout, so nothing queued is left behind), within a bound.
func (l *Live) drain() error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		_, _, err := l.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("drain packets queued before the filter: %w", err)
		}
	}
	return nil
}

// ReadPacket returns the next packet; data is valid until the next call.
func (l *Live) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := l.tp.ZeroCopyReadPacketData()
	if errors.Is(err, afpacket.ErrTimeout) {
		return nil, ci, ErrNoPacket
	}
	return data, ci, err
}

// LinkType is the link layer of the packets.
func (l *Live) LinkType() layers.LinkType { return l.lt }

// Stats returns the kernel's counters since OpenLive.
func (l *Live) Stats() (KernelStats, error) {
	_, v3, err := l.tp.SocketStats()
	if err != nil {
		return KernelStats{}, err
	}
	// gopacket adds up the kernel's counters (reading them resets them).
	return KernelStats{
		Packets:      uint64(v3.Packets()) - l.base.Packets,
		Drops:        uint64(v3.Drops()) - l.base.Drops,
		QueueFreezes: uint64(v3.QueueFreezes()) - l.base.QueueFreezes,
	}, nil
}

// Close stops the capture.
func (l *Live) Close() { l.tp.Close() }
