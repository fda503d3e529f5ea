"""The Ambra suite's verdict on servers medimock did not shape.

Against an Ambra behind a gateway with other habits (servers/ambra_gateway.py: HTML 401 and 404
pages, 501 for PUT and DELETE, no page count, 1000 rows a page, a bare NOT_FOUND, an unchecked flag,
basic authentication refused, a filter ignored, a 400 for a bad sort order, a 500 on garbage page.rows)
the document violations fail, medimock's conventions only warn, nothing crashes and nothing is left
behind; in strict mode the conventions fail too. When the target leaves what the suite created (a
delete that deletes nothing), the run says so. Against servers that answer every request with the same
garbage, every test ends in a verdict that names the reply, never in an exception from inside the suite.

The property runs are limited to a handful of commands (``MEDIMOCK_AMBRA_OPERATIONS``) with two
examples each: the gateway's answers to them, not the 925 operations, are what is under test here.
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.slow

OPERATIONS = "^/(study/(list|get)|group/get|session/user)$"


def env(url: str, **extra: str) -> dict[str, str]:
    credentials = requests.get(url + "/credentials", timeout=30).json()
    return {
        "MEDIMOCK_AMBRA_URL": url + "/api/v3",
        **credentials,
        "MEDIMOCK_AMBRA_EXAMPLES": "2",
        "MEDIMOCK_AMBRA_OPERATIONS": OPERATIONS,
        **extra,
    }


# The gateway's violations of the document, each a failure that cites it.
DOCUMENT_FAILURES = {
    "test_workflows.py::test_http_basic_authentication",  # basic authentication refused (the preamble's 401 line names it)
    "test_workflows.py::test_every_filter_condition_against_the_data",  # not_equals_or_null ignored
    "test_workflows.py::test_sort_and_filter_errors[POST-sort-order]",  # INVALID_SORT_ORDER as HTTP 400, not 412
    "test_workflows.py::test_sort_and_filter_errors[POST-second-sort-order]",
    "test_workflows.py::test_sort_and_filter_errors[GET-sort-order]",
    "test_workflows.py::test_sort_and_filter_errors[GET-second-sort-order]",
    "test_workflows.py::test_invalid_flag_and_integer_name_the_field",  # a 500 for page.rows=ten
}
# Where the gateway differs from medimock and the document is silent: warnings only.
CONVENTIONS_SEEN = {
    "error-hash",  # HTML 401 pages
    "not-found-subtype",  # NOT_FOUND of a get without error_subtype
    "page-count",  # no count in the page hash
    "page-rows-default",  # 1000 studies a page
    "parameter-errors",  # extra=2 accepted
    "undeclared-method",  # 501 for PUT and DELETE
}


def test_document_violations_fail_conventions_warn(serve, run_suite):
    verdict = run_suite("ambra", env(serve("ambra_gateway.py")), "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    failed = {name for name in verdict.named("failed") | verdict.named("error") if not name.startswith("test_schema.py")}
    assert failed == DOCUMENT_FAILURES, f"unexpected: {sorted(failed - DOCUMENT_FAILURES)}; missing: {sorted(DOCUMENT_FAILURES - failed)}"
    for name in failed:
        text = verdict.cases[name].text
        assert "[document]" in text and "specs/sources/ambra-v3-services-api" in text, text[:2000]
        assert "${AMBRA_SID}" in text or "/session/" in name or "basic" in name, f"{name}: the curl shows the sid as a variable:\n{text}"
    # the property run over a few commands ends in verdicts (which tier its findings are, the spec's tags decide)
    for name in verdict.named("failed") | verdict.named("error"):
        text = verdict.cases[name].text
        assert "[document]" in text or "[convention" in text, f"{name} failed without a verdict:\n{text[:1500]}"
    warned = {key for key in CONVENTIONS_SEEN if verdict.warned(key)}
    assert warned == CONVENTIONS_SEEN, f"conventions that did not warn: {CONVENTIONS_SEEN - warned}"
    # the lifecycles pass, warning about the missing error_subtype; the paging walk passes, warning about count and rows
    for name in (
        "test_study_lifecycle",
        "test_resource_lifecycle[group]",
        "test_study_list_paging_walk",
        "test_logout_invalidates_the_sid",
    ):
        assert verdict.cases[f"test_workflows.py::{name}"].outcome == "passed", verdict.cases[f"test_workflows.py::{name}"].text[:2000]
    assert verdict.cases["test_workflows.py::test_expired_session_is_refused"].outcome == "skipped", (
        "no control API: nothing to expire with"
    )
    assert "did not leave the target" not in verdict.stdout and "could not be listed" not in verdict.stdout, "nothing is left behind"
    assert verdict.returncode == 1


# the workflows that meet the gateway's quirks (the rest would pass in strict mode as they do in default mode)
STRICT_SELECTION = (
    "basic or every_filter or sort_and_filter or invalid_flag or study_lifecycle or resource_lifecycle or paging_walk or logout"
)


def test_strict_mode_fails_the_conventions_too(serve, run_suite):
    verdict = run_suite("ambra", env(serve("ambra_gateway.py")), "--medimock-strict", "-k", STRICT_SELECTION, "--tb=short")
    failed = verdict.named("failed") | verdict.named("error")
    assert failed >= DOCUMENT_FAILURES
    strict_only = failed - DOCUMENT_FAILURES
    expected = {
        "test_study_lifecycle",
        "test_resource_lifecycle[webhook]",
        "test_study_list_paging_walk",
        "test_logout_invalidates_the_sid",
    }
    assert {f"test_workflows.py::{name}" for name in expected} <= strict_only, sorted(strict_only)
    for name in strict_only:
        assert "[convention (strict mode)]" in verdict.cases[name].text, verdict.cases[name].text[:1500]
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    assert "did not leave the target" not in verdict.stdout, "strict failures half-way through still clean up"


def test_what_the_target_keeps_is_reported(serve, run_suite):
    """A delete that answers OK and deletes nothing: the lifecycle fails, and the run names the group it left."""
    url = serve("ambra_gateway.py", "--quirks", "delete-ignored")
    verdict = run_suite("ambra", env(url), "-k", "test_resource_lifecycle and group", "--tb=short")
    case = verdict.cases["test_workflows.py::test_resource_lifecycle[group]"]
    # the test fails by the document (a deleted group is still got), and its teardown names what the run left
    assert case.outcome == "error" and any(tier.startswith("document: ") for tier in case.tiers), case
    assert "LeftoverError: ambra: the suite did not leave the target as it found it: 1 object(s) the suite created" in case.text
    assert "are still there: group " in case.text and "(Contract group " in case.text, case.text[:2000]


GARBAGE_SELECTION = "test_operation_honours_contract or test_login_session_user_and_ttl or test_study_lifecycle or test_bundle_inherit_sid"


@pytest.mark.parametrize("mode", ["empty-404", "html-500", "empty-object", "truncated", "latin-1"])
def test_no_crash_on_any_answer(serve, run_suite, mode):
    url = serve("garbage.py", "--mode", mode)
    environ = {
        "MEDIMOCK_AMBRA_URL": url + "/api/v3",
        "AMBRA_LOGIN": "admin@example.org",
        "AMBRA_PASSWORD": "Secret-12",
        "AMBRA_USER_LOGIN": "reader@example.org",
        "AMBRA_USER_PASSWORD": "Secret-34",
        "AMBRA_OAUTH_CLIENT_ID": "admin@example.org",
        "AMBRA_OAUTH_CLIENT_SECRET": "Secret-12",
        "MEDIMOCK_AMBRA_EXAMPLES": "1",
        "MEDIMOCK_AMBRA_OPERATIONS": OPERATIONS,
    }
    # the set-up (a login) fails on every garbage answer, and with it every test: a few tests of each file prove as much as all
    verdict = run_suite("ambra", environ, "-k", GARBAGE_SELECTION, "--tb=short")
    assert verdict.returncode in (1, 2), verdict.stdout[-2000:]
    if verdict.returncode == 2:  # a 404 for every request: one message naming the base URL, nothing else
        assert mode == "empty-404" and "is TARGET ambra's base URL?" in verdict.stdout, verdict.stdout[-2000:]
        return
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    for name in verdict.named("failed") | verdict.named("error"):
        text = verdict.cases[name].text
        assert "[document]" in text or "[convention" in text, f"{name} failed without a verdict:\n{text[:1500]}"
