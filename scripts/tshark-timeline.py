#!/usr/bin/env python3
"""Writes a capture's HTTP request timeline as tshark's HTTP dissector sees
it: the goldens of the recorded-timeline tests, so that they do not come
from replaykit.

usage: tshark-timeline.py CAPTURE PORT PREFIX

PREFIX-requests.txt    one request a line, "EPOCH METHOD URI", sorted by
                       time (then frame): EPOCH is frame.time_epoch of the
                       request's first frame
PREFIX-per-second.txt  "SECOND COUNT" for every second from 0 to the last
                       request's: the requests whose first frame is in
                       [t0+SECOND, t0+SECOND+1), t0 the first request's
                       EPOCH

Each file starts with a "#" line saying how it was made. A request in several TCP segments is tshark's in its last frame;
its first (tcp.segment) is the one that counts here."""
import subprocess
import sys
from decimal import Decimal

cap, port, prefix = sys.argv[1:4]
fields = ["frame.number", "frame.time_epoch", "http.request.method", "http.request.uri", "tcp.segment"]
# tshark's defaults: fields separated by tabs, every occurrence of a field,
# joined by commas (a URI with a comma is refused below, not misread).
cmd = ["tshark", "-n", "-r", cap, "-d", f"tcp.port=={port},http", "-Y", "http.request", "-T", "fields"]
for f in fields:
    cmd += ["-e", f]
shown = " ".join(cmd)


def run(c):
    return subprocess.run(c, check=True, capture_output=True, text=True).stdout.splitlines()


rows, firsts = [], set()
for line in run(cmd):
    frame, epoch, methods, uris, segs = line.split("\t")
    methods, uris = methods.split(","), uris.split(",")
    if len(methods) != 1 or len(uris) != 1:
        sys.exit(f"frame {frame}: {len(methods)} requests in one frame (pipelining) or a comma in a URI: not handled")
    first = min([int(frame)] + [int(s) for s in segs.split(",") if s])
    rows.append([first, Decimal(epoch), methods[0], uris[0]])
    if first != int(frame):
        firsts.add(first)
if firsts:  # the times of the first segments of reassembled requests
    times = {}
    for line in run(["tshark", "-n", "-r", cap, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"]):
        f, t = line.split("\t")
        if int(f) in firsts:
            times[int(f)] = Decimal(t)
    for r in rows:
        r[1] = times.get(r[0], r[1])
if not rows:
    sys.exit(f"{cap}: no HTTP requests on port {port}")
rows.sort(key=lambda r: (r[1], r[0]))
t0 = rows[0][1]
counts = {}
for r in rows:
    s = int((r[1] - t0) // 1)
    counts[s] = counts.get(s, 0) + 1
how = f"# {shown}; scripts/tshark-timeline.py: first frame of each request ({len(firsts)} reassembled)"
with open(prefix + "-requests.txt", "w") as out:
    print(how + ": EPOCH METHOD URI, sorted by time", file=out)
    for r in rows:
        print(r[1], r[2], r[3], file=out)
with open(prefix + "-per-second.txt", "w") as out:
    print(how + f": SECOND COUNT, requests whose first frame is in [t0+SECOND, t0+SECOND+1), t0 = {t0} (the first request's)", file=out)
    for s in range(max(counts) + 1):
        print(s, counts.get(s, 0), file=out)
print(f"{len(rows)} requests, {max(counts) + 1} seconds, per second {min(counts.get(s, 0) for s in range(max(counts) + 1))}..{max(counts.values())}")
