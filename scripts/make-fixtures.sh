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
# and derived copies: a pcapng conversion, a capture cut short, one with
# frames removed, and one that starts mid-stream. Goldens are written by
# scripts/tshark-exchanges.py (tshark's HTTP dissector), so they do not come
# from the code they test. Needs root (tcpdump, network namespace).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark editcap:wireshark-common nginx:nginx-light ab:apache2-utils curl:curl nft:nftables ip:iproute2 python3:python3

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
for g in "$golden"/*.txt; do echo "$(wc -l <"$g") exchanges in $g (tshark)"; done
du -sh "$out"
