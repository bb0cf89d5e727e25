#!/usr/bin/env bash
# Checks that the committed BPF objects and their Go bindings are what the
# C sources make: regenerates them (bpf2go, clang) and compares. The files
# in the tree are left as they were either way.
#   scripts/check-bpf.sh    needs clang, llvm-strip and libbpf-dev (Debian)
set -euo pipefail
cd "$(dirname "$0")/.."
for c in clang llvm-strip; do
	command -v $c >/dev/null || { echo "check-bpf: $c is needed (apt-get install clang llvm libbpf-dev)" >&2; exit 2; }
done
[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "check-bpf: libbpf-dev is needed (bpf/bpf_helpers.h)" >&2; exit 2; }
saved=$(mktemp -d)
trap 'cp -p "$saved"/* capture/tlsprobe/; rm -rf "$saved"' EXIT
gen=(capture/tlsprobe/openssl_x86_bpfel.go capture/tlsprobe/openssl_x86_bpfel.o)
cp -p "${gen[@]}" "$saved"/
go generate ./capture/tlsprobe
status=0
for f in "${gen[@]}"; do
	if ! cmp -s "$f" "$saved/$(basename "$f")"; then
		echo "check-bpf: $f is not what bpf/openssl.c makes: run go generate ./capture/tlsprobe and commit" >&2
		status=1
	fi
done
[ $status = 0 ] && echo "check-bpf: the BPF objects are up to date"
exit $status
