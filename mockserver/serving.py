"""The servers' edge: requests refused before they reach the app, answered and journaled.

A request line or header past the server's limits never becomes a WSGI request, so the
pipeline never sees it: Werkzeug's handler (``make serve``, ``medimock proxy``) and the
gunicorn worker (``--workers N``) answer it themselves - 414 for the request line, 431 for
the headers, 400 for a request that does not parse - and call ``journal_rejection`` so it
shows in ``GET /__mock__/requests`` like any other answer.

Limits: the default server reads request lines and header lines up to 64 KiB and at most
100 headers (the standard library's ``http.server``); gunicorn request lines up to 8190
bytes (its maximum), header lines up to 8190 bytes and 100 headers.
"""

from __future__ import annotations

import logging
from typing import Any

from .http import redact_query
from .journal import Journal, JournalEntry

log = logging.getLogger("medimock")

GUNICORN_LIMITS = {"limit_request_line": 8190, "limit_request_field_size": 8190, "limit_request_fields": 100}
_PATH_KEPT = 256  # of a refused request's path, in the journal


def journal_of(app: Any) -> Journal | None:
    """The journal of the mock's Flask app (``app.extensions["medimock"]``) or of the proxy's WSGI app."""
    extensions = getattr(app, "extensions", None)
    mock = extensions.get("medimock") if isinstance(extensions, dict) else None
    if mock is not None:
        return getattr(mock, "journal", None)
    proxy = getattr(app, "proxy", None)
    return getattr(proxy, "journal", None)


def journal_rejection(app: Any, status: int, reason: str, method: str = "", target: str = "") -> None:
    """Record a request the server refused before the app saw it (never raises: the answer matters more)."""
    journal = journal_of(app)
    if journal is None:
        return
    path, _, query = target.partition("?")
    try:
        journal.record(
            JournalEntry(
                api=None,
                operation_id=None,
                method=method[:16],
                path=path[:_PATH_KEPT],
                query=redact_query(query)[:_PATH_KEPT],
                status=status,
                duration_ms=0.0,
                detail={"refused_by_server": reason},
            )
        )
    except Exception:
        log.exception("could not journal a refused request")


def gunicorn_worker_class() -> type:
    """gunicorn's threaded worker, journaling the requests it refuses (414, 431, 400) before the app."""
    from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
    from gunicorn.workers.gthread import ThreadWorker

    class JournalingThreadWorker(ThreadWorker):
        def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
            super().handle_error(req, client, addr, exc)
            if isinstance(exc, LimitRequestLine):
                status, reason = 414, "request line too long"
            elif isinstance(exc, LimitRequestHeaders):
                status, reason = 431, "request headers too large"
            elif req is None and type(exc).__module__.startswith("gunicorn.http"):
                status, reason = 400, "malformed request"
            else:
                return  # the app's own errors are journaled by the pipeline
            journal_rejection(getattr(self, "wsgi", None), status, reason, getattr(req, "method", "") or "", getattr(req, "uri", "") or "")

    return JournalingThreadWorker
