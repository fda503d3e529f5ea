"""The ceiling: a Flask app that serves recorded bytes, and nothing else.

It answers each recorded (path, query) with the exact status, content type and body
that the mock gave, under the same server as the mock: gunicorn with the settings
``medimock serve --workers N`` uses (``mockserver.serving.gunicorn_settings``: worker
class, threads, limits, keep-alive, timeouts), so the ratio mock/ceiling measures what
the mock's pipeline costs: routing, auth, validation, the store, the journal.

    python -m benchmarks.ceiling --bind 127.0.0.1:8081 --workers 2 recording.json
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from flask import Flask, Response, request


def create_app(recording: str) -> Flask:
    entries = json.loads(Path(recording).read_text())
    table = {
        (entry["path"], entry["query"]): (entry["status"], entry["content_type"], base64.b64decode(entry["body"])) for entry in entries
    }
    app = Flask("ceiling", static_folder=None, root_path=str(Path(__file__).resolve().parent))

    @app.route("/<path:path>")
    def serve(path: str) -> Response:
        found = table.get((request.path, request.query_string.decode()))
        if found is None:
            return Response(b'{"detail":"not recorded"}', status=404, content_type="application/json")
        status, content_type, body = found
        return Response(body, status=status, content_type=content_type)

    return app


def main(argv: list[str] | None = None) -> int:
    from gunicorn.app.base import BaseApplication

    from mockserver.serving import gunicorn_settings

    parser = argparse.ArgumentParser(prog="benchmarks.ceiling")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("recording")
    args = parser.parse_args(argv)

    class Ceiling(BaseApplication):
        def load_config(self) -> None:
            for name, value in gunicorn_settings(args.bind, args.workers).items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return create_app(args.recording)

    Ceiling().run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
