#!/usr/bin/env bash
# Stateful replay (package correlate): the write-heavy and login flows of
# scripts/sampletraffic are recorded by `record --proxy` in front of a demo
# API, then replayed against a fresh demo API (other ids, no token or
# cookie it issued) at --scale 1, 10 and 100, with and without
# --no-correlate. Prints, per run, the share of requests that got the
# status class the recording saw (goal: >= 99% with correlation). All on
# loopback.
#   bench/correlate.sh
#   RECORD=60s RUN=30s SCENARIOS="light_load write_heavy" bench/correlate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need "curl:curl:the bench waits for the demo API with it"
RECORD=${RECORD:-40s}
RUN=${RUN:-20s}
SCENARIOS=${SCENARIOS:-light_load write_heavy}
CLASSES=${CLASSES:-writer,mixed,login,browser,documents}
mkdir -p bin
go build -o bin/ ./cmd/demoapi ./cmd/record ./cmd/replay ./scripts/sampletraffic ./bench/statusmatch

# A rate limit no replay here meets: 429s would depend on the target's
# limit, not on the values carried.
api() { bin/demoapi --addr "127.0.0.1:$1" --rate 100000 --burst 100000 2>>"$work/demoapi.log" & }
api 18200
recorded_api=$!
pids+=($recorded_api)
wait_for curl -sf http://127.0.0.1:18200/health
bin/record --proxy 127.0.0.1:18201 --upstream http://127.0.0.1:18200 -o "$work/traces/" -q >"$work/record.out" 2>&1 &
rec=$!
pids+=($rec)
wait_for curl -sf http://127.0.0.1:18201/health
echo "== recording $CLASSES for $RECORD"
bin/sampletraffic --url http://127.0.0.1:18201 --duration "$RECORD" --classes "$CLASSES" | sed 's/^/  /'
kill -INT $rec
wait $rec
# Kept under bench/out/correlate: the trace, each run's results and log.
keep=bench/out/correlate
rm -rf "$keep" && mkdir -p "$keep/results"
cp "$work"/traces/proxy_*.parquet "$keep/trace.parquet"
trace=$keep/trace.parquet
# Every key of the sample users is alice's at replay (API_KEY): their
# recorded keys are redacted hashes.
export API_KEY=demo-key-alice
port=18210
for scenario in $SCENARIOS; do
	for scale in 1 10 100; do
		for mode in correlate no-correlate; do
			flag=()
			[ "$mode" = no-correlate ] && flag=(--no-correlate)
			port=$((port + 1))
			api $port
			fresh=$!
			pids+=($fresh)
			wait_for curl -sf "http://127.0.0.1:$port/health"
			out="$keep/results/$scenario-$scale-$mode"
			bin/replay --trace "$trace" --host "http://127.0.0.1:$port" --out "$out" --duration "$RUN" --scale $scale \
				--no-default-thresholds --format json "${flag[@]}" "$scenario" >"$out.log" 2>&1 || true
			kill $fresh
			wait $fresh 2>/dev/null || true
			printf '%-11s scale=%-3s %-12s ' "$scenario" $scale $mode
			bin/statusmatch "$out"/*.parquet
		done
	done
done
