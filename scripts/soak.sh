#!/usr/bin/env bash
# make soak: record + replay + analyze against the demo API, all on
# loopback, for SOAK (default 10m), and each process's memory over time.
#   demo API  <-  record --proxy (writing a trace)  <-  replay (50 users, high pacing)
# then analyze on the results. Every INTERVAL (10s) the resident memory
# (VmRSS) of the demo API, record and replay is written to
# $out/memory.csv; at the end a table per process: the second minute (after
# warm-up), the last minute, the peak, and the growth from the one to the
# other. Flat is the goal.
#   SOAK=10m scripts/soak.sh        SOAK=2m USERS=100 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SOAK=${SOAK:-10m}
USERS=${USERS:-50}
INTERVAL=${INTERVAL:-10}
need curl:curl /usr/bin/time:time
go build -o bin/ ./cmd/...
out=${OUT:-soak-out}
rm -rf "$out"
mkdir -p "$out"
API=18700 PROXY=18701

bin/demoapi --addr 127.0.0.1:$API --rate 100000 --burst 100000 2>"$out/demoapi.log" &
pids+=($!)
api=$!
wait_for curl -sf http://127.0.0.1:$API/health
bin/record --proxy 127.0.0.1:$PROXY --upstream http://127.0.0.1:$API -o "$out/traces/" --rotate 2m -q \
	>"$out/record.out" 2>"$out/record.log" &
pids+=($!)
rec=$!
wait_for curl -sf http://127.0.0.1:$PROXY/health

export API_KEY=demo-key-alice
/usr/bin/time -f "%M" -o "$out/replay.maxrss" bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:$PROXY \
	--duration "$SOAK" --scale "$USERS" --pacing high --out "$out/results" --format html,csv,json \
	--no-default-thresholds --threshold 'availability>99%' normal_load \
	>"$out/replay.out" 2>&1 &
replay_time=$!
pids+=($replay_time)
# The replay process itself (time's child).
replay=""
for _ in $(seq 50); do replay=$(pgrep -P $replay_time -x replay || true); [ -n "$replay" ] && break; sleep 0.1; done
[ -n "$replay" ] || { echo "soak: replay did not start" >&2; cat "$out/replay.out" >&2; exit 1; }

rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo ""; }
echo "seconds,demoapi_mb,record_mb,replay_mb" >"$out/memory.csv"
echo "soak: $SOAK, $USERS users; memory every ${INTERVAL}s in $out/memory.csv"
t0=$(date +%s)
while kill -0 "$replay" 2>/dev/null; do
	now=$(( $(date +%s) - t0 ))
	line="$now,$(rss $api),$(rss $rec),$(rss "$replay")"
	echo "$line" >>"$out/memory.csv"
	if [ -t 1 ]; then printf '\r%s MB at %ss (demoapi, record, replay)' "${line#*,}" "$now"; elif ((now % 60 < INTERVAL)); then echo "$line"; fi
	sleep "$INTERVAL"
done
echo
code=0
wait $replay_time || code=$?
kill -INT $rec
wait $rec || true
/usr/bin/time -f "%M" -o "$out/analyze.maxrss" bin/analyze "$out"/results/*.parquet --out "$out/report" \
	--no-default-thresholds --threshold 'availability>99%' >"$out/analyze.out" 2>&1 || true

grep "requests in" "$out/replay.out" || true
grep -E "exchanges|trace " "$out/record.out" || true
python3 - "$out/memory.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
# Warm-up (users starting, buffers and pools filling) is the first minute:
# memory is compared from the second minute on.
print(f"{'process':<10} {'2nd min MB':>11} {'last min MB':>12} {'peak MB':>8} {'growth':>8} {'MB/min':>7}")
for p in ("demoapi", "record", "replay"):
    pts = [(int(r["seconds"]), float(r[p + "_mb"])) for r in rows if r[p + "_mb"]]
    if not pts:
        continue
    end = pts[-1][0]
    first = [v for s, v in pts if 60 <= s < 120] or [pts[0][1]]
    last = [v for s, v in pts if s >= end - 60] or [pts[-1][1]]
    a, b = sum(first) / len(first), sum(last) / len(last)
    minutes = max((end - 90) / 60, 1e-9)
    print(f"{p:<10} {a:>11.1f} {b:>12.1f} {max(v for _, v in pts):>8.1f} {100 * (b - a) / a:>7.1f}% {(b - a) / minutes:>7.2f}")
PY
echo "analyze: peak $(( $(cat "$out/analyze.maxrss") / 1024 )) MB over $(ls "$out"/results/*.parquet | wc -l) results file(s); report in $out/report/"
echo "replay exit code $code (its analysis: $out/results/)"
