"""The contract suite can fail: run it against deliberately broken variants of the mock.

Each variant is the embedded mock with one defect switched on and strict mode OFF, so
the failure must come from the suite's own checks, not from the mock's self-validation.
"""

from __future__ import annotations

import subprocess

import pytest

from medimock.mutation import run_contract_suite

pytestmark = pytest.mark.slow
ADDOPTS = "addopts=--import-mode=importlib -p no:cacheprovider"  # pytest.ini's, less --strict-markers and -ra

# defect -> a test (node id fragment) that must fail because of it
CASES = {
    "clarius.poll_missing_download_url": "test_pagination_walk",  # a required field missing
    "clarius.confirm_undocumented_status": "test_confirmation_then_confirmed_tokens",  # an undocumented status code
    "clarius.auth_ignored": "test_bad_credentials_are_401",  # auth not enforced
    "clarius.revoked_key_still_accepted": "test_api_key_lifecycle",
    "clarius.poll_ignores_customer_filter": "test_customer_filter",
    "clarius.webhook_missing_download_url": "test_webhook_delivery",
}


def run_suite(defect: str, select: str) -> subprocess.CompletedProcess[str]:
    return run_contract_suite("clarius", defect, "-k", select, "-o", ADDOPTS, timeout=600)


@pytest.mark.parametrize("defect", sorted(CASES))
def test_workflow_suite_catches(defect):
    expected = CASES[defect]
    result = run_suite(defect, expected)
    assert result.returncode == 1, f"the suite passed against {defect}:\n{result.stdout[-3000:]}"
    # a defect that breaks a shared set-up step (the poll page every exam workflow reads) fails that step, which pytest
    # reports as an ERROR of the first test that needed it; either way the suite's verdict is a document violation
    caught = [f"{outcome} contracts/clarius/test_workflows.py::{expected}" for outcome in ("FAILED", "ERROR")]
    assert any(line in result.stdout for line in caught), result.stdout[-3000:]
    assert "[document]" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize(
    "defect",
    ["clarius.poll_missing_download_url", "clarius.auth_ignored", "clarius.settings_wrong_type", "clarius.create_key_without_secret"],
)
def test_property_suite_catches(defect):
    result = run_suite(defect, "test_operation_honours_contract")
    assert result.returncode == 1, f"schemathesis passed against {defect}:\n{result.stdout[-3000:]}"
    assert "FAILED contracts/clarius/test_schema.py::test_operation_honours_contract" in result.stdout
