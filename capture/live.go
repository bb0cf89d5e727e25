package capture

import (
	"errors"
	"time"

	"golang.org/x/net/bpf"
)

// LiveOptions configure a live capture.
type LiveOptions struct {
	// Iface is the network interface to capture on.
	Iface string
	// Ports are the TCP ports to capture (compiled to BPF); empty: all TCP.
	Ports []uint16
	// Filter, when set, replaces the port filter: a compiled BPF program
	// (see CompileFilter). Outgoing copies are still dropped on loopback.
	Filter []bpf.RawInstruction
	// RingBytes is the size of the kernel ring buffer (default 64 MiB): a
	// burst larger than the ring while we are busy is dropped by the kernel.
	RingBytes int
	// PollTimeout bounds how long ReadPacket waits (default 100ms), so the
	// caller can flush and notice a stop while traffic is idle.
	PollTimeout time.Duration
	// KeepOutgoing keeps the outgoing copy of each packet on loopback
	// (dropped by default: each packet would be seen twice). For tests.
	KeepOutgoing bool
}

// ErrNoPacket is returned by Live.ReadPacket when no packet came within
// the poll timeout.
var ErrNoPacket = errors.New("no packet within the poll timeout")

// KernelStats are the kernel's counters for the capture socket.
type KernelStats struct {
	// Packets is what the filter passed; Drops what the ring had no room
	// for; QueueFreezes how often the ring filled up.
	Packets, Drops, QueueFreezes uint64
}
