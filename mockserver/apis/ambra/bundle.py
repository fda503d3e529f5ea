"""``/bundle``: a JSON array of calls, run in order through the whole pipeline (so each is
authenticated, validated and, in strict mode, checked like any other call); the reply is
the array of their replies, each with its ``HTTP_STATUS_CODE``.

``{{TOKEN}}`` in a value is replaced by TOKEN from an earlier reply (the latest that has
it); dot notation recurses into hashes and arrays: ``{{studies.[0].uuid}}``. With
``inherit_sid=1`` every call without a sid runs with the current sid (sent in the
``X-AmbraHealth-SID`` header): the bundle request's own ``sid`` (query string or header),
or the sid an earlier call of the bundle logged in with. A body that is not a JSON array
of hashes each with a ``URL`` (or that holds a lone surrogate, which no form can carry) is an
HTTP 400 (no body).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import orjson

from ...http import MockRequest, MockResponse, json_response
from .auth import SESSION_HEADER
from .call import Call
from .engine import command

MAX_CALLS = 1000
_TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_MISSING = object()


class Headers(dict[str, str]):
    """A case-insensitive header mapping for the calls a bundle makes."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def lookup(results: list[Any], token: str) -> Any:
    """TOKEN from the latest earlier reply that has it; dot notation, ``[n]`` for list items."""
    parts = [p for p in token.split(".") if p != ""]
    for result in reversed(results):
        node: Any = result
        for part in parts:
            index = part[1:-1] if part.startswith("[") and part.endswith("]") else None
            if isinstance(node, list) and index is not None and index.lstrip("-").isdigit() and -len(node) <= int(index) < len(node):
                node = node[int(index)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = _MISSING
                break
        if node is not _MISSING:
            return node
    return _MISSING


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # an integer beyond 64 bits, which JSON allows
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def plain(body: dict[str, Any]) -> dict[str, Any]:
    """A reply as JSON values, for {{TOKEN}} look-ups: handlers may hand over pre-rendered parts
    (``orjson.Fragment``, as /study/list does outside strict mode), which a look-up cannot walk."""
    try:
        parsed = orjson.loads(orjson.dumps(body))
    except (TypeError, orjson.JSONDecodeError):  # an integer beyond 64 bits: nothing pre-rendered in it
        return body
    return parsed if isinstance(parsed, dict) else body


def well_formed(value: Any) -> bool:
    """Every string of the bundle is valid Unicode: JSON can escape a lone surrogate, which no form field can carry."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(well_formed(k) and well_formed(v) for k, v in value.items())
    if isinstance(value, list):
        return all(well_formed(v) for v in value)
    return True


def substitute(value: Any, results: list[Any]) -> str:
    text = form_value(value)
    whole = _TOKEN.fullmatch(text)
    if whole:
        found = lookup(results, whole.group(1))
        return text if found is _MISSING else form_value(found)

    def replace(match: re.Match[str]) -> str:
        found = lookup(results, match.group(1))
        return match.group(0) if found is _MISSING else form_value(found)

    return _TOKEN.sub(replace, text)


@command("/bundle")
def bundle(call: Call) -> MockResponse:
    items = call.ctx.body
    if not isinstance(items, list) or not items or len(items) > MAX_CALLS or not all(isinstance(i, dict) for i in items):
        return MockResponse(400, b"", content_type="", raw=True)
    if not well_formed(items):
        return MockResponse(400, b"", content_type="", raw=True)
    request = call.ctx.request
    inherit = call.values.get("inherit_sid") in (1, "1")
    current = dict(request.query).get("sid") or request.header(SESSION_HEADER) or None
    results: list[Any] = []
    replies: list[dict[str, Any]] = []
    for item in items:
        url = str(item.get("URL") or "")
        fields = [(k, substitute(v, results)) for k, v in item.items() if k != "URL"]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if request.header("Authorization"):
            headers["Authorization"] = request.header("Authorization")
        if inherit and current and not any(k == "sid" for k, _ in fields):
            headers[SESSION_HEADER] = current
        inner = MockRequest(
            method="POST",
            path=call.ctx.api.mount + url,
            query=[],
            headers=Headers(headers),
            body=urlencode(fields).encode(),
            content_type=headers["Content-Type"],
            base_url=request.base_url,
            form=list(fields),
            files=None,
            remote_addr=request.remote_addr,
        )
        response = _reply(call, inner, url)
        body = response.body if isinstance(response.body, dict) and not response.raw else {}
        reply = dict(body)
        if not call.ctx.defect("ambra.bundle_no_status_code"):
            reply["HTTP_STATUS_CODE"] = response.status
        if response.raw and response.headers.get("Location"):
            reply["Location"] = response.headers["Location"]
        replies.append(reply)
        results.append(plain(body))
        if isinstance(body.get("sid"), str) and url == "/session/login":
            current = current or body["sid"]
    return json_response(replies)


def _reply(call: Call, inner: MockRequest, url: str) -> MockResponse:
    if url.rstrip("/") == "/bundle":
        return MockResponse(400, {"status": "ERROR", "error_type": "INVALID_URL", "error_subtype": "A bundle cannot hold a bundle"})
    return call.ctx.app.handle(inner)
