"""Who decides a difference: the vendor document (a cited line) or a medimock convention (the spec's tags).

The spec's ``x-medimock-cite`` / ``x-medimock-convention`` tags (``medimock.checks.SpecTags``) on the
response of the status each side answered: a status the document gives (cited) decides against a
status it does not; a response the document describes decides its body; a response that is a
medimock convention (an error body the document does not show) is a convention; an operation or a
status the spec does not have is ``undocumented``.
"""

from __future__ import annotations

import re
from typing import Any

from medimock.checks import SpecTags
from medimock.verdict import Convention, Document, Source

from .rules import string_kind

DOCUMENT, CONVENTION, UNDOCUMENTED = "document", "convention", "undocumented"


_TOKEN = re.compile(r"^[A-Za-z0-9_=-]{16,}$")


def _an_identity(segment: str) -> bool:
    """A path segment that names one object: a number, a uuid, a long token (a signed or encoded part of a link)."""
    return segment.isdigit() or string_kind(segment) == "uuid" or bool(_TOKEN.match(segment))


class Tiers:
    def __init__(self, api: str) -> None:
        from medimock.conformance.specs import load_index
        from mockserver.spec import available_specs, read_document

        path = available_specs().get(api)
        self.document: dict[str, Any] = read_document(path) if path else {}
        self.tags = SpecTags(self.document)
        self.index = load_index(api) if path else None
        from medimock.target import MOUNTS

        self.mount = MOUNTS.get(api, "")

    def _match(self, method: str, path: str) -> Any:
        if self.index is None:
            return None
        if self.mount and path.startswith(self.mount + "/"):
            path = path[len(self.mount) :]
        return self.index.match(method, path)

    def locate(self, method: str, path: str) -> tuple[str, str, str]:
        """(method, the spec's path template, operationId) of a request path from a target's root."""
        found = self._match(method, path)
        if found is None:  # a link a reply pointed to (media, downloads): its identities as placeholders
            return method, "/".join("{id}" if _an_identity(segment) else segment for segment in path.split("/")), ""
        return method, self.mount + found.path, found.operation_id

    def _operation(self, method: str, path: str) -> dict[str, Any] | None:
        found = self._match(method, path)
        if found is None:
            return None
        operation = ((self.document.get("paths") or {}).get(found.path) or {}).get(method.lower())
        return operation if isinstance(operation, dict) else None

    def _response_source(self, operation: dict[str, Any], status: int) -> Source | None:
        responses = operation.get("responses") or {}
        node = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or None
        if node is None:
            return None
        node = self.tags.resolve(node)
        return self.tags._tagged(node, "convention") or self.tags._tagged(node, "body") or self.tags._tagged(node, "cite")

    def judge(self, method: str, path: str, status_a: int, status_b: int) -> tuple[str, str]:
        """(tier, label) of the differences of one step."""
        operation = self._operation(method, path)
        if operation is None:
            return UNDOCUMENTED, "the spec has no such operation"
        sources = [self._response_source(operation, status) for status in dict.fromkeys((status_a, status_b))]
        operation_source = self.tags.operation(operation)
        if isinstance(operation_source, Document) and all(s is None for s in sources):
            return UNDOCUMENTED, f"the document gives neither status ({operation_source.label} describes the operation)"
        return self._first(sources, operation)

    # -- per difference ---------------------------------------------------------------------
    def _response(self, operation: dict[str, Any], status: int) -> Any:
        responses = operation.get("responses") or {}
        node = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        return self.tags.resolve(node) if node is not None else None

    def _size_limit(self) -> Source:
        for node in ((self.document.get("components") or {}).get("responses") or {}).values():
            if isinstance(node, dict) and node.get("x-medimock-key") == "size-limit":
                found = self.tags._tagged(node, "convention")
                if found is not None:
                    return found
        return Convention("size-limit", "the document names no size limit: each server has its own")

    def judge_difference(
        self, method: str, path: str, status_a: int, status_b: int, kind: str, where: str, detail: str, request_size: int = 0
    ) -> tuple[str, str]:
        """(tier, label) of one difference: who decides it.

        - status: the status each side gave, as the spec tags that response (a response-level convention, else
          its cited lines); a body over 1 MiB refused by one side only is the size-limit convention;
        - body-presence, content-type and the shape of an error body: the response's body convention, else its cite;
        - a field on one side only: the response schema's ``required`` (a required field: the document; a field the
          schema declares optional or a value's type it leaves open: a convention)."""
        operation = self._operation(method, path)
        if operation is None:
            return UNDOCUMENTED, "the spec has no such operation"
        if kind == "status":
            statuses = sorted({status_a, status_b})
            if request_size > 1024 * 1024 and any(200 <= s < 300 for s in statuses) and any(s in (400, 413) for s in statuses):
                source = self._size_limit()
                return source.tier, source.label
            sources = []
            for status in statuses:
                node = self._response(operation, status)
                if node is not None:
                    sources.append(self.tags._tagged(node, "convention") or self.tags._tagged(node, "cite"))
            return self._first(sources, operation)
        node = self._response(operation, status_a)
        if node is None:
            return UNDOCUMENTED, f"the document gives no {status_a} for this operation"
        if kind == "shape" and detail.startswith("field only on"):
            required = self._required(node, where)
            if required is False:
                field = where.rsplit(".", 1)[-1]
                return CONVENTION, f"convention: optional-field: the document's reply does not require {field!r}"
        body = self.tags._tagged(node, "body") if status_a >= 400 else None
        return self._first([body or self.tags._tagged(node, "convention") or self.tags._tagged(node, "cite")], operation)

    def seeded_data(self, method: str, path: str, status: int, kind: str, where: str, detail: str) -> bool:
        """A difference of shape that two sides' own data explain, when the reply is about objects the scenario did
        not create (each side's seeded exams, orders...): a field the schema declares optional present on one side
        only, or a field the schema lets be null null on one side only. Between two data sets that is the data,
        not the behaviour; about objects the scenario created (the same on both sides) it stays a difference."""
        if kind != "shape":
            return False
        operation = self._operation(method, path)
        node = self._response(operation, status) if operation is not None else None
        if node is None:
            return False
        if detail.startswith("field only on"):
            return self._required(node, where, open_optional=True) is False
        kinds = detail.split(" against ")
        if len(kinds) == 2 and "null" in kinds:
            return self._nullable(self._field_schema(node, where))
        return False

    def _field_schema(self, response: Any, where: str) -> Any:
        content = (response or {}).get("content") or {}
        media = next((m for k, m in content.items() if "json" in k), None)
        schema = self.tags.resolve((media or {}).get("schema"))
        for part in [p for p in where.replace("[]", ".[]").split(".") if p and p != "$"]:
            schema = self.tags.resolve(schema)
            if not isinstance(schema, dict):
                return None
            branches = schema.get("allOf") or schema.get("oneOf") or schema.get("anyOf")
            if branches and "properties" not in schema:
                schema = next(
                    (b for b in map(self.tags.resolve, branches) if isinstance(b, dict) and part in (b.get("properties") or {})), None
                )
                if schema is None:
                    return None
            schema = schema.get("items") if part == "[]" else (schema.get("properties") or {}).get(part)
        return self.tags.resolve(schema)

    def _nullable(self, schema: Any) -> bool:
        if not isinstance(schema, dict):
            return False
        kinds = schema.get("type")
        if schema.get("nullable") is True or kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
            return True
        return any(self._nullable(self.tags.resolve(b)) for key in ("oneOf", "anyOf") for b in schema.get(key) or [])

    def _first(self, sources: list[Source | None], operation: dict[str, Any]) -> tuple[str, str]:
        documents = [s for s in sources if isinstance(s, Document)]
        if documents:
            return DOCUMENT, documents[0].label
        conventions = [s for s in sources if s is not None]
        if conventions:
            return CONVENTION, conventions[0].label
        source = self.tags.operation(operation)
        return source.tier, source.label

    def _required(self, response: Any, where: str, *, open_optional: bool = False) -> bool | None:
        """Whether the response schema requires the field at ``where`` ($.a.b, $[].c); None when it does not say.
        ``open_optional``: a field an open object (additional properties allowed) does not declare is optional (a
        bundle's reply holds any command's reply: what the schema leaves open, it does not require)."""
        content = (response or {}).get("content") or {}
        media = next((m for k, m in content.items() if "json" in k), None)
        schema = self.tags.resolve((media or {}).get("schema"))
        parts = [p for p in where.replace("[]", ".[]").split(".") if p and p != "$"]
        return self._walk_required(schema, parts, open_optional)

    def _walk_required(self, schema: Any, parts: list[str], open_optional: bool = False) -> bool | None:
        schema = self.tags.resolve(schema)
        if not isinstance(schema, dict) or not parts:
            return None
        for key in ("oneOf", "anyOf", "allOf"):
            if key in schema:
                answers = [self._walk_required(branch, parts, open_optional) for branch in schema[key]]
                known = [a for a in answers if a is not None]
                return any(known) if known else None
        head, rest = parts[0], parts[1:]
        if head == "[]":
            return self._walk_required(schema.get("items"), rest, open_optional)
        properties = schema.get("properties") or {}
        if head not in properties:
            if open_optional and schema.get("additionalProperties", True) is not False and schema.get("type") in (None, "object"):
                return head in (schema.get("required") or []) and not rest
            return None
        if not rest:
            return head in (schema.get("required") or [])
        return self._walk_required(properties[head], rest, open_optional)
