#!/usr/bin/env bash
# Remakes the capture fixtures in testdata/pcap and their golden files in
# testdata/golden, from real programs talking over loopback:
#
#   go-curl    curl (every method, bodies, --http1.0, keep-alive, gzip,
#              100-continue 1 MB upload, chunked upload) and a pipelining
#              client against scripts/fixtureserver
#   nginx-ab   curl, ab -k and the pipelining client against nginx
#   lossy      curl and ab in a network namespace whose nftables drop 4% of
#              TCP packets: real retransmissions and out-of-order segments
#
#   links-curl    a bash script of curl commands against the demo API
#   links-python  a Python client with requests against the demo API
#
#   locust-timeline  20 s of Locust (scripts/locust-timeline.py) against the
#                    demo API, users spawning a few a second: the recorded
#                    timeline that replay's timeline tests play back
#
# and derived copies: a pcapng conversion, a capture cut short, one with
# frames removed, and one that starts mid-stream. Goldens are written by
# scripts/tshark-exchanges.py (tshark's HTTP dissector), so they do not come
# from the code they test; the links of links-*.pcap are written by hand in
# testdata/links. The timeline of locust-timeline.pcap (its requests and
# their count per second) is written by scripts/tshark-timeline.py into
# testdata/timeline. Needs root (tcpdump, network namespace).
#
#   scripts/make-fixtures.sh          all of them
#   scripts/make-fixtures.sh links    links-curl and links-python only
#   scripts/make-fixtures.sh locust   locust-timeline only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
only=${1:-all}
case $only in all | links | locust) ;; *) echo "usage: $0 [links | locust]" >&2; exit 2 ;; esac

. scripts/lib.sh
if [ "$only" = all ]; then
	need tcpdump:tcpdump tshark:tshark editcap:wireshark-common nginx:nginx-light ab:apache2-utils curl:curl nft:nftables ip:iproute2 python3:python3
fi

netns=rk-fixtures-$$
del_netns() { ip netns del "$netns" 2>/dev/null; }
cleanup_hooks+=(del_netns)

out=testdata/pcap
golden=testdata/golden
mkdir -p "$out" "$golden" bin
go build -o bin/fixtureserver ./scripts/fixtureserver

# start_capture NAME FILTER [NETNS]: tcpdump on lo, ready when it says so.
start_capture() {
	local name=$1 filter=$2 ns=${3:-}
	local run=()
	[ -n "$ns" ] && run=(ip netns exec "$ns")
	"${run[@]}" tcpdump -i lo -s 0 -U -w "$work/$name.pcap" "$filter" 2>"$work/$name.tcpdump.log" &
	cap_pid=$!
	pids+=("$cap_pid")
	for _ in $(seq 100); do grep -q listening "$work/$name.tcpdump.log" && return; sleep 0.1; done
	echo "tcpdump did not start" >&2; cat "$work/$name.tcpdump.log" >&2; exit 1
}
stop_capture() {
	sleep 0.5
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
}

# --- links-curl, links-python: clients that carry values -----------------------
# Real clients against the demo API, whose ids count from a fixed base (7300:
# the hand-written lists in testdata/links name them): each reuses what a
# response handed out (a bearer token, a Location, an ETag, a sid cookie, an
# id from a list) and makes values up (an Idempotency-Key, a document uuid, an
# X-Request-ID), as a user's script does. record/links_test.go checks the
# links record finds against testdata/links/links-*.txt.
links_fixtures() {
	need tcpdump:tcpdump curl:curl jq:jq python3:python3
	local py=python3
	if ! python3 -c 'import requests' 2>/dev/null; then
		# Debian's python3-requests is /usr/bin/python3's, whatever python3 is first on PATH.
		/usr/bin/python3 -c 'import requests' 2>/dev/null || need "_requests_:python3-requests:the Python client uses requests"
		py=/usr/bin/python3
	fi
	go build -o bin/demoapi ./cmd/demoapi
	local flow port A demo_pid want got
	for flow in curl python; do
		# A port of the kernel's choosing: fixed ones collide with other
		# servers on a shared machine. demoapi says which.
		bin/demoapi --addr 127.0.0.1:0 --id-base 7300 --rate 100000 --burst 100000 2>"$work/demoapi-$flow.log" &
		demo_pid=$!
		pids+=($demo_pid)
		wait_for grep -q 'listening on' "$work/demoapi-$flow.log"
		A=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/demoapi-$flow.log")
		port=${A##*:}
		wait_for curl -sf $A/health
		start_capture links-$flow "tcp port $port"
		if [ $flow = python ]; then
			$py scripts/correlate-clients.py $A
			want=13 # 12 requests and the 303's redirect
		else
			links_curl_flow $A
			want=11
		fi
		# tcpdump (not in --immediate-mode) gets the packets a block at a
		# time, when a block is full or a second has passed; a SIGINT before
		# then loses the last ones.
		sleep 1.5
		stop_capture
		got=$(tcpdump -r "$work/links-$flow.pcap" -nn -A 2>/dev/null | grep -ao 'HTTP/1\.1 [1-5][0-9][0-9] ' | wc -l)
		if [ "$got" != "$want" ]; then
			echo "links-$flow: $got responses captured, want $want" >&2
			exit 1
		fi
		kill "$demo_pid"
		wait "$demo_pid" || true
		cp "$work/links-$flow.pcap" "$out/links-$flow.pcap"
		chmod 0644 "$out/links-$flow.pcap"
		echo "$out/links-$flow.pcap: $(stat -c %s "$out/links-$flow.pcap") bytes"
	done
}

# links_curl_flow URL: what a user's bash script does with curl, one
# connection per command, taking values out of the answers with jq and sed.
links_curl_flow() {
	local A=$1 h=$work/headers tok key loc etag
	curl -sf -o /dev/null $A/health
	tok=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bob","password":"demo-password-bob"}' \
		$A/api/v1/login | jq -r .access_token)
	key=$(cat /proc/sys/kernel/random/uuid)
	create() {
		curl -sf -o /dev/null -D "$h" -H "Authorization: Bearer $tok" -H "Idempotency-Key: $key" \
			-H 'Content-Type: application/json' -d '{"title":"Write the report","status":"todo"}' $A/api/v1/tasks
	}
	create
	create # a retry, as after a timeout: the same key, the same task
	loc=$(sed -n 's/^Location: *//Ip' "$h" | tr -d '\r')
	curl -sf -o /dev/null -D "$h" -H "Authorization: Bearer $tok" "$A$loc"
	etag=$(sed -n 's/^ETag: *//Ip' "$h" | tr -d '\r')
	curl -sf -o /dev/null -D "$h" -X PUT -H "Authorization: Bearer $tok" -H "If-Match: $etag" \
		-H 'Content-Type: application/json' -d '{"title":"Write the report","status":"done"}' "$A$loc"
	etag=$(sed -n 's/^ETag: *//Ip' "$h" | tr -d '\r')
	curl -sf -o /dev/null -X DELETE -H "Authorization: Bearer $tok" -H "If-Match: $etag" "$A$loc"
	local jar=$work/cookies.txt
	rm -f "$jar"
	curl -sf -o /dev/null -c "$jar" -d 'username=bob&password=demo-password-bob' $A/web/login
	curl -sf -o /dev/null -b "$jar" $A/web/dashboard
	curl -sf -b "$jar" $A/web/preferences | jq -c '. + {"theme":"dark"}' >"$work/prefs.json"
	curl -sf -o /dev/null -b "$jar" -X PUT -H 'Content-Type: application/json' -d @"$work/prefs.json" $A/web/preferences
}

# --- locust-timeline: a real load test's timeline ---------------------------
# Locust itself (Debian's python3-locust) runs scripts/locust-timeline.py
# for 20 s against the demo API: 120 users, 6 more a second, each with its
# own API key or bearer token, mostly reading, a few creates and PATCHes,
# 0.2-1 s between requests, one keep-alive connection each. So the requests
# per second rise over the whole run, as a load test's ramp does: the tests
# of replaying the recorded timeline compare what replay sends each second
# with testdata/timeline/locust-per-second.txt and what a window of the
# timeline holds with locust-requests.txt, both from tshark
# (scripts/tshark-timeline.py), not from replaykit.
locust_timeline_fixture() {
	need tcpdump:tcpdump tshark:tshark curl:curl python3:python3
	# Debian's locust is /usr/bin/python3's; another one on PATH is not it.
	[ -x /usr/bin/locust ] || need "_locust_:python3-locust:the load test is Locust's"
	go build -o bin/demoapi ./cmd/demoapi
	local keys port A demo_pid got want
	# A key for each user that uses one (locust-key-NNN, NNN its spawn number).
	keys=$(seq -f 'locust-key-%03g' 0 199 | paste -sd,)
	# The default rate limit (50/s a key or user, 100 at once) stays: a user
	# sends about 1.6 a second (5 at most), and the 60 who log in share 6
	# names, so a 429 is rare (none in the committed capture).
	bin/demoapi --addr 127.0.0.1:0 --keys "$keys" 2>"$work/demoapi-locust.log" &
	demo_pid=$!
	pids+=($demo_pid)
	wait_for grep -q 'listening on' "$work/demoapi-locust.log"
	A=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/demoapi-locust.log")
	port=${A##*:}
	wait_for curl -sf $A/health
	# --immediate-mode: each packet is handed over as it comes, none waits in
	# a block; so that none is dropped meanwhile (about 200 requests a second
	# at the end, on two CPUs beside Locust), a 64 MiB buffer.
	tcpdump -i lo -s 0 -B 65536 --immediate-mode -w "$work/locust-timeline.pcap" "tcp port $port" 2>"$work/locust-timeline.tcpdump.log" &
	cap_pid=$!
	pids+=("$cap_pid")
	wait_for grep -q listening "$work/locust-timeline.tcpdump.log"
	# --stop-timeout: at 20 s each user ends the task it is in, so no
	# request is cut off without its answer. Locust exits 1 when a request
	# failed (a 429 now and then).
	timeout 60 /usr/bin/locust -f scripts/locust-timeline.py --headless --users 120 --spawn-rate 6 \
		--run-time 20s --stop-timeout 5 --host "$A" --only-summary >"$work/locust.log" 2>&1 || true
	# The last answers and FINs, then SIGINT.
	sleep 1
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
	kill "$demo_pid"
	wait "$demo_pid" || true
	if ! grep -q '^0 packets dropped by kernel' "$work/locust-timeline.tcpdump.log"; then
		echo "locust-timeline: tcpdump lost packets" >&2
		cat "$work/locust-timeline.tcpdump.log" >&2
		exit 1
	fi
	# Locust's own count (its summary's Aggregated line) and the capture's.
	want=$(awk '$1 == "Aggregated" {print $2; exit}' "$work/locust.log")
	got=$(python3 scripts/tshark-timeline.py "$work/locust-timeline.pcap" "$port" "$work/locust" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		echo "locust-timeline: $got requests captured, Locust sent $want" >&2
		cat "$work/locust.log" >&2
		exit 1
	fi
	cp "$work/locust-timeline.pcap" "$out/locust-timeline.pcap"
	mkdir -p testdata/timeline
	python3 scripts/tshark-timeline.py "$out/locust-timeline.pcap" "$port" testdata/timeline/locust
	# The JSON shape of every answer, as tshark and Python's json see them:
	# the golden of record's answer signatures.
	mkdir -p testdata/signature
	python3 scripts/tshark-shapes.py "$out/locust-timeline.pcap" "$port" >testdata/signature/locust-shapes.txt
	chmod 0644 "$out/locust-timeline.pcap" testdata/timeline/locust-*.txt testdata/signature/locust-shapes.txt
	echo "$out/locust-timeline.pcap: $(stat -c %s "$out/locust-timeline.pcap") bytes, $got requests"
}

if [ "$only" = links ]; then
	links_fixtures
	exit 0
fi
if [ "$only" = locust ]; then
	locust_timeline_fixture
	exit 0
fi

head -c 1048576 /dev/urandom >"$work/1mb.bin"
head -c 262144 /dev/urandom >"$work/256k.bin"
printf '{"title":"chunked upload","items":[1,2,3]}' >"$work/small.json"
printf '{"title":"a gzip request body"}' | gzip -c >"$work/body.json.gz"

# --- go-curl ---------------------------------------------------------------
bin/fixtureserver -addr 127.0.0.1:18080 2>"$work/fixtureserver.log" &
pids+=($!)
U=http://127.0.0.1:18080
wait_for curl -sf $U/health
start_capture go-curl 'tcp port 18080'
c() { curl -s "$@" >/dev/null; }
c $U/health
c $U/api/tasks $U/api/tasks/1 "$U/api/tasks/2?expand=owner" $U/health # one keep-alive connection
c -X POST -H 'Content-Type: application/json' -H 'X-API-Key: key-alice' -d '{"title":"write the report"}' $U/api/tasks
c -X POST -H 'X-API-Key: key-alice' -d '' $U/api/tasks
c -X PUT -H 'Authorization: Bearer token-bob' -d '{"title":"renamed"}' $U/api/tasks/7
c -X PATCH -H 'Cookie: session=s-carol; theme=dark' -d '{"done":true}' $U/api/tasks/7
c -X DELETE -H 'X-API-Key: key-alice' $U/api/tasks/7
c -I $U/api/tasks/7
c -X OPTIONS $U/api/tasks
c -H 'If-None-Match: "v1"' $U/api/tasks/3
c --http1.0 $U/api/tasks
c --http1.0 $U/api/stream # close-delimited body
c $U/api/stream           # chunked body
c --compressed $U/api/documents/3f2a8c1e-1b2c-4d5e-8f90-0123456789ab
c -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' --data-binary @"$work/1mb.bin" $U/api/upload
c -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @"$work/small.json" $U/api/upload
c -H 'Content-Encoding: gzip' -H 'Content-Type: application/json' --data-binary @"$work/body.json.gz" $U/api/upload
c $U/api/nope $U/api/error $U/api/slow "$U/api/tasks?page=2&sort=-created"
python3 scripts/pipeline.py 127.0.0.1 18080 /health /api/tasks "POST /api/tasks" /api/tasks/5 /api/documents/abc
stop_capture

# --- nginx-ab --------------------------------------------------------------
mkdir -p "$work/www" "$work/nginx"
python3 -c 'print("<!doctype html><title>replaykit</title>" + "<p>fixture page</p>" * 100)' >"$work/www/index.html"
python3 -c 'import json; print(json.dumps([{"id": i, "title": "task %d" % i} for i in range(200)]))' >"$work/www/data.json"
head -c 262144 /dev/urandom >"$work/www/big.bin"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
	access_log off;
	types { text/html html; application/json json; application/octet-stream bin; }
	client_body_temp_path $work/nginx;
	proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
	gzip on;
	gzip_types application/json;
	keepalive_requests 10000;
	server {
		listen 127.0.0.1:18081;
		root $work/www;
	}
}
EOF
nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
N=http://127.0.0.1:18081
wait_for curl -sf $N/index.html
start_capture nginx-ab 'tcp port 18081'
c $N/ $N/index.html $N/data.json
c --compressed $N/data.json
c -I $N/big.bin
c -r 0-99 $N/big.bin
c $N/missing
c -X POST -d 'x=1' $N/index.html
c $N/big.bin
c --http1.0 $N/index.html
ab -q -k -n 200 -c 4 $N/index.html >/dev/null
ab -q -n 20 -c 2 $N/data.json >/dev/null
python3 scripts/pipeline.py 127.0.0.1 18081 / /data.json /missing /index.html
stop_capture

# --- lossy: real retransmissions in a namespace of our own -------------------
ip netns add "$netns"
ip netns exec "$netns" ip link set lo up
ip netns exec "$netns" nft add table inet rkloss
ip netns exec "$netns" nft 'add chain inet rkloss out { type filter hook output priority 0; }'
ip netns exec "$netns" bin/fixtureserver -addr 127.0.0.1:18080 2>>"$work/fixtureserver.log" &
pids+=($!)
wait_for ip netns exec "$netns" curl -sf $U/health
# Drop after the server is up; the capture tap is after the output hook, so
# dropped packets are never captured and their retransmissions are.
ip netns exec "$netns" nft add rule inet rkloss out meta l4proto tcp numgen random mod 25 == 0 drop
start_capture lossy 'tcp port 18080' "$netns"
urls=()
for i in $(seq 1 30); do urls+=("$U/api/tasks/$i"); done
ip netns exec "$netns" curl -s "${urls[@]}" >/dev/null
for i in 1 2; do
	ip netns exec "$netns" curl -s -o /dev/null -H 'X-API-Key: key-dave' --data-binary @"$work/256k.bin" $U/api/upload
done
ip netns exec "$netns" curl -s --compressed $U/api/documents/9 $U/api/stream >/dev/null
ip netns exec "$netns" ab -q -k -n 100 -c 2 $U/api/tasks >/dev/null
stop_capture

# --- install, derive damaged copies, write goldens -----------------------------
for n in go-curl nginx-ab lossy; do cp "$work/$n.pcap" "$out/$n.pcap"; done
editcap -F pcapng "$out/go-curl.pcap" "$out/go-curl.pcapng"
size=$(stat -c %s "$out/go-curl.pcap")
head -c $((size * 6 / 10)) "$out/go-curl.pcap" >"$out/go-curl-cut.pcap"
frames=$(tshark -r "$out/go-curl.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
# Remove every 23rd frame, starting at 10.
removed=$(seq -s, 10 23 "$frames")
editcap "$out/go-curl.pcap" "$out/go-curl-holes.pcap" ${removed//,/ }
# Keep the last 70% of the nginx capture: its first connections start mid-stream.
nf=$(tshark -r "$out/nginx-ab.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
first=$((nf * 3 / 10))
editcap -r "$out/nginx-ab.pcap" "$out/nginx-ab-midstream.pcap" "$first-$nf"
# The last whole frame of the cut copy.
last=$({ tshark -r "$out/go-curl-cut.pcap" -T fields -e frame.number 2>/dev/null || true; } | tail -n 1) # tshark fails at the cut: expected

x=scripts/tshark-exchanges.py
python3 $x "$out/go-curl.pcap" 18080 >"$golden/go-curl.txt"
python3 $x "$out/go-curl.pcapng" 18080 >"$golden/go-curl.pcapng.txt"
python3 $x "$out/nginx-ab.pcap" 18081 >"$golden/nginx-ab.txt"
python3 $x "$out/lossy.pcap" 18080 >"$golden/lossy.txt"
# Damaged copies: what must survive, computed from the clean capture.
python3 $x --drop "$removed" "$out/go-curl.pcap" 18080 >"$golden/go-curl-holes.txt"
python3 $x --until "$last" "$out/go-curl.pcap" 18080 >"$golden/go-curl-cut.txt"
python3 $x --from "$first" "$out/nginx-ab.pcap" 18081 >"$golden/nginx-ab-midstream.txt"
chmod 0644 "$out"/* "$golden"/*
links_fixtures
locust_timeline_fixture
for g in "$golden"/*.txt; do echo "$(wc -l <"$g") exchanges in $g (tshark)"; done
du -sh "$out"
