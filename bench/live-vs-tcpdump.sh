#!/usr/bin/env bash
# Live capture under load: does `record --iface lo` keep every exchange
# where tcpdump does? At rising rates (ab -k at rising concurrency against
# nginx on loopback), record and tcpdump capture side by side; per rate it
# prints the requests ab completed, the exchanges tshark finds in tcpdump's
# file, the exchanges record wrote, both kernel drop counters, and record's
# CPU and peak memory per 10k exchanges/s.
#
#   bench/live-vs-tcpdump.sh                   # levels 1 4 16 64, 3s each
#   LEVELS="2 32" SECS=5 bench/live-vs-tcpdump.sh
#
# Needs root. Installs tcpdump, tshark, nginx and ab if missing. All traffic
# stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
LEVELS=${LEVELS:-1 4 16 64}
SECS=${SECS:-3}
PORT=18092
out=bench/out/live
mkdir -p "$out"

. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark nginx:nginx-light ab:apache2-utils
go build -o bin/record ./cmd/record


mkdir -p "$work/www"
python3 -c 'print("<!doctype html><title>bench</title>" + "<p>live capture benchmark</p>" * 30)' >"$work/www/index.html"
start_nginx $PORT "$work/www"

ticks=$(getconf CLK_TCK)
printf '%-5s %8s %8s %11s %9s %9s %9s %7s %12s %8s\n' conc "req/s" ab tcpdump+tsh record "td drops" "rk drops" ab-rk "cores/10k/s" "peak MB"
for c in $LEVELS; do
	rm -rf "$out/c$c" && mkdir -p "$out/c$c"
	tcpdump -i lo -s 0 -B 262144 -w "$out/c$c/tcpdump.pcap" "tcp port $PORT" 2>"$work/td.log" &
	td=$!
	bin/record --iface lo --port $PORT -o "$out/c$c/" >"$work/rk.out" 2>"$work/rk.log" &
	rk=$!
	for _ in $(seq 100); do grep -q listening "$work/td.log" && grep -q capturing "$work/rk.log" && break; sleep 0.1; done
	cpu0=$(awk '{print $14 + $15}' /proc/$rk/stat)
	ab -q -k -c "$c" -t "$SECS" -n 100000000 "http://127.0.0.1:$PORT/index.html" >"$work/ab.out" 2>&1 || true
	sleep 0.5
	cpu1=$(awk '{print $14 + $15}' /proc/$rk/stat)
	hwm=$(awk '/VmHWM/ {print $2}' /proc/$rk/status)
	kill -INT $td $rk
	wait $td || true
	wait $rk || true
	done_ab=$(awk '/Complete requests/ {print $3}' "$work/ab.out")
	rate=$(awk '/Requests per second/ {print $4}' "$work/ab.out")
	td_drop=$(awk '/dropped by kernel/ {print $1}' "$work/td.log")
	ts=$(tshark -n -r "$out/c$c/tcpdump.pcap" -d tcp.port==$PORT,http -Y http.response -T fields -e frame.number 2>/dev/null | wc -l)
	rk_n=$(awk '/exchanges/ && /written/ {print $2; exit}' "$work/rk.out")
	rk_drop=$(awk '/^  kernel/ {print $5; exit}' "$work/rk.out")
	awk -v c="$c" -v rate="$rate" -v ab="$done_ab" -v ts="$ts" -v rk="$rk_n" -v tdd="$td_drop" -v rkd="$rk_drop" \
		-v cpu=$((cpu1 - cpu0)) -v tck="$ticks" -v secs="$SECS" -v hwm="$hwm" \
		'BEGIN { per = rate / 10000; printf "%-5s %8.0f %8d %11d %9d %9d %9d %7d %12.2f %8.1f\n",
			c, rate, ab, ts, rk, tdd, rkd, ab - rk, (cpu / tck / secs) / per, hwm / 1024 }'
done
echo
echo "ab-rk: requests ab completed minus exchanges record wrote. Positive would be loss (goal: never, where"
echo "tcpdump drops nothing); negative is the requests ab had in flight when -t ran out: it does not count"
echo "them, but the server answered them on the wire, so a capture has them."
echo "cores/10k/s: record's CPU time per second, per 10k exchanges/s. peak MB: record's VmHWM (the 64 MiB"
echo "kernel ring is mapped into it)."
