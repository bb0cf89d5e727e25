#!/usr/bin/env bash
# What replay --metrics costs: replay's max rate against nginx on
# 127.0.0.1 with --metrics off and on, runs alternating (off, on, off, on,
# ...), nginx pinned to core 0 and replay to core 1 as in
# bench/replay-vs-vegeta.sh. With --metrics on, /metrics is scraped every
# second during the run (a Prometheus at a 1 s interval: more often than
# one usually scrapes), by curl on nginx's core, so the cost measured is
# replay's: counting rows, and serving the scrapes. And the same run
# started from the web UI (replay --web, driven by curl: its start form
# posted, its state polled every second as the page does, /metrics
# scraped every second), which also keeps the live per-route table.
#
#   bench/metrics-cost.sh              # SECS=10, RUNS=3 of each (NOWEB=1: not the web UI)
# Needs nginx, tcpdump and ab (Debian's nginx-light, tcpdump,
# apache2-utils), installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
PORT=18310
MPORT=18311
WPORT=18312
need nginx:nginx-light ab:apache2-utils tcpdump:tcpdump taskset:util-linux curl:curl
mkdir -p bin
go build -o bin/ ./cmd/replay ./cmd/record

nginx_target $PORT 0 # nginx on core 0 and $work/trace.parquet, a trace of GET $URL

# one off|on: prints the requests/s of one run, and with metrics the
# scrapes served and the last one's request count.
one() {
	local metrics=() rate
	rm -rf "$work/r"
	[ "$1" = on ] && metrics=(--metrics "127.0.0.1:$MPORT")
	taskset -c 1 bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --scale 64 --ramp 1ms --pacing none \
		--duration "${SECS}s" --out "$work/r" --no-default-thresholds "${metrics[@]}" light >"$work/replay.out" 2>&1 &
	local pid=$! scrapes=0
	if [ "$1" = on ]; then
		# Bounded: the run's length and a margin, one scrape a second.
		for _ in $(seq $((SECS + 30))); do
			kill -0 $pid 2>/dev/null || break
			if taskset -c 0 curl -sf -o "$work/scrape" "http://127.0.0.1:$MPORT/metrics"; then
				scrapes=$((scrapes + 1))
			fi
			sleep 1
		done
	fi
	wait $pid || true
	rate=$(awk -v s="$SECS" '/requests in/ {printf "%.0f", $2 / s; exit}' "$work/replay.out")
	[ -n "$rate" ] || { cat "$work/replay.out" >&2; exit 1; }
	if [ "$1" = on ]; then
		echo "$rate $scrapes $(awk '/^replaykit_requests_total/ {n += $NF} END {print n}' "$work/scrape")"
	else
		echo "$rate"
	fi
}

# web: the same run from the web UI; prints requests/s and the scrapes.
web() {
	rm -rf "$work/r"
	taskset -c 1 bin/replay --web="127.0.0.1:$WPORT" --out "$work/r" --no-default-thresholds >"$work/web.out" 2>&1 &
	local pid=$! scrapes=0 tok="" status=""
	for _ in $(seq 100); do
		tok=$(curl -sf "http://127.0.0.1:$WPORT/" | grep -o 'content="[0-9a-f]*"' | cut -d'"' -f2) && [ -n "$tok" ] && break
		sleep 0.1
	done
	[ -n "$tok" ] || { cat "$work/web.out" >&2; exit 1; }
	local api=(-sf -H "X-Replaykit-Token: $tok")
	curl "${api[@]}" -H 'Content-Type: application/json' -o /dev/null -d \
		"{\"traces\":[\"$work/trace.parquet\"],\"scenario\":\"light\",\"users\":64,\"ramp\":\"1ms\",\"duration\":\"${SECS}s\",\"host\":\"http://127.0.0.1:$PORT\",\"pacing\":\"none\",\"seed\":1}" \
		"http://127.0.0.1:$WPORT/api/start"
	# Bounded: the run, its analysis and a margin, a poll a second.
	for _ in $(seq $((SECS + 60))); do
		taskset -c 0 curl "${api[@]}" -o "$work/state.json" "http://127.0.0.1:$WPORT/api/state" || true
		taskset -c 0 curl -sf -o "$work/scrape" "http://127.0.0.1:$WPORT/metrics" && scrapes=$((scrapes + 1))
		status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["status"])' "$work/state.json" 2>/dev/null || true)
		[ "$status" = done ] || [ "$status" = failed ] && break
		sleep 1
	done
	kill -INT $pid
	wait $pid || true
	[ "$status" = done ] || { cat "$work/web.out" "$work/state.json" >&2; exit 1; }
	echo "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["run"]["requests"] / float(sys.argv[2])))' "$work/state.json" "$SECS") $scrapes"
}

printf 'replay max rate, 64 users, no think time, %ss a run, replay on core 1, nginx on core 0\n' "$SECS"
printf '%-4s %-8s %12s %10s %24s\n' run metrics "requests/s" scrapes "last scrape's requests"
off=() on=() webr=()
for i in $(seq "$RUNS"); do
	read -r r <<<"$(one off)"
	off+=("$r")
	printf '%-4s %-8s %12s\n' "$i" off "$r"
	read -r r s n <<<"$(one on)"
	on+=("$r")
	printf '%-4s %-8s %12s %10s %24s\n' "$i" on "$r" "$s" "$n"
	if [ -z "${NOWEB:-}" ]; then
		read -r r s <<<"$(web)"
		webr+=("$r")
		printf '%-4s %-8s %12s %10s\n' "$i" web "$r" "$s"
	fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
moff=$(median "${off[@]}")
mon=$(median "${on[@]}")
printf 'median of %s: off %s/s, on %s/s: on is %.3fx off\n' "$RUNS" "$moff" "$mon" "$(echo "$mon / $moff" | bc -l)"
if ((${#webr[@]})); then
	mweb=$(median "${webr[@]}")
	printf 'median of %s: from the web UI %s/s: %.3fx off\n' "$RUNS" "$mweb" "$(echo "$mweb / $moff" | bc -l)"
fi
