#!/usr/bin/env bash
# How fast does `record --pcap` turn a capture into a trace, against tshark's
# HTTP dissector doing the same job (request and response fields) in the
# same run, on the same core? How much faster is it on two cores? And
# does memory stay flat when the capture grows 10x?
#
# It captures ab -k (keep-alive GETs), ab -p (POSTs with a body) and ab
# without -k (a new connection per request) against nginx on loopback, at
# two sizes (N and 10N requests: small, large), a pipelining client
# (bench/pipeliner: 10 requests a write on 4 connections, PIPE_N
# requests: pipelined), and takes Locust's recording of the fixtures
# (testdata/pcap/locust-timeline.pcap: locust). It runs each tool RUNS
# times per capture and prints medians: record on one core (GOMAXPROCS=1,
# taskset -c 1, the process's start included) and on two (GOMAXPROCS=2,
# taskset -c 0,1: "2 cores"), tshark on one. The ratios: record vs tshark
# on one core, and record on two cores vs one.
#
#   bench/record-vs-tshark.sh            # N=20000, PIPE_N=80000, RUNS=3
#   N=5000 RUNS=1 bench/record-vs-tshark.sh
#   CAPTURES="pipelined locust" bench/record-vs-tshark.sh   # some of small large pipelined locust
#   REUSE=1 bench/record-vs-tshark.sh    # measure the captures of the last run again
#   BASELINE=73e8be5 bench/record-vs-tshark.sh   # also time record built from that commit
#                                        # (and check that both write the same trace, byte for byte)
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
PIPE_N=${PIPE_N:-80000}
RUNS=${RUNS:-3}
CAPTURES=${CAPTURES:-small large pipelined locust}
PORT=18091
out=bench/out
mkdir -p "$out"

. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark nginx:nginx-light ab:apache2-utils /usr/bin/time:time taskset:util-linux
go build -o bin/ ./cmd/record ./bench/pipeliner
tools="replaykit replaykit2 tshark"
if [ -n "${BASELINE:-}" ]; then
	mkdir "$work/baseline" # its sources alone: no worktree to add and remove
	git archive "$BASELINE" | tar -x -C "$work/baseline"
	(cd "$work/baseline" && go build -o "$work/record-baseline" ./cmd/record)
	rm -rf "$work/baseline"
	tools="replaykit replaykit2 baseline tshark"
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
# capture_pipelined NAME REQUESTS: the pipelining client, the same mix of
# answers as ab's GETs (a fifth of them the JSON list, JSON=0 none).
capture_pipelined() {
	local name=$1 n=$2 urls=() i
	tcpdump -i lo -s 0 -B 262144 -U -w "$out/$name.pcap" "tcp port $PORT" 2>"$work/$name.log" &
	local cap=$!
	for _ in $(seq 100); do grep -q listening "$work/$name.log" && break; sleep 0.1; done
	for i in 1 2 3 4 5; do
		if [ "$i" = 5 ] && [ "${JSON:-2}" != 0 ]; then urls+=("http://127.0.0.1:$PORT/tasks.json"); else urls+=("http://127.0.0.1:$PORT/index.html"); fi
	done
	bin/pipeliner -n "$n" -c 4 -depth 10 "${urls[@]}"
	sleep 0.5
	kill -INT $cap
	wait $cap || true
	grep -E "captured|dropped" "$work/$name.log" | sed "s/^/  $name: tcpdump /"
}
captures=()
for name in $CAPTURES; do
	case $name in
	small | large | pipelined) captures+=("$name") ;;
	locust) captures+=(locust) ;;
	*) echo "unknown capture $name: want small, large, pipelined or locust" >&2; exit 2 ;;
	esac
done
for name in "${captures[@]}"; do
	[ "$name" = locust ] && continue
	if [ "${REUSE:-}" = 1 ] && [ -f "$out/$name.pcap" ]; then
		echo "reusing $out/$name.pcap"
		continue
	fi
	case $name in
	small) echo "capturing $N requests (ab)..."; capture small "$N" ;;
	large) echo "capturing $((N * 10)) requests (ab)..."; capture large $((N * 10)) ;;
	pipelined) echo "capturing $PIPE_N pipelined requests..."; capture_pipelined pipelined "$PIPE_N" ;;
	esac
done
cp testdata/pcap/locust-timeline.pcap "$out/locust.pcap"
if [ "${TUNNEL:-}" = vxlan ]; then
	# Each frame inside VXLAN over UDP 4789, as a VPC traffic mirror
	# delivers it (bench/vxlanwrap; testdata/tunnels has kernel-made ones).
	go build -o bin/ ./bench/vxlanwrap
	for name in "${captures[@]}"; do
		bin/vxlanwrap "$out/$name.pcap" "$out/$name-vxlan.pcap"
	done
	echo "the captures wrapped in VXLAN (UDP 4789, VNI 42)"
fi

# run TOOL PCAP PORT: prints "seconds maxrss_kb"; the tool is pinned to
# core 1 (replaykit2: both cores). The traces are kept, to compare them.
# A fixed key: the same trace from every run and version.
export REPLAYKIT_REDACT_KEY=record-vs-tshark
run() {
	local tool=$1 pcap=$2 port=$3
	# Each run writes the trace anew (record refuses to replace one; the
	# summary goes to stdout when not -q, in every version).
	rm -f "$work/$tool.parquet"
	local t0
	t0=$(date +%s%N)
	case $tool in
	replaykit)
		GOMAXPROCS=1 /usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			bin/record --pcap "$pcap" -o "$work/$tool.parquet" >"$work/summary" ;;
	replaykit2)
		GOMAXPROCS=2 /usr/bin/time -f "%e %M" -o "$work/time" taskset -c 0,1 \
			bin/record --pcap "$pcap" -o "$work/$tool.parquet" >"$work/summary.2" ;;
	baseline)
		GOMAXPROCS=1 /usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			"$work/record-baseline" --pcap "$pcap" -o "$work/$tool.parquet" >"$work/summary.baseline"
		# Each run's trace is kept: a recorder from before 4759144
		# (2667546 and older) wrote the requests still unanswered at the
		# capture's end in a map's order, so its runs may differ.
		cp "$work/$tool.parquet" "$work/baseline-$(ls "$work" | grep -c '^baseline-').parquet" ;;
	tshark)
		/usr/bin/time -f "%e %M" -o "$work/time" taskset -c 1 \
			tshark -n -r "$pcap" -d tcp.port==$port,http -Y http -T fields \
			-e frame.time_epoch -e tcp.stream -e http.request.method -e http.request.uri \
			-e http.host -e http.content_length -e http.response.code -e http.request_in \
			>"$work/tshark.tsv" 2>/dev/null ;;
	esac
	# %e has hundredths only: the wall time is read around the command.
	local t1
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" -v m="$(cut -d' ' -f2 "$work/time")" 'BEGIN {printf "%.4f %d\n", (b - a) / 1e9, m}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-9s %-10s %9s %9s %8s %12s %12s %9s %9s\n' capture tool packets exchanges "sec" packets/s exchanges/s "peak MB" "B/exch"
for size in "${captures[@]}"; do
	pcap=$out/$size${TUNNEL:+-$TUNNEL}.pcap
	packets=$(tshark -r "$pcap" -T fields -e frame.number 2>/dev/null | wc -l)
	# The server's port: the first SYN's destination (the Locust capture's
	# demo API listened on a port of its own).
	port=$PORT
	if [ "$size" = locust ]; then
		port=$(tshark -r "$pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.dstport -c 1 2>/dev/null)
	fi
	declare -A secs=() rss=()
	for tool in $tools; do
		: >"$work/runs"
		for _ in $(seq "$RUNS"); do run $tool "$pcap" "$port" >>"$work/runs"; done
		secs[$tool]=$(cut -d' ' -f1 "$work/runs" | median)
		rss[$tool]=$(cut -d' ' -f2 "$work/runs" | median)
		if [ $tool != tshark ]; then
			sum=$work/summary
			[ $tool = baseline ] && sum=$work/summary.baseline
			[ $tool = replaykit2 ] && sum=$work/summary.2
			exch=$(awk '/exchanges/ {print $2; exit}' "$sum")
			bpe=$(awk '/^  trace/ {print $(NF-1); exit}' "$sum")
		else
			exch=$(awk -F'\t' '$3 != "" {n += split($3, a, ",")} END {print n}' "$work/tshark.tsv")
			bpe=-
		fi
		name=$tool
		[ $tool = replaykit2 ] && name="2 cores"
		awk -v s="$size" -v t="$name" -v p="$packets" -v e="$exch" -v sec="${secs[$tool]}" -v m="${rss[$tool]}" -v b="$bpe" \
			'BEGIN {printf "%-9s %-10s %9d %9d %8.3f %12.0f %12.0f %9.1f %9s\n", s, t, p, e, sec, p/sec, e/sec, m/1024, b}'
	done
	awk -v a="${secs[tshark]}" -v b="${secs[replaykit]}" -v s=$size 'BEGIN {printf "%-9s replaykit is %.1fx faster than tshark (median of '"$RUNS"' runs each, one core)\n", s, a/b}'
	awk -v a="${secs[replaykit]}" -v b="${secs[replaykit2]}" -v s=$size 'BEGIN {printf "%-9s replaykit on two cores is %.2fx as fast as on one\n", s, a/b}'
	cmp -s "$work/replaykit.parquet" "$work/replaykit2.parquet" || echo "$size: THE TRACES OF ONE AND TWO CORES DIFFER"
	if [ -n "${BASELINE:-}" ]; then
		awk -v a="${secs[baseline]}" -v b="${secs[replaykit]}" -v s=$size 'BEGIN {printf "%-9s replaykit takes %.2fx the time of the baseline ('"$BASELINE"')\n", s, b/a}'
		same=
		for b in "$work"/baseline-*.parquet; do
			cmp -s "$work/replaykit.parquet" "$b" && same=$b
		done
		distinct=$(md5sum "$work"/baseline-*.parquet | cut -d' ' -f1 | sort -u | wc -l)
		if [ -n "$same" ]; then
			echo "$size: the trace is the baseline's, byte for byte (its $RUNS runs wrote $distinct distinct traces)"
		else
			echo "$size: THE TRACE DIFFERS FROM EVERY ONE OF THE BASELINE'S RUNS ($distinct distinct traces)"
		fi
		rm -f "$work"/baseline-*.parquet
	fi
	eval "rss_$size=${rss[replaykit]}"
done
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${rss_small:-}" ] && [ -n "${rss_large:-}" ]; then
	awk -v a="$rss_small" -v b="$rss_large" 'BEGIN {printf "\nreplaykit peak memory: %.1f MB at 1x, %.1f MB at 10x (%.2fx for 10x the capture)\n", a/1024, b/1024, b/a}'
fi
