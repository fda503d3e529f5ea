"""Recordings of HTTP exchanges, and the redaction every proxy output goes through.

The validating proxy (``mockserver/proxy.py``) writes a recording; the mock serves one back
(``medimock serve --replay FILE``, ``mockserver/replay.py``). A recording is JSON lines, one
exchange a line, appended as exchanges complete::

    {"version": 1, "time": "2026-01-02T03:04:05.678901Z", "api": "clarius", "operation_id": "pollExams",
     "request":  {"method": "GET", "path": "/api/public/v0/exams/accessible/", "query": "limit=2",
                  "headers": [["Authorization", "Service-API-Key [redacted]"], ...], "body": null},
     "response": {"status": 200, "headers": [["Content-Type", "application/json"], ...],
                  "body": {"text": "{\\"count\\": ...}"}},
     "violations": [{"where": "response", "kind": "response_schema", ...}]}

``path`` is the path the client used (with the API's mount), so a mock serving the same
mounts answers it; ``query`` is the raw query string with credential values redacted.
A body is ``null`` (none), ``{"text": ...}`` (JSON, forms and ``text/*`` that are UTF-8),
``{"base64": ...}`` (anything else), or, for a multipart request, ``{"multipart": {"fields":
[[name, value]], "files": [{"field", "filename", "content_type", "size", "sha256"}]}}``. A body
that lost something to redaction carries ``"redacted": true``; one that was not kept
carries ``"omitted": "<why>"`` instead of its content. Response bodies are stored decoded
(``Content-Encoding`` removed from the recorded headers), so they can be redacted.

Redaction (``Redactor``): credential headers keep their scheme only (``Bearer [redacted]``),
cookies keep their names, credential-like query, form and JSON fields (``sid``, ``password``,
``client_secret``, ``access_token``, ``key``...) lose their values at any depth, and every
secret value seen in the exchange is also scrubbed from free text (error messages, text
bodies) in case a server echoes it.

This module imports no Flask.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import re
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import orjson

from .http import SENSITIVE_PARAMETERS, MockRequest, redact_query

RECORDING_VERSION = 1
REDACTED = "[redacted]"

# Field names whose values are credentials, wherever they appear (query, form, JSON at any depth).
SENSITIVE_FIELDS = SENSITIVE_PARAMETERS | frozenset(
    {
        "id_token",
        "new_password",
        "old_password",
        "current_password",
        "authorization",
        "session_id",
        "sessionid",
        "csrftoken",
        "csrfmiddlewaretoken",
        "private_key",
        "client_assertion",
        "service_api_key",
    }
)
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token", "x-csrftoken"})
_SENSITIVE_HEADER_WORDS = ("token", "secret", "password", "passwd", "api-key", "apikey", "session", "signature", "credential")

# RFC 9110 section 7.6.1, plus the non-standard ones proxies drop too.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_QUERY_IN_URL = re.compile(r"\?([^\s#>,]*)")
_MIN_SECRET = 4  # shorter values are still redacted by name, but not scrubbed from free text


def is_sensitive_header(name: str) -> bool:
    lower = name.lower()
    return lower in _SENSITIVE_HEADERS or any(word in lower for word in _SENSITIVE_HEADER_WORDS)


def is_sensitive_field(name: str) -> bool:
    return name.lower() in SENSITIVE_FIELDS


def hop_by_hop(headers: Iterable[tuple[str, str]]) -> set[str]:
    """The hop-by-hop header names of a message (lower case): the standard ones and those its ``Connection`` names."""
    names = set(HOP_BY_HOP)
    for name, value in headers:
        if name.lower() == "connection":
            names |= {token.strip().lower() for token in value.split(",") if token.strip()}
    return names


class Redactor:
    """Redacts one exchange, remembering each secret value it removed so it can scrub free text too.

    Use one per exchange, request first: the secrets of the request (its credentials) are then
    scrubbed from the response and from the violations' messages as well.
    """

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def remember(self, value: str) -> None:
        value = value.strip()
        if len(value) >= _MIN_SECRET and value != REDACTED:
            self.secrets.add(value)

    # -- headers ------------------------------------------------------------------------
    def header(self, name: str, value: str) -> str:
        if not is_sensitive_header(name):
            if name.lower() in ("location", "content-location", "referer", "link") and "?" in value:
                return self.text(_QUERY_IN_URL.sub(lambda match: "?" + self.query(match.group(1)), value))
            return self.text(value)
        lower = name.lower()
        if lower == "cookie":
            return "; ".join(self._cookie(part) for part in value.split(";") if part.strip())
        if lower == "set-cookie":
            first, semicolon, attributes = value.partition(";")
            return self._cookie(first) + semicolon + attributes
        scheme, space, credential = value.strip().partition(" ")
        if space and credential.strip() and lower in ("authorization", "proxy-authorization"):
            self._credential(scheme, credential.strip())
            return f"{scheme} {REDACTED}"
        self.remember(value)
        return REDACTED

    def _cookie(self, pair: str) -> str:
        name, equals, value = pair.strip().partition("=")
        if not equals:
            self.remember(name)
            return REDACTED
        self.remember(value)
        return f"{name}={REDACTED}"

    def _credential(self, scheme: str, credential: str) -> None:
        self.remember(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return
            self.remember(decoded)
            self.remember(decoded.partition(":")[2])
        elif "." in credential:  # "<prefix>.<secret>" keys (Clarius): the secret part alone too
            self.remember(credential.rpartition(".")[2])

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[name, self.header(name, value)] for name, value in pairs]

    # -- fields -------------------------------------------------------------------------
    def query(self, query_string: str) -> str:
        """The query string with credential values replaced (as ``redact_query`` does for the journal)."""
        for name, value in parse_qsl(query_string, keep_blank_values=True):
            if is_sensitive_field(name):
                self.remember(value)
        for part in query_string.split("&"):  # the raw (still encoded) values too, in case they are echoed
            name, equals, value = part.partition("=")
            if equals and is_sensitive_field(unquote_plus(name)):
                self.remember(value)
        return _redact_extra_fields(redact_query(query_string))

    def fields(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, value in pairs:
            if is_sensitive_field(name):
                self.remember(value)
                out.append((name, REDACTED))
            else:
                out.append((name, value))
        return out

    def collect(self, value: Any) -> None:
        """Remember the secrets inside a JSON value (before its redacted copy is made)."""
        if isinstance(value, dict):
            for key, item in value.items():
                if is_sensitive_field(str(key)) and isinstance(item, (str, int)) and not isinstance(item, bool):
                    self.remember(str(item))
                else:
                    self.collect(item)
        elif isinstance(value, list):
            for item in value:
                self.collect(item)

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with credential fields redacted at any depth and known secrets scrubbed from strings."""
        self.collect(value)
        return self._json(value)

    def _json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: (
                    REDACTED
                    if is_sensitive_field(str(key)) and item is not None and not isinstance(item, (dict, list))
                    else self._json(item)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    # -- free text ----------------------------------------------------------------------
    def text(self, text: str) -> str:
        """``text`` with every remembered secret replaced (longest first)."""
        if not self.secrets or not text:
            return text
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def data(self, data: bytes) -> bytes:
        if not self.secrets or not data:
            return data
        for secret in sorted(self.secrets, key=len, reverse=True):
            encoded = secret.encode("utf-8", errors="ignore")
            if encoded and encoded in data:
                data = data.replace(encoded, REDACTED.encode())
        return data

    def request_secrets(self, request: MockRequest) -> None:
        """Remember every credential a request carries (headers, query, form fields, JSON body)."""
        self.headers(request.headers.items())
        self.query(request.query_string)
        self.fields(request.form or [])
        if _is_json(request.content_type) and request.body:
            try:
                self.collect(orjson.loads(request.body))
            except orjson.JSONDecodeError:
                pass
        elif _base_type(request.content_type) == "application/x-www-form-urlencoded" and request.form is None:
            self.fields(parse_qsl(request.body.decode("latin-1"), keep_blank_values=True))


def _redact_extra_fields(query_string: str) -> str:
    """``redact_query`` covers ``SENSITIVE_PARAMETERS``; this covers the rest of ``SENSITIVE_FIELDS``."""
    parts = []
    for part in query_string.split("&"):
        name, equals, _ = part.partition("=")
        lowered = unquote_plus(name).lower()
        parts.append(f"{name}=%5Bredacted%5D" if equals and lowered in SENSITIVE_FIELDS and lowered not in SENSITIVE_PARAMETERS else part)
    return "&".join(parts) if query_string else query_string


# -- bodies -------------------------------------------------------------------------------
def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str | None) -> bool:
    base = _base_type(content_type)
    return base == "application/json" or base.endswith("+json")


def _is_text(content_type: str | None) -> bool:
    base = _base_type(content_type)
    return base.startswith("text/") or base in ("application/xml", "application/javascript", "application/yaml") or base.endswith("+xml")


def decode_content(data: bytes, encoding: str) -> bytes | None:
    """The body under its ``Content-Encoding`` (gzip, deflate, identity), or None when that coding is unsupported."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:
                    data = zlib.decompress(data, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
            else:
                return None
    except (OSError, EOFError, zlib.error):
        return None
    return data


def encode_body(data: bytes, content_type: str | None, redactor: Redactor) -> dict[str, Any] | None:
    """How a (decoded) body is stored in a recording, redacted."""
    if not data:
        return None
    if _is_json(content_type):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = _NOT_JSON
        if parsed is not _NOT_JSON:
            redacted = redactor.json(parsed)
            if redacted == parsed:
                return {"text": data.decode("utf-8")}  # byte for byte when nothing was removed
            return {"text": orjson.dumps(redacted).decode("utf-8"), "redacted": True}
    if _base_type(content_type) == "application/x-www-form-urlencoded":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            pairs = parse_qsl(text, keep_blank_values=True)
            redacted_pairs = redactor.fields(pairs)
            if redacted_pairs == pairs:
                return {"text": text}
            return {"text": urlencode(redacted_pairs), "redacted": True}
    if _is_json(content_type) or _is_text(content_type):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            scrubbed = redactor.text(text)
            return {"text": scrubbed, **({"redacted": True} if scrubbed != text else {})}
    scrubbed_data = redactor.data(data)
    return {"base64": base64.b64encode(scrubbed_data).decode("ascii"), **({"redacted": True} if scrubbed_data != data else {})}


_NOT_JSON = object()


def encode_request_body(request: MockRequest, redactor: Redactor) -> dict[str, Any] | None:
    """A request body as stored: multipart requests as their fields (redacted) and files (digests)."""
    if _base_type(request.content_type) == "multipart/form-data" and (request.form is not None or request.files):
        fields = redactor.fields(request.form or [])
        files = [
            {
                "field": name,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "size": len(upload.data),
                "sha256": hashlib.sha256(upload.data).hexdigest(),
            }
            for name, upload in sorted((request.files or {}).items())
        ]
        return {"multipart": {"fields": [list(pair) for pair in fields], "files": files}}
    return encode_body(request.body, request.content_type, redactor)


def body_bytes(body: Mapping[str, Any] | None) -> bytes | None:
    """The bytes of a stored body; None when it was not kept (multipart summaries, omitted bodies)."""
    if body is None:
        return b""
    if "text" in body:
        return str(body["text"]).encode("utf-8")
    if "base64" in body:
        return base64.b64decode(body["base64"])
    return None


def body_key(body: Mapping[str, Any] | None, content_type: str | None) -> str:
    """A canonical form of a stored request body, for replay matching (JSON and forms compare by value)."""
    if body is None:
        return ""
    if "multipart" in body:
        return "multipart:" + orjson.dumps(body["multipart"], option=orjson.OPT_SORT_KEYS).decode()
    if "text" in body:
        text = str(body["text"])
        if _is_json(content_type):
            try:
                return "json:" + orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode()
            except orjson.JSONDecodeError:
                pass
        if _base_type(content_type) == "application/x-www-form-urlencoded":
            return "form:" + urlencode(sorted(parse_qsl(text, keep_blank_values=True)))
        return "text:" + text
    if "base64" in body:
        return "bytes:" + hashlib.sha256(base64.b64decode(body["base64"])).hexdigest()
    return "omitted:" + str(body.get("omitted", ""))


def query_key(redacted_query: str) -> str:
    """A canonical form of a (redacted) query string: the order of the parameters does not matter."""
    return urlencode(sorted(parse_qsl(redacted_query, keep_blank_values=True)))


def timestamp(at: float | None = None) -> str:
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"
