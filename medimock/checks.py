"""The schemathesis checks of the property runs, each failure classified by the spec's own tags.

A spec says where each of its statements comes from (``x-`` extensions, next to what they tag):

- an operation: ``x-medimock-cite`` — one anchor or a list (``"text"`` or ``{file, anchor, lines,
  occurrence}``; ``file`` defaults to the spec's ``info.x-medimock-source``): where the vendor
  document describes the operation, its statuses and its security;
- a response: ``x-medimock-cite`` (the document gives this status and its body), or
  ``x-medimock-convention: <reason>`` (the status is medimock's choice: 405, 413, 415...), or
  ``x-medimock-body-convention: <reason>`` beside a citation (the status is the document's, the
  body or content type medimock's: a JSON error body where the document shows none);
  or ``x-medimock-status-convention: <reason>`` beside a citation (the body is the document's, the
  status medimock's: DRF's 201 of a create whose document shows the created object but no status;
  another 2xx is then a convention finding, when every 2xx of the operation is tagged so);
- a parameter or schema whose constraint medimock added: ``x-medimock-convention: <reason>``.

``tiered(check)`` wraps a schemathesis check: a failure is looked up in those tags (by the check, the
operation, the status and, where schemathesis says, the schema path or the parameter it mutated). A
document failure fails the case with the cited lines added to its message; a convention failure fails
it only in strict mode, and is otherwise a ``ConventionWarning`` (the case goes on to the next check).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from schemathesis import checks

from .verdict import CONVENTION, Anchor, Convention, Document, Finding, Source, describe, notify, report, strict, violation_text

UNDECLARED_METHOD = Convention(
    "undeclared-method",
    "the documents do not say how a method an endpoint does not have is refused; medimock answers 405 with Allow, "
    "where RFC 9110 also lets a server answer 404, or 501 for a method it does not recognise",
)
INPUT_VALIDATION = Convention(
    "input-validation",
    "the document does not say this operation refuses malformed input, or with which status; medimock answers a 4xx in the API's dialect",
)
UNCITED = Convention("uncited", "the spec cites no document line for this (add x-medimock-cite)")


def _anchors(value: Any, default_file: str | None) -> list[Anchor]:
    items = value if isinstance(value, list) else [value]
    anchors = []
    for item in items:
        if isinstance(item, str) and default_file:
            anchors.append(Anchor(default_file, item))
        elif isinstance(item, Mapping) and item.get("anchor") and (item.get("file") or default_file):
            anchors.append(
                Anchor(
                    str(item.get("file") or default_file),
                    str(item["anchor"]),
                    int(item.get("lines", 1)),
                    item.get("occurrence"),
                    item.get("after"),
                )
            )
    return anchors


class SpecTags:
    """The tier tags of one spec document (a schemathesis schema's ``raw_schema``), cached per node."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.default_file = (document.get("info") or {}).get("x-medimock-source")
        self._cache: dict[int, Source | None] = {}

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 16:
            target: Any = self.document
            for part in node["$ref"][2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
            node, seen = target, seen + 1
        return node

    def _document(self, node: Any) -> Document | None:
        anchors = _anchors(node.get("x-medimock-cite"), self.default_file) if isinstance(node, Mapping) else []
        if not anchors:
            return None
        first, *rest = anchors
        return Document(first.file, first.anchor, first.lines, first.occurrence, after=first.after, also=rest)

    def _tagged(self, node: Any, key: str) -> Source | None:
        """The source a node's tags name (memoised: a Source is made once per spec node)."""
        marker = id(node) * 4 + ("cite", "convention", "body", "status").index(key)
        if marker not in self._cache:
            source: Source | None = None
            if isinstance(node, Mapping):
                if key == "cite":
                    source = self._document(node)
                elif key == "convention" and node.get("x-medimock-convention"):
                    source = Convention(str(node.get("x-medimock-key") or "spec"), str(node["x-medimock-convention"]))
                elif key == "body" and node.get("x-medimock-body-convention"):
                    source = Convention(str(node.get("x-medimock-key") or "error-body"), str(node["x-medimock-body-convention"]))
                elif key == "status" and node.get("x-medimock-status-convention"):
                    source = Convention(str(node.get("x-medimock-key") or "status"), str(node["x-medimock-status-convention"]))
            self._cache[marker] = source
        return self._cache[marker]

    def operation(self, operation: Mapping[str, Any]) -> Source:
        return self._tagged(operation, "convention") or self._tagged(operation, "cite") or UNCITED

    def _beyond(self, operation: Mapping[str, Any]) -> Source | None:
        """The convention of an operation the document does not have at all (every answer of it is medimock's)."""
        return self._tagged(operation, "convention")

    def security_source(self, operation: Mapping[str, Any]) -> Source:
        """Who decided that this operation needs credentials: its security scheme's tags, else the operation's."""
        beyond = self._beyond(operation)
        if beyond is not None:
            return beyond
        requirements = operation.get("security", self.document.get("security")) or []
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}
        for requirement in requirements:
            for name in requirement or {}:
                scheme = self.resolve(schemes.get(name))
                found = self._tagged(scheme, "convention") or self._tagged(scheme, "cite")
                if found is not None:
                    return found
        return self.operation(operation)

    def response(self, operation: Mapping[str, Any], status: int) -> Mapping[str, Any] | None:
        responses = operation.get("responses") or {}
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                node = self.resolve(responses[key])
                return node if isinstance(node, Mapping) else None
        return None

    def status_source(self, operation: Mapping[str, Any], status: int) -> Source:
        """Who decided that this operation answers ``status``."""
        beyond = self._beyond(operation)
        if beyond is not None:
            return beyond
        node = self.response(operation, status)
        if node is None:
            return self.operation(operation)
        return self._tagged(node, "convention") or self._tagged(node, "cite") or self.operation(operation)

    def success_source(self, operation: Mapping[str, Any], status: int) -> Source | None:
        """The convention that chose an operation's success status, when the document gives none.

        A reply with another 2xx than the one documented breaks only that convention when every 2xx
        response of the operation is tagged ``x-medimock-status-convention`` (the document shows the
        body, not the status: DRF's 201 of a create) or ``x-medimock-convention`` (it shows neither).
        """
        if not 200 <= status < 300:
            return None
        found: list[Source] = []
        for key, node in (operation.get("responses") or {}).items():
            if str(key).startswith("2"):
                node = self.resolve(node)
                source = self._tagged(node, "status") or self._tagged(node, "convention")
                if source is None:
                    return None
                found.append(source)
        return found[0] if found else None

    def body_source(self, operation: Mapping[str, Any], status: int, schema_path: Iterable[Any] = ()) -> Source:
        """Who decided the content type, headers and body of this operation's ``status`` answer."""
        beyond = self._beyond(operation)
        if beyond is not None:
            return beyond
        node = self.response(operation, status)
        if node is None:
            return self.operation(operation)
        decided = self._tagged(node, "convention") or self._tagged(node, "body")
        if decided is not None:
            return decided
        convention = self._schema_convention(node, schema_path)
        return convention or self._tagged(node, "cite") or self.operation(operation)

    def _schema_convention(self, response: Mapping[str, Any], schema_path: Iterable[Any]) -> Source | None:
        """A convention tag on any schema node along a failing keyword's path."""
        path = list(schema_path)
        if not path:
            return None
        for media in (response.get("content") or {}).values():
            node = self.resolve((media or {}).get("schema"))
            for part in path:
                found = self._tagged(node, "convention")
                if found is not None:
                    return found
                if isinstance(node, Mapping):
                    node = self.resolve(node.get(str(part)) if str(part) in node else None)
                elif isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
                    node = self.resolve(node[int(part)])
                else:
                    break
            found = self._tagged(node, "convention")
            if found is not None:
                return found
        return None

    def validation_source(self, operation: Mapping[str, Any], parameter: str | None = None, location: str | None = None) -> Source:
        """Who decided that malformed input to this operation is refused."""
        beyond = self._beyond(operation)
        if beyond is not None:
            return beyond
        if parameter:
            for param in operation.get("parameters") or []:
                param = self.resolve(param)
                if isinstance(param, Mapping) and param.get("name") == parameter and (location is None or param.get("in") == location):
                    found = self._tagged(param, "convention") or self._tagged(self.resolve(param.get("schema")), "convention")
                    if found is not None:
                        return found
            body = self.resolve(operation.get("requestBody") or {})
            for media in ((body or {}).get("content") or {}).values():
                schema = self.resolve((media or {}).get("schema"))
                prop = self.resolve(((schema or {}).get("properties") or {}).get(parameter)) if isinstance(schema, Mapping) else None
                found = self._tagged(prop, "convention") if prop is not None else None
                if found is not None:
                    return found
        refusals = []
        for key, node in (operation.get("responses") or {}).items():
            if str(key).startswith("4") and str(key) not in ("401", "403", "404", "405", "413", "415"):
                node = self.resolve(node)
                if isinstance(node, Mapping) and not node.get("x-medimock-convention"):
                    cited = self._tagged(node, "cite")
                    if cited is not None:
                        refusals.append(cited)
        if refusals:
            return refusals[0] if len(refusals) == 1 else Document.of(*[r for r in refusals if isinstance(r, Document)])
        return INPUT_VALIDATION


_TAGS: dict[int, SpecTags] = {}


def tags_of(case: Any) -> SpecTags:
    document = case.operation.schema.raw_schema
    key = id(document)
    if key not in _TAGS:
        _TAGS[key] = SpecTags(document)
    return _TAGS[key]


def _is_negative(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    try:
        return bool(meta is not None and any(info.mode.is_negative for info in meta.components.values()))
    except AttributeError:
        return False


def _mutated_parameter(case: Any) -> tuple[str | None, str | None]:
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    location = getattr(getattr(data, "parameter_location", None), "value", None)
    return getattr(data, "parameter", None), str(location) if location else None


def classify(name: str, case: Any, response: Any, failure: BaseException | None = None) -> Source:
    """The source of a failed check ``name`` on ``case`` answered by ``response``."""
    own = _CUSTOM_SOURCES.get(name)
    if own is not None:
        return own(case, response)
    tags = tags_of(case)
    operation = case.operation.definition.raw
    status = int(getattr(response, "status_code", 0) or 0)
    if name == "unsupported_method" or str(getattr(case, "method", "")).upper() != str(case.operation.method).upper():
        return UNDECLARED_METHOD  # any check on a request with a method the operation does not have
    if name == "ignored_auth":
        return tags.security_source(operation)
    if name == "not_a_server_error":  # malformed input deserved the documented refusal; anything else, the documented answer
        return tags.validation_source(operation, *_mutated_parameter(case)) if _is_negative(case) else tags.operation(operation)
    if name == "status_code_conformance":
        if _is_negative(case):
            return tags.validation_source(operation, *_mutated_parameter(case))
        return tags.success_source(operation, status) or tags.operation(operation)
    if name in ("negative_data_rejection", "positive_data_acceptance"):
        return tags.validation_source(operation, *_mutated_parameter(case))
    if name in ("content_type_conformance", "response_schema_conformance", "response_headers_conformance"):
        return tags.body_source(operation, status, getattr(failure, "schema_path", None) or ())
    return tags.operation(operation)


_CUSTOM_SOURCES: dict[str, Callable[[Any, Any], Source]] = {}


def with_source(source: Source | Callable[[Any, Any], Source]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the source of a suite's own check (a Source, or ``f(case, response) -> Source``)."""

    def decorate(check: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(source, Source):
            fixed = source
            _CUSTOM_SOURCES[check.__name__] = lambda case, response: fixed
        else:
            _CUSTOM_SOURCES[check.__name__] = source
        return check

    return decorate


def tiered(check: Callable[..., Any]) -> Callable[..., Any]:
    """``check`` with its failures classified: document (or strict) failures raise, annotated; conventions warn."""
    name = check.__name__

    @functools.wraps(check)
    def run(ctx: Any, response: Any, case: Any) -> Any:
        try:
            return check(ctx, response, case)
        except AssertionError as exc:  # schemathesis's Failure is an AssertionError
            source = classify(name, case, response, exc)
            title = str(getattr(exc, "title", "") or "")
            message = str(getattr(exc, "message", "") or (exc if not title else ""))
            finding = Finding(source, (title + (": " if title and message else "") + message).strip() or name, strict(), check=name)
            sent = getattr(response, "request", None)
            if sent is not None:
                finding.api, _, _, finding.curl = describe(response)
            finding.operation = str(case.operation.label)
            finding.status = int(getattr(response, "status_code", 0) or 0) or None
            if finding.fails:
                tier = source.tier + (" (strict mode)" if source.tier == CONVENTION else "")
                explanation = f"[{tier}] {source.label}\n{source.explain()}"
                if finding.curl:
                    explanation += "\n  reproduce (credentials as shell variables):\n" + "\n".join(
                        f"    {line}" for line in finding.curl.splitlines()
                    )
                finding.text = violation_text(finding)
                if hasattr(exc, "message"):
                    exc.message = f"{exc.message}\n\n{explanation}" if exc.message else explanation
                    notify(finding)
                    raise
                notify(finding)
                raise AssertionError(f"{exc}\n\n{explanation}") from None
            report(finding)
            return None

    return run


# The schemathesis checks of every property run (each suite adds checks of its own), tiered.
SCHEMA_CHECKS: tuple[Any, ...] = tuple(
    tiered(check)
    for check in (
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.response_headers_conformance,
        checks.negative_data_rejection,
        checks.ignored_auth,
        checks.unsupported_method,
    )
)
