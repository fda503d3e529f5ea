"""The ceiling: a Flask app that serves recorded bytes, and nothing else.

It answers each recorded (path, query) with the exact status, content type and body
that the mock gave, under the same server (gunicorn, same workers and threads), so
the ratio mock/ceiling measures what the mock's pipeline costs: routing, auth,
validation, the store, the journal.

    gunicorn 'benchmarks.ceiling:create_app("recording.json")'
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

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
