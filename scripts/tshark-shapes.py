#!/usr/bin/env python3
"""Lists the JSON shape of every HTTP answer of a capture as tshark's HTTP
dissector and Python's json module see them: one line an answer,
"URI STATUS MEDIA-TYPE PATH:TYPES ...", its key paths sorted ("$",
"$.items", "$.items[].id": array elements folded into one path, keys that
are not identifiers written $["a b"]) with the JSON types seen at each
(sorted, joined by "|"); MEDIA-TYPE "-" when none; no paths when the body
is not JSON. The lines are sorted. This is the independent check of
replaykit's answer signatures (package signature).

usage: tshark-shapes.py CAPTURE PORT..."""
import json, re, subprocess, sys

cap, ports = sys.argv[1], sys.argv[2:]
cmd = ["tshark", "-n", "-r", cap, "-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
       "-o", "http.desegment_body:TRUE", "-o", "http.decompress_body:TRUE", "-Y", "http.response",
       "-T", "fields", "-E", "separator=\t", "-e", "http.response_for.uri", "-e", "http.response.code",
       "-e", "http.content_type", "-e", "http.file_data"]
for p in ports:
    cmd += ["-d", f"tcp.port=={p},http"]
out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

ident = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
def name(t):
    if isinstance(t, bool): return "bool"
    if t is None: return "null"
    if isinstance(t, (int, float)): return "number"
    if isinstance(t, str): return "string"
    if isinstance(t, list): return "array"
    return "object"

def walk(v, path, paths):
    paths.setdefault(path, set()).add(name(v))
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, path + ("." + k if ident.match(k) else "[" + json.dumps(k) + "]"), paths)
    elif isinstance(v, list):
        for x in v:
            walk(x, path + "[]", paths)

lines = []
for line in out.splitlines():
    cols = line.split("\t") + ["", "", "", ""]
    uri, code, ctype, body = cols[:4]
    uri = re.sub(r"^https?://[^/]+", "", uri)
    media = ctype.split(";")[0].strip().lower() or "-"
    # tshark writes a newline in the body as \n.
    body = body.replace("\\n", "\n").strip()
    shape = ""
    try:
        paths = {}
        walk(json.loads(body), "$", paths)
        shape = " ".join(p + ":" + "|".join(sorted(t)) for p, t in sorted(paths.items()))
    except ValueError:
        pass
    lines.append(f"{uri} {code} {media} {shape}".rstrip())
for l in sorted(lines):
    print(l)
