#!/usr/bin/env python3
"""Lists the HTTP requests of a capture of PROXY protocol connections as
tshark's PROXY (v1, v2) and HTTP dissectors see them, one line each:

    CLIENT METHOD TARGET STATUS

CLIENT is the source address and port the connection's PROXY header
carries (proxy.src.ipv4 or proxy.src.ipv6, proxy.srcport), or the TCP
connection's own client when its header carries none (a v2 LOCAL, a v1
UNKNOWN) or there is no header. STATUS is the response's (0: none seen).
Sorted. This is the independent check of record on these captures.

usage: tshark-proxyproto.py CAPTURE

No "-d tcp.port==PORT,http": a port given to HTTP that way is never
offered to the PROXY dissector (a heuristic one), and tshark finds the
HTTP after the header on its own."""
import subprocess, sys

cap = sys.argv[1]
base = ["tshark", "-n", "-r", cap, "-o", "tcp.reassemble_out_of_order:TRUE",
        "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "http.desegment_body:TRUE"]


def rows(filt, fields):
    cmd = base + ["-Y", filt, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=\x1f", "-E", "occurrence=a"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield [c.split("\x1f") if c else [] for c in line.split("\t")]


def hostport(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# Each connection's own client: the side that sent the SYN.
own = {}
for stream, src, src6, sport in rows("tcp.flags.syn == 1 && tcp.flags.ack == 0",
                                     ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport"]):
    own[int(stream[0])] = hostport((src or src6)[0], sport[0])

# The client each connection's PROXY header names, if it names one.
client = dict(own)
for stream, v1proto, v2cmd, src4, src6, sport in rows("proxy", ["tcp.stream", "proxy.v1.proto", "proxy.v2.cmd",
                                                              "proxy.src.ipv4", "proxy.src.ipv6", "proxy.srcport"]):
    s = int(stream[0])
    carries = (v1proto and v1proto[0] in ("TCP4", "TCP6")) or (v2cmd and v2cmd[0] == "1")
    if carries and (src4 or src6) and sport:
        client[s] = hostport((src4 or src6)[0], sport[0])

requests = []  # (tcp stream, method, target)
for stream, methods, uris in rows("http.request", ["tcp.stream", "http.request.method", "http.request.uri"]):
    for m, u in zip(methods, uris):
        requests.append((int(stream[0]), m, u))
# Final responses in order per connection, paired with requests in order
# (tshark links only the first of pipelined responses to its request).
responses = {}
for stream, codes in rows("http.response", ["tcp.stream", "http.response.code"]):
    for c in codes:
        if not c.startswith("1"):
            responses.setdefault(int(stream[0]), []).append(c)
seen = {}
lines = []
for s, m, u in requests:
    k = seen.get(s, 0)
    seen[s] = k + 1
    rs = responses.get(s, [])
    lines.append(f"{client.get(s, '?')} {m} {u} {rs[k] if k < len(rs) else 0}")
print("\n".join(sorted(lines)))
