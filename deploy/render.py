#!/usr/bin/env python3
"""Fills the {{NAME}} values of a deploy/ template (stdlib only, for operators and the
tests alike):

    python3 deploy/render.py deploy/nginx/tracker.conf NAME=value ... > out.conf

UPSTREAMS="host:port host:port" becomes the upstream's server lines. A value left
unfilled stops it with the names missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def render(template: str, values: dict[str, str]) -> str:
    values = dict(values)
    if "UPSTREAMS" in values:
        servers = values["UPSTREAMS"].split()
        values["UPSTREAM_LINES"] = "\n".join(
            f"    server {addr} max_fails=1 fail_timeout=5s;" for addr in servers
        )
    missing = sorted(set(re.findall(r"{{(\w+)}}", template)) - set(values))
    if missing:
        raise SystemExit(f"render: no value for {', '.join(missing)}")
    return re.sub(r"{{(\w+)}}", lambda m: values[m.group(1)], template)


def main(argv: list[str]) -> None:
    path, *pairs = argv
    values = dict(pair.split("=", 1) for pair in pairs)
    sys.stdout.write(render(Path(path).read_text(), values))


if __name__ == "__main__":
    main(sys.argv[1:])
