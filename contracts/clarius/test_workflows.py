"""Clarius workflows: behaviour across calls, not only the shape of one response.

Every assertion says what the document promises. The webhook tests need medimock's
control API (to simulate a scanner upload) and are skipped against targets without it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from medimock.suite import spec_schemas

SPEC = spec_schemas("clarius")
MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def eventually(probe: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def walk(clarius: Any, path: str, **params: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """Follow ``next`` links from the first page; returns every result and every page."""
    response = clarius.get(path, params=params)
    assert response.status_code == 200, f"GET {path} {params}: {response.status_code} {response.text[:300]}"
    pages = [response.json()]
    while pages[-1]["next"]:
        assert len(pages) < 1000, "pagination does not end"
        response = clarius.session.get(pages[-1]["next"], headers=clarius.headers, timeout=30)
        assert response.status_code == 200, f"GET {pages[-1]['next']}: {response.status_code}"
        pages.append(response.json())
    return [item for page in pages for item in page["results"]], pages


# -- API keys ---------------------------------------------------------------------------------


def test_api_key_lifecycle(clarius):
    created = clarius.request("POST", "/services/api-keys/", json={"name": f"contract {uuid.uuid4().hex[:8]}"})
    assert created.status_code == 201, created.text
    body = created.json()
    SPEC.assert_valid("ApiKeyCreated", body, "POST /services/api-keys/ response")
    assert body["key"].startswith(body["prefix"] + "."), "the key is <prefix>.<secret>"
    new_headers = {"Authorization": f"Service-API-Key {body['key']}"}

    listed = clarius.get("/services/api-keys/", headers=new_headers)
    assert listed.status_code == 200, "a newly created key authenticates"
    entry = next((k for k in listed.json() if k["prefix"] == body["prefix"]), None)
    assert entry is not None, "the new key is listed"
    assert "key" not in entry and body["key"] not in listed.text, "the full key is shown only at creation"

    own = clarius.request("DELETE", f"/services/api-keys/{body['prefix']}/", headers=new_headers)
    assert own.status_code == 403, "a key cannot revoke itself"

    revoked = clarius.request("DELETE", f"/services/api-keys/{body['prefix']}/")
    assert revoked.status_code == 204, revoked.text
    after = clarius.get("/services/api-keys/", headers=new_headers)
    assert after.status_code == 401, f"a revoked key stops working at once (got {after.status_code})"
    assert all(k["prefix"] != body["prefix"] for k in clarius.get("/services/api-keys/").json()), "revoked keys are not listed"
    again = clarius.request("DELETE", f"/services/api-keys/{body['prefix']}/")
    assert again.status_code == 404, "revoking a revoked key is a 404"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Service-API-Key",
        "Service-API-Key nodot",
        "Service-API-Key AAAAAAAA.wrongsecretwrongsecretwrongsecre",
        "Bearer abc",
        "Api-Key x.y",
    ],
)
def test_bad_credentials_are_401(clarius, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = clarius.get("/exams/accessible/", headers=headers)
    assert response.status_code == 401, f"Authorization {authorization!r}: {response.status_code}"
    SPEC.assert_valid("Error", response.json())
    assert response.headers.get("WWW-Authenticate") == "Service-API-Key"


# -- settings -------------------------------------------------------------------------------


def test_settings_round_trip(clarius):
    update = {"notification_url": "https://hooks.example.com/clarius", "token_transfer_url": "https://example.com/{token}/"}
    patched = clarius.request("PATCH", "/services/settings/", json=update)
    assert patched.status_code == 200, patched.text
    assert patched.json() == update
    assert clarius.get("/services/settings/").json() == update, "settings persist"

    partial = clarius.request("PATCH", "/services/settings/", json={"notification_url": ""})
    assert partial.status_code == 200
    assert partial.json() == {**update, "notification_url": ""}, "PATCH changes only the fields given; '' is allowed"


@pytest.mark.parametrize(
    "body",
    [
        {"token_transfer_url": "https://example.com/no-token-here/"},
        {"notification_url": "not a url"},
        {"notification_url": None},
        {"token_transfer_url": 42},
        {"unknown_field": "x"},
    ],
)
def test_invalid_settings_are_rejected(clarius, body):
    before = clarius.get("/services/settings/").json()
    response = clarius.request("PATCH", "/services/settings/", json=body)
    assert response.status_code == 400, f"PATCH {body}: {response.status_code} {response.text[:200]}"
    SPEC.assert_valid("ValidationErrors", response.json())
    assert clarius.get("/services/settings/").json() == before, "a rejected update changes nothing"


# -- customers ------------------------------------------------------------------------------


def test_confirmation_then_confirmed_tokens(clarius):
    unconfirmed = clarius.api.credentials.get("unconfirmed_customer_tokens") or []
    if os.environ.get("CLARIUS_UNCONFIRMED_TOKEN"):
        unconfirmed = [os.environ["CLARIUS_UNCONFIRMED_TOKEN"]]
    if not unconfirmed:
        pytest.skip("the target names no unconfirmed customer token (CLARIUS_UNCONFIRMED_TOKEN or /__mock__/credentials)")
    token = unconfirmed[0]
    tokens, _ = walk(clarius, "/services/confirmed-tokens/")
    if token in tokens:
        pytest.skip("the named unconfirmed token is already confirmed on this target")
    response = clarius.request("POST", "/services/customer-confirmations/", json={"token": token})
    assert response.status_code == 200, response.text
    tokens, _ = walk(clarius, "/services/confirmed-tokens/")
    assert token in tokens, "a confirmed token is listed by the Active Tokens API"
    assert len(tokens) == len(set(tokens))
    again = clarius.request("POST", "/services/customer-confirmations/", json={"token": token})
    assert again.status_code == 200, "confirming twice is not an error"


def test_confirming_an_unknown_token_is_404(clarius):
    response = clarius.request("POST", "/services/customer-confirmations/", json={"token": f"unknown-{uuid.uuid4()}"})
    assert response.status_code == 404
    SPEC.assert_valid("Error", response.json())


def test_confirmation_without_token_is_400(clarius):
    response = clarius.request("POST", "/services/customer-confirmations/", json={})
    assert response.status_code == 400
    assert "token" in response.json()


# -- exams ----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pagination_walk(clarius, limit):
    results, pages = walk(clarius, "/exams/accessible/", limit=limit)
    count = pages[0]["count"]
    assert all(page["count"] == count for page in pages), "count is the same on every page"
    assert len(results) == count, f"walking every page yields count ({count}) items, got {len(results)}"
    ids = [item["request_uuid"] for item in results]
    assert len(ids) == len(set(ids)), "no submission appears twice"
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert all(len(page["results"]) <= limit for page in pages)
    assert all(len(page["results"]) == limit for page in pages[:-1]), "every page but the last is full"
    for item in results[:50]:
        SPEC.assert_valid("NotificationPayload", item, "a poll result")
    if len(pages) > 1:  # previous of page 2 leads back to page 1
        back = clarius.session.get(pages[1]["previous"], headers=clarius.headers, timeout=30).json()
        assert back["results"] == pages[0]["results"]


def test_default_page_size_is_100(clarius):
    page = clarius.get("/exams/accessible/").json()
    assert len(page["results"]) == min(100, page["count"])


def test_customer_filter(clarius):
    everything = clarius.get("/exams/accessible/", params={"limit": 1000}).json()
    customers = sorted({item["customer_id"] for item in everything["results"]})
    if not customers:
        pytest.skip("the target has no exams")
    chosen = customers[0]
    results, pages = walk(clarius, "/exams/accessible/", customer_id=chosen, limit=5)
    assert results, "a customer with exams has results"
    assert all(item["customer_id"] == chosen for item in results), "customer_id is an exact-match filter"
    expected = [item for item in everything["results"] if item["customer_id"] == chosen] if everything["next"] is None else None
    if expected is not None:
        assert pages[0]["count"] == len(expected)
    nobody = clarius.get("/exams/accessible/", params={"customer_id": f"nobody-{uuid.uuid4()}"}).json()
    assert nobody["count"] == 0 and nobody["results"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"offset": -5}, {"offset": "x"}])
def test_bad_page_parameters_are_400(clarius, params):
    response = clarius.get("/exams/accessible/", params=params)
    assert response.status_code == 400, f"{params}: {response.status_code}"
    assert set(response.json()) & set(params), "the error names the parameter"


def test_download_and_every_capture(clarius):
    page = clarius.get("/exams/accessible/", params={"limit": 8}).json()
    if not page["results"]:
        pytest.skip("the target has no exams")
    for item in page["results"]:
        response = clarius.session.get(item["download_url"], headers=clarius.headers, timeout=30)
        assert response.status_code == 200, f"download_url {item['download_url']}: {response.status_code}"
        data = response.json()
        SPEC.assert_valid("ExamData", data, "a download")
        assert data["request_uuid"] == item["request_uuid"]
        assert data["captures"], "an uploaded exam has captures"
        for capture in data["captures"]:
            media = clarius.session.get(capture["url"], timeout=30)
            assert media.status_code == 200, f"capture {capture['url']}: {media.status_code}"
            kind = media.headers.get("Content-Type", "").split(";")[0]
            assert kind.startswith(("image/", "video/")), f"a capture is an image or a video, not {kind!r}"
            assert media.content, "a capture has bytes"
            if kind in MAGIC:
                assert media.content.startswith(MAGIC[kind]), f"{capture['url']} is not a real {kind}"
            if kind == "video/mp4":
                assert media.content[4:8] == b"ftyp", f"{capture['url']} is not a real MP4"


def test_early_revision_download_by_exam(clarius):
    item = clarius.get("/exams/accessible/", params={"limit": 1}).json()["results"][0]
    response = clarius.get(f"/exams/{item['exam_uuid']}/data/")
    assert response.status_code == 200, response.text
    SPEC.assert_valid("ExamDataEarly", response.json(), "the earlier revision's download")
    assert clarius.get(f"/exams/{uuid.uuid4()}/data/").status_code == 404


def test_unknown_download_request_is_404(clarius):
    response = clarius.get(f"/exams/download-requests/{uuid.uuid4()}/data/")
    assert response.status_code == 404
    SPEC.assert_valid("Error", response.json())


def test_report_upload(clarius, target):
    item = clarius.get("/exams/accessible/", params={"limit": 1}).json()["results"][0]
    path = f"/services/requests/{item['request_uuid']}/reports/"
    content = b"%PDF-1.4\n% medimock contract report\n" + uuid.uuid4().bytes
    uploaded = clarius.request("POST", path, data={"name": "Contract report"}, files={"file": ("report.pdf", content, "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    SPEC.assert_valid("Report", uploaded.json())
    assert uploaded.json()["size"] == len(content) and uploaded.json()["name"] == "Contract report"

    no_file = clarius.request("POST", path, files={"name": (None, "No file")})  # multipart without a file part
    assert no_file.status_code == 400 and "file" in no_file.json(), "a report without a file is rejected"
    text_field = clarius.request("POST", path, files={"name": (None, "Text, not a file"), "file": (None, "not a file part")})
    assert text_field.status_code == 400 and "file" in text_field.json(), "a 'file' sent as a text field is not a file"
    no_name = clarius.request("POST", path, files={"file": ("r.pdf", content, "application/pdf")})
    assert no_name.status_code == 400 and "name" in no_name.json(), "a report without a name is rejected"
    unknown = clarius.request("POST", f"/services/requests/{uuid.uuid4()}/reports/", data={"name": "x"}, files={"file": ("r.pdf", content)})
    assert unknown.status_code == 404
    if target.control_url:
        import hashlib

        stored = requests.get(target.control("/clarius/reports"), params={"request_uuid": item["request_uuid"]}, timeout=10).json()
        assert any(r["sha256"] == hashlib.sha256(content).hexdigest() for r in stored["results"]), "the file is stored byte for byte"


# -- applications ---------------------------------------------------------------------------


def test_customized_application_lifecycle(clarius):
    applications = clarius.get("/exams/applications/").json()
    assert applications, "Clarius Cloud has applications"
    for application in applications:
        SPEC.assert_valid("Application", application)
    chosen = applications[-1]
    annotations = [{"title": "Contract", "labels": ["A", "B"], "linked": True}]
    put = clarius.request("PUT", f"/services/applications/{chosen['uuid']}/", json={"annotations": annotations})
    assert put.status_code == 200, put.text
    assert put.json() == {"uuid": chosen["uuid"], "name": chosen["name"], "annotations": annotations}
    assert clarius.get(f"/services/applications/{chosen['uuid']}/").json()["annotations"] == annotations
    assert any(a["uuid"] == chosen["uuid"] for a in clarius.get("/services/applications/").json())
    assert clarius.request("DELETE", f"/services/applications/{chosen['uuid']}/").status_code == 204
    assert clarius.get(f"/services/applications/{chosen['uuid']}/").status_code == 404
    assert clarius.request("DELETE", f"/services/applications/{chosen['uuid']}/").status_code == 404
    unknown = clarius.request("PUT", f"/services/applications/{uuid.uuid4()}/", json={"annotations": annotations})
    assert unknown.status_code == 404, "customising an application that does not exist is a 404"


def test_invalid_annotations_are_rejected(clarius):
    application = clarius.get("/exams/applications/").json()[0]
    for body in ({"annotations": [{"title": "x", "labels": ["a"]}]}, {"annotations": "nope"}, {}):
        response = clarius.request("PUT", f"/services/applications/{application['uuid']}/", json=body)
        assert response.status_code == 400, f"{body}: {response.status_code}"


# -- webhooks (need the control API) --------------------------------------------------------


class Receiver:
    """A webhook receiver on a free loopback port, started and stopped by the test."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append({"headers": dict(self.headers), "body": self.rfile.read(length)})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"received")

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/clarius/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def control(target):
    if not target.control_url:
        pytest.skip("the target has no medimock control API to simulate an upload")
    return target


def simulate_upload(target: Any, **options: Any) -> dict[str, Any]:
    started = time.monotonic()
    response = requests.post(target.control("/clarius/exams"), json=options, timeout=10)
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < 2, "the simulated upload returns at once; the webhook goes out in the background"
    return response.json()


def find_record(clarius: Any, request_uuid: str) -> dict[str, Any] | None:
    for record in clarius.get("/services/notifications/records/", params={"limit": 50}).json()["results"]:
        if request_uuid in record["event"]["request"]["content"]:
            return record
    return None


def test_webhook_delivery(clarius, control):
    with Receiver() as receiver:
        assert clarius.request("PATCH", "/services/settings/", json={"notification_url": receiver.url}).status_code == 200
        upload = simulate_upload(control, captures=3, patient="animal")
        assert eventually(lambda: receiver.received, timeout=10), "the receiver got the notification"
    import json

    payload = json.loads(receiver.received[0]["body"])
    SPEC.assert_valid("NotificationPayload", payload, "the webhook payload")
    assert payload["request_uuid"] == upload["request_uuid"] and payload["exam_uuid"] == upload["exam_uuid"]
    assert receiver.received[0]["headers"].get("Content-Type", "").startswith("application/json")
    data = clarius.session.get(payload["download_url"], headers=clarius.headers, timeout=30)
    assert data.status_code == 200 and len(data.json()["captures"]) == 3
    assert "animal_type" in data.json()["patient"], "an animal patient carries animal fields"
    polled = clarius.get("/exams/accessible/", params={"customer_id": payload["customer_id"], "limit": 1000}).json()
    assert any(item["request_uuid"] == payload["request_uuid"] for item in polled["results"]), "the poll API lists the upload"

    record = eventually(lambda: find_record(clarius, upload["request_uuid"]))
    assert record is not None, "the notification records show the call"
    SPEC.assert_valid("NotificationRecord", record)
    assert record["event"]["request"]["url"] == receiver.url
    assert record["event"]["response"]["status_code"] == 200 and record["event"]["error"] is None


def test_webhook_to_a_silent_receiver_is_a_failed_record(clarius, control):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does) but never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/silent"
    try:
        assert clarius.request("PATCH", "/services/settings/", json={"notification_url": url}).status_code == 200
        upload = simulate_upload(control)
        record = eventually(lambda: find_record(clarius, upload["request_uuid"]), timeout=60, interval=0.25)
    finally:
        silent.close()
    assert record is not None, "a failed call is recorded too"
    SPEC.assert_valid("NotificationRecord", record)
    assert record["event"]["response"] is None and record["event"]["error"], "a receiver that does not answer is a failed record"


def test_webhook_to_a_closed_port_is_a_failed_record(clarius, control):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    assert clarius.request("PATCH", "/services/settings/", json={"notification_url": f"http://127.0.0.1:{port}/"}).status_code == 200
    upload = simulate_upload(control)
    record = eventually(lambda: find_record(clarius, upload["request_uuid"]))
    assert record is not None and record["event"]["response"] is None
    assert "refused" in record["event"]["error"]


def test_records_older_than_14_days_are_not_returned(clarius):
    from datetime import datetime, timedelta

    cutoff = datetime.now(UTC) - timedelta(days=14, minutes=5)
    records, _ = walk(clarius, "/services/notifications/records/", limit=100)
    for record in records:
        logged = datetime.fromisoformat(record["logged_at"].replace("Z", "+00:00"))
        assert logged >= cutoff, f"a record logged {record['logged_at']} is older than 14 days"
