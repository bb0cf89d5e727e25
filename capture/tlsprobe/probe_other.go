//go:build !(linux && amd64)

package tlsprobe

import (
	"errors"
)

// Probe is only built on linux/amd64 (the BPF object is compiled for it).
type Probe struct{}

// ErrNoChunk is returned by Read when no chunk came before the deadline.
var ErrNoChunk = errors.New("tlsprobe: no chunk")

// Open fails: the probes need Linux on amd64.
func Open(targets []Target) (*Probe, error) {
	return nil, errors.New("--tls needs Linux on amd64 (eBPF uprobes)")
}

func (p *Probe) Read(c *Chunk) error { return ErrNoChunk }
func (p *Probe) Stats() Stats        { return Stats{} }
func (p *Probe) Close() error        { return nil }
