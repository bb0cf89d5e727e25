#!/usr/bin/env bash
# What comparing answers with the recording costs replay: its max rate
# comparing as it does by default (bodies within a tenth of its CPU, the
# rest by status), with every body compared (--compare-all) and with
# none (--no-compare), against Vegeta in the same run,
# on JSON answers of 1 KiB and 100 KiB (arrays of objects with ids and
# timestamps) served by nginx on 127.0.0.1 pinned to core 0; each
# generator pinned to core 1, 64 connections, no think time, SECS seconds.
# The traces are recorded off loopback (tcpdump, ab as the client, record
# --pcap), so they hold the answers' signatures. Prints the median of RUNS
# runs of each, the share of the default's bodies compared, and each rate
# against --no-compare's.
#
#   bench/compare.sh               # SECS=10 RUNS=3
#   SIZES=100 bench/compare.sh     # only the 100 KiB answers
# Needs root (tcpdump). Installs nginx, ab and tcpdump from Debian and
# Vegeta v12.13.0 from the Go module proxy if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
SIZES=${SIZES:-1 100}
PORT=18340
need nginx:nginx-light ab:apache2-utils tcpdump:tcpdump /usr/bin/time:time taskset:util-linux python3:python3
mkdir -p bin
[ -x bin/vegeta ] || GOBIN=$PWD/bin go install github.com/tsenart/vegeta/v12@v12.13.0
go build -o bin/ ./cmd/replay ./cmd/record ./cmd/analyze
ulimit -n "$(ulimit -Hn)"

mkdir -p "$work/www"
echo ok >"$work/www/index.html" # the page start_nginx waits for
for kib in $SIZES; do
	python3 - "$kib" >"$work/www/items-$kib.json" <<'PY'
import json, sys
kib = int(sys.argv[1])
items, i = [], 0
while len(json.dumps({"items": items})) < kib * 1024 - 120:
    items.append({"id": 100000 + i, "title": "task %d" % i, "status": "open", "updated_at": "2026-12-01T10:%02d:%02dZ" % (i // 60 % 60, i % 60), "owner": {"id": 7, "name": "alice"}})
    i += 1
print(json.dumps({"items": items, "count": len(items), "next": None}))
PY
done
start_nginx $PORT "$work/www"
taskset -p -c 0 "${pids[-1]}" >/dev/null

gen() { /usr/bin/time -f "%e %U %S %M" -o "$work/time" taskset -c 1 "$@"; }
median() { sort -g | awk -v runs="$RUNS" '{r[NR]=$1} END {print r[int((runs+1)/2)]}'; }

printf 'max rate, 64 connections, %ss, generator on core 1, nginx on core 0 (median of %s runs)\n' "$SECS" "$RUNS"
printf '%-10s %-26s %12s %16s %16s\n' answer generator "requests/s" "of --no-compare" "bodies compared"
for kib in $SIZES; do
	url=http://127.0.0.1:$PORT/items-$kib.json
	# The trace: 500 GETs by ab, recorded off loopback.
	tcpdump -i lo -s 0 -w "$work/t-$kib.pcap" "tcp port $PORT" 2>"$work/td.log" &
	td=$!
	wait_for grep -q listening "$work/td.log"
	ab -q -k -n 500 -c 1 "$url" >/dev/null
	sleep 0.3
	kill -INT $td
	wait $td || true
	bin/record --pcap "$work/t-$kib.pcap" -o "$work/t-$kib.parquet" -q >/dev/null
	declare -A rate=()
	declare -A bodies=()
	for mode in compare compare-all no-compare vegeta; do
		for _ in $(seq "$RUNS"); do
			case $mode in
			vegeta)
				echo "GET $url" | gen bin/vegeta attack -rate=0 -max-workers=64 -workers=64 -duration="${SECS}s" -keepalive=true >"$work/v.bin"
				bin/vegeta report -type=json <"$work/v.bin" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["requests"] / '"$SECS"')' ;;
			*)
				# compare: every answer must agree with the recording.
				case $mode in
				compare) flag=(--threshold 'mismatch_rate<1%') ;;
				compare-all) flag=(--threshold 'mismatch_rate<1%' --compare-all) ;;
				*) flag=(--no-compare) ;;
				esac
				rm -rf "$work/r"
				gen bin/replay --trace "$work/t-$kib.parquet" --host "http://127.0.0.1:$PORT" --scale 64 --ramp 1ms --pacing none \
					--duration "${SECS}s" --out "$work/r" --no-default-thresholds "${flag[@]}" light >"$work/replay.out" 2>&1 || {
					echo "replay $mode failed:" >&2; tail -20 "$work/replay.out" >&2; exit 1; }
				if [ $mode = compare ]; then
					# The share of bodies compared, from analyze's line
					# "N of them (P%) by status alone" (100% when absent).
					bin/analyze --out "$work/a" "$work"/r/*.parquet >"$work/analyze.out" 2>&1 || true
					awk '/by status alone/ {gsub(/[(%)]/, "", $4); print 100 - $4; found=1} END {if (!found) print 100}' "$work/analyze.out" >>"$work/bodies"
				fi
				awk -v s="$SECS" '/requests in/ {print $2 / s; exit}' "$work/replay.out" ;;
			esac
		done | median >"$work/rate"
		rate[$mode]=$(cat "$work/rate")
	done
	bodies[compare]=$(median <"$work/bodies")%
	bodies[compare-all]=100%
	rm -f "$work/bodies"
	for mode in compare compare-all no-compare vegeta; do
		case $mode in
		vegeta) name="Vegeta v12.13.0" ;;
		compare) name="replaykit (default)" ;;
		*) name="replaykit --$mode" ;;
		esac
		printf '%-10s %-26s %12.0f %15.1f%% %16s\n' "$kib KiB" "$name" "${rate[$mode]}" \
			"$(echo "100 * ${rate[$mode]} / ${rate[no-compare]}" | bc -l)" "${bodies[$mode]:--}"
	done
done
