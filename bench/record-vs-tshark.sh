#!/usr/bin/env bash
# How fast does `record --pcap` turn a capture into a trace, against tshark's
# HTTP dissector doing the same job (request and response fields) in the
# same run, on the same core? And does memory stay flat when the capture
# grows 10x?
#
# It captures ab -k (keep-alive GETs), ab -p (POSTs with a body) and ab
# without -k (a new connection per request) against nginx on loopback, at
# two sizes (N and 10N requests), then runs each tool RUNS times per size
# pinned to one core and prints medians.
#
#   bench/record-vs-tshark.sh            # N=20000, RUNS=3
#   N=5000 RUNS=1 bench/record-vs-tshark.sh
#   REUSE=1 bench/record-vs-tshark.sh    # measure the captures of the last run again
#   BASELINE=73e8be5 bench/record-vs-tshark.sh   # also time record built from that commit
#   JSON=0 bench/record-vs-tshark.sh     # no JSON answers (the capture of before correlate)
#   TUNNEL=vxlan bench/record-vs-tshark.sh   # the captures inside VXLAN, as a traffic mirror sends them
#
# A third of the GETs fetch a JSON list (50 objects with ids): record looks
# into JSON answers for the values later requests reuse (correlate).
#
# Needs root (tcpdump). Installs tcpdump, tshark, nginx, ab if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
RUNS=${RUNS:-3}
PORT=18091
out=bench/out
mkdir -p "$out"

. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark nginx:nginx-light ab:apache2-utils /usr/bin/time:time taskset:util-linux
go build -o bin/record ./cmd/record
tools="replaykit tshark"
if [ -n "${BASELINE:-}" ]; then
	git worktree add -q --detach "$work/baseline" "$BASELINE"
	(cd "$work/baseline" && go build -o "$work/record-baseline" ./cmd/record)
	git worktree remove --force "$work/baseline"
	tools="replaykit baseline tshark"
fi


mkdir -p "$work/www"
python3 -c 'print("<!doctype html><title>bench</title>" + "<p>a page of the benchmark</p>" * 60)' >"$work/www/index.html"
printf '{"title":"a task created by the benchmark","tags":["a","b"]}' >"$work/post.json"
python3 -c 'import json; print(json.dumps({"items": [{"id": 1000 + i, "title": "task %d" % i, "status": "open", "project_id": 7} for i in range(50)]}))' >"$work/www/tasks.json"
start_nginx $PORT "$work/www"

# capture NAME REQUESTS
capture() {
	local name=$1 n=$2
	tcpdump -i lo -s 0 -B 262144 -U -w "$out/$name.pcap" "tcp port $PORT" 2>"$work/$name.log" &
	local cap=$!
	for _ in $(seq 100); do grep -q listening "$work/$name.log" && break; sleep 0.1; done
	local json=$((n * ${JSON:-2} / 10))
	ab -q -k -n $((n * 7 / 10 - json)) -c 8 "http://127.0.0.1:$PORT/index.html" >/dev/null
	[ "$json" -gt 0 ] && ab -q -k -n "$json" -c 8 "http://127.0.0.1:$PORT/tasks.json" >/dev/null
	ab -q -k -n $((n * 2 / 10)) -c 4 -p "$work/post.json" -T application/json "http://127.0.0.1:$PORT/api/tasks" >/dev/null
	ab -q -n $((n / 10)) -c 4 "http://127.0.0.1:$PORT/index.html?fresh=1" >/dev/null
	sleep 0.5
	kill -INT $cap
	wait $cap || true
	grep -E "captured|dropped" "$work/$name.log" | sed "s/^/  $name: tcpdump /"
}
if [ "${REUSE:-}" = 1 ] && [ -f "$out/small.pcap" ] && [ -f "$out/large.pcap" ]; then
	echo "reusing $out/small.pcap and $out/large.pcap"
else
	echo "capturing $N and $((N * 10)) requests..."
	capture small "$N"
	capture large $((N * 10))
fi
if [ "${TUNNEL:-}" = vxlan ]; then
	# Each frame inside VXLAN over UDP 4789, as a VPC traffic mirror
	# delivers it (bench/vxlanwrap; testdata/tunnels has kernel-made ones).
	go build -o bin/ ./bench/vxlanwrap
	for name in small large; do
		bin/vxlanwrap "$out/$name.pcap" "$out/$name-vxlan.pcap"
	done
	echo "the captures wrapped in VXLAN (UDP 4789, VNI 42)"
fi

# run TOOL PCAP: prints "seconds maxrss_kb"; the tool is pinned to core 1.
run() {
	local tool=$1 pcap=$2
	# Each run writes the trace anew (record refuses to replace one; the
	# summary goes to stdout when not -q, in every version).
	rm -f "$work/trace.parquet"
	case $tool in
	replaykit)
		GOMAXPROCS=1 /usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			bin/record --pcap "$pcap" -o "$work/trace.parquet" >"$work/summary" ;;
	baseline)
		GOMAXPROCS=1 /usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			"$work/record-baseline" --pcap "$pcap" -o "$work/trace.parquet" >"$work/summary.baseline" ;;
	tshark)
		/usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			tshark -n -r "$pcap" -d tcp.port==$PORT,http -Y http -T fields \
			-e frame.time_epoch -e tcp.stream -e http.request.method -e http.request.uri \
			-e http.host -e http.content_length -e http.response.code -e http.request_in \
			>"$work/tshark.tsv" 2>/dev/null ;;
	esac
	cat "$work/time"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '\n%-6s %-10s %9s %9s %8s %12s %12s %9s %9s\n' size tool packets exchanges "sec" packets/s exchanges/s "peak MB" "B/exch"
for size in small large; do
	pcap=$out/$size${TUNNEL:+-$TUNNEL}.pcap
	packets=$(tshark -r "$pcap" -T fields -e frame.number 2>/dev/null | wc -l)
	declare -A secs=() rss=()
	for tool in $tools; do
		: >"$work/runs"
		for _ in $(seq "$RUNS"); do run $tool "$pcap" >>"$work/runs"; done
		secs[$tool]=$(cut -d' ' -f1 "$work/runs" | median)
		rss[$tool]=$(cut -d' ' -f2 "$work/runs" | median)
		if [ $tool != tshark ]; then
			sum=$work/summary
			[ $tool = baseline ] && sum=$work/summary.baseline
			exch=$(awk '/exchanges/ {print $2; exit}' "$sum")
			bpe=$(awk '/^  trace/ {print $(NF-1); exit}' "$sum")
		else
			exch=$(awk -F'\t' '$3 != "" {n += split($3, a, ",")} END {print n}' "$work/tshark.tsv")
			bpe=-
		fi
		awk -v s="$size" -v t=$tool -v p="$packets" -v e="$exch" -v sec="${secs[$tool]}" -v m="${rss[$tool]}" -v b="$bpe" \
			'BEGIN {printf "%-6s %-10s %9d %9d %8.2f %12.0f %12.0f %9.1f %9s\n", s, t, p, e, sec, p/sec, e/sec, m/1024, b}'
	done
	awk -v a="${secs[tshark]}" -v b="${secs[replaykit]}" -v s=$size 'BEGIN {printf "%-6s replaykit is %.1fx faster than tshark (median of '"$RUNS"' runs each, one core)\n", s, a/b}'
	if [ -n "${BASELINE:-}" ]; then
		awk -v a="${secs[baseline]}" -v b="${secs[replaykit]}" -v s=$size 'BEGIN {printf "%-6s replaykit takes %.2fx the time of the baseline ('"$BASELINE"')\n", s, b/a}'
	fi
	eval "rss_$size=${rss[replaykit]}"
done
awk -v a="$rss_small" -v b="$rss_large" 'BEGIN {printf "\nreplaykit peak memory: %.1f MB at 1x, %.1f MB at 10x (%.2fx for 10x the capture)\n", a/1024, b/1024, b/a}'
