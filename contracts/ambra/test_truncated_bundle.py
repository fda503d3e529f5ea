"""A /bundle POST whose body ends before the length its Content-Length gives: the document's "If the POST is
malformed the server will return an HTTP_BAD_REQUEST error code". The request is written on a socket of its own
(no HTTP client sends a body shorter than it announces), then the socket's sending half is closed, so the server
reads the end of the body at once instead of waiting for the rest. A server (or a proxy in front of it) may also
close the connection without an answer, which passes; an answer other than 400 (a server error) fails. What
arrives is cut inside the array's second hash, so a server that reads only what came is handed malformed JSON too.

Plain HTTP targets only: over TLS, closing the sending half ends the TLS session.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from medimock.ambra_contract import MAIN
from medimock.verdict import Document, expect

MALFORMED = Document.of(
    Document(MAIN, "You can bundle a series of calls into a single call"),
    Document(MAIN, "If the POST is malformed the server will return an HTTP_BAD_REQUEST"),
)
MISSING = 64  # bytes the body is short of its Content-Length


def test_a_bundle_whose_body_ends_early_is_a_bad_request(ambra):
    url = urlsplit(ambra.url("/bundle"))
    if url.scheme != "http":
        pytest.skip(f"a {url.scheme} target: only a plain HTTP connection can close its sending half and still read the answer")
    body = f'[{{"URL": "/session/uuid", "sid": "{ambra.sid}"}}, {{"URL": "/session/uuid"'.encode()  # the rest never comes
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + MISSING}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection((url.hostname, url.port or 80), timeout=30) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    what = f"a /bundle POST whose body is {MISSING} bytes short of its Content-Length"
    expect(MALFORMED, status in (None, 400), f"{what} is refused with HTTP 400 (or left unanswered); it answered {status_line!r}")
