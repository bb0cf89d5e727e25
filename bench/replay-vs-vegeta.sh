#!/usr/bin/env bash
# replay as a load generator, against Vegeta and wrk in the same run: nginx
# on 127.0.0.1 pinned to core 0, each generator pinned to core 1.
#
#   max rate      64 connections, no think time, SECS seconds: requests/s
#                 and the generator's CPU per 10k requests
#   open model    RATES requests/s (2,000, 5,000, 20,000): achieved rate, and
#                 for replay the send lateness (sent - scheduled) p50/p99
#   users         replay --scale N for each N of USERS (10,000 and 100,000)
#                 with 1-3 s think times: requests done, peak memory
#
#   bench/replay-vs-vegeta.sh          # SECS=10, max rate median of RUNS=3
#   ONLY=open bench/replay-vs-vegeta.sh   # one part: max, open or users
#   RATES="20000" USERS="100000" ONLY="open users" bench/replay-vs-vegeta.sh
#   FAST=1 bench/replay-vs-vegeta.sh      # against nginx's `return 201` (8 bytes)
#                 instead of a static file: the target is then not the limit
# replaykit is measured with its own HTTP/1.1 client (--client auto) and
# with net/http's (replaykit-nethttp, --client net/http).
# Needs root for nothing, but installs nginx, wrk and ab from Debian and
# Vegeta v12.13.0 from the Go module proxy if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
RATES=${RATES:-2000 5000 20000}
USERS=${USERS:-10000 100000}
PORT=18300
need nginx:nginx-light wrk:wrk ab:apache2-utils tcpdump:tcpdump /usr/bin/time:time taskset:util-linux
mkdir -p bin
[ -x bin/vegeta ] || GOBIN=$PWD/bin go install github.com/tsenart/vegeta/v12@v12.13.0
go build -o bin/ ./cmd/replay ./cmd/record ./bench/resultstats
ulimit -n "$(ulimit -Hn)" # 10,000 users hold 10,000 connections

[ -z "${FAST:-}" ] || NGINX_PATH=/api/fast
nginx_target $PORT 0 # nginx on core 0 and $work/trace.parquet, a trace of GET $URL
gen() { /usr/bin/time -f "%e %U %S %M" -o "$work/time" taskset -c 1 "$@"; }
cpu10k() { awk -v n="$1" '{printf "%.3f", ($2 + $3) / n * 10000}' "$work/time"; }
rss() { awk '{printf "%.0f", $4 / 1024}' "$work/time"; }

ONLY=${ONLY:-max open users}
if [[ $ONLY == *max* ]]; then
printf '\nmax rate, 64 connections, %ss, generator on one core, target on the other (median of %s runs)\n' "$SECS" "$RUNS"
printf '%-18s %12s %22s %10s\n' tool "requests/s" "CPU s per 10k requests" "peak MB"
# one TOOL: prints "requests/s cpu-per-10k peak-MB" for one run.
one() {
	case $1 in
	replaykit | replaykit-nethttp)
		rm -rf "$work/r"
		client=auto
		[ "$1" = replaykit ] || client=net/http
		gen bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --scale 64 --ramp 1ms --pacing none \
			--client $client --duration "${SECS}s" --out "$work/r" light >"$work/replay.out" 2>&1
		n=$(awk '/requests in/ {print $2; exit}' "$work/replay.out") ;;
	vegeta)
		echo "GET $URL" | gen bin/vegeta attack -rate=0 -max-workers=64 -workers=64 -duration="${SECS}s" -keepalive=true >"$work/v.bin"
		n=$(bin/vegeta report -type=json <"$work/v.bin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])') ;;
	wrk)
		gen wrk -t1 -c64 -d"${SECS}s" "$URL" >"$work/wrk.out"
		n=$(awk '/requests in/ {print $1; exit}' "$work/wrk.out") ;;
	esac
	echo "$(echo "$n / $SECS" | bc -l) $(cpu10k "$n") $(rss)"
}
for tool in replaykit replaykit-nethttp vegeta wrk; do
	for _ in $(seq "$RUNS"); do one $tool; done | sort -g | awk -v t=$tool -v runs="$RUNS" \
		'{r[NR]=$0} END {split(r[int((runs+1)/2)], m, " "); printf "%-18s %12.0f %22s %10s\n", t, m[1], m[2], m[3]}'
done

fi

if [[ $ONLY == *open* ]]; then
printf '\nopen model, %ss\n' "$SECS"
printf '%-10s %8s %10s %14s %14s\n' tool target achieved "late p50 us" "late p99 us"
for target in $RATES; do
	rm -rf "$work/r"
	gen bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --rate $target --duration "${SECS}s" \
		--out "$work/r" light >"$work/replay.out" 2>&1 || grep -q "GENERATOR OVERLOADED" "$work/replay.out" # its figures still count
	eval "$(bin/resultstats "$work"/r/*.parquet)" # sets rate, late_p50_us, late_p99_us, ...
	printf '%-10s %8d %10s %14s %14s\n' replaykit $target "$rate" "$late_p50_us" "$late_p99_us"
	echo "GET $URL" | gen bin/vegeta attack -rate=$target -duration="${SECS}s" -keepalive=true >"$work/v.bin"
	achieved=$(bin/vegeta report -type=json <"$work/v.bin" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rate"]))')
	printf '%-10s %8d %10s %14s %14s\n' vegeta $target "$achieved" - -
done

fi

if [[ $ONLY == *users* ]]; then
for users in $USERS; do
printf '\n%s virtual users (1-3 s think times, %ss)\n' "$users" "$SECS"
rm -rf "$work/r"
gen bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --scale "$users" --ramp 3s --pacing normal \
	--duration "${SECS}s" --out "$work/r" light >"$work/replay.out" 2>&1 || grep -q "GENERATOR OVERLOADED" "$work/replay.out"
grep "requests in" "$work/replay.out"
echo "replaykit peak memory with $users users: $(rss) MB"
done
fi
