#!/usr/bin/env python3
"""A pipelining HTTP/1.1 client: writes every request at once on one
connection, then reads the responses. Used by make-fixtures.sh, because
curl and browsers no longer pipeline."""
import socket, sys

host, port = sys.argv[1], int(sys.argv[2])
paths = sys.argv[3:]
reqs = []
for i, p in enumerate(paths):
    method, _, path = p.partition(" ") if " " in p else ("GET", "", p)
    last = i == len(paths) - 1
    body = b'{"pipelined":true}' if method in ("POST", "PUT") else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: pipeline.py\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    if last:
        head += "Connection: close\r\n"
    reqs.append(head.encode() + b"\r\n" + body)
s = socket.create_connection((host, port))
s.sendall(b"".join(reqs))
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(f"pipeline.py: {len(paths)} requests, {got.count(b'HTTP/1.1 ')} responses, {len(got)} bytes")
