#!/usr/bin/env bash
# Proves the trace format is public: records a fixture, then reads the file
# with DuckDB (the @duckdb/node-api package from the npm registry) and
# checks its columns, types, row count and redaction.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
cache=${REPLAYKIT_CACHE:-$HOME/.cache/replaykit}/duckdb-node
if [ ! -d "$cache/node_modules/@duckdb/node-api" ]; then
	mkdir -p "$cache"
	(cd "$cache" && npm init -y >/dev/null && npm install --no-audit --no-fund @duckdb/node-api@1.5.6-r.1 >/dev/null)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./cmd/record --pcap testdata/pcap/go-curl.pcap -o "$work/go-curl.parquet" -q
expected=$(wc -l <testdata/golden/go-curl.txt)
cp scripts/duckdb/check.mjs "$cache/"
go run ./cmd/record --pcap testdata/h2/grpc-python.pcap -o "$work/grpc.parquet" -q
node "$cache/check.mjs" "$work/go-curl.parquet" "$expected" testdata/sample/demo.parquet "$work/grpc.parquet"
