"""Who decides a difference: the vendor document (a cited line) or a medimock convention (the spec's tags).

The spec's ``x-medimock-cite`` / ``x-medimock-convention`` tags (``medimock.checks.SpecTags``) on the
response of the status each side answered: a status the document gives (cited) decides against a
status it does not; a response the document describes decides its body; a response that is a
medimock convention (an error body the document does not show) is a convention; an operation or a
status the spec does not have is ``undocumented``.
"""

from __future__ import annotations

from typing import Any

from medimock.checks import SpecTags
from medimock.verdict import Document, Source

DOCUMENT, CONVENTION, UNDOCUMENTED = "document", "convention", "undocumented"


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
        if found is None:
            return method, path, ""
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
        documents = [s for s in sources if isinstance(s, Document)]
        if documents:
            return DOCUMENT, documents[0].label
        conventions = [s for s in sources if s is not None]
        if conventions:
            return CONVENTION, conventions[0].label
        operation_source = self.tags.operation(operation)
        if isinstance(operation_source, Document) and all(s is None for s in sources):
            return UNDOCUMENTED, f"the document gives neither status ({operation_source.label} describes the operation)"
        return operation_source.tier, operation_source.label
