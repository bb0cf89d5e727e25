#!/usr/bin/env bash
# Remakes the fixtures of record --har and --gor from real tools talking
# over loopback:
#
#   testdata/har/chromium-demoapi.har  headless Chromium (Debian's chromium,
#       driven over the DevTools protocol by puppeteer-core) running an API
#       client in a page against the demo API (scripts/import/
#       demoapi-flow.mjs): X-API-Key, JSON bodies, every method, a login's
#       bearer token, a form login and its cookie; the HAR written by the
#       npm package chrome-har (scripts/import/har-capture.mjs)
#   testdata/har/playwright-demoapi.har  the same flow in Chromium driven
#       by Playwright, which writes the HAR itself (recordHar)
#   testdata/har/chromium-nginx-h2.har  the same browser loading a page
#       from nginx over TLS and HTTP/2 (a self-signed certificate): an
#       image (base64 in the HAR), gzipped JSON, a POST
#   testdata/gor/curl.gor, curl.gor.gz  GoReplay (built from the module
#       proxy) with --input-raw-track-response --output-file, recording
#       curl against scripts/fixtureserver (chunked, gzip, HEAD, 204,
#       uploads) and the demo API (a login and its token)
#   testdata/gor/replayed.gor  GoReplay replaying curl.gor with
#       --output-http-track-response: the replay's answers (type 3) too
#   testdata/har/chromium-hosts.har  the same browser on a page of
#       app.example.test that loads its script and images from two CDN
#       names and sends a beacon to an analytics name (Chromium maps every
#       *.example.test to 127.0.0.1; three nginx servers): the hosts a real
#       page's HAR holds beside the API (record --only-host)
#
#   scripts/make-import-fixtures.sh          all of them
#   scripts/make-import-fixtures.sh hosts    chromium-hosts.har alone
#
# Needs root (GoReplay captures with libpcap), Go, Node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh
need chromium:chromium node:nodejs npm:npm curl:curl nginx:nginx-light openssl:openssl
dpkg -s libpcap-dev >/dev/null 2>&1 || {
	echo "${0##*/}: installing libpcap-dev with apt-get (GoReplay links libpcap)" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcap-dev >/dev/null
}
mkdir -p testdata/har testdata/gor "$work/bin"

go build -o "$work/bin/demoapi" ./cmd/demoapi
go build -o "$work/bin/fixtureserver" ./scripts/fixtureserver
GOBIN=$work/bin CGO_ENABLED=1 go install github.com/buger/goreplay@v1.3.2
(cd "$work" && npm init -y >/dev/null && PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	npm install --silent puppeteer-core@25.16.0 chrome-har@1.3.1 playwright-core@1.65.1 >/dev/null)
cp scripts/import/*.mjs "$work/"
only=${1:-}
case $only in "" | hosts) ;; *) echo "usage: ${0##*/} [hosts]" >&2; exit 2 ;; esac

# HAR: a page of one host that loads from others.
hosts_har() {
	local app=18193 cdn=18194 stats=18195
	mkdir -p "$work/app" "$work/cdn"
	cat >"$work/app/index.html" <<HTML
<!doctype html>
<html><head><title>hosts</title>
<link rel="stylesheet" href="http://static.cdn.example.test:$cdn/site.css">
</head><body>
<img src="http://static.cdn.example.test:$cdn/logo.png" alt="">
<script src="http://cdn.example.test:$cdn/app.js"></script>
</body></html>
HTML
	cat >"$work/cdn/app.js" <<JS
fetch('/api/v1/tasks?limit=5').then(r => r.json()).then(() =>
  fetch('/api/v1/tasks', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"title":"from the page"}'}))
  .then(() => navigator.sendBeacon('http://stats.example.test:$stats/collect', 'event=view&page=%2F'));
JS
	echo 'body { margin: 0 }' >"$work/cdn/site.css"
	cp "$work/www/pixel.png" "$work/cdn/logo.png"
	cat >"$work/nginx-hosts.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx-hosts.pid;
error_log $work/nginx-hosts.log;
events { worker_connections 64; }
http {
	access_log off;
	types { text/html html; application/javascript js; text/css css; image/png png; }
	client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
	server {
		listen 127.0.0.1:$app;
		root $work/app;
		location /api/ { default_type application/json; return 200 '{"tasks":[]}'; }
	}
	server {
		listen 127.0.0.1:$cdn;
		root $work/cdn;
		add_header Cache-Control "max-age=3600";
	}
	server {
		listen 127.0.0.1:$stats;
		location /collect { return 204; }
	}
}
CONF
	nginx -c "$work/nginx-hosts.conf" -e "$work/nginx-hosts.log" &
	pids+=($!)
	wait_for curl -sf http://127.0.0.1:$app/index.html
	node "$work/har-capture.mjs" hosts http://app.example.test:$app testdata/har/chromium-hosts.har
}

api=127.0.0.1:18190 fsrv=127.0.0.1:18191 tls=18192
"$work/bin/demoapi" --addr $api --no-delay >"$work/demoapi.log" 2>&1 &
pids+=($!)
"$work/bin/fixtureserver" -addr $fsrv >"$work/fs.log" 2>&1 &
pids+=($!)
wait_for curl -sf http://$api/health
wait_for curl -sf http://$fsrv/health

# HAR: the demo API from a page.
if [ -z "$only" ]; then
	node "$work/har-capture.mjs" demoapi http://$api testdata/har/chromium-demoapi.har
	node "$work/har-playwright.mjs" http://$api testdata/har/playwright-demoapi.har
fi

# HAR: a page over HTTP/2 from nginx.
mkdir -p "$work/www"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat >"$work/www/index.html" <<'HTML'
<!doctype html>
<html><head><title>fixture</title></head><body>
<img src="/pixel.png" alt="">
<script>
fetch('/data.json').then(r => r.json()).then(d =>
  fetch('/api/items?from=page', {method: 'POST', headers: {'Content-Type': 'text/plain'}, body: 'item ' + d.items.length}));
</script>
</body></html>
HTML
# A 1x1 PNG, and JSON big enough for nginx to gzip.
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82' >"$work/www/pixel.png"
python3 -c 'import json; print(json.dumps({"items": [{"id": i, "name": "item %d" % i} for i in range(60)]}))' >"$work/www/data.json"
hosts_har
if [ "$only" = hosts ]; then
	ls -l testdata/har/chromium-hosts.har
	exit 0
fi
cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 64; }
http {
	access_log off;
	types { text/html html; application/json json; image/png png; }
	client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
	gzip on; gzip_types application/json; gzip_min_length 100;
	server {
		listen 127.0.0.1:$tls ssl http2;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		root $work/www;
		location /api/ { default_type application/json; return 201 '{"id":7}'; }
	}
}
CONF
nginx -c "$work/nginx.conf" -e "$work/nginx.log" &
pids+=($!)
wait_for curl -skf https://127.0.0.1:$tls/index.html
node "$work/har-capture.mjs" page https://127.0.0.1:$tls testdata/har/chromium-nginx-h2.har

# GoReplay: curl against both servers, requests and responses.
rm -f "$work"/curl.gor*
"$work/bin/goreplay" --input-raw $fsrv --input-raw $api --input-raw-track-response \
	--output-file "$work/curl.gor" --output-file "$work/curl.gor.gz" --output-file-append \
	>"$work/gor.log" 2>&1 &
gorpid=$!
pids+=($gorpid)
wait_for grep -q "port ${api##*:}" "$work/gor.log"
sleep 1 # libpcap's handles open after the filter is printed
c() { curl -s -o /dev/null "$@" >/dev/null; sleep 0.05; }
c http://$fsrv/health
c http://$fsrv/api/tasks
c -X POST -H 'Content-Type: application/json' -d '{"title":"from curl"}' http://$fsrv/api/tasks
c --compressed http://$fsrv/api/documents/7
c http://$fsrv/api/stream
c -I http://$fsrv/api/tasks/1
c -X DELETE http://$fsrv/api/tasks/1
c -X PUT -H 'Content-Type: application/json' -d '{"done":true}' http://$fsrv/api/tasks/1
c -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' --data-binary 'a chunked upload' http://$fsrv/api/upload
c http://$fsrv/api/error
c http://$fsrv/api/tasks/1 http://$fsrv/api/tasks/2 http://$fsrv/health # one keep-alive connection
token=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"username":"alice","password":"demo-password-alice"}' http://$api/api/v1/login |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
sleep 0.05
c -H "Authorization: Bearer $token" 'http://'$api'/api/v1/tasks?limit=3'
id=$(curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"title":"gor task"}' http://$api/api/v1/tasks |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 0.05
c -H "Authorization: Bearer $token" http://$api/api/v1/tasks/$id
c -X DELETE -H "Authorization: Bearer $token" http://$api/api/v1/tasks/$id
c -H 'X-API-Key: demo-key-bob' http://$api/api/v1/projects
sleep 2 # GoReplay flushes its file every second
kill -INT $gorpid
wait $gorpid || true
cp "$work/curl.gor" "$work/curl.gor.gz" testdata/gor/

# GoReplay replaying that file (ten times as fast) against the fixture
# server, keeping the answers: its output has the replay's responses
# (type 3) beside the recorded ones; the demo API's requests get 404s.
"$work/bin/goreplay" --input-file "testdata/gor/curl.gor|1000%" --output-http http://$fsrv \
	--output-http-track-response --output-file "$work/replayed.gor" --output-file-append \
	--exit-after 5s >"$work/replay.log" 2>&1
cp "$work/replayed.gor" testdata/gor/
ls -l testdata/har testdata/gor
