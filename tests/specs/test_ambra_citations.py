"""The tier annotations of the Ambra spec (x-medimock-cite / x-medimock-convention, see
ARCHITECTURE.md): every citation's anchor is found exactly once in its file under
specs/sources/ (whitespace-normalised; the one cited by ``occurrence`` is found at least that
often), every operation says where the document describes it, and every response of every
operation is either cited or marked as medimock's convention."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mockserver.api import SPECS_DIR
from mockserver.spec import read_document

SOURCES = Path(SPECS_DIR) / "sources"
SPEC = read_document(Path(SPECS_DIR) / "ambra" / "openapi.yaml")
DEFAULT = SPEC["info"]["x-medimock-source"]


@cache
def lines(name: str) -> tuple[str, ...]:
    return tuple(" ".join(raw.split()) for raw in (SOURCES / name).read_text(encoding="utf-8").split("\n"))


def citations(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(where, citation) of every x-medimock-cite in the document."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-medimock-cite":
                found += [(where, cite) for cite in (value if isinstance(value, list) else [value])]
            else:
                found += citations(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += citations(item, f"{where}/{index}")
    return found


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


CITATIONS = citations(SPEC)


def test_the_spec_names_its_source_and_cites_widely() -> None:
    assert DEFAULT == "ambra-v3-services-api.txt"
    files = {cite.get("file", DEFAULT) for _, cite in CITATIONS}
    assert files == {"ambra-v3-services-api.txt", "ambra-v3-services-api-preamble.txt"}
    assert len(CITATIONS) > 2000


def test_every_citation_anchor_is_found_exactly_once_in_its_file() -> None:
    problems = []
    for where, cite in CITATIONS:
        text = lines(cite.get("file", DEFAULT))
        anchor = " ".join(str(cite["anchor"]).split())
        hits = [number for number, line in enumerate(text) if anchor in line]
        occurrence = cite.get("occurrence")
        if occurrence is None and len(hits) != 1:
            problems.append(f"{where}: {anchor!r} is found {len(hits)} times")
        elif occurrence is not None and len(hits) < occurrence:
            problems.append(f"{where}: {anchor!r} occurrence {occurrence} of {len(hits)}")
        elif not 1 <= int(cite["lines"]) <= 40:
            problems.append(f"{where}: lines {cite['lines']}")
    assert not problems, "\n".join(problems[:20])
    by_occurrence = {(cite["anchor"], cite["occurrence"]) for _, cite in CITATIONS if "occurrence" in cite}
    assert by_occurrence <= {("Description Get a radreport template", 1)}  # the one block without a unique line


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_every_operation_and_response_carries_its_tier(path: str) -> None:
    for method, operation in SPEC["paths"][path].items():
        label = f"{method.upper()} {path}"
        assert "x-medimock-cite" in operation or "x-medimock-convention" in operation, label
        for status, response in operation["responses"].items():
            found = resolve(response)
            cited, convention = "x-medimock-cite" in found, "x-medimock-convention" in found
            assert cited != convention, f"{label} {status}: exactly one of x-medimock-cite and x-medimock-convention"
            if "x-medimock-body-convention" in found:
                assert cited, f"{label} {status}: a body convention goes with the cited status"


def test_the_general_sections_are_cited_where_they_apply() -> None:
    schemas = SPEC["components"]["schemas"]
    cited = {
        cite["anchor"] for name in ("FilterValue", "FilterTimeZone", "PageRows", "SortBy") for cite in schemas[name]["x-medimock-cite"]
    }
    assert "Supported date and datetime formats are" in cited and "Timezones apply in this order" in cited
    study_list = SPEC["paths"]["/study/list"]["post"]
    body = study_list["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert body["fields.study"]["x-medimock-cite"]["anchor"] == "The returned fields for an object can be limited"
    assert body["filter_id"]["x-medimock-cite"][0]["anchor"].startswith("A saved filter can be applied")
    error = resolve(study_list["responses"]["412"])["x-medimock-cite"]
    assert error[0] == {"file": "ambra-v3-services-api-preamble.txt", "anchor": "412 Precondition failed", "lines": 3}
