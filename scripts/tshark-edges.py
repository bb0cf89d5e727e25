#!/usr/bin/env python3
"""Lists the HTTP exchanges of an edge-case capture (make-edge-fixtures.sh)
as tshark dissects them, one line each, in capture order:

    METHOD TARGET STATUS body=N [short] [framing] [tunnel=BYTES]

body is the response body bytes the server sent (status 0: no response).
The heads are tshark's (http.desegment_body off, so an answer cut short is
still dissected), the byte counts tshark's tcp.len. On top of them, RFC
9112's rules, not replaykit's code:
  short    the answer's Content-Length is more than the server sent
  framing  the request's or the answer's body length cannot be read (a
           Content-Length that is not digits, or over 64 bits, or two that
           differ; a transfer coding that is not chunked, compress,
           deflate, gzip or identity; a chunk size over 64 bits): the
           side that sent it is not HTTP after it (section 6.3: the server
           must close)
  tunnel   the answer made the connection a tunnel (101, or 2xx to
           CONNECT): BYTES is what both sides sent after its head

usage: tshark-edges.py CAPTURE PORT"""
import re, subprocess, sys

cap, port = sys.argv[1], int(sys.argv[2])
fields = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.len", "tcp.payload", "http.request.method",
          "http.request.uri", "http.response.code", "http.content_length_header", "http.transfer_encoding"]
cmd = ["tshark", "-n", "-r", cap, "-o", "http.desegment_body:FALSE", "-d", f"tcp.port=={port},http",
       "-Y", "tcp.len > 0", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
for f in fields:
    cmd += ["-e", f]
out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

CODINGS = {"chunked", "compress", "deflate", "gzip", "x-gzip", "x-compress", "identity"}


def bad_length(values):
    """RFC 9112 6.3: Content-Length values must be digits, fit, and agree."""
    seen = set()
    for v in values:
        for x in v.split(","):
            x = x.strip()
            if not re.fullmatch(r"[0-9]+", x) or int(x) >= 2**63:
                return True
            seen.add(int(x))
    return len(seen) > 1


def bad_coding(te):
    return any(c.strip().lower() not in CODINGS for c in te.split(",")) if te else False


def bad_chunks(body):
    m = re.match(rb"\s*([0-9a-fA-F]+)", body)
    return bool(m) and int(m.group(1), 16) >= 2**63


streams = {}
for line in out.splitlines():
    col = [c.split("\x1f") if c else [] for c in line.split("\t")]
    col += [[]] * (len(fields) - len(col))
    frame, stream, src, n, payload, methods, uris, codes, cls, tes = col
    streams.setdefault(int(stream[0]), []).append(
        (int(src[0]) == port, int(n[0]), bytes.fromhex(payload[0]) if payload else b"", methods, uris, codes, cls, tes))

lines = []
for _, frames in sorted(streams.items()):
    reqs, resps = [], []  # resps: [code, body, content-length or None, framing]
    tunnel, client_dead, server_dead = None, False, False
    for server, n, payload, methods, uris, codes, cls, tes in frames:
        if tunnel is not None:
            tunnel[0] += n
            continue
        if not server:
            if client_dead:
                continue
            # tshark puts the Content-Length values of all of a frame's
            # requests in one list: these captures send one request a frame
            # when a length is bad.
            for m, u in zip(methods, uris):
                body = payload.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in payload else b""
                framing = bad_length(cls) or bad_coding(tes[0] if tes else "") or \
                    (bool(tes) and "chunked" in tes[0] and bad_chunks(body))
                reqs.append([m, u, framing])
                if framing:
                    client_dead = True
                    break
            continue
        if server_dead:
            continue
        finals = [c for c in codes if not c.startswith("1") or c == "101"]
        if not finals:
            if resps:
                resps[-1][1] += n  # more of the last answer's body
            continue
        code = finals[-1]
        head, _, body = payload.partition(b"\r\n\r\n")
        framing = bad_length(cls)
        resps.append([code, len(body), int(cls[0]) if cls and not framing else None, framing])
        i = len(resps) - 1
        if i < len(reqs) and (code == "101" or (reqs[i][0] == "CONNECT" and code.startswith("2"))):
            tunnel = [len(body)]
            resps[-1][1] = 0
        if framing:
            server_dead = True
    for i, (m, u, framing) in enumerate(reqs):
        code, body, cl, rframing = resps[i] if i < len(resps) else ("0", 0, None, False)
        words = [m, u, code, f"body={body}"]
        if cl is not None and body < cl:
            words.append("short")
        if framing or rframing:
            words.append("framing")
        if tunnel is not None and i == len(resps) - 1:
            words.append(f"tunnel={tunnel[0]}")
        lines.append(" ".join(words))
print("\n".join(lines))
