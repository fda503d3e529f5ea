"""The Ambra suite's verdict on servers medimock did not shape.

Against an Ambra behind a gateway with other habits (servers/ambra_gateway.py: HTML 401 and 404
pages, 501 for PUT and DELETE, no page count, 1000 rows a page, a bare NOT_FOUND, an unchecked flag,
basic authentication refused (a user's, and a node's uuid and serial_no), a filter ignored, a 400 for a bad sort order, a 500 on garbage page.rows)
the document violations fail, medimock's conventions only warn, nothing crashes and nothing is left
behind; in strict mode the conventions fail too, and when the target keeps what the suite deleted (a
delete that deletes nothing) the run names it. Where the account's namespace holds no studies, the
workflows add their own and remove them. Against servers that answer every request with the same
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
    # a node's uuid and serial_no as basic auth refused too ("can also be passed using basic auth", /node/configuration)
    "test_node_configuration.py::test_a_node_passes_its_uuid_and_serial_number_as_basic_auth",
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


def test_strict_mode_fails_the_conventions_too_and_a_leftover_is_named(serve, run_suite):
    """Strict mode, against the gateway whose /group/delete also answers OK and deletes nothing: the conventions fail
    (and the workflows that stop on them half-way still clean up), and the group the target kept is named."""
    url = serve("ambra_gateway.py", "--quirks", "default,delete-ignored")
    verdict = run_suite("ambra", env(url), "--medimock-strict", "-k", STRICT_SELECTION, "--tb=short")
    kept = "test_workflows.py::test_resource_lifecycle[group]"
    expected = {
        "test_study_lifecycle",
        "test_resource_lifecycle[webhook]",
        "test_study_list_paging_walk",
        "test_logout_invalidates_the_sid",
    }
    conventions = {f"test_workflows.py::{name}" for name in expected}
    verdict.assert_strict_verdicts(DOCUMENT_FAILURES, conventions, kept=kept, leftover="group")
    # the group the target kept is named once, by the run's end (the teardown of its last test)
    leftovers = [case.text for case in verdict.cases.values() if "LeftoverError" in case.text]
    assert "(Contract group " in leftovers[0], leftovers[0][:2000]


def test_an_empty_namespace_gets_studies_of_the_suite(serve, run_suite):
    """Where the namespace holds no studies (the administrator's own), the filter and sort workflows add a dozen of their
    own, check against them, and delete them: they pass, and nothing is left behind."""
    url = serve("ambra_gateway.py", "--quirks", "no-page-count,rows-1000")
    environ = env(url)

    def call(command: str, **params: str) -> dict:
        return requests.post(f"{url}/api/v3{command}", data=params, timeout=30).json()

    sid = call("/session/login", login=environ["AMBRA_LOGIN"], password=environ["AMBRA_PASSWORD"])["sid"]
    namespaces = call("/session/user", sid=sid)["namespaces"]
    own = next(n["uuid"] for n in namespaces if n["type"] == "user_id")
    account = next(n["type_uuid"] for n in namespaces if n["type"] == "account_id")
    assert call("/study/count", sid=sid, **{"filter.phi_namespace.equals": own})["count"] == 0, "the namespace starts empty"
    call("/session/logout", sid=sid)
    selection = "every_filter or sort_by or paging_walk"
    verdict = run_suite("ambra", {**environ, "AMBRA_NAMESPACE_ID": own, "AMBRA_ACCOUNT_ID": account}, "-k", selection, "--tb=short")
    ran = {name: case.outcome for name, case in verdict.cases.items()}
    workflows = [name for name in ran if name.startswith("test_workflows.py::")]
    # the eleven filter, sort and paging workflows (and whatever of the general sections the words also select) all pass
    assert len(workflows) == 11 and set(ran.values()) == {"passed"}, verdict.stdout[-3000:]
    assert "did not leave the target" not in verdict.stdout, verdict.stdout[-3000:]


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
    verdict.assert_ends_in_verdicts("ambra", mode)
