#!/usr/bin/env bash
# The README's first command (make demo): replaykit end to end on the
# embedded default, all on loopback: about a minute (the first time on a
# machine, with the module downloads and a full build: about 2.5).
#  1. record: the sample capture (curl, ab, a pipelining client) -> a trace
#  2. start the demo API on 127.0.0.1:18000
#  3. replay --check-only, then light_load and spike_test, shortened, from
#     the sample trace of the demo API (testdata/sample/demo.parquet); each
#     run is analyzed (table, thresholds, HTML report, Locust CSVs), and
#     every answer is compared with the recorded one; light_load again
#     against a demo API that broke a route (--break); then the recorded
#     timeline, 3x at 4x speed
#  4. analyze light_load and spike_test together against the seed's thresholds; stop the
#     demo API
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need "curl:curl:the demo waits for the demo API with it"
echo "== build bin/record, bin/replay, bin/analyze, bin/demoapi (the first time: downloads the Go modules and compiles everything)"
go build -o bin/ ./cmd/...
out=demo-out
rm -rf "$out"

echo "== record: the sample capture into a trace"
bin/record --pcap testdata/pcap/go-curl.pcap -o "$out/traces/" -q

echo
echo "== the demo API on 127.0.0.1:18000"
bin/demoapi --addr 127.0.0.1:18000 2>"$work/demoapi.log" &
pids+=($!)
wait_for curl -sf http://127.0.0.1:18000/health
export API_KEY=demo-key-alice

echo
echo "== replay --check-only"
bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --check-only

# replay and analyze exit 1 when a threshold fails: a verdict, not a
# broken demo. Only 2 (bad input) stops it.
verdict() {
	local code=0
	"$@" || code=$?
	[ "$code" -le 1 ] || exit "$code"
	echo "(exit code $code)"
}

echo
echo "== replay light_load for 20s (10 users, the recorded think times), checked against the seed's thresholds, and every answer against the recorded one"
verdict bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --out "$out/results" --duration 20s \
	--threshold 'mismatch_rate<10%' light_load

echo
echo "== the next release of the demo API lost the tasks' titles: light_load for 10s against it on 127.0.0.1:18001"
bin/demoapi --addr 127.0.0.1:18001 --break 'GET /api/v1/tasks/{id}=drop=title' 2>"$work/demoapi-broken.log" &
pids+=($!)
wait_for curl -sf http://127.0.0.1:18001/health
verdict bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18001 --out "$out/broken" --duration 10s \
	--no-default-thresholds --threshold 'mismatch_rate<10%' --threshold 'name=/api/v1/tasks/{id}:mismatch_rate<1%' --format json light_load

echo
echo "== replay spike_test for 30s (60 users: 6 for 6s, all of them within a second, back to 6), with our own thresholds"
verdict bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --out "$out/results" --duration 30s --scale 60 \
	--no-default-thresholds --threshold 'p95<1s' --threshold 'availability>99%' --threshold 'name=/health:p99<50ms' spike

echo
echo "== replay recorded: the sample's own timeline, three times over, four times as fast (each copy its own user, logging in anew)"
verdict bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --out "$out/results" --amplify 3 --speed 4 \
	--no-default-thresholds --threshold 'availability>99%' --threshold 'lateness_p99<50ms' recorded

echo
echo "== analyze light_load and spike_test as one report, with JUnit XML for CI"
verdict bin/analyze "$out"/results/light_load_*.parquet "$out"/results/spike_test_*.parquet --out "$out/report" --format html,csv,json,junit

echo
echo "Reports: $(ls "$out"/results/*.html "$out"/report/*.html | tr '\n' ' ')"
echo "Traces and results are parquet files in $out/; query them with DuckDB, e.g."
echo "  duckdb -c \"SELECT name, count(*), round(quantile_cont(latency_ns, 0.95)/1e6, 1) AS p95_ms FROM '$out/results/*.parquet' GROUP BY 1 ORDER BY 2 DESC\""
