#!/usr/bin/env bash
# Remakes the PROXY protocol captures in testdata/proxyproto and their
# golden files, from real programs talking over loopback:
#
#   curl -> HAProxy (Debian's haproxy, mode tcp) -> nginx (listen ...
#   proxy_protocol), HAProxy's server line with send-proxy (v1.pcap) or
#   send-proxy-v2 (v2.pcap), and health checks sent with check-send-proxy
#   (a LOCAL header in v2). tcpdump captures the HAProxy -> nginx leg only.
#
# curl binds 127.0.0.7, 127.0.0.8 (and ::1 through an IPv6 listener), while
# HAProxy reaches nginx from 127.0.0.1: so the client a PROXY header
# carries differs from the captured connection's. nginx answers each
# request with its own view of the client ($proxy_protocol_addr:port).
# v1.pcap also holds curl's own header (--haproxy-protocol, over IPv4 and
# IPv6), and a request with no header at all, which nginx leaves
# unanswered.
#
# Goldens are written by scripts/tshark-proxyproto.py (tshark's PROXY v1/v2
# and HTTP dissectors), one "CLIENT METHOD TARGET STATUS" line per request,
# so they do not come from the code they test. Needs root (tcpdump).
#
#   scripts/make-proxyproto-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need tcpdump:tcpdump tshark:tshark haproxy:haproxy nginx:nginx-light curl:curl python3:python3

out=testdata/proxyproto
mkdir -p "$out"

# Ports of our own: the other fixture scripts use 1808x.
v1tcp=18191 v1http=18193 v2tcp=18192 v2http=18194 v1back=18291 v2back=18292

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $work/nginx;
	proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
	default_type application/json;
	server {
		listen 127.0.0.1:$v1back proxy_protocol;
		listen [::1]:$v1back proxy_protocol;
		listen 127.0.0.1:$v2back proxy_protocol;
		location / { return 200 '{"client":"\$proxy_protocol_addr:\$proxy_protocol_port","uri":"\$request_uri"}\n'; }
		location /missing { return 404; }
	}
}
EOF
nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)

# For each version a frontend in mode tcp (HAProxy sends the header in a
# segment of its own as soon as it has connected) and one in mode http (it
# connects once it has a request: header and request go out together).
# Health checks on the tcp backends; the v2 servers add TLVs (a CRC32C
# and a unique ID).
cat >"$work/haproxy.cfg" <<EOF
global
	maxconn 100
defaults
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	unique-id-format %ci:%cp_%Ts
frontend v1-tcp
	mode tcp
	bind 127.0.0.1:$v1tcp
	bind [::1]:$v1tcp
	default_backend v1-tcp
backend v1-tcp
	mode tcp
	option httpchk GET /health
	server s1 127.0.0.1:$v1back send-proxy check check-send-proxy inter 1s
frontend v1-http
	mode http
	bind 127.0.0.1:$v1http
	default_backend v1-http
backend v1-http
	mode http
	server s1 127.0.0.1:$v1back send-proxy
frontend v2-tcp
	mode tcp
	bind 127.0.0.1:$v2tcp
	bind [::1]:$v2tcp
	default_backend v2-tcp
backend v2-tcp
	mode tcp
	option httpchk GET /health
	server s1 127.0.0.1:$v2back send-proxy-v2 proxy-v2-options crc32c,unique-id check check-send-proxy inter 1s
frontend v2-http
	mode http
	bind 127.0.0.1:$v2http
	default_backend v2-http
backend v2-http
	mode http
	server s1 127.0.0.1:$v2back send-proxy-v2 proxy-v2-options crc32c,unique-id
EOF
haproxy -c -q -f "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
pids+=($!)
for p in $v1tcp $v1http $v2tcp $v2http; do wait_for curl -sf http://127.0.0.1:$p/ready; done

# requests FRONT: what the clients send through one HAProxy frontend.
requests() {
	local u=http://127.0.0.1:$1
	c() { curl -sS "$@" >/dev/null; }
	c --interface 127.0.0.7 "$u/api/tasks" "$u/api/tasks/1?expand=owner" "$u/missing" # one connection
	c --interface 127.0.0.8 -H 'Content-Type: application/json' -d '{"title":"write the report"}' "$u/api/tasks"
	c --interface 127.0.0.7 -X DELETE "$u/api/tasks/1"
	c --interface 127.0.0.8 --http1.0 "$u/api/tasks?page=2"
}

# capture NAME BACK TCPFRONT HTTPFRONT: curl through HAProxy, tcpdump on
# the BACK port, then the golden.
capture() {
	local name=$1 back=$2 tcpfront=$3 httpfront=$4
	tcpdump -i lo -s 0 -U -w "$work/$name.pcap" "tcp port $back" 2>"$work/$name.tcpdump.log" &
	local td=$!
	pids+=("$td")
	wait_for grep -q listening "$work/$name.tcpdump.log"
	requests "$tcpfront"
	curl -sS -g -6 "http://[::1]:$tcpfront/api/v6" >/dev/null
	requests "$httpfront"
	if [ "$name" = v1 ]; then
		# curl's own v1 header (its connection's addresses), over IPv4 and
		# IPv6; and a client that sends none, which nginx drops unanswered.
		curl -sS --haproxy-protocol --interface 127.0.0.9 "http://127.0.0.1:$back/api/direct" >/dev/null
		curl -sS --haproxy-protocol -g -6 "http://[::1]:$back/api/direct6" >/dev/null
		curl -sS "http://127.0.0.1:$back/api/no-header" >/dev/null 2>&1 || true
	fi
	sleep 1.5 # at least one health check
	kill -INT "$td"
	wait "$td" || true
	cp "$work/$name.pcap" "$out/$name.pcap"
	python3 scripts/tshark-proxyproto.py "$out/$name.pcap" >"$out/$name.txt"
	echo "$out/$name.pcap: $(wc -c <"$out/$name.pcap") bytes, $(wc -l <"$out/$name.txt") requests"
}
capture v1 $v1back $v1tcp $v1http
capture v2 $v2back $v2tcp $v2http
