"""The pipeline's own request, response and problem types.

The Flask shell turns a Werkzeug request into a ``MockRequest`` and a
``MockResponse`` back into a Werkzeug response; everything between speaks only
these types, so the domain imports no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from . import jsonio

SENSITIVE_PARAMETERS = frozenset(
    {"sid", "password", "client_secret", "access_token", "refresh_token", "token", "api_key", "apikey", "key", "secret", "code"}
    | {"x-amz-signature", "x-amz-credential", "x-amz-security-token"}  # presigned links (Clarius research downloads)
)
_REDACTED = "%5Bredacted%5D"  # "[redacted]", URL-encoded


def redact_query(query_string: str) -> str:
    """A query string with the values of credential-like parameters replaced (for logs and the journal)."""
    if not query_string:
        return query_string
    parts = []
    for part in query_string.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={_REDACTED}" if equals and unquote_plus(name).lower() in SENSITIVE_PARAMETERS else part)
    return "&".join(parts)


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class MockRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # case-insensitive mapping
    body: bytes
    content_type: str
    base_url: str  # scheme://host[:port] as the client reached us, no trailing slash
    form: list[tuple[str, str]] | None = None  # parsed url-encoded or multipart fields
    files: dict[str, UploadedFile] | None = None
    remote_addr: str = ""
    query_string: str = ""

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def url(self) -> str:
        return self.base_url + self.path + (f"?{self.query_string}" if self.query_string else "")


@dataclass
class MockResponse:
    status: int
    body: Any = None  # JSON-able value, or bytes when ``raw`` is true
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    raw: bool = False
    # The body leaves out, as the caller asked, fields its schema requires (Ambra's field selection):
    # response validation then skips ``required``.
    partial: bool = False

    def encoded(self) -> bytes:
        if self.raw:
            return self.body if isinstance(self.body, bytes) else str(self.body).encode()
        if self.body is None and self.status in (204, 304):
            return b""
        return jsonio.dumps(self.body)

    @property
    def json_body(self) -> Any:
        """The body as a JSON value (what strict mode validates)."""
        if self.raw:
            return None
        return self.body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> MockResponse:
    return MockResponse(status=status, body=body, headers=dict(headers or {}))


def no_content(status: int = 204) -> MockResponse:
    return MockResponse(status=status, body=None, content_type="")


@dataclass
class Problem(Exception):
    """A failure the pipeline or a handler reports; each API renders it in its own dialect.

    ``kind`` names the failure independently of any API (``not_found``,
    ``unauthenticated``, ``invalid_request``...); ``fields`` maps a field name to
    its messages for validation failures; ``extra`` carries dialect-specific data
    such as Ambra's ``error_type``.
    """

    kind: str
    status: int
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.kind}: {self.message}"


def problem(kind: str, status: int, message: str, **extra: Any) -> Problem:
    return Problem(kind=kind, status=status, message=message, extra=extra)
