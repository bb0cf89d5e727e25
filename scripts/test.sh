#!/usr/bin/env bash
# The test command (make test, .ci/run): formatting, vet, all tests with the
# race detector, then every fuzz target for FUZZTIME (default 10s).
#   scripts/test.sh         everything
#   scripts/test.sh fuzz    fuzz targets only
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
command -v go >/dev/null || { echo "test: Go 1.26 is needed (https://go.dev/dl): not found on PATH" >&2; exit 2; }
# The race detector needs cgo and a C compiler; the live capture tests use
# curl as a client and tcpdump to compile a --filter expression; the HTML
# report is opened in headless chromium. (They run as root, as CI does;
# they skip with a message otherwise.)
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v curl >/dev/null || missing+=(curl)
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})) && [ "$(id -u)" = 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != fuzz ]; then
	unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go'))
	if [ -n "$unformatted" ]; then
		echo "gofmt would change:"; echo "$unformatted"; exit 1
	fi
	go vet ./...
	go test -race -count=1 ./...
	# The Kubernetes manifests, decoded strictly with the API types (a
	# module of its own: the API types are no dependency of replaykit).
	(cd deploy/kubernetes && go vet ./... && go test -count=1 ./...)
fi

# Every FuzzXxx target, each for FUZZTIME: no crash, no hang.
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		log=$(mktemp)
		if ! go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >"$log" 2>&1; then
			cat "$log"; echo "fuzz $pkg $target: FAILED (the failing input is saved under $pkg/testdata/fuzz)"; exit 1
		fi
		echo "fuzz $pkg $target for $FUZZTIME: $(grep -o 'execs: [0-9]*' "$log" | tail -n 1), $(tail -n 1 "$log")"
		rm -f "$log"
	done
done
