#!/usr/bin/python3
"""A gRPC server and client (Python's grpcio, Debian's python3-grpcio) for
the HTTP/2 fixtures: scripts/make-h2-fixtures.sh captures them talking.

    grpc-fixture.py serve PORT     serve demo.v1.Things on 127.0.0.1:PORT
                                   (0: a free port; it prints "serving PORT")
    grpc-fixture.py call PORT      make every kind of call once

Messages are raw bytes (no serializers): no generated code is needed, and
the frames on the wire are gRPC's all the same.
"""
import sys
from concurrent import futures

import grpc


def echo(req, ctx):
    return req


def fail(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " + req.decode())


def count(req, ctx):
    for i in range(5):
        yield req + bytes([0x30 + i])


def total(reqs, ctx):
    return b"+".join(reqs)


def chat(reqs, ctx):
    for r in reqs:
        yield b"re:" + r


def late_fail(reqs, ctx):
    for r in reqs:
        yield r
    ctx.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many")


def serve(port):
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Total": grpc.stream_unary_rpc_method_handler(total),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "LateFail": grpc.stream_stream_rpc_method_handler(late_fail),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.v1.Things", handlers),))
    port = server.add_insecure_port("127.0.0.1:%d" % port)  # 0: any free one
    server.start()
    print("serving", port, flush=True)
    server.wait_for_termination()


def call(port):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        m = "/demo.v1.Things/"
        ch.unary_unary(m + "Echo")(b"hello", metadata=(("x-request-id", "r1"),))
        ch.unary_unary(m + "Echo")(b"x" * 3000)
        try:
            ch.unary_unary(m + "Fail")(b"widget-7")
        except grpc.RpcError:
            pass
        list(ch.unary_stream(m + "Count")(b"n"))
        ch.stream_unary(m + "Total")(iter([b"a", b"bb", b"ccc"]))
        list(ch.stream_stream(m + "Chat")(iter([b"x", b"y", b"z", b"w"])))
        try:
            list(ch.stream_stream(m + "LateFail")(iter([b"1", b"2"])))
        except grpc.RpcError:
            pass
        for i in range(10):
            ch.unary_unary(m + "Echo")(b"again %d" % i)


if __name__ == "__main__":
    {"serve": serve, "call": call}[sys.argv[1]](int(sys.argv[2]))
