#!/usr/bin/env python3
"""Writes the HTTP/2 exchanges of a capture as tshark's HTTP/2 (and gRPC)
dissectors see them, one line per stream that has a request and a final
answer, sorted:

    CLIENT STREAM METHOD PATH STATUS GRPC-STATUS

CLIENT is ip:port, STREAM the HTTP/2 stream id, GRPC-STATUS "-" when the answer has none (not gRPC).
An h2c upgrade's request is the HTTP/1.1 one (tshark's HTTP dissector),
answered on stream 1. The golden files of testdata/h2 are written by it
(scripts/make-h2-fixtures.sh), so they do not come from the code they
test; record/h2_test.go compares them with the trace.

    tshark-h2.py CAPTURE [--upgrade] PORT...

PORT are the server ports, decoded as HTTP/2 from their first byte
(tshark's -d); with --upgrade they are not: tshark's HTTP dissector
follows the 101 into HTTP/2 itself.
"""
import json
import subprocess
import sys


def get(pairs, key):
    return [v for k, v in pairs if k == key]


def first(pairs, key, default=None):
    v = get(pairs, key)
    return v[0] if v else default


def main():
    cap, rest = sys.argv[1], sys.argv[2:]
    upgrade = "--upgrade" in rest
    ports = [int(p) for p in rest if p != "--upgrade"]
    args = ["tshark", "-r", cap, "-T", "json", "-Y", "http2 or http.request"]
    for p in ports:
        if not upgrade:
            args += ["-d", "tcp.port==%d,http2" % p]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    packets = json.loads(out, object_pairs_hook=lambda p: p)
    streams = {}  # (client, id) -> dict
    upgrades = {}  # client -> (method, path)
    for pkt in packets:
        layers = first(first(pkt, "_source"), "layers")
        ip = first(layers, "ip") or first(layers, "ipv6")
        tcp = first(layers, "tcp")
        src = first(ip, "ip.src") or first(ip, "ipv6.src")
        dst = first(ip, "ip.dst") or first(ip, "ipv6.dst")
        sport, dport = int(first(tcp, "tcp.srcport")), int(first(tcp, "tcp.dstport"))
        from_client = dport in ports
        client = "%s:%d" % ((src, sport) if from_client else (dst, dport))
        for http in get(layers, "http"):
            # the request line is a key of its own: "GET / HTTP/1.1\r\n"
            for k, v in http:
                if isinstance(v, list) and first(v, "http.request.method"):
                    upgrades[client] = (first(v, "http.request.method"), first(v, "http.request.uri"))
        for h2 in get(layers, "http2"):
            for fr in get(h2, "http2.stream"):
                typ, sid = first(fr, "http2.type"), first(fr, "http2.streamid")
                if typ != "1" or sid is None:
                    continue  # only HEADERS say what we compare
                hs = {}
                for h in get(fr, "http2.header"):
                    hs.setdefault(first(h, "http2.header.name"), first(h, "http2.header.value"))
                s = streams.setdefault((client, int(sid)), {})
                if from_client:
                    if ":method" in hs:
                        s["method"], s["path"] = hs[":method"], hs.get(":path", hs.get(":authority"))
                    continue
                st = hs.get(":status")
                if st is not None and not st.startswith("1"):
                    s["status"] = st
                if "grpc-status" in hs:
                    s["grpc"] = hs["grpc-status"]
    lines = []
    for (client, sid), s in streams.items():
        if "method" not in s and sid == 1 and client in upgrades:
            s["method"], s["path"] = upgrades[client]
        if "method" in s and "status" in s:
            lines.append("%s %d %s %s %s %s" % (client, sid, s["method"], s["path"], s["status"], s.get("grpc", "-")))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
