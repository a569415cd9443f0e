# SPDX-License-Identifier: MIT
"""catalog.py - the function catalog of a real lossd, for the scripts that
generate or check documentation from it (gen-functions-doc, openapi-copy)
and the benchmarks that take their function lists from it (bench/compare,
bench/bench_torch.py).

The catalog (GET /v1/functions) is built from the same registry that routes
and validates requests, so documentation read from it describes the code
that is built. Only the Python standard library is used.
"""

import json
import re
import subprocess
import sys
import urllib.request

# Anchor prefixes of docs/functions.md's sections, by kind: id="loss-giou".
ANCHOR_PREFIX = {"loss": "loss", "activation": "act", "info": "info", "pairwise": "pair"}


def fetch_text(binary, paths):
    """Starts `binary` on a free port, GETs each path and returns the reply
    bodies (bytes) in order; stops it again."""
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--log-format", "off"],
                            stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stderr:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit(f"{binary} did not start")
        replies = []
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                replies.append(r.read())
        return replies
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def fetch(binary, paths=("/v1/functions",)):
    """The parsed JSON replies of `binary` to GET each path, in order."""
    return [json.loads(body) for body in fetch_text(binary, paths)]


def functions(binary):
    """The catalog's function entries, in registry order."""
    return fetch(binary)[0]["functions"]
