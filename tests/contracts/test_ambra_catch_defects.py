"""The Ambra contract suite can fail: run it against deliberately broken mocks.

Each variant is the embedded mock with one defect of mockserver/apis/ambra/defects.py switched
on and strict mode OFF, so the failure must come from the suite's own checks, not from the mock's
self-validation. Each run selects only the test expected to catch the defect; the property runs
are limited to the commands the defect breaks (``MEDIMOCK_AMBRA_OPERATIONS``), so the whole file
stays short.
"""

from __future__ import annotations

import subprocess

import pytest

from medimock.mutation import run_contract_suite

pytestmark = pytest.mark.slow
ADDOPTS = "addopts=--import-mode=importlib -p no:cacheprovider"  # pytest.ini's, less --strict-markers and -ra

# defect -> the workflow test (node id prefix) that must fail because of it
WORKFLOW_CASES = {
    "ambra.page_more_wrong": "test_study_list_paging_walk",
    "ambra.filter_ignored": "test_every_filter_condition_against_the_data",
    "ambra.sort_ignored": "test_sort_by_one_field",
    "ambra.missing_fields_subtype_empty": "test_missing_fields_lists_every_missing_field",
    "ambra.logout_keeps_sid": "test_logout_invalidates_the_sid",
    "ambra.not_permitted_ignored": "test_user_role_is_not_permitted_what_only_an_admin_may_do",
    "ambra.bundle_no_status_code": "test_bundle_templates_and_status_codes",
    "ambra.expired_session_accepted": "test_expired_session_is_refused",
    "ambra.study_get_drops_study_uid": "test_study_lifecycle",
    "ambra.not_found_answers_200": "test_resource_lifecycle",
    "ambra.page_count_string": "test_study_list_paging_walk",
}

# defects that break a documented reply schema, which the property-based suite must catch on its own:
# defect -> the commands (a regex on paths) whose operations the run is limited to
PROPERTY_CASES = {
    "ambra.bundle_no_status_code": "^/bundle$",
    "ambra.study_get_drops_study_uid": "^/study/get$",
    "ambra.not_found_answers_200": "^/(study|group)/get$",
    "ambra.page_count_string": "^/(study|group)/list$",
}


def run_suite(defect: str, select: str, operations: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"MEDIMOCK_AMBRA_EXAMPLES": "3", **({"MEDIMOCK_AMBRA_OPERATIONS": operations} if operations else {})}
    return run_contract_suite("ambra", defect, "-k", select, "-o", ADDOPTS, env=env, timeout=600)


def test_every_defect_is_covered():
    """A new Ambra defect must get a case here."""
    from mockserver.apis.ambra import API

    assert set(API.defects) == set(WORKFLOW_CASES), f"defects without a case: {sorted(set(API.defects) - set(WORKFLOW_CASES))}"
    assert set(PROPERTY_CASES) <= set(API.defects)


@pytest.mark.parametrize("defect", sorted(WORKFLOW_CASES))
def test_workflow_suite_catches(defect):
    expected = WORKFLOW_CASES[defect]
    result = run_suite(defect, expected)
    assert result.returncode == 1, f"the suite passed against {defect}:\n{result.stdout[-3000:]}"
    assert f"FAILED contracts/ambra/test_workflows.py::{expected}" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("defect", sorted(PROPERTY_CASES))
def test_property_suite_catches(defect):
    result = run_suite(defect, "test_operation_honours_contract", PROPERTY_CASES[defect])
    assert result.returncode == 1, f"schemathesis passed against {defect}:\n{result.stdout[-3000:]}"
    assert "FAILED contracts/ambra/test_schema.py::test_operation_honours_contract" in result.stdout, result.stdout[-3000:]
