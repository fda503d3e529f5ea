"""An Ambra server with other habits than medimock's: the mock's data behind a front end that answers its own way.

Why a front end and not a server of its own, as ``tscharts_django.py`` is: the Ambra suite reaches far
beyond the few commands its workflows are about (MISSING_FIELDS across twenty command groups, the
property tests' discovery of every list command, any command in a property run). A hand-written server
of a few dozen commands would fail most of that for "command missing", which would bury the verdicts
this server exists to prove. So the embedded mock (in process, its control API hidden) keeps the data
and the commands, and this front end changes specific answers the way another implementation would:
an Apache-style gateway with HTML error pages, that does not route PUT or DELETE, with its own
parameter handling and a few bugs. Every quirk is a request or reply rewritten here, not a change of
the mock; they span both tiers:

Violations of the document (the suite must FAIL on them, citing the document):

- ``basic-auth``: HTTP basic authentication is not supported; any ``Authorization: Basic`` is a 401
  (the preamble's 401 line names "valid basic authentication user name and password");
- ``filter-ignored``: ``filter.FIELD.not_equals_or_null`` is dropped before the list runs;
- ``sort-order-400``: an invalid sort order (INVALID_SORT_ORDER) comes back as HTTP 400, not 412;
- ``rows-500``: a ``page.rows`` that is not a number is an HTML 500 (errors are flagged by 401/405/412).

Differences from medimock's conventions (the suite must only WARN, unless the run is strict):

- ``html-401``: a 401 is Apache's HTML "401 Authorization Required" page, not an error hash;
- ``bare-not-found``: the NOT_FOUND of a get command carries no error_subtype;
- ``no-put-delete``: PUT and DELETE, which the front end does not route, are 501 Not Implemented;
- ``flag-unchecked``: ``/study/list`` takes any ``extra`` as the flag on (``extra=2`` is accepted);
- ``no-page-count``: the page hash has no ``count``;
- ``rows-1000``: ``/study/list`` pages 1000 studies by default (the document: "100 or 1000");
- an unknown path is an HTML 404.

Off unless asked for (``--quirks delete-ignored``): ``/group/delete`` answers OK and deletes nothing,
so that a run leaves a group behind (the suite must say so).

Run as ``python ambra_gateway.py [--quirks a,b]`` (default: every quirk above but delete-ignored, which
``--quirks default,delete-ignored`` adds): the first line printed is
``listening on http://127.0.0.1:PORT``; the API is at ``/api/v3``. ``GET /credentials`` (not part of
the API) gives the seeded users as the suite's ``AMBRA_*`` variables, for the test that starts it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import respond, serve

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

PREFIX = "/api/v3"
QUIRKS = (
    "basic-auth",
    "filter-ignored",
    "sort-order-400",
    "rows-500",
    "html-401",
    "bare-not-found",
    "no-put-delete",
    "flag-unchecked",
    "no-page-count",
    "rows-1000",
)
ON_REQUEST = ("delete-ignored",)
APACHE_PAGE = """<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head><title>{status}</title></head><body><h1>{title}</h1><p>{text}</p><hr><address>Apache Server</address></body></html>
"""
CREDENTIALS = {  # /__mock__/credentials name -> the suite's environment variable
    "login": "AMBRA_LOGIN",
    "password": "AMBRA_PASSWORD",
    "user_login": "AMBRA_USER_LOGIN",
    "user_password": "AMBRA_USER_PASSWORD",
    "phr_login": "AMBRA_PHR_LOGIN",
    "phr_password": "AMBRA_PHR_PASSWORD",
    "oauth_client_id": "AMBRA_OAUTH_CLIENT_ID",
    "oauth_client_secret": "AMBRA_OAUTH_CLIENT_SECRET",
}
INTEGER = re.compile(r"^\s*-?\d+\s*$")


def page(start_response: Any, status: str, text: str) -> list[bytes]:
    title = status.partition(" ")[2]
    body = APACHE_PAGE.format(status=status, title=title, text=text).encode()
    return respond(start_response, status, body, "text/html; charset=iso-8859-1")


class Gateway:
    """The WSGI front end: rewrites requests, calls the mock, rewrites its replies."""

    def __init__(self, inner: Any, quirks: set[str], credentials: dict[str, str]) -> None:
        self.inner = inner
        self.quirks = quirks
        self.credentials = credentials

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET").upper()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if path == "/credentials" and method == "GET":
            return respond(start_response, "200 OK", json.dumps(self.credentials).encode(), "application/json")
        if not path.startswith(PREFIX + "/"):
            return page(start_response, "404 Not Found", f"The requested URL {path} was not found on this server.")
        if "no-put-delete" in self.quirks and method in ("PUT", "DELETE"):
            return page(start_response, "501 Not Implemented", f"{method} to {path} not supported.")
        if "basic-auth" in self.quirks and environ.get("HTTP_AUTHORIZATION", "").lower().startswith("basic"):
            return self.unauthorized(start_response)
        command = path[len(PREFIX) :]
        if command == "/group/delete" and "delete-ignored" in self.quirks:
            return respond(start_response, "200 OK", b'{"status": "OK"}', "application/json")
        form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if form else []
        if "rows-500" in self.quirks and any(k == "page.rows" and not INTEGER.match(v) for k, v in query + fields):
            return page(start_response, "500 Internal Server Error", "The server encountered an internal error.")
        query, fields = self.request(command, query), self.request(command, fields)
        if command == "/study/list" and "rows-1000" in self.quirks and not any(k == "page.rows" for k, _ in query + fields):
            (fields if method == "POST" else query).append(("page.rows", "1000"))
        environ = dict(environ)
        environ["QUERY_STRING"] = urlencode(query)
        if form:
            body = urlencode(fields).encode()
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = _Input(body)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        chunks = self.inner(environ, capture)
        try:
            content = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return self.reply(command, captured["status"], captured["headers"], content, start_response)

    def request(self, command: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, value in pairs:
            if "filter-ignored" in self.quirks and name.startswith("filter.") and name.endswith(".not_equals_or_null"):
                continue
            if "flag-unchecked" in self.quirks and command == "/study/list" and name == "extra" and value not in ("0", "1"):
                value = "1"
            out.append((name, value))
        return out

    def unauthorized(self, start_response: Any) -> list[bytes]:
        if "html-401" in self.quirks:
            text = "This server could not verify that you are authorized to access the document requested."
            return page(start_response, "401 Authorization Required", text)
        body = json.dumps({"status": "ERROR", "error_type": "NO_SESSION"}).encode()
        return respond(start_response, "401 Unauthorized", body, "application/json")

    def reply(self, command: str, status: str, headers: list[tuple[str, str]], content: bytes, start_response: Any) -> list[bytes]:
        code = int(status.split()[0])
        if code == 401:
            return self.unauthorized(start_response)
        if code == 404:
            return page(start_response, "404 Not Found", f"The requested URL {PREFIX}{command} was not found on this server.")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        try:
            body = json.loads(content) if "json" in content_type and content else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            changed = False
            if code == 412 and body.get("error_type") == "INVALID_SORT_ORDER" and "sort-order-400" in self.quirks:
                status, changed = "400 Bad Request", True
            if code == 412 and body.get("error_type") == "NOT_FOUND" and command.endswith("/get") and "bare-not-found" in self.quirks:
                changed = body.pop("error_subtype", None) is not None or changed
            if code == 200 and isinstance(body.get("page"), dict) and "no-page-count" in self.quirks:
                changed = body["page"].pop("count", None) is not None or changed
            if changed:
                content = json.dumps(body).encode()
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
        return respond(start_response, status, content, content_type or "application/octet-stream", **dict(_header_words(kept)))


class _Input:
    """A request body the inner app reads (``wsgi.input``)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else min(len(self.data), self.position + size)
        chunk, self.position = self.data[self.position : end], end
        return chunk

    def readline(self, size: int = -1) -> bytes:
        end = self.data.find(b"\n", self.position)
        end = len(self.data) if end < 0 else end + 1
        if size is not None and size >= 0:
            end = min(end, self.position + size)
        chunk, self.position = self.data[self.position : end], end
        return chunk

    def __iter__(self) -> Any:
        return iter(self.data.splitlines(keepends=True))


def _header_words(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header pairs as ``respond``'s keyword arguments (it turns ``_`` back into ``-``)."""
    return [(name.replace("-", "_"), value) for name, value in headers]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quirks", default="default", help="comma-separated quirks to switch on ('default': every one of QUIRKS)")
    args, rest = parser.parse_known_args()
    quirks = {q for q in args.quirks.split(",") if q and q != "default"} | (set(QUIRKS) if "default" in args.quirks.split(",") else set())
    unknown = quirks - set(QUIRKS) - set(ON_REQUEST)
    if unknown:
        parser.error(f"unknown quirks: {sorted(unknown)}")

    from mockserver import create_app
    from mockserver.config import MockConfig

    directory = tempfile.TemporaryDirectory(prefix="ambra-gateway-")
    mock = create_app(MockConfig(apis=("ambra",), db=str(Path(directory.name) / "mock.sqlite3"), strict=False, webhook_timeout=2))
    seeded = mock.test_client().get("/__mock__/credentials").get_json()["ambra"]
    credentials = {variable: str(seeded[name]) for name, variable in CREDENTIALS.items() if seeded.get(name)}
    serve(Gateway(mock.wsgi_app, quirks, credentials), rest)


if __name__ == "__main__":
    main()
