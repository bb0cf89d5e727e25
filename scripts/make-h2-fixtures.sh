#!/usr/bin/env bash
# Remakes the HTTP/2 cleartext (h2c) capture fixtures in testdata/h2 and
# their golden files, from real programs talking over loopback:
#
#   nginx-curl      curl --http2-prior-knowledge against nginx's http2
#                   listener: streams in a row on one connection, 5
#                   multiplexed (curl -Z), a POST, a HEAD, a 404, a 100 KB
#                   body, an API key and a cookie
#   nginx-h2load    h2load: 200 requests on 4 connections, 8 streams at once
#   grpc-python     Python's grpcio client and server
#                   (scripts/grpc-fixture.py): unary, server, client and
#                   bidirectional streaming calls, a NOT_FOUND, a
#                   RESOURCE_EXHAUSTED after two messages
#   apache-upgrade  curl --http2 (Upgrade: h2c) against Apache's mod_http2
#                   (H2Upgrade on): the first request upgrades, the next go
#                   over HTTP/2 on the same connection
#   nghttpd-padded  h2load and curl against nghttpd (nghttp2's server) with
#                   --padding: every HEADERS and DATA frame it sends padded
#   nginx-mtu       curl -Z against nginx in a network namespace whose
#                   loopback has an MTU of 1500, so large DATA frames span
#                   many segments
#
# and derived copies: nginx-h2load-headers-hole.pcap (below),
# nginx-h2load-midstream.pcap, the second half of
# nginx-h2load.pcap (connections whose start was not captured: their
# headers cannot be decoded); nginx-mtu-holes.pcap, nginx-mtu.pcap with segments removed that lie
# inside DATA frames of three streams (editcap -d), whose exchanges are
# then lost: testdata/h2/nginx-mtu-holes.lost names them.
#
# Goldens (NAME.txt) are written by scripts/tshark-h2.py from tshark's
# HTTP/2 and gRPC dissectors, so they do not come from the code they test;
# record/h2_test.go compares them with record's trace. Needs root.
#
#   scripts/make-h2-fixtures.sh          all of them
#   scripts/make-h2-fixtures.sh padded   nghttpd-padded only
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-all}
case $only in all | padded) ;; *) echo "usage: $0 [padded]" >&2; exit 2 ;; esac
. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark editcap:wireshark-common nginx:nginx-light curl:curl h2load:nghttp2-client \
	apache2:apache2 nghttp:nghttp2-client ethtool:ethtool ip:iproute2 /usr/bin/python3:python3 
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need "_grpc_:python3-grpcio:the gRPC fixture uses grpcio"
nginx -V 2>&1 | grep -q http_v2_module || { echo "nginx has no http_v2_module: apt-get install nginx-full" >&2; exit 1; }

out=testdata/h2
mkdir -p "$out"
netns=rk-h2-$$
del_netns() { ip netns del "$netns" 2>/dev/null; }
cleanup_hooks+=(del_netns)

# start_capture NAME FILTER [NETNS]: tcpdump on lo, ready when it says so.
start_capture() {
	local name=$1 filter=$2 ns=${3:-}
	local run=()
	[ -n "$ns" ] && run=(ip netns exec "$ns")
	"${run[@]}" tcpdump -i lo -s 0 -B 65536 -U -w "$work/$name.pcap" "$filter" 2>"$work/$name.tcpdump.log" &
	cap_pid=$!
	pids+=("$cap_pid")
	for _ in $(seq 100); do grep -q listening "$work/$name.tcpdump.log" && return; sleep 0.1; done
	echo "tcpdump did not start" >&2; cat "$work/$name.tcpdump.log" >&2; exit 1
}
# stop_capture NAME: stops tcpdump; a capture with kernel drops is refused.
stop_capture() {
	sleep 1
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
	grep -q '^0 packets dropped by kernel' "$work/$1.tcpdump.log" || { cat "$work/$1.tcpdump.log" >&2; echo "$1: tcpdump dropped packets" >&2; exit 1; }
	cp "$work/$1.pcap" "$out/$1.pcap"
}
# golden NAME PORT...: tshark's exchanges of testdata/h2/NAME.pcap.
golden() {
	local name=$1
	shift
	/usr/bin/python3 scripts/tshark-h2.py "$out/$name.pcap" "$@" >"$out/$name.txt"
	echo "$name: $(wc -l <"$out/$name.txt") exchanges (tshark)"
}

www=$work/www
mkdir -p "$www"
printf '{"status":"ok"}\n' >"$www/index.html"
head -c 100000 /dev/zero | tr '\0' 'a' >"$www/big.bin"
head -c 300000 /dev/zero | tr '\0' 'b' >"$www/huge.bin"
chmod -R a+rX "$www"

# h2nginx NAME PORT: $work/NAME.conf, an nginx http2 (prior knowledge)
# listener on 127.0.0.1:PORT serving $www.
h2nginx() {
	cat >"$work/$1.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/$1.pid;
error_log $work/$1.log;
events { worker_connections 1024; }
http {
	access_log off;
	types { application/json html; application/octet-stream bin; }
	client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
	server { listen 127.0.0.1:$2 http2; root $www; location /api/ { return 201 '{"id":7}'; } }
}
CONF
}

# --- nghttpd-padded ---------------------------------------------------------------
D=18483
nghttpd --no-tls -a 127.0.0.1 -d "$www" --padding=33 $D >"$work/nghttpd.log" 2>&1 &
pids+=($!)
wait_for curl -sf --http2-prior-knowledge http://127.0.0.1:$D/index.html
start_capture nghttpd-padded "tcp port $D"
h2load -n 40 -c 2 -m 4 http://127.0.0.1:$D/index.html http://127.0.0.1:$D/missing >"$work/h2load-padded.log"
curl -s --http2-prior-knowledge -o /dev/null http://127.0.0.1:$D/big.bin
stop_capture nghttpd-padded
golden nghttpd-padded $D
[ "$only" = all ] || exit 0

# --- nginx-curl ---------------------------------------------------------------
P=18480
U=http://127.0.0.1:$P
h2nginx nginx $P
nginx -c "$work/nginx.conf" -e "$work/nginx.log" &
pids+=($!)
wait_for curl -sf --http2-prior-knowledge $U/index.html
start_capture nginx-curl "tcp port $P"
# c ARGS...: curl, prior knowledge, each URL's body thrown away. curl
# 7.88 fails (exit 16) on a second URL it sends on the same connection
# in turn, so several URLs go with -Z --parallel-immediate; h2load makes
# the connections with many streams.
c() {
	local a=() u
	for u in "$@"; do
		case $u in http://*) a+=(-o /dev/null "$u") ;; *) a+=("$u") ;; esac
	done
	"${in_ns[@]}" curl -s --http2-prior-knowledge "${a[@]}"
}
in_ns=()
c $U/index.html
c $U/missing
c -Z --parallel-immediate $U/index.html?q=1 $U/index.html?q=2
c -H 'Content-Type: application/json' -H 'X-API-Key: key-h2-alice' -d '{"title":"write the h2 fixtures"}' $U/api/tasks || true # nginx answers before reading the body, then resets the stream: curl says 92
c -I $U/index.html
c -H 'Cookie: session=s-h2-bob; theme=dark' $U/big.bin
c -Z --parallel-immediate $U/big.bin $U/index.html $U/missing $U/api/x $U/index.html?n=5 2>/dev/null
stop_capture nginx-curl
golden nginx-curl $P

# --- nginx-h2load ---------------------------------------------------------------
start_capture nginx-h2load "tcp port $P"
h2load -n 200 -c 4 -m 8 $U/index.html $U/missing $U/api/h2load >"$work/h2load.log"
stop_capture nginx-h2load
golden nginx-h2load $P
# nginx-h2load-headers-hole.pcap: the second client segment that carries
# request header blocks on one connection removed. Without those blocks
# the client side's HPACK table is unknown: every later request on that
# connection is lost (their answers counted as without their request),
# the other connections are whole. NAME.lost says "CLIENT FIRST-LOST-STREAM".
/usr/bin/python3 - "$out/nginx-h2load.pcap" "$P" >"$work/hhole" <<'PY'
import subprocess, sys
cap, port = sys.argv[1], sys.argv[2]
rows = subprocess.run(["tshark", "-r", cap, "-d", "tcp.port==%s,http2" % port, "-T", "fields",
    "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http2.type", "-e", "http2.streamid"],
    check=True, capture_output=True, text=True).stdout.splitlines()
seen = {}
for r in rows:
    num, sport, dport, types, ids = (r.split("\t") + [""] * 5)[:5]
    if dport != port or "1" not in types.split(","):
        continue
    seen[sport] = seen.get(sport, 0) + 1
    if seen[sport] == 2:
        first = min(int(i) for t, i in zip(types.split(","), ids.split(",")) if t == "1")
        print(num, "127.0.0.1:%s" % sport, first)
        break
PY
cat "$work/hhole"
editcap "$out/nginx-h2load.pcap" "$out/nginx-h2load-headers-hole.pcap" "$(cut -d' ' -f1 "$work/hhole")"
cut -d' ' -f2,3 "$work/hhole" >"$out/nginx-h2load-headers-hole.lost"
# The second half of it: connections whose start was not captured.
n=$(capinfos -c -M "$out/nginx-h2load.pcap" | awk '/Number of packets/ {print $NF}')
editcap -r "$out/nginx-h2load.pcap" "$out/nginx-h2load-midstream.pcap" "$((n / 2))-$n"

# --- grpc-python ----------------------------------------------------------------
G=18481
/usr/bin/python3 scripts/grpc-fixture.py serve $G >"$work/grpc.log" 2>&1 &
pids+=($!)
wait_for grep -q serving "$work/grpc.log"
start_capture grpc-python "tcp port $G"
timeout 60 /usr/bin/python3 scripts/grpc-fixture.py call $G
stop_capture grpc-python
golden grpc-python $G

# --- apache-upgrade ---------------------------------------------------------------
A=18482
mods=/usr/lib/apache2/modules
cat >"$work/httpd.conf" <<CONF
ServerName localhost
ServerRoot $work
Listen 127.0.0.1:$A
PidFile $work/httpd.pid
ErrorLog $work/httpd-error.log
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule http2_module $mods/mod_http2.so
User www-data
Group www-data
TypesConfig /etc/mime.types
DocumentRoot $www
<Directory $www>
	Require all granted
</Directory>
Protocols h2c http/1.1
H2Upgrade on
CONF
chmod a+rx "$work"
apache2 -f "$work/httpd.conf" -DFOREGROUND &
pids+=($!)
wait_for curl -sf http://127.0.0.1:$A/index.html
start_capture apache-upgrade "tcp port $A"
for u in index.html missing big.bin; do curl -sf --http2 -o /dev/null http://127.0.0.1:$A/$u || [ $u = missing ]; done
curl -s --http2 -o /dev/null -I http://127.0.0.1:$A/index.html
# nghttp -u: one upgrade, then the other URLs as streams 3, 5, ... of it.
# It sometimes sends the others too early for Apache (which answers only
# the first): tried up to 5 times, every try is in the capture.
for _ in 1 2 3 4 5; do
	nghttp -u -n http://127.0.0.1:$A/index.html?u=1 http://127.0.0.1:$A/big.bin?u=2 http://127.0.0.1:$A/missing?u=3 http://127.0.0.1:$A/index.html?u=4 >"$work/nghttp.log" 2>&1 && break
done
stop_capture apache-upgrade
golden apache-upgrade --upgrade $A

# --- nginx-mtu, nginx-mtu-holes ---------------------------------------------------------------
ip netns add "$netns"
ip netns exec "$netns" ip link set lo mtu 1500 up
# Segmentation offloads off, or tcpdump sees the stack's 64 KB segments.
ip netns exec "$netns" ethtool -K lo tso off gso off gro off
h2nginx nginx-ns $P
ip netns exec "$netns" nginx -c "$work/nginx-ns.conf" -e "$work/nginx-ns.log" &
pids+=($!)
wait_for ip netns exec "$netns" curl -sf --http2-prior-knowledge $U/index.html
start_capture nginx-mtu "tcp port $P" "$netns"
in_ns=(ip netns exec "$netns")
c -Z --parallel-immediate $U/big.bin $U/index.html $U/huge.bin $U/missing $U/big.bin?2 $U/index.html?2 2>/dev/null
c $U/huge.bin?3
"${in_ns[@]}" h2load -n 12 -c 1 -m 4 $U/big.bin?4 $U/index.html?4 $U/huge.bin?4 >/dev/null
stop_capture nginx-mtu
golden nginx-mtu $P

# Remove, from three streams of the connection with the most, a server
# segment in the middle of one of their DATA frames: tshark reassembles
# each frame from its segments (tcp.segment, in the packet the frame ends
# in); one that is neither the first (which holds the frame header) nor
# the last lies inside the payload.
/usr/bin/python3 - "$out/nginx-mtu.pcap" "$P" >"$work/holes" <<'PY'
import subprocess, sys
cap, port = sys.argv[1], sys.argv[2]
rows = subprocess.run(["tshark", "-2", "-r", cap, "-d", "tcp.port==%s,http2" % port, "-T", "fields",
    "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http2.streamid", "-e", "http2.type", "-e", "tcp.segment"],
    check=True, capture_output=True, text=True).stdout.splitlines()
streams, cands = {}, []
for r in rows:
    num, sport, dport, ids, types, segs = (r.split("\t") + [""] * 6)[:6]
    if sport != port or not ids:
        continue
    streams.setdefault(dport, set()).update(ids.split(","))
    segs = segs.split(",") if segs else []
    if len(set(ids.split(","))) == 1 and set(types.split(",")) == {"0"} and len(segs) >= 3:
        cands.append((dport, ids.split(",")[0], int(segs[1])))
# Prefer the connection with the most streams (h2load's): the holes must
# cost their own streams only, not the others beside them.
cands.sort(key=lambda c: (-len(streams[c[0]]), c[2]))
picked, seen = [], set()
for dport, sid, seg in cands:
    if (dport, sid) in seen:
        continue
    seen.add((dport, sid))
    picked.append((seg, "127.0.0.1:%s" % dport, sid))
    if len(picked) == 3:
        break
for seg, client, sid in picked:
    print(seg, client, sid)
PY
cat "$work/holes"
[ "$(wc -l <"$work/holes")" = 3 ] || { echo "nginx-mtu: did not find 3 segments inside DATA frames" >&2; exit 1; }
# editcap deletes the frames listed (with -r it would keep them).
editcap "$out/nginx-mtu.pcap" "$out/nginx-mtu-holes.pcap" $(cut -d' ' -f1 "$work/holes")
# The exchanges the holes touch, as CLIENT STREAM (to be left out of the golden).
cut -d' ' -f2,3 "$work/holes" >"$out/nginx-mtu-holes.lost"
echo "nginx-mtu-holes: segments $(cut -d' ' -f1 "$work/holes" | tr '\n' ' ')removed"
