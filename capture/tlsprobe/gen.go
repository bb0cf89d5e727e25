package tlsprobe

// The BPF object and its Go bindings are committed: building replaykit
// needs no clang. Remake them with `go generate ./capture/tlsprobe` (clang,
// llvm and libbpf-dev: Debian packages); scripts/check-bpf.sh checks that
// the committed ones are what the source makes.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64 -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" -no-global-types openssl bpf/openssl.c
