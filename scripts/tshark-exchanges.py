#!/usr/bin/env python3
"""Lists the HTTP exchanges of a capture as tshark's HTTP dissector sees
them, one "METHOD TARGET STATUS" line each (status 0: no response), sorted.
This is the independent check of replaykit's golden files.

usage: tshark-exchanges.py [--drop F,F,...] [--until K] CAPTURE PORT...

--drop: the exchanges that survive when those frames are removed: every
        exchange whose request or response used a removed frame's payload
        is left out.
--until: the exchanges of the capture cut after frame K: requests whose
        bytes all came by K, with status 0 if their response did not.
--from: the exchanges of the capture that starts at frame K: requests whose
        first byte came at or after K."""
import subprocess, sys

args = sys.argv[1:]
drop, until, start = set(), None, None
while args and args[0].startswith("--"):
    opt, val = args[0], args[1]
    args = args[2:]
    if opt == "--drop":
        drop = {int(f) for f in val.split(",") if f}
    elif opt == "--until":
        until = int(val)
    elif opt == "--from":
        start = int(val)
cap, ports = args[0], args[1:]
base = ["tshark", "-n", "-r", cap, "-o", "tcp.reassemble_out_of_order:TRUE",
        "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "http.desegment_body:TRUE"]
for p in ports:
    base += ["-d", f"tcp.port=={p},http"]

def rows(filt, fields):
    cmd = base + ["-Y", filt, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=\x1f", "-E", "occurrence=a"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield [c.split("\x1f") if c else [] for c in line.split("\t")]

# Requests: a frame may carry several (pipelining).
requests = []  # (frame, index in frame, method, uri, tcp stream, first frame)
for frame, methods, uris, stream, segs in rows("http.request", ["frame.number", "http.request.method", "http.request.uri", "tcp.stream", "tcp.segment"]):
    f = int(frame[0])
    first = min([f] + [int(x) for x in segs])
    for i, (m, u) in enumerate(zip(methods, uris)):
        requests.append((f, i, m, u, int(stream[0]), first))
# Final responses in order per TCP stream. tshark links only the first of
# pipelined responses to its request (http.request_in is empty for the
# rest), so pair them as HTTP/1.1 does: in order on the connection.
responses = {}
for rframe, codes, stream in rows("http.response", ["frame.number", "http.response.code", "tcp.stream"]):
    for c in codes:
        if not c.startswith("1"):  # 1xx are interim
            responses.setdefault(int(stream[0]), []).append((c, int(rframe[0])))
paired = {}
seen = {}
for frame, i, m, u, stream, first in requests:
    k = seen.get(stream, 0)
    seen[stream] = k + 1
    rs = responses.get(stream, [])
    paired[(frame, i)] = rs[k] if k < len(rs) else (0, None)
# Removed frames that carried payload, per TCP stream. An exchange is
# damaged when one of them lies between its request's first segment and
# its response's last frame on the same stream.
removed = {}
if drop:
    for frame, length, stream in rows("tcp", ["frame.number", "tcp.len", "tcp.stream"]):
        f = int(frame[0])
        if f in drop and length and int(length[0]) > 0:
            removed.setdefault(int(stream[0]), []).append(f)
lines = []
for frame, i, m, u, stream, first in requests:
    code, rframe = paired[(frame, i)]
    last = rframe if rframe is not None else float("inf")
    if any(first <= f <= last for f in removed.get(stream, [])):
        continue
    if start is not None and first < start:
        continue
    if until is not None:
        if frame > until:
            continue
        if rframe is None or rframe > until:
            code = 0
    lines.append(f"{m} {u} {code}")
print("\n".join(sorted(lines)))
