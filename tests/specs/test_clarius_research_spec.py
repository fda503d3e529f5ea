"""The Clarius spec's Research API (the document's 2026 revision): the three operations with every
documented parameter, default and choice, read from the document itself; the tier extensions on
every research operation and response; and every citation anchor found exactly once in its file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "clarius" / "openapi.yaml"
SOURCES = ROOT / "specs" / "sources"
REVISION = "clarius-cloud-api-v0-2026.md"
RESEARCH = {
    ("post", "/api/public/v0/token-auth/"): "obtainResearchToken",
    ("get", "/api/public/v0/exams/rawdata/{id}"): "getExamRawData",
    ("post", "/api/public/v0/exams/dicom/{id}"): "createExamDicom",
}
# the statuses the document lists for each operation
DOCUMENTED = {
    "obtainResearchToken": {"200", "400"},
    "getExamRawData": {"200", "400", "403", "404"},
    "createExamDicom": {"200", "400", "403", "404"},
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with open(SPEC, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def normalise(text: str) -> str:
    return " ".join(text.split())


def citations(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every ``x-medimock-cite`` entry of the spec, with where it sits."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-medimock-cite":
                found += [(where, entry) for entry in (value if isinstance(value, list) else [value])]
            else:
                found += citations(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += citations(value, f"{where}/{index}")
    return found


def test_spec_is_valid_openapi_with_the_research_operations(spec):
    validate(spec)
    for (method, path), operation_id in RESEARCH.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id and operation["tags"] == ["research"]
        assert "x-medimock-cite" in operation, f"{operation_id}: where the document describes it"
        assert DOCUMENTED[operation_id] <= set(operation["responses"]), operation_id
    assert spec["paths"]["/api/public/v0/token-auth/"]["post"]["security"] == []
    for path in ("/api/public/v0/exams/rawdata/{id}", "/api/public/v0/exams/dicom/{id}"):
        assert next(iter(spec["paths"][path].values()))["security"] == [{"ResearchToken": []}]


def test_every_research_response_carries_its_tier(spec):
    for (method, path), operation_id in RESEARCH.items():
        for status, response in spec["paths"][path][method]["responses"].items():
            response = resolve(spec, response)
            cited, convention = "x-medimock-cite" in response, "x-medimock-convention" in response
            assert cited != convention, f"{operation_id} {status}: exactly one of x-medimock-cite / x-medimock-convention"
            assert cited == (status in DOCUMENTED[operation_id]), f"{operation_id} {status}: cited iff the document lists it"
            if "x-medimock-body-convention" in response:
                assert cited, f"{operation_id} {status}: a body convention goes with a cited status"


def test_every_dicom_parameter_default_and_choice_of_the_document(spec):
    """Read the DICOM API's parameter list from the document, and find each in the spec's body schema."""
    text = (SOURCES / REVISION).read_text(encoding="utf-8")
    section = text[text.index("## DICOM API") : text.index("## Token Based Authentication")]
    listed = re.findall(r"^- `(\w+)` \(optional\) - (.*)$", section, re.MULTILINE)
    assert len(listed) == 9
    schema = resolve(spec, spec["paths"]["/api/public/v0/exams/dicom/{id}"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    properties = schema["properties"]
    assert set(properties) == {name for name, _ in listed}
    for name, description in listed:
        prop = properties[name]
        default = re.search(r"default = `([^`]+)`", description)
        if default and default.group(1) != "all demographic options":  # checked below
            assert str(prop["default"]).lower() == default.group(1), name
        choices = re.search(r"choices = \[(.*)\]", description)
        if choices:
            values = re.findall(r"`([^`]+)`", choices.group(1))
            enum = prop["items"]["enum"] if prop["type"] == "array" else prop["enum"]
            assert enum == values, name
        if "boolean flag" in description:
            assert prop["type"] == "boolean", name
    assert properties["demographics"]["default"] == properties["demographics"]["items"]["enum"], "all demographic options"
    assert properties["tz"]["default"] == "UTC" and properties["resolution"]["pattern"] == "^[0-9]+x[0-9]+$"


def test_every_anchor_is_found_exactly_once_in_its_file(spec):
    found = citations(spec)
    assert len(found) >= 15
    default_file = (spec["info"].get("x-medimock-source") or "") if isinstance(spec.get("info"), dict) else ""
    lines_of: dict[str, list[str]] = {}
    for where, cite in found:
        name = cite.get("file") or default_file
        assert name, f"{where}: no file, and info.x-medimock-source names none"
        if name not in lines_of:
            lines_of[name] = [normalise(line) for line in (SOURCES / name).read_text(encoding="utf-8").splitlines()]
        lines = lines_of[name]
        anchor = normalise(cite["anchor"])
        hits = [number for number, line in enumerate(lines) if anchor in line]
        assert len(hits) == 1, f"{where}: anchor {cite['anchor']!r} is on {len(hits)} lines of {name} (must be on one)"
        span = int(cite.get("lines", 1))
        assert span >= 1 and hits[0] + span <= len(lines), f"{where}: {span} lines from line {hits[0] + 1} run past the end of {name}"
