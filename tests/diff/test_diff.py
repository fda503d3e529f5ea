"""medimock diff against targets with known differences: each planted difference reported once, correctly
classified, nothing else; two mocks with different seeds report nothing.

Each test starts its own servers on loopback ports (the mock as a subprocess, with one deliberate
defect on B; the Django-style tscharts of tests/contracts/servers) and runs ``medimock diff`` on a
narrow slice of a scenario (one workflow with -k, or a few property cases) to stay fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from medimock.target import EmbeddedMock

SERVERS = Path(__file__).resolve().parents[1] / "contracts" / "servers"
# mocks that must hold the very same data are seeded relative to one moment (their data's times are then equal too)
SEED_TIME = datetime.now(UTC).replace(microsecond=0).isoformat()


@pytest.fixture
def mocks() -> Iterator[Any]:
    started: list[EmbeddedMock] = []

    def start(*args: str) -> str:
        mock = EmbeddedMock(list(args), strict=False)
        started.append(mock)
        return mock.start()

    yield start
    for mock in started:
        mock.stop()


def diff(tmp_path: Path, api: str, a: str, b: str, *args: str, report: str = "diff.json") -> tuple[int, dict[str, Any]]:
    folder = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "diff", "--api", api, "--a", a, "--b", b, "--report", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (folder / report).exists(), result.stdout + result.stderr
    return result.returncode, json.loads((folder / report).read_text())


def found(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((d["kind"], d["operation"], d["where"]) for d in report["differences"])


# The single-B report (diff.json, the JUnit file, the exit code) on one defect; every defect of every API, exactly, is
# test_every_defect_reports_exactly_its_differences (several Bs in one diff).
DEFECTS = [
    ("tscharts", "tscharts.login_id_integer", "test_login", [("shape", "POST /tscharts/v1/login/", "$.id")]),
]


@pytest.mark.parametrize(("api", "defect", "workflow", "expected"), DEFECTS, ids=[d[1] for d in DEFECTS])
def test_mock_against_a_defect_variant(tmp_path: Path, mocks: Any, api: str, defect: str, workflow: str, expected: list[Any]) -> None:
    a = mocks("--api", api)
    b = mocks("--api", api, "--defect", defect)
    code, report = diff(tmp_path, api, a, b, "-k", workflow)
    assert found(report) == sorted(expected), json.dumps(report["differences"], indent=1)[:3000]
    assert all(d["occurrences"] >= 1 and d["a_side"]["curl"].startswith("curl ") for d in report["differences"])
    assert code == 1
    assert (tmp_path / "report" / "diff-junit.xml").read_text().count("<failure") == len(expected)


def test_fail_on_gates_only_the_chosen_kinds(tmp_path: Path, mocks: Any) -> None:
    a = mocks("--api", "tscharts")
    b = mocks("--api", "tscharts", "--defect", "tscharts.get_missing_type")
    code, report = diff(tmp_path, "tscharts", a, b, "-k", "test_image_lifecycle", "--fail-on", "status")
    assert [d["kind"] for d in report["differences"]] == ["shape"]
    assert report["gating"] == [] and code == 0


READ_COMMANDS = ("get", "list", "count")  # Ambra serves every command by GET too: only these change nothing
PROPERTY_RUNS = {
    "tscharts": ["--examples", "3"],
    "clarius": ["--examples", "3"],
    "radiology": ["--examples", "3"],
    "ambra": ["--examples", "2", "--max-operations", "12"],  # hundreds of commands: the first 12 (by path)
}


@pytest.mark.parametrize("api", sorted(PROPERTY_RUNS))
def test_two_mocks_with_different_seeds_report_nothing_property(tmp_path: Path, mocks: Any, api: str) -> None:
    a = mocks("--api", api, "--seed", "1")
    b = mocks("--api", api, "--seed", "2")
    code, report = diff(tmp_path, api, a, b, "--scenario", "property", "--seed", "7", *PROPERTY_RUNS[api])
    assert report["compared"] > 10
    operations = {entry["label"].split(" ")[2] for entry in report["log"] if " case " in entry["label"]}
    assert operations and all(op.rstrip("/").rsplit("/", 1)[-1] in READ_COMMANDS or api != "ambra" for op in operations), operations
    assert report["differences"] == [], json.dumps(report["differences"], indent=1)[:3000]
    assert code == 0


# The whole workflow suite of each API between seeds 1 and 2: each side's own seeded objects paired by role
# (tscharts patients with or without images, radiology orders by the report types polled, Clarius captures by
# the kind of file), and what only each side's data explain (an optional field, a null of seeded objects) is no
# difference. Steps that follow a link A's reply held and B's did not (a Clarius exam with more captures on A)
# are not sent to B, and noted.
# Radiology's orders are paired by role (status and report types); the steps naming one of A's orders without a
# counterpart on B are not sent to B, and noted.
SEED_WORKFLOWS = {
    "tscharts": (150, ("pairing: patients:",)),
    "clarius": (200, ()),
    "radiology": (300, ("pairing: orders:",)),
    "ambra": (450, ()),
}
SKIPPED_BECAUSE = ("pointed to /media/clarius/captures/", "no counterpart of the same role on B")


@pytest.mark.parametrize("api", sorted(SEED_WORKFLOWS))
def test_two_mocks_with_different_seeds_report_nothing_workflows(tmp_path: Path, mocks: Any, api: str) -> None:
    a = mocks("--api", api, "--seed", "1")
    b = mocks("--api", api, "--seed", "2")
    code, report = diff(tmp_path, api, a, b)
    compared, pairings = SEED_WORKFLOWS[api]
    assert report["compared"] > compared, report["notes"]
    assert report["differences"] == [], json.dumps(report["differences"], indent=1)[:3000]
    for pairing in pairings:
        assert any(note.startswith(pairing) for note in report["notes"]), report["notes"]
    assert not [note for note in report["notes"] if "NOT DELETED" in note]
    skipped = [note for note in report["notes"] if note.startswith("step ") and "not sent to" in note]
    assert all(any(why in note for why in SKIPPED_BECAUSE) for note in skipped), skipped
    assert any(note.startswith("data: each side its own") for note in report["notes"]), report["notes"]
    assert code == 0


@pytest.fixture
def django() -> Iterator[str]:
    process = subprocess.Popen([sys.executable, str(SERVERS / "tscharts_django.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()[-1]
    finally:
        process.kill()
        process.wait()


DJANGO_CREDENTIALS = {
    "token": "53f29e4dfc917c28a0e71f26525307250f1f8101",
    "username": "clinician",
    "password": "s3cret",
    "patients": "12,13,14",
    "clinics": "1,2",
    "stations": "1,2,3",
}
# What servers/tscharts_django.py plants, each once: (kind, operation, where, detail, who decides)
DJANGO_QUIRKS = {
    # empty error bodies (plain Django views): the document shows no error body, a convention
    ("body-presence", "GET /tscharts/v1/image/", "", "A answered a body, B an empty one", "convention"),
    ("body-presence", "GET /tscharts/v1/image/{id}/", "", "A answered a body, B an empty one", "convention"),
    ("body-presence", "DELETE /tscharts/v1/image/{id}/", "", "A answered a body, B an empty one", "convention"),
    ("body-presence", "POST /tscharts/v1/image/", "", "A answered a body, B an empty one", "convention"),
    ("body-presence", "POST /tscharts/v1/login/", "", "A answered a body, B an empty one", "convention"),
    # an unknown route (/image/abc/) is Django's HTML 404 page
    ("content-type", "GET /tscharts/v1/image/{id}/", "Content-Type", "application/json against text/html", "convention"),
    # the missing field: the reference server never returns timestamp, which the schema declares optional
    ("shape", "GET /tscharts/v1/image/{id}/", "$.timestamp", "field only on A", "convention"),
    ("shape", "GET /tscharts/v1/image/", "$.timestamp", "field only on A", "convention"),
    # another status for a mistake: ids sent as strings or floats coerced, data unchecked, station optional
    # (created where the document says 400), a string patient coerced and then unknown, sort=yes / type=xray
    # not refused (matches nothing: 404), clinic=abc a 500
    ("status", "POST /tscharts/v1/image/", "", "400 against 200", "document"),
    ("status", "POST /tscharts/v1/image/", "", "400 against 404", "document"),
    ("status", "GET /tscharts/v1/image/", "", "400 against 404", "document"),
    ("status", "GET /tscharts/v1/image/", "", "400 against 500", "document"),
    # an empty or non-JSON create body: an uncaught ValueError, Django's 500 (the suite sends one since mutscore)
    ("status", "POST /tscharts/v1/image/", "", "400 against 500", "document"),
    # the 2.5 MiB body limit (DATA_UPLOAD_MAX_MEMORY_SIZE): the document names none
    ("status", "POST /tscharts/v1/image/", "", "200 against 400", "convention"),
}


def test_mock_against_the_django_style_server(tmp_path: Path, mocks: Any, django: str) -> None:
    a = mocks("--api", "tscharts")
    code, report = diff(tmp_path, "tscharts", a, django, "--b-credentials", json.dumps(DJANGO_CREDENTIALS))
    got = [(d["kind"], d["operation"], d["where"], d["detail"], d["tier"]) for d in report["differences"]]
    assert sorted(got) == sorted(DJANGO_QUIRKS), json.dumps(report["differences"], indent=1)[:4000]
    cited = [d for d in report["differences"] if d["tier"] == "document"]
    assert all("tscharts-image-api.txt:" in d["source"] for d in cited)
    # the patients paired by role: A's (25) cut to the server's 3, each without images on both sides
    assert "pairing: patients: 3 pairs by role (A names 25, B 3); the others are left out on both sides" in report["notes"]
    # what only B accepted was deleted at once (documented DELETE), nothing is left behind
    assert any("deleted at once" in note for note in report["notes"]), report["notes"]
    assert not [note for note in report["notes"] if "NOT DELETED" in note]
    headers = {"Authorization": f"Token {DJANGO_CREDENTIALS['token']}"}
    for patient in (12, 13, 14):
        assert requests.get(f"{django}/tscharts/v1/image/", params={"patient": patient}, headers=headers, timeout=10).status_code == 404
    assert code == 1


def _record_a_client_session(upstream: str, recording: Path) -> None:
    """A client's tscharts calls through the validating proxy (``medimock proxy --record``) in front of ``upstream``."""
    from werkzeug.serving import make_server

    from mockserver.cli import ProxyRequestHandler
    from mockserver.proxy import ProxyConfig, ValidatingProxy
    from mockserver.proxy_app import ProxyWsgiApp

    credentials = requests.get(upstream + "/__mock__/credentials", timeout=10).json()["tscharts"]
    proxy = ValidatingProxy(ProxyConfig(api="tscharts", upstream=upstream, port=0, record=str(recording)))
    server = make_server("127.0.0.1", 0, ProxyWsgiApp(proxy), threaded=True, request_handler=ProxyRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.port}/tscharts/v1"
        login = requests.post(root + "/login/", json={"username": credentials["username"], "password": credentials["password"]}, timeout=10)
        headers = {"Authorization": f"Token {login.json()['token']}"}
        patient, clinic, station = credentials["patients"][-1], credentials["clinics"][0], credentials["stations"][0]
        body = {"patient": patient, "clinic": clinic, "station": station, "type": "Xray", "data": "ABCDEFG"}
        created = requests.post(root + "/image/", json=body, headers=headers, timeout=10).json()["id"]
        requests.get(f"{root}/image/{created}/", headers=headers, timeout=10)
        requests.get(root + "/image/", params={"patient": patient, "sort": "true"}, headers=headers, timeout=10)
        requests.post(root + "/image/", json={**body, "type": "xray"}, headers=headers, timeout=10)  # a mistake: 400
        requests.delete(f"{root}/image/{created}/", headers=headers, timeout=10)
        requests.get(f"{root}/image/{created}/", headers=headers, timeout=10)  # gone: 404
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        proxy.close()


def test_recording_against_a_defect_variant(tmp_path: Path, mocks: Any) -> None:
    """A recording made through the validating proxy, replayed to the mock and to a defect variant: the defect once."""
    recording = tmp_path / "client.jsonl"
    _record_a_client_session(mocks("--api", "tscharts"), recording)
    lines = recording.read_text().splitlines()
    assert len(lines) == 7 and "[redacted]" in recording.read_text()
    a = mocks("--api", "tscharts")
    b = mocks("--api", "tscharts", "--defect", "tscharts.get_missing_type")
    code, report = diff(tmp_path, "tscharts", a, b, "--recording", str(recording))
    assert report["compared"] == 7, report["notes"]
    assert found(report) == [("shape", "GET /tscharts/v1/image/{id}/", "$.type")], json.dumps(report["differences"], indent=1)[:3000]
    assert code == 1
    assert not [note for note in report["notes"] if "NOT DELETED" in note or "not sent" in note], report["notes"]


# Every `make mutation` defect with one workflow that meets it: each API's diff runs those workflows (-k, their union)
# once against the clean mock A, every request mirrored to one B per defect (`--b` repeated), so four diffs cover
# every defect. A webhook's payload goes to a receiver, not into a reply: it shows in the notification records that
# keep what was sent (compared when both sides hold the same data); the Research API's DICOM downloads are compared by
# what their archives hold (each DICOM file's transfer syntax and main attributes).
EVERY_DEFECT = {
    "clarius.webhook_missing_download_url": "test_webhook_delivery",
    "clarius.research_bundle_not_checked": "test_without_the_bundle_both_apis_refuse",
    "clarius.research_processing_served": "test_raw_data_while_processing_is_400",
    "clarius.dicom_wrong_transfer_syntax": "test_dicom_defaults",
    "clarius.research_links_never_expire": "test_expired_links_are_refused",
    "clarius.poll_missing_download_url": "test_pagination_walk",
    "clarius.confirm_undocumented_status": "test_confirmation_then_confirmed_tokens",
    "clarius.auth_ignored": "test_bad_credentials_are_401",
    "clarius.create_key_without_secret": "test_api_key_lifecycle",
    "clarius.settings_wrong_type": "test_settings_round_trip",
    "clarius.poll_ignores_customer_filter": "test_customer_filter",
    "clarius.poll_not_paginated": "test_pagination_walk",
    "clarius.revoked_key_still_accepted": "test_api_key_lifecycle",
    "clarius.poll_count_wrong": "test_pagination_walk",
    "clarius.previous_link_wrong": "test_pagination_walk",
    "clarius.download_wrong_request_uuid": "test_download_and_every_capture",
    "clarius.unknown_token_confirmed": "test_confirming_an_unknown_token_is_404",
    "clarius.report_without_file_accepted": "test_report_upload",
    "clarius.old_records_returned": "test_records_older_than_14_days_are_not_returned",
    "tscharts.get_missing_type": "test_image_lifecycle",
    "tscharts.auth_ignored": "test_bad_tokens_are_401",
    "tscharts.newest_ignored": "test_image_lifecycle",
    "tscharts.delete_keeps_image": "test_image_lifecycle",
    "tscharts.empty_list_200": "test_image_lifecycle",
    "tscharts.sort_ascending": "test_image_lifecycle",
    "tscharts.login_id_integer": "test_login",
    "radiology.scope_not_enforced": "test_wrong_scope_is_403",
    "radiology.ack_ignored": "test_unacknowledged_reports_come_back",
    "radiology.expired_token_accepted": "test_expired_token_is_rejected",
    "radiology.other_org_visible": "test_other_organisation_orders_are_not_visible",
    "radiology.status_not_most_recent": "test_status_of_a_study_is_its_most_recent_order",
    "radiology.auth_ignored": "test_bad_tokens_are_401",
    "radiology.expires_in_string": "test_expired_token_is_rejected",
    "ambra.page_more_wrong": "test_study_list_paging_walk",
    "ambra.filter_ignored": "test_generic_list_filter_and_sort",
    "ambra.sort_ignored": "test_sort_by_one_field",
    "ambra.missing_fields_subtype_empty": "test_missing_fields_lists_every_missing_field",
    "ambra.logout_keeps_sid": "test_logout_invalidates_the_sid",
    "ambra.not_permitted_ignored": "test_user_role_is_not_permitted",
    "ambra.bundle_no_status_code": "test_bundle_templates_and_status_codes",
    "ambra.expired_session_accepted": "test_expired_session_is_refused",
    "ambra.study_get_drops_study_uid": "test_study_lifecycle",
    "ambra.not_found_answers_200": "test_resource_lifecycle",
    "ambra.page_count_string": "test_study_list_paging_walk",
}


def test_every_defect_is_listed() -> None:
    listed = subprocess.run([sys.executable, "-m", "mockserver", "defects"], capture_output=True, text=True, check=True)
    assert {d["name"] for d in json.loads(listed.stdout)} == set(EVERY_DEFECT)


# What each defect's B differs in, exactly: (kind, operation, where, who decides), once each, nothing else. A and every B
# are mocks with one seed and one seed time, so the diff compares every value (--data same, chosen by itself): a
# defect that changes only values of seeded objects (a count, a link, which records a poll returns, a report not
# acknowledged coming back) is a "value" difference. Some defects show in several places (auth_ignored: every
# operation the workflows call without a key), and some carry on into the replies that follow (Ambra's sort_ignored
# and filter_ignored return other objects first; tscharts' delete_keeps_image lists the image it should have deleted).
# The last B is a mock like A: nothing.
# Ambra's missing_fields_subtype_empty shows in the MISSING_FIELDS error of every command the general test probes
# without its required fields, by GET and by POST (user/set only by POST)
_PROBED = [
    "account/can/share",
    "account/saml/role/set",
    "account/vanity/add",
    "analytics/user",
    "appointment/add",
    "case/attach",
    "customfield/add",
    "destination/retrieve",
    "dictionary/entry/delete",
    "group/add",
    "help/set",
    "hl7/transform/add",
    "location/add",
    "meeting/events/add",
    "namespace/removed/user/report",
    "node/log",
    "order/sps/add",
    "qctask/add",
    "radreport/add",
    "radreport/template/add",
    "role/filter/add",
    "rule_set/add",
    "site/user/add",
    "study/audit",
    "study/manual/route",
    "study/push/hl7",
    "study/share/who",
    "study/validate",
    "timer_rule/add",
    "webhook/add",
]
MISSING_FIELDS_PROBED = [
    ("value", f"{method} /api/v3/{command}", "$.error_subtype[]", "document")
    for command in [*_PROBED, "user/set"]
    for method in (("POST",) if command in ("user/set",) else ("GET", "POST"))
]


EVERY_DEFECT_FOUND: dict[str, list[tuple[str, str, str, str]]] = {
    # The Clarius spec cites clarius-cloud-api-v0.txt for its responses since clarius-verdict: a 401/403, a documented
    # 200 and a documented reply's fields are the document's; the deleted key's 404, the settings PATCH reply and the
    # report upload's reply stay conventions (the document does not show them).
    "clarius.auth_ignored": [
        ("status", "DELETE /api/public/v0/services/api-keys/{prefix}/", "", "convention"),
        ("status", "DELETE /api/public/v0/services/api-keys/{prefix}/", "", "document"),
        ("status", "GET /api/public/v0/exams/accessible/", "", "document"),
        ("status", "GET /api/public/v0/exams/rawdata/{id}", "", "document"),
        ("status", "GET /api/public/v0/exams/rawdata/{id}", "", "document"),
        ("status", "GET /api/public/v0/exams/rawdata/{id}", "", "document"),  # a token the control API revoked
        ("status", "GET /api/public/v0/services/api-keys/", "", "document"),
        ("status", "POST /api/public/v0/exams/dicom/{id}", "", "document"),
    ],
    "clarius.confirm_undocumented_status": [
        ("status", "POST /api/public/v0/services/customer-confirmations/", "", "document"),
    ],
    "clarius.create_key_without_secret": [
        ("shape", "POST /api/public/v0/services/api-keys/", "$.key", "document"),
        ("status", "DELETE /api/public/v0/services/api-keys/{prefix}/", "", "document"),
        ("status", "GET /api/public/v0/services/api-keys/", "", "document"),
    ],
    "clarius.webhook_missing_download_url": [
        ("shape", "GET /api/public/v0/services/notifications/records/", "$.results[].event.request.content(json).download_url", "document"),
    ],
    "clarius.research_bundle_not_checked": [
        ("status", "GET /api/public/v0/exams/rawdata/{id}", "", "document"),
        ("status", "POST /api/public/v0/exams/dicom/{id}", "", "document"),
    ],
    "clarius.research_processing_served": [
        ("status", "GET /api/public/v0/exams/rawdata/{id}", "", "document"),
    ],
    "clarius.dicom_wrong_transfer_syntax": [
        ("value", "GET /media/clarius/research/dicom/{id}/e30/exam-51-dicom.zip", "$.members[].content.TransferSyntaxUID", "undocumented"),
    ],
    "clarius.research_links_never_expire": [
        ("status", "GET /media/clarius/research/dicom/{id}/{id}/exam-51-dicom.zip", "", "undocumented"),
        ("status", "GET /media/clarius/research/raw/{id}/E3AFEE8DED.zip", "", "undocumented"),
    ],
    "clarius.download_wrong_request_uuid": [
        ("value", "GET /api/public/v0/exams/download-requests/{request_uuid}/data/", "$.request_uuid", "document"),
    ],
    "clarius.old_records_returned": [
        ("value", "GET /api/public/v0/services/notifications/records/", "$.count", "document"),
        ("value", "GET /api/public/v0/services/notifications/records/", "$.results[]", "document"),
    ],
    "clarius.poll_count_wrong": [
        ("value", "GET /api/public/v0/exams/accessible/", "$.count", "document"),
    ],
    "clarius.poll_ignores_customer_filter": [
        ("shape", "GET /api/public/v0/exams/accessible/", "$.next", "document"),
        ("value", "GET /api/public/v0/exams/accessible/", "$.count", "document"),
        ("value", "GET /api/public/v0/exams/accessible/", "$.results[]", "document"),
    ],
    "clarius.poll_missing_download_url": [
        ("shape", "GET /api/public/v0/exams/accessible/", "$.results[].download_url", "document"),
    ],
    "clarius.poll_not_paginated": [
        ("shape", "GET /api/public/v0/exams/accessible/", "$.next", "document"),
        ("shape", "GET /api/public/v0/exams/accessible/", "$.previous", "document"),
        ("value", "GET /api/public/v0/exams/accessible/", "$.results[]", "document"),
    ],
    "clarius.previous_link_wrong": [
        ("value", "GET /api/public/v0/exams/accessible/", "$.previous", "document"),
    ],
    "clarius.report_without_file_accepted": [
        ("status", "POST /api/public/v0/services/requests/{request_uuid}/reports/", "", "convention"),
    ],
    "clarius.revoked_key_still_accepted": [
        ("status", "DELETE /api/public/v0/services/api-keys/{prefix}/", "", "convention"),
        ("status", "GET /api/public/v0/services/api-keys/", "", "document"),
        ("value", "GET /api/public/v0/services/api-keys/", "$[]", "document"),
    ],
    "clarius.settings_wrong_type": [
        ("shape", "GET /api/public/v0/services/settings/", "$.notification_url", "document"),
        ("shape", "PATCH /api/public/v0/services/settings/", "$.notification_url", "convention"),
    ],
    "clarius.unknown_token_confirmed": [
        ("status", "POST /api/public/v0/services/customer-confirmations/", "", "document"),
    ],
    "tscharts.auth_ignored": [
        ("status", "DELETE /tscharts/v1/image/{id}/", "", "document"),
        ("status", "GET /tscharts/v1/image/", "", "convention"),
        ("status", "GET /tscharts/v1/image/", "", "document"),
        ("status", "GET /tscharts/v1/image/{id}/", "", "document"),
        ("status", "POST /tscharts/v1/image/", "", "convention"),
    ],
    "tscharts.delete_keeps_image": [
        ("status", "DELETE /tscharts/v1/image/{id}/", "", "document"),
        ("status", "GET /tscharts/v1/image/", "", "document"),
        ("status", "GET /tscharts/v1/image/{id}/", "", "document"),
        ("value", "GET /tscharts/v1/image/", "$[]", "document"),
    ],
    "tscharts.empty_list_200": [
        ("status", "GET /tscharts/v1/image/", "", "document"),
    ],
    "tscharts.get_missing_type": [
        ("shape", "GET /tscharts/v1/image/{id}/", "$.type", "document"),
    ],
    "tscharts.login_id_integer": [
        ("shape", "POST /tscharts/v1/login/", "$.id", "convention"),
    ],
    "tscharts.newest_ignored": [
        ("shape", "GET /tscharts/v1/image/", "$", "document"),
    ],
    "tscharts.sort_ascending": [
        ("order", "GET /tscharts/v1/image/", "$[]", "document"),
    ],
    "radiology.ack_ignored": [
        ("value", "GET /radiology/reports", "$[]", "document"),
    ],
    "radiology.auth_ignored": [
        ("shape", "GET /radiology/status", "$.studyGroup", "document"),
        ("status", "GET /radiology/orderId", "", "document"),
        ("status", "GET /radiology/orderId", "", "document"),
        ("status", "GET /radiology/report", "", "document"),
        ("status", "GET /radiology/report", "", "document"),
        ("status", "GET /radiology/report", "", "document"),
        ("status", "GET /radiology/reports", "", "document"),
        ("status", "GET /radiology/reports", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
        ("status", "POST /radiology/reports", "", "convention"),
        ("status", "POST /radiology/reports", "", "convention"),
        ("value", "GET /radiology/orderId", "$.orderIds[]", "document"),
        ("value", "GET /radiology/results", "$.error_description", "convention"),
        ("value", "GET /radiology/status", "$.orderId", "document"),
    ],
    "radiology.expired_token_accepted": [
        ("status", "GET /radiology/reports", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
    ],
    "radiology.expires_in_string": [
        ("shape", "GET /radiology/oauth2/token", "$.expires_in", "document"),
    ],
    "radiology.other_org_visible": [
        ("shape", "GET /radiology/status", "$.studyGroup", "document"),
        ("status", "GET /radiology/report", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
        ("value", "GET /radiology/orderId", "$.orderIds[]", "document"),
        ("value", "GET /radiology/results", "$.error_description", "convention"),
        ("value", "GET /radiology/status", "$.orderId", "document"),
    ],
    "radiology.scope_not_enforced": [
        ("status", "GET /radiology/orderId", "", "document"),
        ("status", "GET /radiology/report", "", "document"),
        ("status", "GET /radiology/reports", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/status", "", "document"),
        ("status", "POST /radiology/reports", "", "convention"),
    ],
    "radiology.status_not_most_recent": [
        ("status", "GET /radiology/results", "", "document"),
        ("status", "GET /radiology/results", "", "document"),
        ("value", "GET /radiology/status", "$.orderId", "document"),
        ("value", "GET /radiology/status", "$.reportTypes[]", "document"),
        ("value", "GET /radiology/status", "$.status", "document"),
    ],
    "ambra.bundle_no_status_code": [
        ("shape", "POST /api/v3/bundle", "$[].HTTP_STATUS_CODE", "document"),
    ],
    "ambra.expired_session_accepted": [
        ("status", "GET /api/v3/study/list", "", "document"),
        ("status", "POST /api/v3/session/logout", "", "document"),
        ("status", "POST /api/v3/session/ttl", "", "document"),
        ("status", "POST /api/v3/session/user", "", "document"),
        ("status", "POST /api/v3/study/list", "", "document"),
    ],
    "ambra.filter_ignored": [
        ("value", "POST /api/v3/customfield/list", "$.customfields[]", "document"),
        ("value", "POST /api/v3/customfield/list", "$.page.count", "document"),
        ("value", "POST /api/v3/group/list", "$.groups[]", "document"),
        ("value", "POST /api/v3/group/list", "$.page.count", "document"),
        ("value", "POST /api/v3/study/list", "$.page.count", "document"),
        ("value", "POST /api/v3/study/list", "$.page.more", "document"),
        ("value", "POST /api/v3/study/list", "$.studies[]", "document"),
    ],
    "ambra.logout_keeps_sid": [
        ("status", "GET /api/v3/session/ttl", "", "document"),
        ("status", "GET /api/v3/session/user", "", "document"),
        ("status", "GET /api/v3/study/count", "", "document"),
        ("status", "GET /api/v3/study/list", "", "document"),
        ("status", "POST /api/v3/session/logout", "", "document"),
        ("status", "POST /api/v3/session/ttl", "", "document"),
        ("status", "POST /api/v3/session/user", "", "document"),
        ("status", "POST /api/v3/study/count", "", "document"),
        ("status", "POST /api/v3/study/list", "", "document"),
    ],
    "ambra.missing_fields_subtype_empty": MISSING_FIELDS_PROBED,
    "ambra.not_found_answers_200": [
        ("shape", "POST /api/v3/bundle", "$[].error_subtype", "document"),
        ("shape", "POST /api/v3/bundle", "$[].error_type", "document"),
        ("status", "POST /api/v3/customfield/get", "", "document"),
        ("status", "POST /api/v3/group/get", "", "document"),
        ("status", "POST /api/v3/location/get", "", "document"),
        ("status", "POST /api/v3/study/get", "", "document"),
        ("status", "POST /api/v3/webhook/get", "", "document"),
        ("value", "POST /api/v3/bundle", "$[].HTTP_STATUS_CODE", "document"),
        ("value", "POST /api/v3/bundle", "$[].status", "document"),
    ],
    "ambra.not_permitted_ignored": [
        ("status", "POST /api/v3/group/add", "", "document"),
        ("status", "POST /api/v3/study/delete", "", "document"),
        ("status", "POST /api/v3/study/delete", "", "document"),
        ("status", "POST /api/v3/study/get", "", "document"),
        ("status", "POST /api/v3/webhook/list", "", "document"),
    ],
    "ambra.page_count_string": [
        ("shape", "POST /api/v3/bundle", "$[].page.count", "document"),
        ("shape", "POST /api/v3/customfield/list", "$.page.count", "document"),
        ("shape", "POST /api/v3/group/list", "$.page.count", "document"),
        ("shape", "POST /api/v3/location/list", "$.page.count", "document"),
        ("shape", "POST /api/v3/role/list", "$.page.count", "document"),
        ("shape", "POST /api/v3/study/list", "$.page.count", "document"),
    ],
    "ambra.page_more_wrong": [
        ("value", "POST /api/v3/bundle", "$[].page.more", "document"),
        ("value", "POST /api/v3/customfield/list", "$.page.more", "document"),
        ("value", "POST /api/v3/study/list", "$.page.more", "document"),
    ],
    "ambra.sort_ignored": [
        ("value", "POST /api/v3/customfield/list", "$.customfields[]", "document"),
    ],
    "ambra.study_get_drops_study_uid": [
        ("shape", "POST /api/v3/bundle", "$[].study_uid", "document"),
        ("shape", "POST /api/v3/study/get", "$.study_uid", "document"),
    ],
}


def _start_all(mocks: list[EmbeddedMock]) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda mock: mock.start(90), mocks))


@pytest.mark.parametrize("api", ["ambra", "clarius", "radiology", "tscharts"])
def test_every_defect_reports_exactly_its_differences(tmp_path: Path, api: str) -> None:
    """The clean mock against each of the API's defect variants in one diff (one run of the workflows, mirrored to every
    B): per defect, exactly the differences it plants, each once and classified, both curls; the exit code gates."""
    defects = [*sorted(d for d in EVERY_DEFECT if d.startswith(api + ".")), "(none)"]  # the last B: a mock like A
    same = ["--api", api, "--seed-time", SEED_TIME]  # one seed, one seed time: the very same data on every side
    started = [EmbeddedMock(same, strict=False)] + [
        EmbeddedMock([*same, "--defect", d] if d != "(none)" else same, strict=False) for d in defects
    ]
    try:
        a, *bs = _start_all(started)
        workflows = " or ".join(sorted({EVERY_DEFECT[d] for d in defects if d in EVERY_DEFECT}))
        code, _ = diff(tmp_path, api, a, bs[0], *[arg for b in bs[1:] for arg in ("--b", b)], "-k", workflows, report="b1/diff.json")
    finally:
        for mock in started:
            mock.stop()
    mismatched = {}
    for number, defect in enumerate(defects, 1):
        report = json.loads((tmp_path / "report" / f"b{number}" / "diff.json").read_text())
        assert report["b"] == bs[number - 1] and report["compared"] > 100, report["notes"]
        assert any(note.startswith("data: the same on both sides") and SEED_TIME in note for note in report["notes"]), report["notes"]
        got = sorted((d["kind"], d["operation"], d["where"], d["tier"]) for d in report["differences"])
        if got != sorted(EVERY_DEFECT_FOUND.get(defect, [])):
            mismatched[defect] = got
        assert all(d["a_side"]["curl"].startswith("curl ") and d["b_side"]["curl"].startswith("curl ") for d in report["differences"])
        assert not [note for note in report["notes"] if "NOT DELETED" in note], report["notes"]
    assert not mismatched, json.dumps(mismatched, indent=1)
    assert code == 1
