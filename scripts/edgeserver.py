#!/usr/bin/env python3
"""A raw-socket HTTP/1.1 server whose answers real servers do not give, for
the edge-case captures of make-edge-fixtures.sh: it writes its bytes as
they are. Prints the port it listens on (127.0.0.1, chosen by the kernel).

  /ok      12-byte body, keep-alive
  /zeros   the same body, Content-Length 0000000000000000000012
  /short   promises 1000 bytes, sends 100 and closes
  /huge    a Content-Length that fits no 64-bit integer, then closes"""
import socket, sys, threading

BODY = b"hello, edges"
ANSWERS = {
    "/ok": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n" + BODY, False),
    "/zeros": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0000000000000000000012\r\n\r\n" + BODY, False),
    "/short": (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100, True),
    "/huge": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999999\r\n\r\n" + BODY, True),
}


def serve(conn):
    buf = b""
    with conn:
        conn.settimeout(10)
        while True:
            while b"\r\n\r\n" not in buf:
                b = conn.recv(65536)
                if not b:
                    return
                buf += b
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            n = 0
            for h in lines[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "content-length":
                    n = int(v)
            while len(buf) < n:
                buf += conn.recv(65536)
            buf = buf[n:]
            answer, close = ANSWERS.get(path, (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", False))
            conn.sendall(answer)
            if close:
                return


s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
