#!/usr/bin/env bash
# analyze against DuckDB on the same results files, in one run: files of 1M
# and 10M rows (bench/genresults, spread over the same 30 minutes); wall
# time, rows/s and peak memory of each, medians of RUNS (default 3).
#   duckdb five   the per-name count, avg, p50, p95, p99 only (3 columns)
#   duckdb full   what analyze computes: per name and total counts,
#                 failures, 429s, bytes, 11 latency and 11 TTFB
#                 percentiles, 1 s windows with 11 percentiles, failures
# DuckDB runs with 1 thread and with every core; analyze uses every core.
# The figures of both are compared: counts equal, the rest within 0.1%.
#   bench/analyze-vs-duckdb.sh        ROWS="1000000 10000000" RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROWS=${ROWS:-1000000 10000000}
RUNS=${RUNS:-3}
need /usr/bin/time:time node:nodejs npm:npm
cache=${REPLAYKIT_CACHE:-$HOME/.cache/replaykit}/duckdb-node
if [ ! -d "$cache/node_modules/@duckdb/node-api" ]; then
	mkdir -p "$cache"
	(cd "$cache" && npm init -y >/dev/null && npm install --no-audit --no-fund @duckdb/node-api@1.5.6-r.1 >/dev/null)
fi
cp bench/duckdb-stats.mjs "$cache/"
go build -o bin/ ./cmd/analyze ./bench/genresults

# median FILE: the median line of "seconds peak-KB" lines, by seconds.
median() { sort -g "$1" | awk -v runs="$RUNS" '{l[NR]=$0} END {print l[int((runs+1)/2)]}'; }
printf '%-10s %-22s %9s %12s %10s\n' rows tool seconds "rows/s" "peak MB"
for rows in $ROWS; do
	f=$work/r$rows.parquet
	bin/genresults -rows "$rows" -o "$f"
	for tool in analyze duckdb-five-1-thread duckdb-five-all duckdb-full-1-thread duckdb-full-all; do
		: >"$work/times"
		for _ in $(seq "$RUNS"); do
			case $tool in
			analyze) /usr/bin/time -f "%e %M" -o "$work/t" bin/analyze "$f" --out "$work/a" --format json --no-default-thresholds >/dev/null ;;
			duckdb-five-1-thread) /usr/bin/time -f "%e %M" -o "$work/t" node "$cache/duckdb-stats.mjs" "$f" 1 five >"$work/duck.jsonl" ;;
			duckdb-five-all) /usr/bin/time -f "%e %M" -o "$work/t" node "$cache/duckdb-stats.mjs" "$f" "$(nproc)" five >"$work/duck.jsonl" ;;
			duckdb-full-1-thread) /usr/bin/time -f "%e %M" -o "$work/t" node "$cache/duckdb-stats.mjs" "$f" 1 full >/dev/null ;;
			duckdb-full-all) /usr/bin/time -f "%e %M" -o "$work/t" node "$cache/duckdb-stats.mjs" "$f" "$(nproc)" full >/dev/null ;;
			esac
			cat "$work/t" >>"$work/times"
		done
		read -r secs kb <<<"$(median "$work/times")"
		printf '%-10s %-22s %9.2f %12.0f %10.0f\n' "$rows" "$tool" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
	done
	# Same figures? (analyze's JSON against DuckDB's exact ones.)
	python3 - "$work/a/bench_run.json" "$work/duck.jsonl" <<'PY'
import json, sys
a = {(s["method"], s["name"]): s for s in json.load(open(sys.argv[1]))["names"]}
worst, n = 0.0, 0
for line in open(sys.argv[2]):
    d = json.loads(line); s = a[(d["method"], d["name"])]
    assert s["requests"] == d["n"], (d, s["requests"])
    for ours, theirs in [(s["avg_ms"], d["avg_ms"]), (s["percentiles_ms"]["50"], d["p50_ms"]),
                         (s["percentiles_ms"]["95"], d["p95_ms"]), (s["percentiles_ms"]["99"], d["p99_ms"])]:
        worst = max(worst, abs(ours - theirs) / theirs)
    n += 1
assert n == len(a), (n, len(a))
print(f"           same figures: {n} method+name rows, counts equal, avg/p50/p95/p99 within {worst*100:.3f}% of DuckDB's exact ones")
PY
done
