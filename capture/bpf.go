package capture

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// snapLen is what the filter keeps of each packet: all of it. Offloaded
// segments on loopback reach 64 KiB.
const snapLen = 262144

// PortFilter compiles "TCP to or from one of ports" into a classic BPF
// program for Ethernet-framed packets (Ethernet and Linux loopback), with no
// libpcap: IPv4 (any header length, fragments other than the first dropped,
// as tcpdump does) and IPv6. Empty ports: all TCP. Tunnel packets (GRE, UDP
// to the VXLAN or GENEVE port) always pass: the ports that matter are
// inside, where the extractor checks them after decapsulation. dropOutgoing
// drops the packets the host sends, which on loopback are seen twice (once
// going out, once coming in); libpcap hides this, a raw socket does not.
func PortFilter(ports []uint16, dropOutgoing bool) ([]bpf.RawInstruction, error) {
	var a asm
	if dropOutgoing {
		a.add(bpf.LoadExtension{Num: bpf.ExtType})
		a.jump(bpf.JumpEqual, 4, "drop", "") // PACKET_OUTGOING
	}
	a.add(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jump(bpf.JumpEqual, 0x86DD, "", "ipv4")
	// IPv6: next header TCP (extension headers are not followed, as in
	// tcpdump's "tcp port"), GRE or UDP.
	a.add(bpf.LoadAbsolute{Off: 20, Size: 1})
	a.jump(bpf.JumpEqual, 6, "tcp6", "")
	a.tunnels(func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: 54 + off, Size: 2} })
	a.label("tcp6")
	a.ports(ports, func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: 54 + off, Size: 2} })
	a.label("ipv4")
	a.jump(bpf.JumpNotEqual, 0x0800, "drop", "")
	a.add(bpf.LoadAbsolute{Off: 20, Size: 2})
	a.jumpSet(0x1FFF, "drop", "") // a later fragment: no TCP or UDP header
	a.add(bpf.LoadMemShift{Off: 14})
	a.add(bpf.LoadAbsolute{Off: 23, Size: 1})
	a.jump(bpf.JumpEqual, 6, "tcp4", "")
	a.tunnels(func(off uint32) bpf.Instruction { return bpf.LoadIndirect{Off: 14 + off, Size: 2} })
	a.label("tcp4")
	a.ports(ports, func(off uint32) bpf.Instruction { return bpf.LoadIndirect{Off: 14 + off, Size: 2} })
	a.label("accept")
	a.add(bpf.RetConstant{Val: snapLen})
	a.label("drop")
	a.add(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// tunnels follows a load of the IP protocol that is not TCP: GRE is
// accepted, UDP to the VXLAN or GENEVE port (load(2)) too, the rest
// dropped.
func (a *asm) tunnels(load func(off uint32) bpf.Instruction) {
	a.jump(bpf.JumpEqual, 47, "accept", "")
	a.jump(bpf.JumpNotEqual, 17, "drop", "")
	a.add(load(2))
	a.jump(bpf.JumpEqual, portVXLAN, "accept", "")
	a.jump(bpf.JumpEqual, portGENEVE, "accept", "drop")
}

// DropOutgoing prefixes a compiled program (tcpdump -ddd) with the drop of
// outgoing packets, for loopback. BPF jumps are relative and only go
// forward, so the program after the prefix needs no change.
func DropOutgoing(prog []bpf.RawInstruction) ([]bpf.RawInstruction, error) {
	var a asm
	a.add(bpf.LoadExtension{Num: bpf.ExtType})
	a.jump(bpf.JumpEqual, 4, "drop", "")
	a.add(bpf.Jump{Skip: 1})
	a.label("drop")
	a.add(bpf.RetConstant{Val: 0})
	head, err := a.assemble()
	if err != nil {
		return nil, err
	}
	return append(head, prog...), nil
}

// CompileFilter compiles a tcpdump filter expression for an interface with
// the tcpdump on PATH (`tcpdump -ddd`): libpcap's compiler without linking
// libpcap into replaykit.
func CompileFilter(iface, expr string) ([]bpf.RawInstruction, error) {
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, fmt.Errorf("--filter needs tcpdump on PATH to compile %q (apt-get install tcpdump); or use --port", expr)
	}
	out, err := exec.Command(path, "-i", iface, "-ddd", expr).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("compile filter %q: %s", expr, msg)
	}
	return ParseDDD(string(out))
}

// ParseDDD reads tcpdump -ddd output: a count, then "code jt jf k" lines.
// The kernel takes at most 4096 instructions (BPF_MAXINSNS).
func ParseDDD(s string) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n != len(lines)-1 || n == 0 || n > 4096 {
		return nil, fmt.Errorf("not tcpdump -ddd output (want a count, then that many lines)")
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("tcpdump -ddd line %d: %q", i+2, l)
		}
		var v [4]uint64
		for j := range f {
			if v[j], err = strconv.ParseUint(f[j], 10, 32); err != nil {
				return nil, fmt.Errorf("tcpdump -ddd line %d: %q", i+2, l)
			}
		}
		if v[1] > 255 || v[2] > 255 || v[0] > 0xFFFF {
			return nil, fmt.Errorf("tcpdump -ddd line %d: %q", i+2, l)
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}

// asm assembles BPF with named labels instead of counted skips.
type asm struct {
	ins    []bpf.Instruction
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at          int
	true, false string
}

func (a *asm) add(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

// jump adds a conditional jump; an empty label means the next instruction.
func (a *asm) jump(cond bpf.JumpTest, val uint32, ifTrue, ifFalse string) {
	a.fixups = append(a.fixups, fixup{len(a.ins), ifTrue, ifFalse})
	a.add(bpf.JumpIf{Cond: cond, Val: val})
}

func (a *asm) jumpSet(mask uint32, ifTrue, ifFalse string) {
	a.jump(bpf.JumpBitsSet, mask, ifTrue, ifFalse)
}

// ports loads the source then the destination port (load(0), load(2)) and
// accepts on a match; no ports accepts all.
func (a *asm) ports(ports []uint16, load func(off uint32) bpf.Instruction) {
	if len(ports) == 0 {
		a.add(bpf.Jump{}) // placeholder: fixed up to "accept"
		a.fixups = append(a.fixups, fixup{len(a.ins) - 1, "accept", ""})
		return
	}
	for _, off := range []uint32{0, 2} {
		a.add(load(off))
		for _, p := range ports {
			a.jump(bpf.JumpEqual, uint32(p), "accept", "")
		}
	}
	a.add(bpf.Jump{})
	a.fixups = append(a.fixups, fixup{len(a.ins) - 1, "drop", ""})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, label string) (uint32, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := a.labels[label]
		if !ok || to <= from {
			return 0, fmt.Errorf("bpf: bad label %q", label)
		}
		return uint32(to - from - 1), nil
	}
	for _, f := range a.fixups {
		t, err := skip(f.at, f.true)
		if err != nil {
			return nil, err
		}
		e, err := skip(f.at, f.false)
		if err != nil {
			return nil, err
		}
		switch i := a.ins[f.at].(type) {
		case bpf.JumpIf:
			if t > 255 || e > 255 {
				return nil, fmt.Errorf("bpf: too many ports for one filter")
			}
			i.SkipTrue, i.SkipFalse = uint8(t), uint8(e)
			a.ins[f.at] = i
		case bpf.Jump:
			a.ins[f.at] = bpf.Jump{Skip: t}
		}
	}
	return bpf.Assemble(a.ins)
}
