"""What the test servers share: serving a WSGI app on a loopback port, and Django's error pages.

These servers are NOT the mock: each is a small, independent implementation of one API written
with other habits (a Django/DRF-style tscharts, garbage answers...), so the contract suites are
proven against something medimock did not produce. Run as ``python <server>.py [--mode M]``: the
first line printed is ``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DJANGO_404 = b"""<!DOCTYPE html>
<html lang="en">
<head><meta http-equiv="content-type" content="text/html; charset=utf-8"><title>Page not found at {path}</title></head>
<body><div id="summary"><h1>Page not found <span>(404)</span></h1></div>
<div id="info"><p>Using the URLconf defined in <code>tscharts.urls</code>, Django tried these URL patterns, in this order:</p></div>
</body></html>
"""
DJANGO_500 = b"""<!DOCTYPE html>
<html lang="en"><head><title>Server Error (500)</title></head><body><h1>Server Error (500)</h1><p></p></body></html>
"""


def respond(
    start_response: Callable[..., Any], status: str, body: bytes = b"", content_type: str = "text/html; charset=utf-8", **headers: str
) -> list[bytes]:
    pairs = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    pairs += [(name.replace("_", "-"), value) for name, value in headers.items()]
    start_response(status, pairs)
    return [body]


def serve(app: WsgiApp, argv: list[str] | None = None, **options: Any) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args, _ = parser.parse_known_args(argv)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover
        pass
    finally:
        server.server_close()
        sys.exit(0)
