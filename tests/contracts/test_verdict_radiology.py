"""The radiology suite's verdict on servers medimock did not write, and on a medimock at the wrong URL.

Against a gateway-style radiology server (servers/radiology_gateway.py: ``{"message": ...}`` errors,
a 403 where medimock says 401, plain-text 404s, unvalidated parameters, a 16 KiB body limit, a 502 on
garbage...) the document violations fail, medimock's conventions only warn, nothing crashes and the
target's reports are left as the suite found them, but for those it was allowed to acknowledge; in
strict mode the conventions fail too. Against servers that answer every request with the same garbage,
every test ends in a verdict. Pointed at a served mock's origin instead of its ``/radiology`` mount,
the run stops with one message naming the mount; pointed at the mount without leave to acknowledge,
it acknowledges only what it made appear.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from medimock.target import EmbeddedMock

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))
from radiology_gateway import SEEDS  # the server's own seeds, so the two cannot drift

pytestmark = pytest.mark.slow


def env(url: str, **extra: str) -> dict[str, str]:
    return {"MEDIMOCK_RADIOLOGY_URL": url, "MEDIMOCK_CONTRACT_EXAMPLES": "8", **SEEDS, **extra}


# The gateway's real bugs, each a document violation (the document's line is in the failure).
DOCUMENT_FAILURES = {
    "test_workflows.py::test_wrong_scope_is_403[reports:read]",  # /orderId takes any token ("API validates token scope")
    "test_workflows.py::test_order_ids_of_a_study_with_several_orders",  # one order id of two ("order ID(s)")
    "test_workflows.py::test_status_and_results_of_a_study_agree",  # /results by study_uid: the oldest ("only the most recent")
}
# What the gateway does differently from medimock where the document is silent: warnings only.
CONVENTIONS_SEEN = {
    "oauth2-error-body",  # {"message": ...}, {"error": ...} without a description, a plain-text 404
    "bearer-401",  # 403 for a non-Bearer Authorization and an expired token; no WWW-Authenticate
    "scope-403",  # no insufficient_scope challenge
    "token-errors",  # 400 invalid_client for a wrong secret; both client authentications accepted
    "token-response",  # no scope in the reply when none was asked for
    "scope-request",  # a scope the client is not allowed is narrowed, not refused
    "input-validation",  # report_type and the form of study_uid are not validated
    "report-types",
    "one-of-ids",  # order_id wins when both are sent
    "list-order",  # the poll lists newest first
    "payload-shape",  # studyGroup left out when null; {"status": "OK", "count": n} for an acknowledgement
    "size-limit",  # 413 over 16 KiB
    "undeclared-method",  # 403 "Missing Authentication Token" for a method a route lacks, 501 for QUERY
    "dicom-uid",  # a 502 for a study_uid over 64 characters (generated invalid input)
}


def pending(url: str) -> set[str]:
    """The gateway's pending reports of the organisation, asked directly (not through the suite)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": SEEDS["RADIOLOGY_CLIENT_ID"],
        "client_secret": SEEDS["RADIOLOGY_CLIENT_SECRET"],
    }
    token = requests.post(url + "/oauth2/token", data=form, timeout=10).json()["access_token"]
    reply = requests.get(
        url + "/reports",
        params={"organizationId": SEEDS["RADIOLOGY_ORGANIZATION_ID"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return {report["reportId"] for report in reply.json()}


def test_document_violations_fail_conventions_warn(serve, run_suite):
    url = serve("radiology_gateway.py")
    before = pending(url)
    verdict = run_suite("radiology", env(url, RADIOLOGY_ACKNOWLEDGE="1"), "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    failed = verdict.named("failed") | verdict.named("error")
    assert failed == DOCUMENT_FAILURES, f"unexpected: {sorted(failed - DOCUMENT_FAILURES)}; missing: {sorted(DOCUMENT_FAILURES - failed)}"
    for name in failed:
        text = verdict.cases[name].text
        assert "[document]" in text and "specs/sources/radiology-report-retrieval-api.txt:" in text, text[:2000]
        assert "${RADIOLOGY_TOKEN}" in text and "export RADIOLOGY_TOKEN=$(curl" in text, (
            "the curl shows the token as a variable, and how to get one"
        )
        assert "${RADIOLOGY_CLIENT_SECRET}" in text and SEEDS["RADIOLOGY_CLIENT_SECRET"] not in text, text[:3000]
    warned = {key for key in CONVENTIONS_SEEN if verdict.warned(key)}
    assert warned == CONVENTIONS_SEEN, f"conventions that did not warn: {CONVENTIONS_SEEN - warned}"
    # with RADIOLOGY_ACKNOWLEDGE=1 the documented acknowledgement (no body) runs on a real server too
    for name in ("test_poll_fetch_acknowledge", "test_acknowledge_everything_retrieved", "test_bad_tokens_are_401[None-GET-/status]"):
        assert verdict.cases[f"test_workflows.py::{name}"].outcome == "passed", verdict.cases[f"test_workflows.py::{name}"].text[:2000]
    assert "did not leave the target" not in verdict.stdout, verdict.stdout[-3000:]
    assert pending(url) < before, "with leave, the suite acknowledged some of the organisation's reports (the inventory excused them)"
    assert verdict.returncode == 1


def test_strict_mode_fails_the_conventions_too_and_nothing_is_acknowledged_without_leave(serve, run_suite):
    """Strict: conventions fail too. No RADIOLOGY_ACKNOWLEDGE on a real server: no acknowledgement for the organisation at all."""
    url = serve("radiology_gateway.py")
    before = pending(url)
    verdict = run_suite("radiology", env(url), "--medimock-strict")
    # a 403 (not 401) and {'message': ...} break conventions
    names = ("test_bad_tokens_are_401[Token {token}-GET-/status]", "test_expired_token_is_rejected", "test_token_errors")
    strict_only = verdict.assert_strict_verdicts(DOCUMENT_FAILURES, {f"test_workflows.py::{name}" for name in names})
    assert any(name.startswith("test_schema.py::") for name in strict_only), "the property tests' convention findings fail too"
    assert pending(url) == before, "the organisation's pending reports are all still there"
    case = verdict.cases["test_workflows.py::test_acknowledge_validation"]
    assert case.outcome == "skipped" and "RADIOLOGY_ACKNOWLEDGE=1" in case.text, case.text[:1000]


@pytest.mark.parametrize("mode", ["empty-404", "html-500", "empty-object", "truncated", "latin-1"])
def test_no_crash_on_any_answer(serve, run_suite, mode):
    verdict = run_suite("radiology", env(serve("garbage.py", "--mode", mode)))
    verdict.assert_ends_in_verdicts("radiology", mode)


@pytest.fixture(scope="module")
def served_mock() -> Iterator[str]:
    """A medimock serving radiology at /radiology, started like ``make serve`` (not the suite's own embedded mock)."""
    mock = EmbeddedMock(["--api", "radiology"])
    try:
        yield mock.start()
    finally:
        mock.stop()


def test_origin_instead_of_the_mount_is_one_message(served_mock, run_suite):
    """``make contract API=radiology TARGET=http://127.0.0.1:8080``: one message naming .../radiology, not 60 404s."""
    verdict = run_suite("radiology", {"MEDIMOCK_RADIOLOGY_URL": served_mock})
    assert verdict.returncode == 2, verdict.stdout[-2000:]
    assert verdict.stdout.count("answered 404") == 1, verdict.stdout[-3000:]
    assert f"the target is a medimock, which serves radiology at {served_mock}/radiology" in verdict.stdout, verdict.stdout[-2000:]
    assert not verdict.named("failed") and not verdict.named("passed"), "no test ran"


def test_served_mock_acknowledges_only_what_the_suite_made(served_mock, run_suite):
    """A served medimock (not the run's own) without RADIOLOGY_ACKNOWLEDGE: its seeded reports stay pending."""
    verdict = run_suite("radiology", {"MEDIMOCK_RADIOLOGY_URL": served_mock + "/radiology"}, "-k", "acknowledge or unacknowledged")
    assert verdict.returncode == 0, verdict.stdout[-3000:]
    assert verdict.cases["test_workflows.py::test_poll_fetch_acknowledge"].outcome == "passed"
    everything = verdict.cases["test_workflows.py::test_acknowledge_everything_retrieved"]
    assert everything.outcome == "skipped" and "of the target's own too" in everything.text, everything.text[:1000]
