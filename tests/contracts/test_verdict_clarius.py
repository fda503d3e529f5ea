"""The Clarius suite's verdict on servers medimock did not write.

Against a Django-REST-framework-style Clarius (servers/clarius_drf.py: DRF's JSON errors but Django's HTML
404 pages, an empty 400 over 2.5 MiB, 501 for an unknown method, DRF's forgiving pagination, unknown
settings fields ignored, other reply bodies, a 500 on ``notification_url: null``, ``token_transfer_url``
accepted without ``{token}``) the document violations fail, medimock's conventions only warn, nothing
crashes and nothing is left behind; in strict mode the conventions fail too; when the target keeps a key
the suite revoked, the run's end names it; on a service without exams, the exam workflows skip with the
reason and the rest pass. Against servers that answer every request with the same
garbage, every test ends in a verdict that names the reply, never in an exception from inside the suite.

The Research API needs a research user, which the DRF server does not have: those tests skip (one reason).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))
from clarius_drf import SEEDS  # noqa: E402


def env(url: str) -> dict[str, str]:
    return {
        "MEDIMOCK_CLARIUS_URL": url,
        **SEEDS,
        "CLARIUS_REPORT_UPLOADS": "1",  # the server is the test's: reports left on it do not matter
        "MEDIMOCK_CONTRACT_EXAMPLES": "5",
    }


# The DRF server's bugs, each a document violation (the document's line is in the failure).
DOCUMENT_FAILURES = {
    "test_workflows.py::test_invalid_settings_are_rejected[transfer-url-without-token]",  # "containing the string {token}"
    "test_workflows.py::test_invalid_settings_are_rejected[notification-url-null]",  # a 500, not a refusal of a non-URL
}
# What the DRF server does differently from medimock where the document is silent: warnings only.
CONVENTIONS_SEEN = {
    "json-error-body",  # Django's HTML 404 of an unknown download request
    "field-errors",  # DRF's nested errors of an annotation
    "strict-parameters",  # limit=0, offset=-5... fall back to the defaults
    "unknown-fields",  # an unknown settings field is ignored
    "report-reply",  # a report upload answers 200 {"id": n}
    "undeclared-method",  # 501 for QUERY
}


def test_document_violations_fail_conventions_warn(serve, run_suite):
    verdict = run_suite("clarius", env(serve("clarius_drf.py")), "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    failed = verdict.named("failed") | verdict.named("error")
    assert failed == DOCUMENT_FAILURES, f"unexpected: {sorted(failed - DOCUMENT_FAILURES)}; missing: {sorted(DOCUMENT_FAILURES - failed)}"
    for name in failed:
        text = verdict.cases[name].text
        assert "[document]" in text and "specs/sources/clarius-cloud-api-v0.txt:" in text, text[:2000]
        assert 'Authorization: Service-API-Key ${CLARIUS_API_KEY}"' in text, f"{name}: the curl shows the key as a variable:\n{text}"
        assert "export CLARIUS_API_KEY=" in text, text[:2000]
    warned = {key for key in CONVENTIONS_SEEN if verdict.warned(key)}
    assert warned == CONVENTIONS_SEEN, f"conventions that did not warn: {CONVENTIONS_SEEN - warned}"
    for name in (  # the lifecycles and the paging walk pass, with warnings where the server has DRF's habits
        "test_api_key_lifecycle",
        "test_customized_application_lifecycle",
        "test_pagination_walk[7]",
        "test_report_upload",
        "test_confirmation_then_confirmed_tokens",
        "test_download_and_every_capture",
    ):
        assert verdict.cases[f"test_workflows.py::{name}"].outcome == "passed", verdict.cases[f"test_workflows.py::{name}"].text[:2000]
    skipped = {name for name in verdict.named("skipped") if name.startswith("test_workflows.py")}
    assert skipped == {
        f"test_workflows.py::{name}"
        for name in (
            "test_webhook_delivery",
            "test_webhook_to_a_silent_receiver_is_a_failed_record",
            "test_webhook_to_a_closed_port_is_a_failed_record",
        )
    }, skipped
    assert "did not leave the target" not in verdict.stdout and "could not be listed" not in verdict.stdout, "nothing is left behind"
    assert verdict.returncode == 1


def test_strict_mode_fails_the_conventions_too_and_a_leftover_is_named(serve, run_suite):
    """Strict mode, against the server whose key revocation answers 204 and keeps the key: the conventions fail, and the
    key the target kept is named at the run's end."""
    url = serve("clarius_drf.py", "--quirks", "revoke-ignored")
    verdict = run_suite("clarius", env(url), "--medimock-strict", "-k", "test_workflows", "--tb=short")
    kept = "test_workflows.py::test_api_key_lifecycle"  # the revoked key still works: the document's rotation
    assert "[document]" in verdict.cases[kept].text and "a revoked key stops working" in verdict.cases[kept].text
    expected = {"test_report_upload", "test_bad_page_parameters_are_400[params0]", "test_invalid_settings_are_rejected[unknown-field]"}
    conventions = {f"test_workflows.py::{name}" for name in expected}
    verdict.assert_strict_verdicts(DOCUMENT_FAILURES, conventions, kept=kept, leftover="API key")


@pytest.mark.parametrize("mode", ["empty-404", "html-500", "empty-object", "truncated", "latin-1"])
def test_no_crash_on_any_answer(serve, run_suite, mode):
    environ = {**env(serve("garbage.py", "--mode", mode)), "MEDIMOCK_CONTRACT_EXAMPLES": "2"}
    verdict = run_suite("clarius", environ, "-k", "not test_research", "--tb=short")
    verdict.assert_ends_in_verdicts("clarius", mode)


EXAM_WORKFLOWS = "pagination_walk or default_page_size or customer_filter or download_and_every_capture or early_revision or report_upload"


def test_a_target_without_exams_skips_the_exam_workflows_once_each_with_the_reason(serve, run_suite):
    """Exams come from scanners, not from the API: on a service without any, the workflows that need one skip, naming
    why; the rest of the suite is unaffected."""
    verdict = run_suite(
        "clarius",
        env(serve("clarius_drf.py", "--quirks", "no-exams")),
        "-k",
        f"test_workflows and ({EXAM_WORKFLOWS} or api_key or settings_round_trip)",
    )
    exam_tests = {name for name in verdict.cases if any(part in name for part in EXAM_WORKFLOWS.split(" or "))}
    assert len(exam_tests) == 8, sorted(verdict.cases)
    for name in exam_tests:
        case = verdict.cases[name]
        assert case.outcome == "skipped" and "the target has no exams: the API cannot make one" in case.text, (
            name,
            case.outcome,
            case.text[:800],
        )
    others = set(verdict.cases) - exam_tests
    assert others and all(verdict.cases[name].outcome == "passed" for name in others), {n: verdict.cases[n].outcome for n in others}
    assert verdict.returncode == 0, verdict.stdout[-2000:]
