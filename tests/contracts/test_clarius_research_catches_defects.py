"""The Clarius research suite can fail: run it against deliberately broken mocks (strict mode off,
so the failure comes from the suite's own checks), each run selecting only the test that must
catch the defect. ``make mutation`` runs the whole Clarius suite against every defect."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from medimock.mutation import run_contract_suite

ROOT = Path(__file__).resolve().parents[2]
ADDOPTS = "addopts=--import-mode=importlib -p no:cacheprovider"  # pytest.ini's, less --strict-markers and -ra

# defect -> the test of contracts/clarius/test_research.py that must fail because of it
CASES = {
    "clarius.research_bundle_not_checked": "test_without_the_bundle_both_apis_refuse",
    "clarius.research_processing_served": "test_raw_data_while_processing_is_400",
    "clarius.dicom_wrong_transfer_syntax": "test_dicom_per_syntax",
}


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(CASES))
def test_research_suite_catches(defect):
    expected = CASES[defect]
    result = run_contract_suite("clarius", defect, "-k", expected, "-o", ADDOPTS, timeout=600)
    assert result.returncode == 1, f"the suite passed against {defect}:\n{result.stdout[-3000:]}"
    assert f"FAILED contracts/clarius/test_research.py::{expected}" in result.stdout, result.stdout[-3000:]
    assert "[document]" in result.stdout, "the failure is the document's, with its cited lines"


def test_research_suite_checks_only_through_expect():
    """No bare ``assert`` (it has no source), no ``.json()`` on a reply (it crashes on an empty body)."""
    found = []
    for path in sorted((ROOT / "contracts" / "clarius").glob("test_research*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert):
                found.append(f"{path.name}:{node.lineno}: a bare assert")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "json" and not node.args:
                found.append(f"{path.name}:{node.lineno}: .json() on a reply")
    assert not found, "\n".join(found)
