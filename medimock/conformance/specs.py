"""What each spec documents, and which documented operation an HTTP request was for.

``SpecIndex`` lists an API's operations with their documented status codes and
parameters (the denominators of the coverage figures), and maps a request's method
and path to an operation through the mock's own router (``mockserver.router``), so a
URL is matched exactly as the mock would match it. ``mockserver`` is imported lazily:
only when a report is actually being recorded.

"Parameters" are the spec's ``parameters`` (path, query, header, cookie) plus the
top-level properties of every request body (``body.<name>``; ``patternProperties``
count as one parameter each, covered by any field name that matches). For an
operation marked ``x-medimock-form-from-query`` (an Ambra POST reads its form fields
from the query string too), a query field covers the body field of the same name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from mockserver.router import Router

_MULTIPART_NAME = re.compile(rb'content-disposition:[^\r\n]*?\bname="([^"]*)"', re.IGNORECASE)
_BODY_PARSE_LIMIT = 16 * 1024 * 1024  # larger bodies are not parsed for field names


@dataclass(frozen=True)
class Param:
    """One documented parameter: ``location`` is path, query, header, cookie or body."""

    location: str
    name: str
    pattern: bool = False  # a patternProperties key: ``name`` is a regex

    @property
    def label(self) -> str:
        shown = f"/{self.name}/" if self.pattern else self.name
        return f"{self.location}.{shown}"

    def key(self) -> tuple[str, str]:
        return (self.location, self.name.lower() if self.location == "header" else self.name)


@dataclass(frozen=True)
class OperationInfo:
    """One documented operation of one API, as the report needs it."""

    api: str
    method: str  # upper case
    path: str  # the template as written in the spec
    operation_id: str
    statuses: tuple[str, ...]  # documented response keys: "200", "4XX", "default"
    params: tuple[Param, ...]
    deprecated: bool = False
    form_from_query: bool = False
    summary: str = ""
    _patterns: tuple[tuple[Param, re.Pattern[str]], ...] = field(default=(), compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def status_key(self, status: int) -> str | None:
        """The documented response key that covers ``status`` (exact, then ``NXX``, then ``default``), or None."""
        exact = str(status)
        if exact in self.statuses:
            return exact
        wildcard = f"{exact[0]}XX"
        for key in self.statuses:
            if key.upper() == wildcard:
                return key
        return "default" if "default" in self.statuses else None

    def covered_params(self, sent: Iterable[tuple[str, str]]) -> set[Param]:
        """The documented parameters among the ``(location, name)`` pairs a request sent."""
        by_key = {param.key(): param for param in self.params if not param.pattern}
        covered = {param for param in self.params if param.location == "path"}
        for location, name in sent:
            locations = ("query", "body") if self.form_from_query and location == "query" else (location,)
            for where in locations:
                param = by_key.get((where, name.lower() if where == "header" else name))
                if param is not None:
                    covered.add(param)
                for candidate, regex in self._patterns:
                    if candidate.location == where and regex.search(name):
                        covered.add(candidate)
        return covered


class SpecIndex:
    """The documented operations of one API and a router from request paths to them."""

    def __init__(self, api: str, spec_path: Path | None, operations: list[OperationInfo], router: Router) -> None:
        self.api = api
        self.spec_path = spec_path
        self.operations = operations
        self.by_key = {operation.key: operation for operation in operations}
        self._router = router

    @classmethod
    def from_document(cls, api: str, document: dict[str, Any], spec_path: Path | None = None) -> SpecIndex:
        from mockserver.router import Router
        from mockserver.spec import ApiSpec

        spec = ApiSpec(api, spec_path or Path(f"{api}.yaml"), document=document)
        operations = []
        for operation in spec.operations:
            params = [Param(p.location, p.name) for p in operation.parameters]
            if operation.body is not None:
                seen: set[tuple[str, bool]] = set()
                for media in operation.body.content.values():
                    for name, pattern in _body_fields(media.schema, spec):
                        if (name, pattern) not in seen:
                            seen.add((name, pattern))
                            params.append(Param("body", name, pattern))
            patterns = []
            for param in params:
                if param.pattern:
                    try:
                        patterns.append((param, re.compile(param.name)))
                    except re.error:
                        continue
            operations.append(
                OperationInfo(
                    api=api,
                    method=operation.method,
                    path=operation.path,
                    operation_id=operation.operation_id,
                    statuses=tuple(operation.responses),
                    params=tuple(params),
                    deprecated=operation.deprecated,
                    form_from_query=bool(operation.extensions.get("x-medimock-form-from-query")),
                    summary=operation.summary or "",
                    _patterns=tuple(patterns),
                )
            )
        return cls(api, spec_path, operations, Router(spec.operations))

    def match(self, method: str, path: str) -> OperationInfo | None:
        """The operation a request path (relative to the API's base URL) is for; None for an unknown path or method."""
        from mockserver.router import Match

        method = method.upper()
        result = self._router.match(method, path)
        if result.match is not Match.FULL or result.operation is None:
            return None
        return self.by_key.get((result.operation.method, result.operation.path))


def _body_fields(schema: Mapping[str, Any], spec: Any, depth: int = 0) -> list[tuple[str, bool]]:
    """Top-level field names of a body schema (through allOf/anyOf/oneOf), with patternProperties as patterns."""
    if not isinstance(schema, Mapping) or depth > 5:
        return []
    schema = spec.resolve_schema(schema) if "$ref" in schema else schema
    fields = [(str(name), False) for name in (schema.get("properties") or {})]
    fields += [(str(pattern), True) for pattern in (schema.get("patternProperties") or {})]
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or ():
            fields += _body_fields(sub, spec, depth + 1)
    return fields


@cache
def load_index(api: str) -> SpecIndex | None:
    """The index of ``specs/<api>/openapi.yaml`` (None when the repository has no such spec)."""
    from mockserver.spec import available_specs, read_document

    path = available_specs().get(api)
    if path is None:
        return None
    return SpecIndex.from_document(api, read_document(path), path)


def known_apis() -> list[str]:
    from mockserver.spec import available_specs

    return list(available_specs())


def api_of_spec_location(location: str | None) -> str | None:
    """``file:///.../specs/<api>/openapi.yaml`` (a schemathesis schema's location) -> ``<api>``."""
    if not location:
        return None
    path = Path(unquote(urlsplit(location).path) if location.startswith("file:") else location)
    if path.name in ("openapi.yaml", "openapi.yml", "openapi.json") and path.parent.name in known_apis():
        return path.parent.name
    return None


# -- what a request sent -----------------------------------------------------------------------


def sent_parameters(url: str, headers: Mapping[str, str], body: bytes | str | None) -> set[tuple[str, str]]:
    """The ``(location, name)`` of every parameter a request carried: query, header, cookie and body fields."""
    sent: set[tuple[str, str]] = set()
    query = urlsplit(url).query
    if query:
        sent.update(("query", name) for name, _ in parse_qsl(query, keep_blank_values=True))
    content_type = ""
    for name, value in headers.items():
        lowered = name.lower()
        sent.add(("header", lowered))
        if lowered == "cookie":
            for part in str(value).split(";"):
                if "=" in part:
                    sent.add(("cookie", part.split("=", 1)[0].strip()))
        elif lowered == "content-type":
            content_type = str(value).split(";", 1)[0].strip().lower()
    if body:
        sent.update(("body", name) for name in _body_names(content_type, body))
    return sent


def _body_names(content_type: str, body: bytes | str) -> list[str]:
    if len(body) > _BODY_PARSE_LIMIT:
        return []
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return []
        return [str(name) for name in decoded] if isinstance(decoded, dict) else []
    if content_type == "application/x-www-form-urlencoded":
        return [name for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)]
    if content_type.startswith("multipart/"):
        return [match.decode("utf-8", "replace") for match in _MULTIPART_NAME.findall(raw)]
    return []


# -- from a URL to an operation ---------------------------------------------------------------


@dataclass(frozen=True)
class _Base:
    api: str
    origin: str  # scheme://host[:port], lower case, default port dropped
    prefix: str  # the base URL's path, without a trailing slash


def _origin_and_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}", parts.path


class Locator:
    """Maps a request URL to (API, operation), given each API's base URL on the target."""

    def __init__(self, bases: Mapping[str, str], index_of: Any = load_index) -> None:
        self._index_of = index_of
        self._bases: list[_Base] = []
        for api, base_url in bases.items():
            origin, prefix = _origin_and_path(base_url)
            self._bases.append(_Base(api, origin, prefix.rstrip("/")))
        # The longest mount first, as the mock routes: /api/v3 before /.
        self._bases.sort(key=lambda base: -len(base.prefix))

    @property
    def apis(self) -> list[str]:
        return [base.api for base in self._bases]

    def locate(self, method: str, url: str) -> OperationInfo | None:
        origin, path = _origin_and_path(url)
        for base in self._bases:
            if base.origin != origin:
                continue
            if base.prefix and not (path == base.prefix or path.startswith(base.prefix + "/")):
                continue
            index = self._index_of(base.api)
            if index is None:
                continue
            found = index.match(method, path[len(base.prefix) :] or "/")
            if found is not None:
                return found
        return None
