#!/usr/bin/env bash
# replay's recorded scenario on a day of traffic: a generated trace of
# SESSIONS sessions over 24 hours (bench/gentimeline: a daily curve, busiest
# at 14:00, 2-8 requests a session 1-30 s apart), made once and kept under
# bench/out/. nginx on 127.0.0.1 pinned to core 0 answers every path 200;
# replay recorded, on both cores and then pinned to core 1 alone (CPUS),
# replays the sessions that started in
# WINDOW (offsets from the trace's start) with --speed chosen so that the
# slice's recorded requests go at RATE a second. Each of RUNS runs gives
#   peak RSS          /usr/bin/time %M, the whole process (reading the
#                     trace, the run, the analysis after it)
#   start lateness    sent - scheduled + behind_ns: how late each request
#                     left against its time on the recorded timeline
#   send lateness     sent - scheduled: the generator's own delay, once the
#                     request was ready
#   requests/s        achieved, over the results' first to last request
#   sent / recorded   requests sent against the recorded requests the
#                     slice holds (DuckDB on the trace; and the results
#                     footer's timeline)
# and the table gives the median of the runs and their range. Each run's
# output and results file are kept in bench/out/timeline-runs/.
#
#   bench/timeline.sh                         WINDOW=+13h..+15h RATE=5000 RUNS=3
#   WINDOW=+0h..+24h bench/timeline.sh        the whole day, RATE on average
#   SECS=60 bench/timeline.sh                 cut each run at 60 s (--duration)
#   SESSIONS=100000 bench/timeline.sh         a smaller trace
#   CPUS=1 bench/timeline.sh                  replay on core 1 alone only
# Needs root only to install what is missing: nginx, DuckDB (npm
# @duckdb/node-api).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SESSIONS=${SESSIONS:-1000000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
RATE=${RATE:-5000}
WINDOW=${WINDOW:-+13h..+15h}
SECS=${SECS:-} # set: --duration ${SECS}s cuts each run
# CPUS: the cores replay may use, one measurement each: both (beside
# nginx, as a generator on the target's machine runs), then core 1 alone.
CPUS=${CPUS:-0,1 1}
PORT=18320
need nginx:nginx-light curl:curl taskset:util-linux /usr/bin/time:time node:nodejs npm:npm
cache=${REPLAYKIT_CACHE:-$HOME/.cache/replaykit}/duckdb-node
if [ ! -d "$cache/node_modules/@duckdb/node-api" ]; then
	mkdir -p "$cache"
	(cd "$cache" && npm init -y >/dev/null && npm install --no-audit --no-fund @duckdb/node-api@1.5.6-r.1 >/dev/null)
fi
cp bench/timeline-window.mjs "$cache/"
go build -o bin/ ./cmd/replay ./bench/gentimeline ./bench/resultstats
ulimit -n "$(ulimit -Hn)" # a connection per session in flight

# The trace, made once per generator version, size and seed.
mkdir -p bench/out
gen=$(sha256sum bench/gentimeline/main.go | cut -c1-8)
trace=bench/out/timeline-$SESSIONS-s$SEED-$gen.parquet
if [ ! -f "$trace" ]; then
	echo "making $trace (about 5 s per million requests)"
	bin/gentimeline -sessions "$SESSIONS" -seed "$SEED" -o "$trace"
fi

# seconds +1h30m: a --window offset in seconds.
seconds() {
	local d=${1#+} s=0 n
	[[ $d =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$ && -n $d ]] || { echo "WINDOW: want offsets such as +13h..+15h30m, not $1" >&2; exit 2; }
	for n in "${BASH_REMATCH[@]:1}"; do
		case $n in *h) s=$((s + ${n%h} * 3600)) ;; *m) s=$((s + ${n%m} * 60)) ;; *s) s=$((s + ${n%s})) ;; esac
	done
	echo $s
}
from=$(seconds "${WINDOW%%..*}")
to=$(seconds "${WINDOW##*..}")
((to > from)) || { echo "WINDOW: $WINDOW is empty" >&2; exit 2; }
eval "$(node "$cache/timeline-window.mjs" "$trace" "$from" "$to")" # window_sessions, window_requests, ...
speed=$(echo "$RATE * ($to - $from) / $window_requests" | bc -l)
cut="--window $WINDOW, whole"
[ -z "$SECS" ] || cut="--window $WINDOW, cut at ${SECS}s (--duration)"
printf 'trace %s: %s sessions, %s MB\n' "$trace" "$SESSIONS" "$(($(stat -c %s "$trace") / 1000000))"
printf 'slice %s after %s: %s sessions, %s recorded requests before its end (%s with those after, which replay cuts), %s-%s a recorded minute\n' \
	"$WINDOW" "$window_trace_start" "$window_sessions" "$window_requests" "$window_requests_all" "$window_minute_min" "$window_minute_max"
printf 'replayed: %s, --speed %.2f (%s/s x %s s / %s requests), %s s a run\n' \
	"$cut" "$speed" "$RATE" "$((to - from))" "$window_requests" "$(echo "($to - $from) / $speed" | bc)"

# nginx: every path, any method, answers 200 {} (the server on PORT+1
# serves the page start_nginx waits for).
mkdir -p "$work/www"
echo ok >"$work/www/index.html"
start_nginx $((PORT + 1)) "$work/www" \
	"server { listen 127.0.0.1:$PORT; default_type application/json; location / { return 200 '{}'; } }"
taskset -p -c 0 "${pids[-1]}" >/dev/null
[ "$(curl -s -X POST -d '{"a":1}' "http://127.0.0.1:$PORT/api/v1/tasks")" = "{}" ] || { echo "nginx does not answer" >&2; exit 1; }

dur=()
[ -z "$SECS" ] || dur=(--duration "${SECS}s")
keep=bench/out/timeline-runs # each run's output and results, for a look afterwards
rm -rf "$keep"
for cpus in $CPUS; do
: >"$work/runs"
printf '\nreplay on cores %s (taskset -c %s), nginx on core 0:\n' "$cpus" "$cpus"
for i in $(seq "$RUNS"); do
	rm -rf "$work/r"
	API_KEY=bench-token /usr/bin/time -f "%e %U %S %M" -o "$work/time" taskset -c "$cpus" bin/replay recorded --trace "$trace" \
		--host "http://127.0.0.1:$PORT" --speed "$speed" --window "$WINDOW" "${dur[@]}" --out "$work/r" \
		--no-default-thresholds --format json >"$work/replay-$i.out" 2>&1 &
	timer=$!
	pids+=($timer)
	# replay's memory each second (on core 0, with nginx), split at its
	# first progress line: reading the trace before, the run after.
	sleep 0.2
	taskset -c 0 bash -c 'p=$(pgrep -P "$1" | head -1); while [ -n "$p" ] && [ -r /proc/$p/status ]; do
		echo "$(grep -c "^recorded " "$2" 2>/dev/null) $(awk "/^VmRSS/ {print \$2}" /proc/$p/status 2>/dev/null)"; sleep 1; done' \
		_ "$timer" "$work/replay-$i.out" >"$work/rss-$i" &
	sampler=$!
	wait "$timer" || true
	wait "$sampler" || true
	read -r open_mb run_mb <<<"$(awk '$2 != "" {k = ($1 > 0); if ($2 > m[k]) m[k] = $2} END {printf "%d %d", m[0] / 1024, m[1] / 1024}' "$work/rss-$i")"
	files=("$work"/r/*.parquet)
	[ -f "${files[0]}" ] || { echo "run $i wrote no results:" >&2; tail -20 "$work/replay-$i.out" >&2; exit 1; }
	eval "$(bin/resultstats "${files[0]}")" # requests, rate, late_*, start_late_*, timeline_recorded, ...
	read -r wall user sys kb <"$work/time"
	echo "$((kb / 1024)) $start_late_p50_us $start_late_p99_us $start_late_max_us $late_p99_us $behind_p99_us $rate $requests $timeline_recorded $failed $wall $(echo "$user + $sys" | bc) $open_mb $run_mb" >>"$work/runs"
	echo "run $i: $(tail -1 "$work/runs")"
	mkdir -p "$keep/cores-$cpus/run-$i" && cp "$work/replay-$i.out" "$work/rss-$i" "${files[0]}" "$keep/cores-$cpus/run-$i/"
done

# One row a figure: the median of the runs and their range.
printf '\n%-46s %12s %22s\n' "figure ($RUNS runs)" median range
awk -v runs="$RUNS" -v recorded="$window_requests" '
function fig(name, col, scale, fmt,   v, i, j, t) {
	for (i = 1; i <= runs; i++) v[i] = r[i, col] / scale
	for (i = 1; i <= runs; i++) for (j = i + 1; j <= runs; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	med[col] = v[int((runs + 1) / 2)]
	printf "%-46s %12s %22s\n", name, sprintf(fmt, med[col]), sprintf(fmt "-" fmt, v[1], v[runs])
}
{ for (c = 1; c <= NF; c++) r[NR, c] = $c }
END {
	fig("peak RSS, MiB", 1, 1, "%.0f")
	fig("  RSS while reading the trace (1 s samples)", 13, 1, "%.0f")
	fig("  RSS during the run and analysis (1 s samples)", 14, 1, "%.0f")
	fig("start lateness p50, ms", 2, 1000, "%.3f")
	fig("start lateness p99, ms", 3, 1000, "%.3f")
	fig("start lateness max, ms", 4, 1000, "%.1f")
	fig("send lateness p99 (sent - scheduled), ms", 5, 1000, "%.3f")
	fig("behind_ns p99, ms", 6, 1000, "%.3f")
	fig("achieved requests/s", 7, 1, "%.0f")
	fig("requests sent", 8, 1, "%.0f")
	fig("recorded requests, results footer timeline", 9, 1, "%.0f")
	printf "%-46s %12s\n", "recorded requests of the slice (DuckDB)", recorded
	fig("failed requests", 10, 1, "%.0f")
	fig("wall seconds (trace read, run, analysis)", 11, 1, "%.1f")
	fig("CPU seconds", 12, 1, "%.1f")
	printf "\ngoal: peak RSS under 256 MiB: %s; start lateness p99 under 10 ms: %s\n", goal(1, 256, 1), goal(3, 10, 1000)
}
# goal: "met" in every run, "met by the median" or "NOT met".
function goal(col, limit, scale,   i, all) {
	all = 1
	for (i = 1; i <= runs; i++) if (r[i, col] / scale >= limit) all = 0
	return all ? "met in every run" : med[col] < limit ? "met by the median, not in every run" : "NOT met"
}' "$work/runs"
done
