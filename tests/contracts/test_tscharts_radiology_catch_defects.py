"""The tscharts and radiology contract suites can fail: run them against deliberately broken mocks.

Each variant is the embedded mock with one defect switched on and strict mode OFF, so the
failure must come from the suite's own checks, not from the mock's self-validation. Every
defect of mockserver/apis/tscharts/defects.py and mockserver/apis/radiology/defects.py is
here; each run selects only the test expected to catch it, with few examples, to stay short.
"""

from __future__ import annotations

import subprocess

import pytest

from medimock.mutation import run_contract_suite

pytestmark = pytest.mark.slow
ADDOPTS = "addopts=--import-mode=importlib -p no:cacheprovider"  # pytest.ini's, less --strict-markers and -ra

# defect -> the workflow test (node id fragment) that must fail because of it
WORKFLOW_CASES = {
    "tscharts.get_missing_type": "test_image_lifecycle",  # a required field missing from a 200
    "tscharts.auth_ignored": "test_bad_tokens_are_401",
    "tscharts.newest_ignored": "test_image_lifecycle",
    "tscharts.delete_keeps_image": "test_image_lifecycle",
    "tscharts.empty_list_200": "test_list_matching_nothing_is_404",
    "tscharts.sort_ascending": "test_image_lifecycle",
    "tscharts.login_id_integer": "test_login_gives_a_working_token",  # a wrong type
    "radiology.scope_not_enforced": "test_wrong_scope_is_403",
    "radiology.ack_ignored": "test_poll_fetch_acknowledge",
    "radiology.expired_token_accepted": "test_expired_token_is_rejected",
    "radiology.other_org_visible": "test_other_organisation_orders_are_not_visible",
    "radiology.status_not_most_recent": "test_status_of_a_study_is_its_most_recent_order",
    "radiology.auth_ignored": "test_bad_tokens_are_401",
    "radiology.expires_in_string": "test_token_by_get",  # a wrong type in the token response
}

# defects that break the schema or auth, which the property-based suite must catch on its own
PROPERTY_CASES = [
    "tscharts.get_missing_type",
    "tscharts.auth_ignored",
    "tscharts.login_id_integer",
    "radiology.auth_ignored",
    "radiology.expires_in_string",
]


def api_of(defect: str) -> str:
    return defect.split(".", 1)[0]


def run_suite(defect: str, select: str) -> subprocess.CompletedProcess[str]:
    return run_contract_suite(api_of(defect), defect, "-k", select, "-o", ADDOPTS, timeout=600)


def test_every_defect_is_covered():
    """A new defect in either API must get a case here."""
    from mockserver.apis.radiology import API as RADIOLOGY
    from mockserver.apis.tscharts import API as TSCHARTS

    names = {name for api in (TSCHARTS, RADIOLOGY) for name in api.defects}
    assert names == set(WORKFLOW_CASES), f"defects without a case: {sorted(names - set(WORKFLOW_CASES))}"


@pytest.mark.parametrize("defect", sorted(WORKFLOW_CASES))
def test_workflow_suite_catches(defect):
    expected = WORKFLOW_CASES[defect]
    result = run_suite(defect, expected)
    assert result.returncode == 1, f"the suite passed against {defect}:\n{result.stdout[-3000:]}"
    assert f"FAILED contracts/{api_of(defect)}/test_workflows.py::{expected}" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("defect", PROPERTY_CASES)
def test_property_suite_catches(defect):
    result = run_suite(defect, "test_operation_honours_contract")
    assert result.returncode == 1, f"schemathesis passed against {defect}:\n{result.stdout[-3000:]}"
    assert f"FAILED contracts/{api_of(defect)}/test_schema.py::test_operation_honours_contract" in result.stdout, result.stdout[-3000:]
