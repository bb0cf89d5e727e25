//go:build linux && amd64

package tlsprobe

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/link"
	"golang.org/x/arch/x86/x86asm"
)

// Go's crypto/tls methods probed in Go executables.
const (
	goWrite = "crypto/tls.(*Conn).Write"
	goRead  = "crypto/tls.(*Conn).Read"
	goClose = "crypto/tls.(*Conn).Close"
)

// isGoTLS says whether the executable at path links Go's crypto/tls with
// its symbols.
func isGoTLS(path string) bool { return elfHasSymbol(path, goWrite) }

// attachGo puts the Go probes on the executable at path: Write and Close
// at their entry, Read at its entry and at each of its RET instructions
// (no return probes in Go: see bpf/openssl.c).
func (p *Probe) attachGo(path string, pid int) error {
	rets, err := retOffsets(path, goRead)
	if err != nil {
		return err
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return err
	}
	var links []link.Link
	attach := func(sym string, off uint64, enter bool) error {
		prog := p.objs.GoTlsWrite
		switch {
		case sym == goClose:
			prog = p.objs.GoTlsClose
		case sym == goRead && enter:
			prog = p.objs.GoTlsRead
		case sym == goRead:
			prog = p.objs.GoTlsReadRet
		}
		l, err := ex.Uprobe(sym, prog, &link.UprobeOptions{PID: pid, Offset: off})
		if err != nil {
			return fmt.Errorf("%s+%d: %w", sym, off, err)
		}
		links = append(links, l)
		return nil
	}
	err = attach(goWrite, 0, true)
	if err == nil {
		err = attach(goRead, 0, true)
	}
	for _, off := range rets {
		if err == nil {
			err = attach(goRead, off, false)
		}
	}
	if err == nil {
		if e := attach(goClose, 0, true); e != nil && !errors.Is(e, link.ErrNoSymbol) {
			err = e
		}
	}
	if err != nil {
		for _, l := range links {
			l.Close()
		}
		return err
	}
	p.links = append(p.links, links...)
	return nil
}

// retOffsets disassembles the function sym of the ELF file at path and
// returns the offsets of its RET instructions from its start.
func retOffsets(path, sym string) ([]uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s has no symbol table (stripped): Go's crypto/tls cannot be found in it", path)
	}
	var s *elf.Symbol
	for i := range syms {
		if syms[i].Name == sym {
			s = &syms[i]
			break
		}
	}
	if s == nil || s.Size == 0 || int(s.Section) >= len(f.Sections) {
		return nil, fmt.Errorf("%s: %w", sym, link.ErrNoSymbol)
	}
	sec := f.Sections[s.Section]
	code := make([]byte, s.Size)
	if _, err := sec.ReadAt(code, int64(s.Value-sec.Addr)); err != nil {
		return nil, fmt.Errorf("read %s: %w", sym, err)
	}
	var rets []uint64
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len == 0 {
			off++ // padding (int3) between blocks decodes fine; anything else: step on
			continue
		}
		if inst.Op == x86asm.RET {
			rets = append(rets, uint64(off))
		}
		off += inst.Len
	}
	if len(rets) == 0 {
		return nil, fmt.Errorf("%s: no RET instruction found", sym)
	}
	return rets, nil
}
