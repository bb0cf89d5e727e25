#!/usr/bin/env bash
# replay over HTTP/2 (h2c) against h2load, nghttp2's load generator, in
# the same run: nginx's http2 listener on 127.0.0.1 pinned to core 0
# (answering /api/fast from memory: `return 201`, 8 bytes), each
# generator pinned to core 1, SECS seconds a run, no think time, at each
# CONNS connections x STREAMS streams a connection (h2load -c -m; replay
# --scale CONNS*STREAMS --h2-streams STREAMS: as many requests in flight).
# The trace replayed is h2load's own requests to nginx, captured with
# tcpdump and recorded: every one over HTTP/2 as recorded.
#
#   bench/replay-vs-h2load.sh              # SECS=10, RUNS=3, SHAPES="1x64 4x16 64x1"
# Installs nginx, h2load and tcpdump from Debian if missing (nginx-light
# has the http2 module).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
SHAPES=${SHAPES:-1x64 4x16 64x1}
PORT=18320
need nginx:nginx-light h2load:nghttp2-client tcpdump:tcpdump /usr/bin/time:time taskset:util-linux
mkdir -p bin
go build -o bin/ ./cmd/replay ./cmd/record

mkdir -p "$work/www"
echo ok >"$work/www/index.html"
H2=$((PORT + 1))
# An HTTP/1.1 server (lib.sh waits for it) and the http2 one beside it.
start_nginx $PORT "$work/www" "server { listen 127.0.0.1:$H2 http2; location /api/ { return 201 '{\"id\":1}'; } }"
taskset -p -c 0 "${pids[-1]}" >/dev/null
URL=http://127.0.0.1:$H2/api/fast
wait_for curl -sf --http2-prior-knowledge -o /dev/null "$URL"
tcpdump -i lo -s 0 -w "$work/t.pcap" "tcp port $H2" 2>"$work/td.log" &
td=$!
wait_for grep -q listening "$work/td.log"
h2load -n 2000 -c 1 -m 1 "$URL" >/dev/null
sleep 0.3
kill -INT $td
wait $td || true
bin/record --pcap "$work/t.pcap" -o "$work/trace.parquet" -q >/dev/null

gen() { /usr/bin/time -f "%e %U %S %M" -o "$work/time" taskset -c 1 "$@"; }
cpu10k() { awk -v n="$1" '{printf "%.3f", ($2 + $3) / n * 10000}' "$work/time"; }

# one TOOL CONNS STREAMS: prints "requests/s cpu-per-10k" for one run.
one() {
	local n
	case $1 in
	replaykit)
		rm -rf "$work/r"
		gen bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$H2" --scale $(($2 * $3)) --h2-streams "$3" \
			--ramp 1ms --pacing none --duration "${SECS}s" --out "$work/r" --no-default-thresholds light >"$work/replay.out" 2>&1
		! grep -m1 'requests in.*, [1-9][0-9]* failed' "$work/replay.out" >&2 || echo "(replay: failed requests above)" >&2
		n=$(awk '/requests in/ {print $2; exit}' "$work/replay.out") ;;
	h2load)
		gen h2load -c "$2" -m "$3" -D "$SECS" "$URL" >"$work/h2load.out"
		n=$(awk '/^requests:/ {print $8; exit}' "$work/h2load.out") ;; # succeeded
	esac
	echo "$(echo "$n / $SECS" | bc -l) $(cpu10k "$n")"
}

printf 'HTTP/2 (h2c) max rate, %ss a run, generator on core 1, nginx on core 0, medians of %s\n' "$SECS" "$RUNS"
printf '%-8s %-10s %12s %22s %10s\n' shape tool "requests/s" "CPU s per 10k requests" "vs h2load"
for shape in $SHAPES; do
	conns=${shape%x*} streams=${shape#*x}
	h=""
	for tool in h2load replaykit; do
		read -r rate cpu <<<"$(for _ in $(seq "$RUNS"); do one $tool "$conns" "$streams"; done | sort -g | awk -v runs="$RUNS" '{r[NR]=$0} END {print r[int((runs+1)/2)]}')"
		[ $tool = h2load ] && h=$rate
		printf '%-8s %-10s %12.0f %22s %9.2fx\n' "$shape" $tool "$rate" "$cpu" "$(echo "$rate / $h" | bc -l)"
	done
done
