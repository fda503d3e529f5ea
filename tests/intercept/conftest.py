"""Helpers of the intercept tests: the mock's Flask app on a real loopback port, and a
loopback webhook receiver, both started and stopped by the test."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.serving import make_server


@contextmanager
def serve(wsgi: Any) -> Iterator[str]:
    """``wsgi`` over HTTP on a free loopback port (werkzeug's threaded server, as ``medimock serve``)."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-loopback-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class Receiver:
    """A webhook receiver on a loopback port: records every POST, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"null")})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                receiver.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="test-webhook-receiver", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def snapshot(mock: Any) -> sqlite3.Connection:
    mock.journal.flush()
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    mock.store.connection().backup(copy)
    return copy


def restore(mock: Any, copy: sqlite3.Connection) -> None:
    mock.webhooks.drain(30)
    mock.journal.flush()
    copy.backup(mock.store.connection())


@pytest.fixture(autouse=True)
def no_intercept_leaks() -> Iterator[None]:
    """Every test of this folder leaves requests unpatched and no intercept active."""
    yield
    from requests.adapters import HTTPAdapter

    import medimock.inprocess as inprocess

    assert inprocess._active is None or inprocess._active.active, "an intercept was left half-closed"
    if inprocess._active is None:
        assert HTTPAdapter.send.__module__ == "requests.adapters", "requests is still patched after the test"


@pytest.fixture(scope="session")
def loopback() -> Any:
    """``with loopback(wsgi) as url:`` serves a WSGI app on a free loopback port."""
    return serve


class Snapshots:
    take = staticmethod(snapshot)
    restore = staticmethod(restore)


@pytest.fixture(scope="session")
def snapshots() -> type[Snapshots]:
    """``snapshots.take(mock)`` / ``snapshots.restore(mock, taken)``: the store's database, copied."""
    return Snapshots
