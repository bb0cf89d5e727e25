#!/usr/bin/env bash
# Runs Locust itself (Debian's python3-locust) for a few seconds against the
# demo API on loopback and keeps its CSV files in testdata/locust/: analyze's
# CSVs are checked against what Locust really writes, not against our
# reading of its source.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need curl:curl
[ -x /usr/bin/locust ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-locust >/dev/null; }
PORT=18400
go build -o bin/ ./cmd/demoapi
bin/demoapi --addr 127.0.0.1:$PORT --no-delay >"$work/demo.log" 2>&1 &
pids+=($!)
wait_for curl -sf "http://127.0.0.1:$PORT/health"
cat >"$work/locustfile.py" <<'PY'
from locust import HttpUser, constant, task

class DemoUser(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def health(self):
        self.client.get("/health")

    @task
    def task_without_key(self):
        # No X-API-Key: a 401, so that the failures file has a row.
        self.client.get("/api/v1/tasks/1", name="/api/v1/tasks/{id}")
PY
out=testdata/locust
mkdir -p "$out"
(cd "$work" && /usr/bin/locust -f locustfile.py --headless -u 2 -r 2 -t 4s --host "http://127.0.0.1:$PORT" \
	--csv locust --only-summary >/dev/null 2>&1) || true # exits 1 when a request failed
for f in stats failures stats_history; do cp "$work/locust_$f.csv" "$out/locust_$f.csv"; done
/usr/bin/locust --version >"$out/VERSION" 2>&1
ls -l "$out"
