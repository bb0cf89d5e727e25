//go:build linux && amd64

package tlsprobe

import "debug/elf"

// elfHasSymbol says whether the ELF file at path defines sym in its
// dynamic or static symbol table.
func elfHasSymbol(path, sym string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, get := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
		syms, err := get()
		if err != nil {
			continue
		}
		for _, s := range syms {
			if s.Name == sym && s.Value != 0 {
				return true
			}
		}
	}
	return false
}
