"""The servers' edge: requests refused before they reach the app, answered and journaled.

A request line or header past the server's limits never becomes a WSGI request, so the
pipeline never sees it: Werkzeug's handler (``make serve``, ``medimock proxy``) and the
gunicorn worker (``--workers N``) answer it themselves - 414 for the request line, 431 for
the headers, 400 for a request that does not parse - and call ``journal_rejection`` so it
shows in ``GET /__mock__/requests`` like any other answer.

Limits: the default server reads request lines and header lines up to 64 KiB and at most
100 headers (the standard library's ``http.server``); gunicorn request lines up to 8190
bytes (its maximum), header lines up to 8190 bytes and 100 headers.

Slow clients: the default server gives each connection a thread of its own, so a client that
sends half a request and stalls holds only its own. gunicorn's threaded worker has a fixed
pool; its worker here takes a connection into the pool only once the request head is complete.
"""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .http import redact_query
from .journal import Journal, JournalEntry

log = logging.getLogger("medimock")

GUNICORN_LIMITS = {"limit_request_line": 8190, "limit_request_field_size": 8190, "limit_request_fields": 100}
GUNICORN_KEEPALIVE = 10  # seconds an idle connection, or one whose request head stopped arriving, is kept
GUNICORN_THREADS = 8  # per worker


def gunicorn_settings(bind: str, workers: int) -> dict[str, Any]:
    """How gunicorn serves the mock (``medimock serve --workers N``): the worker class, limits, threads and
    timeouts. ``benchmarks/ceiling.py`` serves its recorded bytes with exactly these, so the benchmark's
    ratio compares the apps, not two server configurations."""
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": gunicorn_worker_class(),  # gthread, journaling what it refuses before the app
        **GUNICORN_LIMITS,
        "keepalive": GUNICORN_KEEPALIVE,
        "threads": GUNICORN_THREADS,
        "timeout": 120,
        "graceful_timeout": 5,
        "accesslog": None,
        "loglevel": "warning",
    }


_HEAD_LIMIT = 1 << 20  # more than gunicorn's largest head: a line of 8190 bytes and 100 fields of 8190
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


def read_request_head(sock: socket.socket, held: bytes) -> tuple[bool, bytes]:
    """Read what a new connection has sent so far, without blocking: (whether the request head is complete, the bytes).

    The head is complete at its blank line, at the end of the stream, or past the size any head may
    have (the parser then answers 414/431). Everything available is consumed, so the worker's poller
    wakes the connection again only when more arrives; the bytes go back to gunicorn's parser.
    """
    sock.setblocking(False)
    while b"\r\n\r\n" not in held and len(held) < _HEAD_LIMIT:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return False, held
        except OSError:
            return True, held  # the parser meets the same error and handles it
        if not chunk:
            return True, held
        held += chunk
    return True, held


def gunicorn_worker_class() -> type:
    """gunicorn's threaded worker, journaling the requests it refuses (414, 431, 400) before the app,
    committing a thread to a new connection only once its request head has arrived (``read_request_head``:
    until then the connection waits in the worker's poller, as a connection that sent nothing yet does,
    and is closed after ``keepalive`` seconds without a byte), and lingering over closed connections on
    threads of its own rather than on the event loop."""
    from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
    from gunicorn.workers.gthread import _DEFER, ThreadWorker

    class JournalingThreadWorker(ThreadWorker):
        def init_process(self) -> None:
            # gunicorn closes a finished connection "gracefully" on the worker's event loop: it half-closes and
            # waits up to 2 s for the client to close its side. A client that keeps the socket open after a
            # `Connection: close` answer would stop every other connection of the worker for those 2 s.
            self.closer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="medimock-close")
            super().init_process()

        def handle(self, conn: Any) -> Any:
            if not conn.initialized and not hasattr(conn, "medimock_head"):
                linger = conn.close
                conn.close = lambda graceful=False: self.closer.submit(linger, True) if graceful else linger(False)
            if not conn.initialized:
                complete, conn.medimock_head = read_request_head(conn.sock, getattr(conn, "medimock_head", b""))
                if not complete:
                    return _DEFER  # back to the poller, holding no thread; handled again when more bytes arrive
                conn.data_ready = True  # the head is here: no blocking wait for the first bytes
                conn.sock.setblocking(True)
                conn.init()  # creates the parser, which reads the bytes taken here first
                if conn.medimock_head and conn.parser is not None:
                    conn.parser.unreader.unread(conn.medimock_head)
                conn.medimock_head = b""
            return super().handle(conn)

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
