#!/usr/bin/env bash
# What replay --metrics costs: replay's max rate against nginx on
# 127.0.0.1 with --metrics off and on, runs alternating (off, on, off, on,
# ...), nginx pinned to core 0 and replay to core 1 as in
# bench/replay-vs-vegeta.sh. nginx answers from memory (`return 201`), so
# replay, not nginx, is the limit and what --metrics costs it shows in
# full (STATIC=1: a static file, where nginx is the limit). With --metrics
# on, /metrics is scraped every second during the run (a Prometheus at a
# 1 s interval: more often than one usually scrapes) by one scraper
# process on nginx's core; the same scraper runs with --metrics off too
# (its GETs refused), so the two arms differ only in replay's work:
# counting rows and serving the scrapes. And the same run started from
# the web UI (replay --web, its start form posted with curl, its state
# polled every second as the page does, /metrics scraped every second),
# which also keeps the live per-route table.
#
#   bench/metrics-cost.sh              # SECS=10, RUNS=3 of each (NOWEB=1: not the web UI;
#                                      # RUNS a multiple of 3, 2 without it: each arm first as often)
# Needs nginx, tcpdump, ab and python3 (Debian's nginx-light, tcpdump,
# apache2-utils, python3), installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
PORT=18310
MPORT=18311
WPORT=18312
need nginx:nginx-light ab:apache2-utils tcpdump:tcpdump taskset:util-linux curl:curl python3:python3
mkdir -p bin
go build -o bin/ ./cmd/replay ./cmd/record

[ -n "${STATIC:-}" ] || NGINX_PATH=/api/fast
nginx_target $PORT 0 # nginx on core 0 and $work/trace.parquet, a trace of GET $URL

# The scraper: one process for a whole run, on nginx's core, that GETs
# its URLs once a second while the process PID lives (bounded: at most
# LIMIT seconds), and prints how many GETs of the first URL answered and,
# if SUM, the sum of replaykit_requests_total in its last answer. One
# long-lived process, not a curl a second: starting curl costs more CPU
# than the scrape it makes. It runs in both arms (with --metrics off it
# scrapes a port nobody listens on), so what differs is replay's work.
cat >"$work/scrape.py" <<'PYEOF'
import json, os, sys, time, urllib.request
pid, limit, out, urls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
headers = {k: v for k, v in (h.split(": ", 1) for h in os.environ.get("HDRS", "").split("|") if h)}
ok, last, end = 0, b"", time.monotonic() + limit
while time.monotonic() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    for i, u in enumerate(urls):
        try:
            body = urllib.request.urlopen(urllib.request.Request(u, headers=headers), timeout=2).read()
            with open(out + str(i), "wb") as f:
                f.write(body)
            if u.endswith("/api/state"):
                # The run's status for the shell, which would otherwise
                # start a python a second to read it: a pyenv shim's start
                # takes 0.1 s of CPU, a tenth of a core.
                st = json.loads(body).get("run") or {}
                with open(out + "status", "w") as f:
                    f.write("%s %s\n" % (st.get("status", ""), st.get("requests", 0)))
            if i == 0:
                ok, last = ok + 1, body
        except OSError:
            pass
    time.sleep(1)
total = sum(float(l.split()[-1]) for l in last.decode().splitlines() if l.startswith("replaykit_requests_total"))
print(ok, int(total))
PYEOF
scrape() { taskset -c 0 python3 "$work/scrape.py" "$@"; }

# one off|on: prints the requests/s of one run, the scrapes served and
# the last one's request count.
one() {
	local metrics=() rate
	rm -rf "$work/r"
	[ "$1" = on ] && metrics=(--metrics "127.0.0.1:$MPORT")
	taskset -c 1 bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --scale 64 --ramp 1ms --pacing none \
		--duration "${SECS}s" --out "$work/r" --no-default-thresholds "${metrics[@]}" light >"$work/replay.out" 2>&1 &
	local pid=$!
	local s
	s=$(scrape $pid $((SECS + 30)) "$work/scrape" "http://127.0.0.1:$MPORT/metrics")
	wait $pid || true
	rate=$(awk -v s="$SECS" '/requests in/ {printf "%.0f", $2 / s; exit}' "$work/replay.out")
	[ -n "$rate" ] || { cat "$work/replay.out" >&2; exit 1; }
	echo "$rate $s"
}

# web: the same run from the web UI; prints requests/s and the scrapes.
web() {
	rm -rf "$work/r" "$work/scrape0" "$work/scrape1" "$work/scrapestatus" # no state of an earlier run read as this one's
	taskset -c 1 bin/replay --web="127.0.0.1:$WPORT" --out "$work/r" --no-default-thresholds >"$work/web.out" 2>&1 &
	local pid=$! tok="" status="" s
	for _ in $(seq 100); do
		tok=$(curl -sf "http://127.0.0.1:$WPORT/" | grep -o 'content="[0-9a-f]*"' | cut -d'"' -f2) && [ -n "$tok" ] && break
		sleep 0.1
	done
	[ -n "$tok" ] || { cat "$work/web.out" >&2; exit 1; }
	local api=(-sf -H "X-Replaykit-Token: $tok")
	curl "${api[@]}" -H 'Content-Type: application/json' -o /dev/null -d \
		"{\"traces\":[\"$work/trace.parquet\"],\"scenario\":\"light\",\"users\":64,\"ramp\":\"1ms\",\"duration\":\"${SECS}s\",\"host\":\"http://127.0.0.1:$PORT\",\"pacing\":\"none\",\"seed\":1}" \
		"http://127.0.0.1:$WPORT/api/start"
	# The page's poll of the state and a Prometheus scrape, once a second,
	# until the run and its analysis are done (bounded).
	HDRS="X-Replaykit-Token: $tok" scrape $pid $((SECS + 60)) "$work/scrape" "http://127.0.0.1:$WPORT/metrics" "http://127.0.0.1:$WPORT/api/state" >"$work/web.scrapes" &
	local sp=$!
	for _ in $(seq $((SECS + 60))); do
		{ read -r status _ <"$work/scrapestatus"; } 2>/dev/null || true
		[ "$status" = done ] || [ "$status" = failed ] && break
		sleep 1
	done
	kill -INT $pid
	wait $pid || true
	wait $sp || true
	[ "$status" = done ] || { cat "$work/web.out" "$work/scrape1" >&2; exit 1; }
	read -r s _ <"$work/web.scrapes"
	read -r _ n <"$work/scrapestatus"
	echo "$((n / SECS)) $s"
}

printf 'replay max rate, 64 users, no think time, %ss a run, replay on core 1, nginx on core 0 (%s)\n' "$SECS" "${STATIC:+a static file}${STATIC:-return 201}"
printf '%-4s %-8s %12s %10s %24s\n' run metrics "requests/s" scrapes "last scrape's requests"
off=() on=() webr=()
arms=(off on)
[ -n "${NOWEB:-}" ] || arms+=(web)
for i in $(seq "$RUNS"); do
	# Each round starts with the next arm (off on web, on web off, ...):
	# the machine's drift over a round (a VM's neighbours) falls on each
	# arm alike, not always on the last.
	for k in $(seq 0 $((${#arms[@]} - 1))); do
		arm=${arms[$(((i - 1 + k) % ${#arms[@]}))]}
		case $arm in
		off)
			read -r r s _ <<<"$(one off)"
			off+=("$r")
			printf '%-4s %-8s %12s %10s\n' "$i" off "$r" "$s" ;;
		on)
			read -r r s n <<<"$(one on)"
			on+=("$r")
			printf '%-4s %-8s %12s %10s %24s\n' "$i" on "$r" "$s" "$n" ;;
		web)
			read -r r s <<<"$(web)"
			webr+=("$r")
			printf '%-4s %-8s %12s %10s\n' "$i" web "$r" "$s" ;;
		esac
	done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (v[int((NR+1)/2)] + v[int(NR/2)+1]) / 2}'; }
# ratios A B: each round's A over its B (a paired comparison: the drift
# between rounds, often more than the cost sought, falls out).
ratios() {
	local -n a=$1 b=$2
	for i in "${!a[@]}"; do echo "${a[$i]} / ${b[$i]}" | bc -l; done
}
moff=$(median "${off[@]}")
mon=$(median "${on[@]}")
printf 'median of %s: off %.0f/s, on %.0f/s; median of the rounds'"'"' on/off: %.3fx\n' "$RUNS" "$moff" "$mon" "$(median $(ratios on off))"
if ((${#webr[@]})); then
	mweb=$(median "${webr[@]}")
	printf 'median of %s: from the web UI %.0f/s; median of the rounds'"'"' web/off: %.3fx\n' "$RUNS" "$mweb" "$(median $(ratios webr off))"
fi
