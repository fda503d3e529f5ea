"""The Clarius mock's behaviour, in process, with strict response validation on."""

from __future__ import annotations

import io
import time
import uuid

import pytest

from medimock.fixtures import clarius as fixtures

API = "/api/public/v0"


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]}


def test_seeded_key_is_deterministic(make_app):
    first = make_app(seed=7).test_client().get("/__mock__/credentials").get_json()["clarius"]["api_key"]
    second = make_app(seed=7).test_client().get("/__mock__/credentials").get_json()["clarius"]["api_key"]
    other = make_app(seed=8).test_client().get("/__mock__/credentials").get_json()["clarius"]["api_key"]
    assert first == second != other


def test_fixtures_have_human_and_animal_patients_and_every_media_kind():
    data = fixtures.build(1)
    kinds = {"animal" if "animal_name" in e.patient else "human" for e in data.exams}
    assert kinds == {"human", "animal"}
    assert {c.kind for e in data.exams for c in e.captures} == set(fixtures.MEDIA)
    assert len(data.requests) > 100, "the default fixtures span two poll pages"
    assert fixtures.build(1).api_key.key == data.api_key.key


def test_poll_pages_and_links(client, auth):
    page = client.get(f"{API}/exams/accessible/?limit=10&offset=10", headers=auth).get_json()
    assert len(page["results"]) == 10
    assert page["next"].endswith("limit=10&offset=20") and page["previous"].endswith("limit=10")
    assert page["results"][0]["download_url"].startswith("http://localhost/api/public/v0/exams/download-requests/")
    last = client.get(f"{API}/exams/accessible/?limit=10&offset={page['count'] - 3}", headers=auth).get_json()
    assert len(last["results"]) == 3 and last["next"] is None
    beyond = client.get(f"{API}/exams/accessible/?offset=100000", headers=auth).get_json()
    assert beyond["results"] == [] and beyond["previous"] is not None


def test_poll_is_newest_first_and_stable(client, auth):
    results = client.get(f"{API}/exams/accessible/?limit=1000", headers=auth).get_json()["results"]
    stamps = [r["submitted_at"] for r in results]
    assert stamps == sorted(stamps, reverse=True)


def test_customer_filter(client, auth):
    token = client.get("/__mock__/credentials").get_json()["clarius"]["customer_tokens"][0]
    page = client.get(f"{API}/exams/accessible/?customer_id={token}&limit=1000", headers=auth).get_json()
    assert page["count"] > 0 and {r["customer_id"] for r in page["results"]} == {token}


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=1.5"])
def test_bad_page_parameters(client, auth, query):
    response = client.get(f"{API}/exams/accessible/?{query}", headers=auth)
    assert response.status_code == 400
    assert query.split("=")[0] in response.get_json()


def test_missing_and_revoked_keys(client, auth):
    assert client.get(f"{API}/exams/accessible/").status_code == 401
    created = client.post(f"{API}/services/api-keys/", json={"name": "temp"}, headers=auth).get_json()
    new = {"Authorization": f"Service-API-Key {created['key']}"}
    assert client.get(f"{API}/services/settings/", headers=new).status_code == 200
    assert client.delete(f"{API}/services/api-keys/{created['prefix']}/", headers=new).status_code == 403
    assert client.delete(f"{API}/services/api-keys/{created['prefix']}/", headers=auth).status_code == 204
    assert client.get(f"{API}/services/settings/", headers=new).status_code == 401
    assert created["key"] not in client.get(f"{API}/services/api-keys/", headers=auth).get_data(as_text=True)


def test_key_secret_is_stored_hashed(app, auth):
    mock = app.extensions["medimock"]
    rows = mock.store.query("SELECT secret_hash FROM clarius_api_keys")
    secret = auth["Authorization"].split(".", 1)[1]
    assert all(secret not in row["secret_hash"] for row in rows)


def test_confirmation(client, auth):
    creds = client.get("/__mock__/credentials").get_json()["clarius"]
    token = creds["unconfirmed_customer_tokens"][0]
    before = client.get(f"{API}/services/confirmed-tokens/", headers=auth).get_json()
    assert token not in before["results"]
    assert client.post(f"{API}/services/customer-confirmations/", json={"token": token}, headers=auth).status_code == 200
    after = client.get(f"{API}/services/confirmed-tokens/", headers=auth).get_json()
    assert token in after["results"] and after["count"] == before["count"] + 1
    assert client.post(f"{API}/services/customer-confirmations/", json={"token": "nope"}, headers=auth).status_code == 404


def test_settings_validation(client, auth):
    url = f"{API}/services/settings/"
    assert client.patch(url, json={"token_transfer_url": "https://x.example/{token}"}, headers=auth).status_code == 200
    bad = client.patch(url, json={"token_transfer_url": "https://x.example/"}, headers=auth)
    assert bad.status_code == 400 and "token_transfer_url" in bad.get_json()
    assert client.get(url, headers=auth).get_json()["token_transfer_url"] == "https://x.example/{token}"


def test_report_upload_stores_file(client, auth):
    request_uuid = client.get(f"{API}/exams/accessible/?limit=1", headers=auth).get_json()["results"][0]["request_uuid"]
    data = {"name": "Findings", "file": (io.BytesIO(b"report bytes"), "findings.pdf", "application/pdf")}
    response = client.post(f"{API}/services/requests/{request_uuid}/reports/", data=data, headers=auth, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    stored = client.get(f"/__mock__/clarius/reports?request_uuid={request_uuid}").get_json()["results"]
    assert stored[0]["file_name"] == "findings.pdf" and stored[0]["size"] == len(b"report bytes")
    missing = client.post(
        f"{API}/services/requests/{request_uuid}/reports/", data={"name": "x"}, headers=auth, content_type="multipart/form-data"
    )
    assert missing.status_code == 400 and "file" in missing.get_json()


def test_captures_download_real_media(client, auth):
    request_uuid = client.get(f"{API}/exams/accessible/?limit=1", headers=auth).get_json()["results"][0]["request_uuid"]
    data = client.get(f"{API}/exams/download-requests/{request_uuid}/data/", headers=auth).get_json()
    for capture in data["captures"]:
        media = client.get(capture["url"].replace("http://localhost", ""))
        assert media.status_code == 200 and media.content_type in ("image/jpeg", "image/png", "video/mp4")
        assert len(media.data) > 100
    assert client.get(f"/media/clarius/captures/{uuid.uuid4()}/capture.jpg").status_code == 404


def test_reset_restores_fixtures(client, auth):
    client.patch(f"{API}/services/settings/", json={"notification_url": "https://a.example/"}, headers=auth)
    assert client.post("/__mock__/reset").status_code == 200
    assert client.get(f"{API}/services/settings/", headers=auth).get_json()["notification_url"] == ""


def test_old_records_hidden(client, auth):
    records = client.get(f"{API}/services/notifications/records/", headers=auth).get_json()
    assert records["count"] == 2, "the seeded 20-day-old record is not returned"


def test_seeded_records_link_to_the_submission_on_the_mock(client, auth):
    """A seeded notification's download_url is the same link the Poll API gives for that submission."""
    import json

    records = client.get(f"{API}/services/notifications/records/", headers=auth).get_json()["results"]
    poll = {r["request_uuid"]: r for r in client.get(f"{API}/exams/accessible/?limit=1000", headers=auth).get_json()["results"]}
    for record in records:
        payload = json.loads(record["event"]["request"]["content"])
        assert payload["download_url"] == poll[payload["request_uuid"]]["download_url"]
        assert payload["download_url"].startswith("http://localhost/api/public/v0/exams/download-requests/")


def test_simulated_upload_without_receiver(client, auth):
    created = client.post("/__mock__/clarius/exams", json={"captures": 2, "patient": "animal"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["notification"] is None, "no notification_url is set in the fixtures"
    data = client.get(f"{API}/exams/download-requests/{body['request_uuid']}/data/", headers=auth).get_json()
    assert "animal_name" in data["patient"] and len(data["captures"]) == 2
    assert client.post("/__mock__/clarius/exams", json={"captures": 0}).status_code == 400
    assert client.post("/__mock__/clarius/exams", json={"customer_id": "nobody"}).status_code == 404


def test_webhook_failure_is_recorded(client, auth):
    client.patch(f"{API}/services/settings/", json={"notification_url": "http://127.0.0.1:9/unreachable"}, headers=auth)
    started = time.monotonic()
    body = client.post("/__mock__/clarius/exams", json={}).get_json()
    assert time.monotonic() - started < 1
    record = wait_for_record(client, auth, body["request_uuid"])
    assert record is not None and record["event"]["error"] == "connection refused" and record["event"]["response"] is None


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/services/customer-confirmations/", {"data": "{not json", "content_type": "application/json"}, 400),
        ("POST", "/services/customer-confirmations/", {"data": b"\xff\xfe", "content_type": "application/json"}, 400),
        ("POST", "/services/customer-confirmations/", {"data": "token=x", "content_type": "text/plain"}, 415),
        ("POST", "/services/api-keys/", {"json": {"name": ""}}, 400),
        ("POST", "/services/api-keys/", {"json": {"name": "x" * 51}}, 400),
        ("PUT", "/services/applications/not-a-uuid/", {"json": {"annotations": []}}, 400),
        ("DELETE", "/services/api-keys/../../etc/", {}, 404),
        ("GET", "/exams/accessible/?customer_id=%27%3B%20DROP%20TABLE%20clarius_exams%3B--", {}, 200),
        ("PATCH", "/exams/accessible/", {}, 405),
    ],
)
def test_hostile_input_gets_documented_errors(client, auth, method, path, kwargs, status):
    response = client.open(API + path, method=method, headers=auth, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert client.get(f"{API}/exams/accessible/?limit=1", headers=auth).status_code == 200, "still serving"


def test_method_not_allowed_has_allow_header(client, auth):
    response = client.put(f"{API}/exams/accessible/", headers=auth)
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_payload_too_large(make_app):
    client = make_app(max_body_bytes=1000).test_client()
    auth = {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]}
    response = client.post(f"{API}/services/api-keys/", json={"name": "x" * 5000}, headers=auth)
    assert response.status_code == 413 and "detail" in response.get_json()


@pytest.mark.parametrize("defect", ["clarius.poll_missing_download_url", "clarius.settings_wrong_type"])
def test_strict_mode_reports_a_broken_response(make_app, defect):
    client = make_app(defects=frozenset({defect})).test_client()
    auth = {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]}
    path = "/exams/accessible/" if "poll" in defect else "/services/settings/"
    response = client.get(API + path, headers=auth)
    assert response.status_code == 500 and "medimock_strict_violation" in response.get_json()


def test_unknown_defect_is_refused(make_app):
    with pytest.raises(ValueError, match="unknown defects"):
        make_app(defects=frozenset({"no.such"}))


def wait_for_record(client, auth, request_uuid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = client.get(f"{API}/services/notifications/records/", headers=auth).get_json()["results"]
        mine = [r for r in records if request_uuid in r["event"]["request"]["content"]]
        if mine:
            return mine[0]
        time.sleep(0.05)
    return None


def test_faulted_webhook_shows_in_the_records(client, auth):
    client.patch(f"{API}/services/settings/", json={"notification_url": "http://127.0.0.1:9/never-called"}, headers=auth)
    rule = {"api": "clarius", "webhooks": True, "status": 503, "latency_ms": 50, "times": 1}
    assert client.put("/__mock__/faults", json=[rule]).status_code == 200
    started = time.monotonic()
    body = client.post("/__mock__/clarius/exams", json={}).get_json()
    assert time.monotonic() - started < 1, "the trigger does not wait for the delayed webhook"
    record = wait_for_record(client, auth, body["request_uuid"])
    assert record is not None and record["event"]["response"] is None
    assert record["event"]["error"].startswith("injected fault"), record["event"]["error"]
    # times=1: the next delivery is real again (and fails for real: nothing listens on port 9)
    second = client.post("/__mock__/clarius/exams", json={}).get_json()
    assert wait_for_record(client, auth, second["request_uuid"])["event"]["error"] == "connection refused"
    assert client.get("/__mock__/faults").get_json()["rules"][0]["applied"] == 1
    # request rules do not touch webhooks, webhook rules do not touch requests
    assert client.get(f"{API}/services/settings/", headers=auth).status_code == 200


def test_webhooks_drain_waits_for_the_queued_notifications(client, auth):
    """POST /__mock__/webhooks/drain returns once every webhook queued so far is sent and recorded."""
    client.patch(f"{API}/services/settings/", json={"notification_url": "http://127.0.0.1:9/unreachable"}, headers=auth)
    uploads = [client.post("/__mock__/clarius/exams", json={}).get_json()["request_uuid"] for _ in range(3)]
    drained = client.post("/__mock__/webhooks/drain", json={"timeout_seconds": 30})
    assert drained.status_code == 200 and drained.get_json() == {"drained": True}
    # no waiting after the drain: every upload's record is already there
    records = client.get(f"{API}/services/notifications/records/", headers=auth).get_json()["results"]
    missing = [u for u in uploads if not any(u in r["event"]["request"]["content"] for r in records)]
    assert not missing, f"not recorded after the drain: {missing}"
    assert client.post("/__mock__/webhooks/drain").get_json() == {"drained": True}, "an empty body waits the default time"
    for body in ({"timeout_seconds": -1}, {"timeout_seconds": "5"}, {"timeout_seconds": True}, {"timeout_seconds": 301}):
        refused = client.post("/__mock__/webhooks/drain", json=body)
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request", body
