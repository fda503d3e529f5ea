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

Keep-alive: both keep an HTTP/1.1 client's connection for its next request (10 s idle at most).
Werkzeug's handler closes after every answer; the default server's handler adds keep-alive
(``KeptAlive``), which halves its CPU a request and lets a connection's thread keep its SQLite
connection. The proxy keeps Werkzeug's close.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
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


KEEPALIVE_BODY = 1 << 20  # the most of a request body the app left unread that is read to keep the connection


class KeptAlive:
    """HTTP/1.1 keep-alive for Werkzeug's threaded server (``medimock serve``, the suites' embedded mock).

    Werkzeug's handler answers every request with ``Connection: close``: it cannot tell where a body the app did
    not read ends, so it reads whatever else arrives within 10 ms and closes. Each request then costs the client a
    TCP connection and the server a thread and a SQLite connection of its own (the store's are per thread), about
    twice the server's CPU of a request on a kept connection. A request is kept when the client allows it (HTTP/1.1
    without ``Connection: close``) and its body is delimited by one plain ``Content-Length`` (or absent): the app
    reads the body through a counter, and whatever it left unread (up to ``KEEPALIVE_BODY``) is read afterwards.
    Chunked bodies, ambiguous or oversized framing, and bodies the client does not finish keep Werkzeug's answer
    and close. A kept connection waits ``GUNICORN_KEEPALIVE`` seconds for its next request, as gunicorn's do.

    Werkzeug's own drain reads the socket after each answer; on a kept connection it would eat the next request,
    so while the app runs the handler shows it a socket that is always readable and a reader at its end.
    """

    keep_alive = True
    keep_alive_idle: float = GUNICORN_KEEPALIVE  # seconds a kept connection waits for its next request
    connection: Any
    rfile: Any
    headers: Any
    request_version: str
    close_connection: bool

    _body: _CountedBody | None = None

    def setup(self) -> None:
        super().setup()  # type: ignore[misc]
        if self.keep_alive:
            # an answer's head and body are two writes: without this, the body of each answer on a kept connection
            # waits for the client's delayed ACK of the head (40 ms on Linux)
            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def handle_one_request(self) -> None:
        self._body = None
        if getattr(self, "_answered", False):  # between requests on a kept connection
            self._idle = True
            self.connection.settimeout(self.keep_alive_idle)
        super().handle_one_request()  # type: ignore[misc]
        self._answered = True

    def parse_request(self) -> bool:
        if getattr(self, "_idle", False):
            self._idle = False
            self.connection.settimeout(None)  # the request line is in: no timeout within a request, as before
        return bool(super().parse_request())  # type: ignore[misc]

    def log_error(self, format: str, *args: Any) -> None:
        if getattr(self, "_idle", False):
            return  # an idle kept connection timed out: not an error
        super().log_error(format, *args)  # type: ignore[misc]

    def _keepable(self) -> int | None:
        """The request body's length when the connection can be kept after this request, else None."""
        if not self.keep_alive or self.close_connection or self.request_version != "HTTP/1.1" or "Transfer-Encoding" in self.headers:
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(lengths) != 1 or not (lengths[0].isascii() and lengths[0].isdigit()):
            return None
        return int(lengths[0])

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()  # type: ignore[misc]
        length = self._keepable()
        self._body = None if length is None else _CountedBody(self.rfile, length)
        if self._body is not None:
            environ["wsgi.input"] = self._body
            self._kept = (self.rfile, self.connection)
            self.rfile, self.connection = _AT_END, _ALWAYS_READABLE  # what Werkzeug's drain sees
        return environ

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()  # type: ignore[misc]
        finally:
            kept = self.__dict__.pop("_kept", None)
            if kept is not None:
                self.rfile, self.connection = kept
        if self._body is not None and not self._body.finish(self.connection, KEEPALIVE_BODY):
            self.close_connection = True

    def send_header(self, keyword: str, value: str) -> None:
        if self._body is not None and keyword.lower() == "connection" and value.lower() == "close":
            return  # Werkzeug's unconditional close: this connection is kept
        super().send_header(keyword, value)  # type: ignore[misc]


class _CountedBody(io.RawIOBase):
    """A request body of ``length`` bytes, read from the connection no further than its end."""

    def __init__(self, raw: Any, length: int) -> None:
        super().__init__()
        self._raw = raw
        self.left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.left)
        if wanted <= 0:
            return 0
        got = self._raw.readinto(memoryview(buffer)[:wanted]) or 0
        self.left -= got
        if got == 0:
            self.left = -1  # the client stopped short of its Content-Length: the connection cannot be kept
        return got

    def finish(self, connection: socket.socket, most: int) -> bool:
        """Read what the app left of the body (at most ``most`` bytes, waiting at most a second for each part):
        whether the connection now stands at the next request."""
        if self.left == 0:
            return True
        if self.left < 0 or self.left > most:
            return False
        connection.settimeout(1.0)
        try:
            while self.left > 0:
                if not self.readinto(bytearray(min(self.left, 65536))):
                    return False
        except OSError:
            return False
        finally:
            try:
                connection.settimeout(None)
            except OSError:
                pass
        return True


class _AtEnd:
    def read(self, *_: Any) -> bytes:
        return b""


class _AlwaysReadable:
    """A file descriptor that select() always finds readable: a socket pair's end with a byte nobody reads."""

    def __init__(self) -> None:
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._lock = threading.Lock()

    def fileno(self) -> int:
        with self._lock:
            if self._pair is None:
                ours, other = socket.socketpair()
                other.sendall(b"x")
                self._pair = (ours, other)
            return self._pair[0].fileno()


_AT_END = _AtEnd()
_ALWAYS_READABLE = _AlwaysReadable()
