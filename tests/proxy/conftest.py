"""Upstreams and proxies on loopback for the validating-proxy tests; everything started here is stopped here.

- ``upstream``: the medimock mock (every API, strict mode off) as a subprocess, one per session.
- ``defective_upstream``: the Clarius mock with deliberate defects that break its contract.
- ``echo_upstream``: a tiny HTTP server that answers with what it received (headers, raw path, body),
  and has a few special paths (slow, gzip, big), for what the mock cannot show.
- ``start_proxy``: a ``ValidatingProxy`` in this process, served by Werkzeug's threaded server in a thread.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from medimock.target import MOUNTS, EmbeddedMock
from mockserver.cli import ProxyRequestHandler
from mockserver.proxy import ProxyConfig, ValidatingProxy
from mockserver.proxy_app import ProxyWsgiApp

DEFECTS = ("clarius.poll_missing_download_url", "clarius.confirm_undocumented_status", "clarius.auth_ignored")


@dataclass
class Upstream:
    url: str  # the root, every API at medimock's mounts
    credentials: dict[str, Any]

    def base(self, api: str) -> str:
        return self.url + MOUNTS[api]


def _start_mock(extra: list[str]) -> tuple[EmbeddedMock, Upstream]:
    mock = EmbeddedMock(extra, strict=False)
    url = mock.start()
    credentials = requests.get(url + "/__mock__/credentials", timeout=10).json()
    return mock, Upstream(url, credentials)


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    mock, running = _start_mock([])
    try:
        yield running
    finally:
        mock.stop()


@pytest.fixture(scope="session")
def defective_upstream() -> Iterator[Upstream]:
    extra = ["--api", "clarius"]
    for defect in DEFECTS:
        extra += ["--defect", defect]
    mock, running = _start_mock(extra)
    try:
        yield running
    finally:
        mock.stop()


@dataclass
class RunningProxy:
    url: str
    proxy: ValidatingProxy

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        response = requests.get(self.url + "/__mock__/requests", params={"limit": 1000, **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def report(self, fmt: str = "json") -> Any:
        response = requests.get(self.url + "/__mock__/proxy/report", params={"format": fmt}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json() if fmt == "json" else response.text


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., RunningProxy]]:
    """Start a proxy in this process (``start_proxy("clarius", upstream_url, record=...)``); stopped after the test."""
    running: list[tuple[Any, threading.Thread, ValidatingProxy]] = []

    def start(api: str, upstream_url: str, **options: Any) -> RunningProxy:
        proxy = ValidatingProxy(ProxyConfig(api=api, upstream=upstream_url, port=0, **options))
        server = make_server("127.0.0.1", 0, ProxyWsgiApp(proxy), threaded=True, request_handler=ProxyRequestHandler)
        server.daemon_threads = True  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread, proxy))
        return RunningProxy(f"http://127.0.0.1:{server.port}", proxy)

    yield start
    for server, thread, proxy in running:
        server.shutdown()
        thread.join(5)
        server.server_close()
        proxy.close()


# -- an upstream that echoes ----------------------------------------------------------------
class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release: threading.Event  # set on the server class

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path.endswith("/slow"):
            self.release.wait(10)
            try:
                self._send(200, b'{"slow": true}', "application/json")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the proxy gave up waiting (the test of its upstream timeout): nobody is left to answer
            return
        if path.endswith("/gzip"):
            payload = gzip.compress(json.dumps({"compressed": True, "access_token": "GZIPPED-SECRET-TOKEN-123"}).encode())
            self._send(200, payload, "application/json", [("Content-Encoding", "gzip")])
            return
        if path.endswith("/big"):
            self._send(200, b"x" * 300_000, "application/octet-stream")
            return
        echoed = {
            "method": self.command,
            "raw_path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_base64": base64.b64encode(body).decode(),
        }
        self._send(200, json.dumps(echoed).encode(), "application/json", [("X-Echo", "1"), ("Keep-Alive", "timeout=5")])

    def _send(self, status: int, body: bytes, content_type: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    release = threading.Event()
    handler = type("EchoHandler", (_EchoHandler,), {"release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
