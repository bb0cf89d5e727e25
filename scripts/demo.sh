#!/usr/bin/env bash
# The README's first command (make demo): replaykit end to end on the
# embedded default, in about a minute, all on loopback.
#  1. record: the sample capture (curl, ab, a pipelining client) -> a trace
#  2. start the demo API on 127.0.0.1:18000
#  3. replay --check-only, then light_load and spike_test, shortened, from
#     the sample trace of the demo API (testdata/sample/demo.parquet)
#  4. show the results; stop the demo API
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
command -v curl >/dev/null || need curl:curl
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

echo
echo "== replay light_load for 20s (10 users, the recorded think times)"
bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --out "$out/results" --duration 20s light_load

echo
echo "== replay spike_test for 30s (60 users: 6 for 6s, all of them within a second, back to 6)"
bin/replay --trace testdata/sample/demo.parquet --host http://127.0.0.1:18000 --out "$out/results" --duration 30s --scale 60 spike

echo
echo "Traces and results are parquet files in $out/; query them with DuckDB, e.g."
echo "  duckdb -c \"SELECT name, count(*), round(quantile_cont(latency_ns, 0.95)/1e6, 1) AS p95_ms FROM '$out/results/*.parquet' GROUP BY 1 ORDER BY 2 DESC\""
