"""Every check of the contract suites knows its source, and every citation still points at its document.

A citation is an anchor (a fragment of one line of ``specs/sources/<file>``): when a document is
replaced or edited, a citation that no longer finds its line, or finds several, fails here, not in a
user's run. The specs tag every operation and every response; the suites check only through
``medimock.verdict.expect`` (no bare ``assert``, no ``response.json()`` that could crash on an empty body).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from medimock.checks import SpecTags, _anchors
from medimock.suite import SPECS
from medimock.verdict import CitationError, Document, Source

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
# the suites converted to verdict tiers (every API once its suite is)
TIERED = ["ambra", "clarius", "radiology", "tscharts"]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def spec(api: str) -> dict[str, Any]:
    with open(SPECS / api / "openapi.yaml", encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def cites(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-medimock-cite":
                yield where, value
            else:
                yield from cites(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from cites(value, f"{where}/{index}")


@pytest.mark.parametrize("api", sorted(p.parent.name for p in SPECS.glob("*/openapi.yaml")))
def test_every_spec_citation_resolves(api):
    document = spec(api)
    default = (document.get("info") or {}).get("x-medimock-source")
    broken = []
    for where, value in cites(document):
        anchors = _anchors(value, default)
        if not anchors:
            broken.append(f"{where}: {value!r} names no anchor (and info.x-medimock-source is {default!r})")
        for anchor in anchors:
            try:
                anchor.resolve()
            except CitationError as exc:
                broken.append(f"{where}: {exc}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("api", TIERED)
def test_every_operation_and_response_is_tagged(api):
    document = spec(api)
    tags = SpecTags(document)
    untagged = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if not (operation.get("x-medimock-cite") or operation.get("x-medimock-convention")):
                untagged.append(f"{method.upper()} {path}: no x-medimock-cite or x-medimock-convention")
            if operation.get("x-medimock-convention"):
                continue  # beyond the document: every answer of it is the convention
            for status, response in (operation.get("responses") or {}).items():
                node = tags.resolve(response)
                if not (node.get("x-medimock-cite") or node.get("x-medimock-convention")):
                    untagged.append(f"{method.upper()} {path} {status}: neither cited nor a convention")
    assert not untagged, "\n".join(untagged)


def _import_contract_modules() -> None:
    for index, path in enumerate(sorted(CONTRACTS.rglob("*.py"))):
        name = f"_medimock_citation_check_{index}_{path.stem}"
        if name in sys.modules:
            continue
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)


def test_every_suite_citation_resolves():
    _import_contract_modules()
    documents = [source for source in Source.every() if isinstance(source, Document)]
    assert len(documents) > 10, "the suites cite the documents"
    broken = []
    for document in documents:
        try:
            document.citations
        except CitationError as exc:
            broken.append(f"{document!r}: {exc}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("api", TIERED)
def test_suites_check_only_through_expect(api):
    """No bare ``assert`` (it has no source and no exchange), no ``.json()`` (it crashes on an empty body)."""
    found = []
    for path in sorted((CONTRACTS / api).glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a bare assert")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "json" and not node.args:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .json() on a reply (use medimock.verdict.json_body)")
    assert not found, "\n".join(found)


def test_a_success_status_the_document_does_not_give_is_a_convention():
    """``x-medimock-status-convention``: another 2xx than DRF's 201 of a created key breaks medimock's choice, not the
    document (which shows the key, not the status); an undocumented 2xx of an operation whose 200 the document gives
    stays the document's, and so does the created key's body."""
    from medimock.verdict import Convention

    document = spec("clarius")
    tags = SpecTags(document)
    paths = document["paths"]
    create = paths["/api/public/v0/services/api-keys/"]["post"]
    revoke = paths["/api/public/v0/services/api-keys/{prefix}/"]["delete"]
    settings = paths["/api/public/v0/services/settings/"]["get"]
    created = tags.success_source(create, 200)
    assert isinstance(created, Convention) and created.key == "created-status"
    revoked = tags.success_source(revoke, 200)
    assert isinstance(revoked, Convention) and revoked.key == "deleted-status"
    assert tags.success_source(settings, 202) is None  # the document gives the settings' 200
    assert tags.success_source(create, 400) is None  # only a success status
    assert isinstance(tags.body_source(create, 201), Document), "the created key's body is the document's"
