"""The image's health check: ``GET /health`` of the REST service in this container
answers 200 with ``{"status": "ok"}`` (the one path served without the token).

A worker container has no REST service: its check is that its process lives, which the
engine sees by itself, so this check passes at once when the container runs a worker.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main() -> int:
    with open("/proc/1/cmdline", "rb") as handle:
        args = handle.read().split(b"\0")
    if b"worker" in args:
        return 0
    port = os.environ.get("OCCO_PORT", "5000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as answer:
            body = json.loads(answer.read())
    except (OSError, ValueError) as exc:
        print(f"/health did not answer: {exc}", file=sys.stderr)
        return 1
    if body.get("status") != "ok":
        print(f"/health answered {body!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
