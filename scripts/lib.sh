# Shared by the scripts under scripts/ and bench/: source it.

# need CMD:PACKAGE[:WHY]...: installs the Debian packages of the commands
# not on PATH with apt-get, after saying which and why on stderr. PACKAGE
# may be several, space-separated. Not root: says what to install and
# returns 1.
need() {
	local missing=() spec cmd pkg why
	for spec in "$@"; do
		IFS=: read -r cmd pkg why <<<"$spec"
		command -v "$cmd" >/dev/null && continue
		echo "${0##*/}: installing $pkg with apt-get (${why:-$cmd is not on PATH})" >&2
		missing+=($pkg)
	done
	((${#missing[@]})) || return 0
	if [ "$(id -u)" != 0 ]; then
		echo "${0##*/}: not root, so not installing: apt-get install ${missing[*]}" >&2
		return 1
	fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A scratch directory, and the processes started in the background: both
# are cleaned up on exit. Add a PID with: pids+=($!)
work=$(mktemp -d)
pids=()
cleanup_hooks=()
cleanup() {
	local h
	for h in "${cleanup_hooks[@]}"; do "$h" || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# wait_for CMD...: retries a command for up to 10 s.
wait_for() {
	for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return; sleep 0.1; done
	echo "gave up waiting for: $*" >&2
	exit 1
}

# start_nginx PORT ROOT [EXTRA_HTTP_CONFIG]: nginx on 127.0.0.1:PORT serving
# ROOT, in the foreground of a background job, logs in $work.
start_nginx() {
	local port=$1 root=$2 extra=${3:-}
	cat >"$work/nginx-$port.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx-$port.pid;
error_log $work/nginx-$port.log;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
	access_log off;
	types { text/html html; application/json json; application/octet-stream bin; }
	client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
	keepalive_requests 1000000;
	$extra
	server { listen 127.0.0.1:$port; root $root; location /api/ { return 201 '{"id":1}'; } }
}
CONF
	nginx -c "$work/nginx-$port.conf" -e "$work/nginx-$port.log" &
	pids+=($!)
	wait_for curl -sf "http://127.0.0.1:$port/index.html"
}

# nginx_target PORT CPUS: a static JSON file served by nginx on
# 127.0.0.1:PORT, pinned to CPUS (taskset list; "" for no pinning), and a
# trace of 2,000 GETs of it recorded off loopback with tcpdump + record,
# in $work/trace.parquet. Sets URL. Needs bin/record. NGINX_PATH=/api/x
# records GETs of that path instead: nginx answers /api/ from memory
# (`return 201`, 8 bytes), fast enough that a generator is the limit.
nginx_target() {
	local port=$1 cpus=$2
	mkdir -p "$work/www"
	printf '{"status":"healthy","version":"bench"}\n' >"$work/www/index.html"
	start_nginx "$port" "$work/www"
	[ -z "$cpus" ] || taskset -p -c "$cpus" "${pids[-1]}" >/dev/null
	URL=http://127.0.0.1:$port${NGINX_PATH:-/index.html}
	tcpdump -i lo -s 0 -w "$work/t.pcap" "tcp port $port" 2>"$work/td.log" &
	local td=$!
	wait_for grep -q listening "$work/td.log"
	ab -q -k -n 2000 -c 1 "$URL" >/dev/null
	sleep 0.3
	kill -INT $td
	wait $td || true
	bin/record --pcap "$work/t.pcap" -o "$work/trace.parquet" -q >/dev/null
}
