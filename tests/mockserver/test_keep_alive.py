"""Keep-alive on the one-process server (``medimock serve``, the suites' embedded mock): Werkzeug's handler with
``mockserver.serving.KeptAlive``. A client's requests share one connection, in turn or pipelined, whatever the app
read of each body; everything whose end cannot be known closes the connection, as Werkzeug does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import make_server

from mockserver.app import create_app
from mockserver.cli import RedactingRequestHandler
from mockserver.config import MockConfig
from mockserver.pipeline import MockApp


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Served:
    def __init__(self, port: int) -> None:
        self.port = port

    def connect(self) -> tuple[socket.socket, Any]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock, sock.makefile("rb")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    mock = MockApp(MockConfig(apis=("tscharts",), db=str(tmp_path_factory.mktemp("keep-alive") / "mock.sqlite3")))
    handler = type("QuickHandler", (RedactingRequestHandler,), {"keep_alive_idle": 0.5, "log_request": lambda *a, **k: None})
    server = make_server("127.0.0.1", 0, create_app(mock=mock), threaded=True, request_handler=handler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(server.port)
    server.shutdown()
    server.server_close()
    mock.close()


def request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answer(stream: Any) -> Answer:
    """One HTTP answer from a buffered stream, which stays at the start of the next one."""
    status = int(stream.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = stream.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int(stream.readline().strip(), 16):
            body += stream.read(size)
            stream.readline()
        stream.readline()
    else:
        body = stream.read()
    return Answer(status, headers, body)


def closed(sock: socket.socket, stream: Any) -> bool:
    """Whether the server closed the connection (the stream ends) rather than waiting for another request."""
    sock.settimeout(5)
    try:
        return stream.read(1) == b""
    except TimeoutError:
        return False


def test_one_connection_answers_request_after_request(served: Served) -> None:
    sock, stream = served.connect()
    with sock:
        for target in ("/__mock__/health", "/__mock__/credentials", "/__mock__/health"):
            sock.sendall(request("GET", target))
            answer = read_answer(stream)
            assert answer.status == 200 and answer.headers.get("connection", "").lower() != "close", answer.headers
            assert ("tscharts" in json.loads(answer.body)) == (target == "/__mock__/credentials")


def test_pipelined_requests_are_answered_in_turn(served: Served) -> None:
    # Werkzeug's own handler reads (and drops) whatever follows an answer: here that would be the second request
    sock, stream = served.connect()
    with sock:
        sock.sendall(request("GET", "/__mock__/credentials") + request("GET", "/__mock__/health"))
        first, second = read_answer(stream), read_answer(stream)
        assert first.status == 200 and "tscharts" in json.loads(first.body)
        assert second.status == 200 and json.loads(second.body)["status"] == "ok"


@pytest.mark.parametrize("size", [10, 300_000])
def test_a_body_the_app_left_unread_is_skipped_to_the_next_request(served: Served, size: int) -> None:
    sock, stream = served.connect()
    with sock:
        sock.sendall(request("POST", "/nowhere/at/all", {"Content-Type": "application/json"}, b"[" + b"1," * (size // 2) + b"1]"))
        sock.sendall(request("GET", "/__mock__/health"))
        assert read_answer(stream).status == 404
        answer = read_answer(stream)
        assert answer.status == 200 and json.loads(answer.body)["status"] == "ok"


def test_a_body_read_by_the_app_keeps_the_connection(served: Served) -> None:
    sock, stream = served.connect()
    with sock:
        sock.sendall(request("PUT", "/__mock__/clock", {"Content-Type": "application/json"}, b'{"offset_seconds": 0}'))
        assert read_answer(stream).status < 500
        sock.sendall(request("GET", "/__mock__/health"))
        assert read_answer(stream).status == 200


@pytest.mark.parametrize(
    "asked",
    [
        request("GET", "/__mock__/health", {"Connection": "close"}),
        request("GET", "/__mock__/health", version="HTTP/1.0"),
        request("POST", "/nowhere", {"Transfer-Encoding": "chunked"}, b"3\r\nabc\r\n0\r\n\r\n"),
        request("POST", "/nowhere", {"Content-Length": "3", "content-length": "3"}, b"abc"),
        request("POST", "/nowhere", {"Content-Length": "+3"}, b"abc"),
    ],
    ids=["connection-close", "http-1.0", "chunked-body", "two-lengths", "signed-length"],
)
def test_what_cannot_be_kept_is_answered_and_closed(served: Served, asked: bytes) -> None:
    sock, stream = served.connect()
    with sock:
        sock.sendall(asked)
        answer = read_answer(stream)
        assert answer.status < 500, answer
        assert closed(sock, stream)


def test_a_body_cut_short_is_answered_and_closed(served: Served) -> None:
    sock, stream = served.connect()
    with sock:
        sock.sendall(request("POST", "/nowhere", {"Content-Length": "100"}, b"only ten b"))
        sock.shutdown(socket.SHUT_WR)
        assert read_answer(stream).status < 500
        assert closed(sock, stream)


def test_an_idle_connection_is_closed_quietly(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    sock, stream = served.connect()
    with sock:
        sock.sendall(request("GET", "/__mock__/health"))
        assert read_answer(stream).status == 200
        assert closed(sock, stream)  # after the handler's keep_alive_idle (0.5 s here; gunicorn's 10 s by default)
    assert "timed out" not in capsys.readouterr().err
