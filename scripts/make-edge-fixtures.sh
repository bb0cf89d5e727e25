#!/usr/bin/env bash
# Remakes the HTTP/1 edge-case captures in testdata/edges and their goldens,
# from real programs talking over loopback (record/edges_test.go reads them):
#
#   short-body  curl against scripts/edgeserver.py: a whole answer, then one
#               that promises 1000 bytes, sends 100 and closes
#   cl-zeros    curl sending Content-Length 000050 and a 22-digit 50 to
#               nginx (each followed by a GET on the same connection), and
#               edgeserver.py answering with a 22-digit Content-Length
#   framing     socat sending nginx requests it cannot frame (a length over
#               64 bits, two lengths, a length with letters, an unknown
#               transfer coding, a chunk size over 64 bits), each then a
#               good GET; curl given an answer of a length over 64 bits
#   websocket   the npm package ws as server and client (scripts/ws-edges.js):
#               a plain GET, then an upgrade whose frames carry HTTP text
#   connect     curl through tinyproxy: a CONNECT tunnel (--proxytunnel)
#               with two GETs inside it, a proxied GET, and a CONNECT the
#               proxy refuses (a port it does not allow)
#
# Goldens are tshark's (scripts/tshark-edges.py), never replaykit's. Needs
# root (tcpdump).
#
#   scripts/make-edge-fixtures.sh           the captures and their goldens
#   scripts/make-edge-fixtures.sh goldens   the goldens of the committed captures
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
out=testdata/edges
if [ "${1:-}" = goldens ]; then
	need tshark:tshark python3:python3
	for p in "$out"/*.pcap; do
		# The server's port: where the first SYN went.
		port=$(tshark -n -r "$p" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.dstport 2>/dev/null | head -n 1)
		python3 scripts/tshark-edges.py "$p" "$port" >"${p%.pcap}.txt"
		echo "${p%.pcap}.txt: $(wc -l <"${p%.pcap}.txt") exchanges (tshark)"
	done
	exit 0
fi
need tcpdump:tcpdump tshark:tshark curl:curl python3:python3 nginx:nginx-light socat:socat \
	tinyproxy:tinyproxy node:nodejs npm:npm

mkdir -p "$out"
# curl, its answers thrown away (-o names one URL's only).
c() { curl -s "$@" >/dev/null; }

# start_capture NAME PORT: tcpdump on lo, ready when it says so.
start_capture() {
	tcpdump -i lo -s 0 -U -w "$work/$1.pcap" "tcp port $2" 2>"$work/$1.tcpdump.log" &
	cap_pid=$!
	pids+=("$cap_pid")
	wait_for grep -q listening "$work/$1.tcpdump.log"
}
# stop_capture NAME PORT: the last packets (tcpdump writes a block a
# second), then SIGINT; the capture and its golden go to testdata/edges.
stop_capture() {
	sleep 1.5
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
	cp "$work/$1.pcap" "$out/$1.pcap"
	python3 scripts/tshark-edges.py "$out/$1.pcap" "$2" >"$out/$1.txt"
	chmod 0644 "$out/$1.pcap" "$out/$1.txt"
	echo "$out/$1.pcap: $(stat -c %s "$out/$1.pcap") bytes, $(wc -l <"$out/$1.txt") exchanges (tshark)"
}

python3 -u scripts/edgeserver.py >"$work/edgeserver.port" &
pids+=($!)
wait_for test -s "$work/edgeserver.port"
E=http://127.0.0.1:$(cat "$work/edgeserver.port")
EP=${E##*:}

mkdir -p "$work/www"
echo '{"status":"ok"}' >"$work/www/index.html"
NP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_nginx "$NP" "$work/www"
N=http://127.0.0.1:$NP

# --- short-body ------------------------------------------------------------
start_capture short-body "$EP"
c $E/ok $E/short || true # curl: (18) transfer closed with 900 bytes remaining
c $E/ok
stop_capture short-body "$EP"

# --- cl-zeros ------------------------------------------------------------------
printf '%050d' 7 >"$work/50.bin"
start_capture cl-zeros "$NP"
c -H 'Content-Length: 000050' --data-binary @"$work/50.bin" $N/api/zeros --next $N/index.html
c -H 'Content-Length: 0000000000000000000050' --data-binary @"$work/50.bin" $N/api/zeros22 --next $N/index.html
stop_capture cl-zeros "$NP"
start_capture cl-zeros-resp "$EP"
c $E/zeros $E/ok
stop_capture cl-zeros-resp "$EP"

# --- framing ---------------------------------------------------------------------
raw() { printf "$1" | timeout 5 socat -t 2 - TCP:127.0.0.1:$NP >/dev/null || true; }
good='GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n'
start_capture framing "$NP"
raw "POST /api/overflow HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nabc$good"
raw "POST /api/two-lengths HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd$good"
raw "POST /api/letters HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc$good"
raw "POST /api/coding HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\nabc$good"
raw "POST /api/chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n$good"
raw "$good"
stop_capture framing "$NP"
start_capture framing-resp "$EP"
c $E/huge || true # curl refuses the length
c $E/ok
stop_capture framing-resp "$EP"

# --- websocket -----------------------------------------------------------------
(cd "$work" && npm install --silent --no-audit --no-fund ws@8 >/dev/null)
mkfifo "$work/ws.in"
NODE_PATH=$work/node_modules node scripts/ws-edges.js <"$work/ws.in" >"$work/ws.port" 2>"$work/ws.log" &
ws_pid=$!
pids+=($ws_pid)
exec 7>"$work/ws.in"
wait_for test -s "$work/ws.port"
WP=$(cat "$work/ws.port")
start_capture websocket "$WP"
echo go >&7
timeout 10 tail --pid=$ws_pid -f /dev/null
exec 7>&-
grep -q '3 echoes' "$work/ws.log" || { cat "$work/ws.log" >&2; exit 1; }
stop_capture websocket "$WP"

# --- connect -----------------------------------------------------------------
TP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/tinyproxy.conf" <<CONF
Port $TP
Listen 127.0.0.1
Timeout 30
MaxClients 10
Allow 127.0.0.1
ConnectPort $NP
LogLevel Info
LogFile "$work/tinyproxy.log"
PidFile "$work/tinyproxy.pid"
CONF
tinyproxy -d -c "$work/tinyproxy.conf" &
pids+=($!)
wait_for curl -sf -x http://127.0.0.1:$TP $N/index.html
start_capture connect "$TP"
c -p -x http://127.0.0.1:$TP $N/index.html $N/api/inside
c -x http://127.0.0.1:$TP $N/index.html
c -p -x http://127.0.0.1:$TP $E/ok || true # 403: not a ConnectPort
stop_capture connect "$TP"
du -sh "$out"
