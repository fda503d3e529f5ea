"""A server that answers every request, whatever its method and path, with the same useless reply.

``--mode empty-404``: 404 with an empty body; ``html-500``: Django's HTML 500 page; ``empty-object``:
200 ``{}`` as JSON; ``truncated``: 200 JSON cut off in the middle; ``latin-1``: 200 with a body that is
not UTF-8. A suite pointed at it must fail (or skip) every test with a verdict that names the
operation and the reply, and never crash on reading it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DJANGO_500, respond, serve

MODES = {
    "empty-404": ("404 Not Found", b"", "text/html; charset=utf-8"),
    "html-500": ("500 Internal Server Error", DJANGO_500, "text/html; charset=utf-8"),
    "empty-object": ("200 OK", b"{}", "application/json"),
    "truncated": ("200 OK", b'{"count": 12, "results": [{"id": 1, "na', "application/json"),
    "latin-1": ("200 OK", '{"name": "Ren\u00e9e"}'.encode("latin-1"), "application/json"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=sorted(MODES), required=True)
    args, rest = parser.parse_known_args()
    status, body, content_type = MODES[args.mode]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        return respond(start_response, status, body, content_type)

    serve(app, rest)


if __name__ == "__main__":
    main()
