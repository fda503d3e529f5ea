"""The tscharts suite's verdict on servers medimock did not write.

Against a Django/DRF-style tscharts (servers/tscharts_django.py: empty error bodies, HTML pages,
a 2.5 MiB body limit, 500s on garbage, a missing station accepted...) the document violations fail,
medimock's conventions only warn, nothing crashes and nothing is left behind; in strict mode the
conventions fail too. Against servers that answer every request with the same garbage, every test
ends in a verdict that names the reply, never in an exception from inside the suite.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

TOKEN = "53f29e4dfc917c28a0e71f26525307250f1f8101"


def env(url: str) -> dict[str, str]:
    return {
        "MEDIMOCK_TSCHARTS_URL": url,
        "TSCHARTS_TOKEN": TOKEN,
        "TSCHARTS_USERNAME": "clinician",
        "TSCHARTS_PASSWORD": "s3cret",
        "TSCHARTS_PATIENTS": "12,13,14",
        "TSCHARTS_CLINICS": "1,2",
        "TSCHARTS_STATIONS": "1,2,3",
        "MEDIMOCK_CONTRACT_EXAMPLES": "10",
        "MEDIMOCK_MAX_BODY": "8000000",  # so the large round trip runs, and meets the 2.5 MiB limit
    }


# The Django server's real bugs, each a document violation (the file's line is in the failure).
DOCUMENT_FAILURES = {
    "test_workflows.py::test_invalid_create_is_400[data-not-base64]",  # data stored unchecked ("data base64 image data")
    "test_workflows.py::test_invalid_create_is_400[data-bad-length]",
    "test_workflows.py::test_invalid_create_is_400[no-station]",  # station is required ("Required: ... station")
    "test_workflows.py::test_bad_list_parameters_are_400[sort-yes]",  # sort ["true" | "false"]
    "test_workflows.py::test_bad_list_parameters_are_400[newest-True]",
    "test_workflows.py::test_bad_list_parameters_are_400[type-lower]",  # type case-sensitive
    "test_workflows.py::test_bad_list_parameters_are_400[clinic-abc]",  # a 500 instead of 400 BAD REQUEST
    "test_workflows.py::test_bad_list_parameters_are_400[no-patient]",  # patient is required
    # a create body that is not JSON (or not an object): a 500 instead of the create's 400 BAD REQUEST
    "test_workflows.py::test_create_body_that_is_not_a_json_object_is_400[invalid-json]",
    "test_workflows.py::test_create_body_that_is_not_a_json_object_is_400[json-array]",
    "test_workflows.py::test_create_body_that_is_not_a_json_object_is_400[json-string]",
}
# What the Django server does differently from medimock where the document is silent: warnings only.
CONVENTIONS_SEEN = {"json-error-body", "json-types", "size-limit", "media-type-400"}


def test_document_violations_fail_conventions_warn(serve, run_suite):
    verdict = run_suite("tscharts", env(serve("tscharts_django.py")), "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert not verdict.crashes(), "\n\n".join(verdict.crashes())
    failed = {name for name in verdict.named("failed") | verdict.named("error") if not name.startswith("test_schema.py")}
    assert failed == DOCUMENT_FAILURES, f"unexpected: {sorted(failed - DOCUMENT_FAILURES)}; missing: {sorted(DOCUMENT_FAILURES - failed)}"
    for name in failed:
        assert "[document]" in verdict.cases[name].text and "specs/sources/tscharts-image-api.txt:" in verdict.cases[name].text, name
    # the property tests find the 500s on garbage input, as document failures, and nothing of medimock's own habits
    schema_failures = {name for name in verdict.named("failed") if name.startswith("test_schema.py")}
    assert "test_schema.py::test_operation_honours_contract[POST /tscharts/v1/image/]" in schema_failures
    for name in schema_failures:
        assert "[document]" in verdict.cases[name].text, verdict.cases[name].text[:2000]
    warned = {key for key in CONVENTIONS_SEEN if verdict.warned(key)}
    assert warned == CONVENTIONS_SEEN, f"conventions that did not warn: {CONVENTIONS_SEEN - warned}"
    assert not verdict.warned("drf-token-messages"), "a DRF server's 401s say DRF's own messages"
    # the lifecycle (with empty 404 bodies, Django's HTML pages) passes: they are conventions
    assert verdict.cases["test_workflows.py::test_image_lifecycle"].outcome == "passed"
    assert "left the target" not in verdict.stdout and "did not leave the target" not in verdict.stdout, "nothing is left behind"
    assert verdict.returncode == 1


def test_strict_mode_fails_the_conventions_too(serve, run_suite):
    verdict = run_suite("tscharts", env(serve("tscharts_django.py")), "--medimock-strict", "-k", "test_workflows")
    # an empty 404 body breaks the JSON error-body convention
    verdict.assert_strict_verdicts(DOCUMENT_FAILURES, {"test_workflows.py::test_image_lifecycle"})


@pytest.mark.parametrize("mode", ["empty-404", "html-500", "empty-object", "truncated", "latin-1"])
def test_no_crash_on_any_answer(serve, run_suite, mode):
    verdict = run_suite("tscharts", env(serve("garbage.py", "--mode", mode)))
    verdict.assert_ends_in_verdicts("tscharts", mode)
