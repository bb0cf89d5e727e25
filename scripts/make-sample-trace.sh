#!/usr/bin/env bash
# Remakes testdata/sample/demo.parquet, the sample trace of the README's
# demo: the users of scripts/sampletraffic (a reader, a writer, two mixed
# users, a hurried one who meets the rate limit, an intruder with a wrong
# key) against the demo API, recorded by `record --proxy`. All on loopback.
#   scripts/make-sample-trace.sh            # 60 s of traffic
#   DURATION=20s scripts/make-sample-trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION=${DURATION:-60s}
mkdir -p bin testdata/sample
go build -o bin/ ./cmd/demoapi ./cmd/record ./scripts/sampletraffic
# A low rate limit so the hurried user meets 429s, as HighLoadUser did.
bin/demoapi --addr 127.0.0.1:18100 --rate 2 --burst 4 --seed 1 2>"$work/demoapi.log" &
pids+=($!)
wait_for curl -sf http://127.0.0.1:18100/health
REPLAYKIT_REDACT_KEY=replaykit-sample bin/record --proxy 127.0.0.1:18101 --upstream http://127.0.0.1:18100 \
	-o "$work/traces/" -q >"$work/record.out" 2>&1 &
rec=$!
wait_for curl -sf http://127.0.0.1:18101/health
bin/sampletraffic --url http://127.0.0.1:18101 --duration "$DURATION"
kill -INT $rec
wait $rec
cat "$work/record.out"
cp "$work/traces/"proxy_*.parquet testdata/sample/demo.parquet
chmod 0644 testdata/sample/demo.parquet
ls -l testdata/sample/demo.parquet
