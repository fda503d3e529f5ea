"""What the tools of issue 16 found in the specs, each kept fixed.

- ``pattern`` is ECMA-262, as JSON Schema says and as schemathesis generates: the mock matches
  with an ECMA-262 engine, so Python's ``re`` dialect (``\\s`` matching U+001C-U+001F and U+0085,
  missing U+FEFF; Unicode ``\\d``; ``$`` before a final newline) never decides what is valid.
- Rules the mock enforces are stated where tools read them: the empty report file (``minLength``),
  radiology's one-of rule (``x-medimock-convention`` on both parameters).
- YAML flow mappings whose descriptions hold a comma parse as one description, not a stray key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver.spec import ApiSpec, ecma_regex, ecma_search
from mockserver.validation import validate_request

SPECS = Path(__file__).resolve().parents[2] / "specs"

# ECMA-262 (WhiteSpace and LineTerminator): what \s matches, by the standard, not by an engine.
ECMA_SPACE = ["\t", "\n", "\x0b", "\x0c", "\r", " ", "\xa0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u3000", "\ufeff"]
NOT_ECMA_SPACE = ["\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u200b", "a"]  # Python's \s matches the first five


def validator(schema: dict[str, Any]) -> Any:
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}, "components": {"schemas": {"S": schema}}}
    return ApiSpec("dialect", SPECS / "none.yaml", document).compile("/components/schemas/S")


@pytest.mark.parametrize("char", ECMA_SPACE)
def test_backslash_s_is_ecma_white_space(char):
    assert validator({"type": "string", "pattern": r"^\s$"}).errors(char) == [], repr(char)
    assert validator({"type": "string", "pattern": r"^[^\s]$"}).errors(char), repr(char)


@pytest.mark.parametrize("char", NOT_ECMA_SPACE)
def test_what_python_calls_space_and_ecma_does_not(char):
    assert validator({"type": "string", "pattern": r"^\s$"}).errors(char), repr(char)
    assert validator({"type": "string", "pattern": r"^[^\s]$"}).errors(char) == [], repr(char)


def test_digits_words_and_the_end_are_ecma():
    assert validator({"type": "string", "pattern": r"^\d+$"}).errors("\u0663"), "ECMA's \\d is [0-9] only"
    assert validator({"type": "string", "pattern": r"^\w+$"}).errors("\xe9"), "ECMA's \\w is [A-Za-z0-9_] only"
    assert validator({"type": "string", "pattern": r"^abc$"}).errors("abc\n"), "ECMA's $ is the end of the input"
    keys = validator({"type": "object", "patternProperties": {r"^x\d$": {"type": "integer"}}, "additionalProperties": False})
    assert keys.errors({"x1": 1}) == []
    assert keys.errors({"x\u0663": 1}), "patternProperties (and the additionalProperties they exempt) match by ECMA-262 too"


def test_every_pattern_of_the_specs_is_ecma_262():
    found = 0
    for path in sorted(SPECS.glob("*/openapi.yaml")):
        for pattern in _patterns(yaml.load(path.read_text(), Loader=yaml.CSafeLoader)):
            ecma_regex(pattern)  # raises on what ECMA-262 does not accept (Python-only syntax)
            found += 1
    assert found > 10


def test_clarius_urls_by_ecma_262(clarius_spec):
    """The document: "a valid URL containing the string {token} anywhere". No white space (ECMA's),
    no control character: U+0085 and U+FEFF are refused, whichever regex dialect one has in mind."""
    operation = clarius_spec.by_id["updateSettings"]
    for url, valid in (
        ("https://example.com/a/{token}", True),
        ("https://example.com/\xe9t\xe9/{token}", True),
        ("https://example.com/\x85/{token}", False),
        ("https://example.com/\x1c/{token}", False),
        ("https://example.com/\ufeff/{token}", False),
        ("https://example.com/a /{token}", False),
    ):
        errors = _settings_errors(operation, url)
        assert (not errors) == valid, f"{url!r}: {errors}"


def test_the_empty_file_rule_is_stated(clarius_document):
    file = clarius_document["components"]["schemas"]["ReportUploadForm"]["properties"]["file"]
    assert file["minLength"] == 1 and "x-medimock-convention" in file


def test_the_one_of_rule_is_a_stated_convention(radiology_document):
    parameters = radiology_document["components"]["parameters"]
    for name in ("OrderIdQuery", "StudyUidQuery"):
        assert "document shows the two forms" in parameters[name]["x-medimock-convention"], name
    for path in ("/status", "/results"):
        assert radiology_document["paths"][path]["get"]["x-medimock-one-of-params"] == [["order_id"], ["study_uid"]]


def test_page_descriptions_hold_their_comma(clarius_document):
    page = clarius_document["components"]["schemas"]["Page"]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["next"]["description"] == "URL of the next page, null on the last."
    assert page["properties"]["results"]["items"] == {}
    stray = [key for key in _keys(clarius_document) if isinstance(key, str) and key.endswith(".") and " " in key]
    assert not stray, f"keys that are the tail of a description split by a comma: {stray}"


# -- helpers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clarius_document() -> dict[str, Any]:
    return dict(yaml.load((SPECS / "clarius" / "openapi.yaml").read_text(), Loader=yaml.CSafeLoader))


@pytest.fixture(scope="module")
def radiology_document() -> dict[str, Any]:
    return dict(yaml.load((SPECS / "radiology" / "openapi.yaml").read_text(), Loader=yaml.CSafeLoader))


@pytest.fixture(scope="module")
def clarius_spec() -> ApiSpec:
    return ApiSpec("clarius", SPECS / "clarius" / "openapi.yaml")


def _settings_errors(operation: Any, url: str) -> dict[str, list[str]]:
    import json

    from mockserver.http import MockRequest, Problem

    body = json.dumps({"token_transfer_url": url}).encode()
    request = MockRequest("PATCH", "/api/public/v0/services/settings/", [], {}, body, "application/json", "http://x")
    try:
        validate_request(operation, request, {})
    except Problem as problem:
        return problem.fields
    return {}


def _patterns(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append(value)
            elif key == "patternProperties" and isinstance(value, dict):
                found += list(value)
            found += _patterns(value)
    elif isinstance(node, list):
        for item in node:
            found += _patterns(item)
    return found


def _keys(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [*node, *(k for v in node.values() for k in _keys(v))]
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    return []


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("^.$", "\ud800", True),
        ("^/", "\ud800", False),
        ("^a.$", "a\udfff", True),
        ("^.$", "\ud83d\ude00", True),
        (r"^\w$", "\ud800", False),
    ],
)
def test_a_lone_surrogate_is_one_code_point_as_in_ecma_unicode_mode(pattern: str, text: str, found: bool) -> None:
    # JSON can spell a lone surrogate ("\ud800"); regress reads UTF-8 only, and used to raise (a 500)
    assert ecma_search(pattern, text) is found
    assert (validator({"type": "string", "pattern": pattern}).errors(text) == []) is found
    assert (validator({"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}}).errors({"v": text}) == []) is found
