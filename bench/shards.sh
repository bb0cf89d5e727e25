#!/usr/bin/env bash
# How the total achieved rate grows with the number of shard processes: 1,
# 2 and 4 replay processes (--shard I/N, one --start-at), 64 users in
# total, no think time, against nginx on 127.0.0.1, for SECS each; median
# of RUNS. This machine has 2 cores shared by nginx and every shard, so the
# total is bounded by them: the figure shows the sharding costs nothing,
# not what N machines give (see the README for that arithmetic).
#   bench/shards.sh              SECS=10 RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SECS=${SECS:-10}
RUNS=${RUNS:-3}
PORT=18310
need nginx:nginx-light ab:apache2-utils tcpdump:tcpdump
go build -o bin/ ./cmd/replay ./cmd/record ./bench/resultstats
nginx_target $PORT "" # no pinning: the shards and nginx share both cores

printf '%-8s %14s %14s\n' shards "requests/s" "per shard"
for n in 1 2 4; do
	for _ in $(seq "$RUNS"); do
		rm -rf "$work/r"
		at=$(date -u -d '+2 sec' +%Y-%m-%dT%H:%M:%SZ)
		for i in $(seq 0 $((n - 1))); do
			shard=()
			[ "$n" -gt 1 ] && shard=(--shard "$i/$n")
			bin/replay --trace "$work/trace.parquet" --host "http://127.0.0.1:$PORT" --scale 64 --ramp 1ms --pacing none \
				--duration "${SECS}s" --start-at "$at" "${shard[@]}" --out "$work/r" --no-default-thresholds --format json light \
				>"$work/shard$i.out" 2>&1 &
		done
		wait
		total=0
		for f in "$work"/r/*.parquet; do
			eval "$(bin/resultstats "$f")" # sets requests, rate, ...
			total=$((total + requests))
		done
		echo "$total"
	done | sort -n | awk -v n="$n" -v runs="$RUNS" -v secs="$SECS" \
		'{r[NR]=$1} END {m=r[int((runs+1)/2)]; printf "%-8d %14.0f %14.0f\n", n, m/secs, m/secs/n}'
done
