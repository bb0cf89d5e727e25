#!/usr/bin/env bash
# What `record --tls` costs the traced process: requests/s of nginx over
# TLS under wrk (keep-alive), without and with `record --tls pid:NGINX`,
# alternating in one run, nginx's CPU time per request both ways, and what
# the recording wrote and lost.
#
#   bench/tls-overhead.sh                  # 3 rounds of 5s, 32 connections
#   ROUNDS=2 SECS=4 CONNS=64 bench/tls-overhead.sh
#
# Needs root (BPF). Installs nginx, wrk and openssl if missing. All
# traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
PORT=18094
TLSPORT=18444

. scripts/lib.sh
need nginx:nginx-light wrk:wrk openssl:openssl
go build -o bin/record ./cmd/record

mkdir -p "$work/www"
printf 'hello, tls\n' >"$work/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
start_nginx $PORT "$work/www" "server { listen 127.0.0.1:$TLSPORT ssl; ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; root $work/www; }"
nginx_pid=${pids[-1]}
# On a machine of 2 cores or more, nginx gets a core of its own and wrk
# and record share the others: the change is then the probes' cost in
# nginx (uprobes, copies to the ring buffer), not record's parsing
# competing with nginx for a core.
cores=$(nproc)
if [ "$cores" -ge 2 ]; then
	taskset -p -c 0 "$nginx_pid" >/dev/null
	others="1-$((cores - 1))"
	run() { exec taskset -c "$others" "$@"; } # exec: $! is record itself
else
	run() { exec "$@"; }
fi

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$nginx_pid/stat"; }
# rps prints wrk's requests/s and nginx's CPU time per request (us): the
# cost in the traced process, whatever else competes for the cores.
rps() {
	local c0 out n
	c0=$(cpu)
	out=$(run wrk -t1 -c"$CONNS" -d"${SECS}s" "https://127.0.0.1:$TLSPORT/index.html")
	n=$(echo "$out" | awk '/requests in/ {print $1}')
	echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$(cpu) $c0 $n $ticks" | awk '{printf "%.1f", ($1 - $2) / $4 * 1e6 / $3}')"
}

printf '%-6s %12s %12s %9s %14s %14s %10s %12s\n' round "off req/s" "on req/s" change "off nginx us/req" "on nginx us/req" "rows" "events lost"
for r in $(seq "$ROUNDS"); do
	read -r off offcpu <<<"$(rps)"
	# pid: filters in the kernel: wrk, which maps the same libssl, is not traced.
	run bin/record --tls "pid:$nginx_pid" --port $TLSPORT -o "$work/tls$r/" >"$work/rk$r.out" 2>"$work/rk$r.log" &
	rk=$!
	wait_for grep -q 'reading TLS' "$work/rk$r.log"
	read -r on oncpu <<<"$(rps)"
	kill -INT $rk
	wait $rk || true
	rows=$(awk '/^  exchanges/ {print $2}' "$work/rk$r.out")
	lost=$(awk '/^  plaintext/ {for (i = 1; i <= NF; i++) if ($i == "events" && $(i+1) == "lost") print $(i-1)}' "$work/rk$r.out")
	printf '%-6s %12s %12s %8.1f%% %14s %14s %10s %12s\n' "$r" "$off" "$on" "$(echo "$on $off" | awk '{print ($1 - $2) * 100 / $2}')" "$offcpu" "$oncpu" "$rows" "$lost"
done
