#!/usr/bin/env bash
# The test command (make test, .ci/run): formatting, vet, all tests with the
# race detector, then every fuzz target for FUZZTIME (default 8s).
#   scripts/test.sh         everything
#   scripts/test.sh fuzz    fuzz targets only
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-8s}
command -v go >/dev/null || { echo "test: Go 1.26 is needed (https://go.dev/dl): not found on PATH" >&2; exit 2; }
. scripts/lib.sh
# Commands some tests need, installed from Debian's packages when run as
# root (as CI does). Without them those tests skip or fail, saying why.
need "gcc:gcc libc6-dev:the race detector needs cgo and a C compiler" \
	"curl:curl:the live capture tests use it as an HTTP client" \
	"tcpdump:tcpdump:record --filter compiles its expression with it" \
	"ip:iproute2:the live tunnel test makes network namespaces and tunnel devices with it" \
	"chromium:chromium:the HTML report and web UI tests open them in headless chromium" \
	"nginx:nginx-light:the record --tls tests trace it serving HTTPS" \
	"clang:clang llvm libbpf-dev:scripts/check-bpf.sh remakes the BPF objects to check them" ||
	echo "test: going on without them: the tests that need them skip" >&2
# A Python module, not a command: need's placeholder name makes it install.
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need "_grpc_:python3-grpcio:replay's gRPC tests replay against Python's grpcio server" ||
	echo "test: going on without it: the gRPC replay test skips" >&2

if [ "${1:-}" != fuzz ]; then
	unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go'))
	if [ -n "$unformatted" ]; then
		echo "gofmt would change:"; echo "$unformatted"; exit 1
	fi
	# The first run on a machine compiles the standard library and every
	# dependency three times (plain for vet, with the race detector, and
	# instrumented for fuzzing): most of its time. Later runs reuse them.
	# The committed BPF objects are what their C sources make (when clang
	# is here to remake them).
	if command -v clang >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ]; then
		echo "== scripts/check-bpf.sh"
		scripts/check-bpf.sh
	fi
	echo "== go vet ./... (the first time: compiles everything)"
	go vet ./...
	# go test's own vet would be a subset of what just ran.
	echo "== go test -race ./... (the first time: compiles everything with the race detector)"
	go test -race -count=1 -vet=off -timeout 20m ./...
	# The tests that measure the heap skip under the race detector (see
	# internal/race): their packages once more without it.
	heap=$(grep -rl --include='*_test.go' 'replaykit/internal/race"' . | xargs -r -n1 dirname | sort -u)
	if [ -n "$heap" ]; then
		echo "== go test (no race detector): the heap-measuring tests of" $heap
		go test -count=1 -vet=off -timeout 20m $heap
	fi
	# The Kubernetes manifests, decoded strictly with the API types (a
	# module of its own: the API types are no dependency of replaykit).
	echo "== deploy/kubernetes: the manifests against the API types (the first time: compiles them)"
	(cd deploy/kubernetes && go vet ./... && go test -count=1 -vet=off ./...)
fi

echo "== each fuzz target for $FUZZTIME (the first time: compiles everything instrumented for fuzzing)"
# Every FuzzXxx target, each for FUZZTIME: no crash, no hang.
# saved PKG TARGET: how many inputs are kept under PKG/testdata/fuzz/TARGET
# (0 when none: the directory may not exist).
saved() { if [ -d "$1/testdata/fuzz/$2" ]; then ls -A "$1/testdata/fuzz/$2" | wc -l; else echo 0; fi; }
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		log=$(mktemp)
		# Go 1.26's fuzz coordinator can fail a target with a bare "context
		# deadline exceeded" when -fuzztime runs out under CPU starvation
		# (golang/go#75804, fixed in 1.27): no input failed, none is saved.
		# That, and only that, is tried again (twice at most); a failing
		# input always fails the run.
		for try in 1 2 3; do
			corpus=$(saved "$pkg" "$target")
			if go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >"$log" 2>&1; then
				break
			fi
			if [ "$try" -lt 3 ] && [ "$(saved "$pkg" "$target")" = "$corpus" ] &&
				[ "$(grep -c -- '^--- FAIL' "$log")" = 1 ] && grep -A1 -- '^--- FAIL' "$log" | grep -qx '    context deadline exceeded'; then
				echo "fuzz $pkg $target: the Go fuzz coordinator's deadline race (golang/go#75804, no failing input): again"
				continue
			fi
			cat "$log"; echo "fuzz $pkg $target: FAILED (the failing input is saved under $pkg/testdata/fuzz)"; exit 1
		done
		echo "fuzz $pkg $target for $FUZZTIME: $(grep -o 'execs: [0-9]*' "$log" | tail -n 1), $(tail -n 1 "$log")"
		rm -f "$log"
	done
done
