"""``medimock.intercept()``: hosts, bodies, binary media, errors, faults, passthrough,
webhooks, and a clean start and stop."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import medimock
from medimock.fixtures import clarius as clarius_fixtures
from medimock.inprocess import DEFAULT_HOSTS, ControlError, InterceptError, parse_host
from mockserver.api import SPECS_DIR
from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.pipeline import MockApp
from mockserver.spec import read_document

CLARIUS = "https://cloud.clarius.com/api/public/v0"
AMBRA = "https://access.ambrahealth.com/api/v3"
RADIOLOGY = "https://api.radiology-vendor.example"
TSCHARTS = "http://tscharts.medimock.local/tscharts/v1"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One mock for the read-mostly tests of this module (each test still gets its own intercept)."""
    mock = MockApp(MockConfig(strict=True, db=str(tmp_path_factory.mktemp("shared") / "db.sqlite3"), webhook_timeout=2.0))
    wsgi = create_app(mock=mock)
    yield wsgi
    mock.close()


@pytest.fixture
def mock(shared):
    with medimock.intercept(app=shared) as active:
        active.reset()
        yield active


def clarius_key(mock) -> dict[str, str]:
    return {"Authorization": mock.credentials["clarius"]["authorization"]}


def ambra_sid(mock) -> str:
    creds = mock.credentials["ambra"]
    reply = requests.post(f"{AMBRA}/session/login", data={"login": creds["login"], "password": creds["password"]}, timeout=10)
    return str(reply.json()["sid"])


# -- hosts ------------------------------------------------------------------------------------------
def test_default_hosts_are_the_vendors_hosts_named_by_the_specs():
    for api in ("clarius", "radiology", "ambra"):
        vendor = read_document(SPECS_DIR / api / "openapi.yaml")["servers"][-1]["url"].rstrip("/")
        assert DEFAULT_HOSTS[api][0] == vendor


def test_credentials_name_the_intercepted_base_urls(mock):
    creds = mock.credentials
    assert {name: c["base_url"] for name, c in creds.items()} == {
        "clarius": "https://cloud.clarius.com",
        "tscharts": "http://tscharts.medimock.local",
        "radiology": RADIOLOGY,
        "ambra": AMBRA,
    }
    assert creds["radiology"]["token_url"] == f"{RADIOLOGY}/oauth2/token"
    served = requests.get("http://medimock.local/__mock__/credentials", timeout=10).json()
    assert served["clarius"]["base_url"] == "http://medimock.local"  # the control host: medimock's own layout
    for name, values in served.items():
        assert {k: v for k, v in values.items() if k not in ("base_url", "token_url")} == {
            k: v for k, v in creds[name].items() if k not in ("base_url", "token_url")
        }
    assert dict(creds) == mock.control.credentials()


def test_credentials_follow_the_state(mock):
    token = mock.credentials["clarius"]["unconfirmed_customer_tokens"][0]
    reply = requests.post(f"{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=clarius_key(mock), timeout=10)
    assert reply.status_code == 200
    assert token in mock.credentials["clarius"]["confirmed_customer_tokens"]


def test_a_vendor_host_serves_its_own_api_only(mock):
    key = clarius_key(mock)
    other = requests.get("https://cloud.clarius.com/tscharts/v1/image/1/", headers=key, timeout=10)
    assert (other.status_code, other.json()) == (404, {"detail": "Not found."})  # Clarius's dialect
    assert requests.get("https://cloud.clarius.com/__mock__/health", timeout=10).status_code == 404
    assert requests.get("https://cloud.clarius.com/api/v3/session/user", timeout=10).status_code == 404
    uat = requests.post("https://uat.dicomgrid.com/api/v3/session/login", data={"login": "x", "password": "y"}, timeout=10)
    assert uat.status_code == 412  # Ambra's UAT host, as in the document's example, is the mock too
    outside = requests.get("https://access.ambrahealth.com/other/path", timeout=10)
    assert outside.status_code == 404 and outside.json()["status"] == "ERROR"  # Ambra's dialect
    assert requests.get(f"{RADIOLOGY}/radiology/status", timeout=10).status_code == 404  # the vendor's layout, not the mock's
    assert requests.get(f"{RADIOLOGY}/status", timeout=10).status_code == 401


def test_either_scheme_and_explicit_default_ports_are_answered(mock):
    key = clarius_key(mock)
    for url in (
        f"{CLARIUS}/services/settings/",
        "http://cloud.clarius.com/api/public/v0/services/settings/",
        "https://cloud.clarius.com:443/api/public/v0/services/settings/",
        "https://CLOUD.Clarius.com/api/public/v0/services/settings/",
    ):
        assert requests.get(url, headers=key, timeout=10).status_code == 200, url
    with pytest.raises(requests.ConnectionError):
        requests.get("https://cloud.clarius.com:8443/api/public/v0/services/settings/", headers=key, timeout=10)


def test_host_options(shared):
    hosts = {
        "radiology": "https://ris.example.test/api/v2",
        "clarius": ["https://clarius.example.test/proxy", "cloud.clarius.com"],
        "tscharts": "127.0.0.1:8000",
        "ambra": [],
    }
    with medimock.intercept(app=shared, hosts=hosts, control_host="http://mock.example.test") as mock:
        creds = mock.credentials
        assert creds["radiology"]["token_url"] == "https://ris.example.test/api/v2/oauth2/token"
        assert creds["tscharts"]["base_url"] == "https://127.0.0.1:8000"
        assert creds["ambra"]["base_url"] == "http://mock.example.test/api/v3"  # no host of its own: the control host
        radiology = creds["radiology"]
        token = requests.post(
            radiology["token_url"],
            data={"grant_type": "client_credentials"},
            auth=(radiology["client_id"], radiology["client_secret"]),
            timeout=10,
        )
        assert token.status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{RADIOLOGY}/status", timeout=10)  # the default host is replaced, not added
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{AMBRA}/session/login", timeout=10)
        assert requests.post("http://mock.example.test/api/v3/session/login", timeout=10).status_code == 412
        assert requests.get("http://127.0.0.1:8000/tscharts/v1/image/1/", timeout=10).status_code == 401


def test_a_base_path_moves_the_links_the_mock_builds(shared):
    with medimock.intercept(app=shared, hosts={"clarius": "https://gateway.example.test/clarius"}) as mock:
        key = clarius_key(mock)
        base = "https://gateway.example.test/clarius"
        assert mock.base_url("clarius") == base
        page = requests.get(f"{base}/api/public/v0/exams/accessible/", params={"limit": 2}, headers=key, timeout=10).json()
        assert page["next"] == f"{base}/api/public/v0/exams/accessible/?limit=2&offset=2"
        second = requests.get(page["next"], headers=key, timeout=10).json()
        assert second["previous"].startswith(base + "/") and second["results"][0]["download_url"].startswith(base + "/api/")
        data = requests.get(second["results"][0]["download_url"], headers=key, timeout=10).json()
        capture = data["captures"][0]["url"]
        assert capture.startswith(f"{base}/media/clarius/captures/")
        assert requests.get(capture, timeout=10).status_code == 200
        assert requests.get("https://gateway.example.test/api/public/v0/services/settings/", headers=key, timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("api", "spec", "expected"),
    [
        ("clarius", "cloud.clarius.com", ("https", "cloud.clarius.com", None, "")),
        ("ambra", "ambra.example.test", ("https", "ambra.example.test", None, "/api/v3")),
        ("ambra", "https://ambra.example.test", ("https", "ambra.example.test", None, "")),
        ("radiology", "http://ris.test:8080/v1/", ("http", "ris.test", 8080, "/v1")),
        ("tscharts", "[::1]:8000", ("https", "::1", 8000, "")),
    ],
)
def test_parse_host(api, spec, expected):
    binding = parse_host(api, spec, "/mount")
    assert (binding.scheme, binding.hostname, binding.port, binding.base_path) == expected


@pytest.mark.parametrize("spec", ["", "ftp://x.test", "https://user@x.test", "https://x.test/?q=1", "x.test/path", "https://x.test:99999"])
def test_parse_host_refuses(spec):
    with pytest.raises(ValueError):
        parse_host("clarius", spec, "")


def test_options_are_checked(shared):
    with pytest.raises(TypeError, match="unknown option"):
        medimock.intercept(colour="blue")
    with pytest.raises(TypeError, match="existing app"):
        medimock.intercept(app=shared, seed=3)
    with pytest.raises(TypeError, match="list of API names"):
        medimock.intercept("clarius")
    for bad in ({"hosts": {"nope": "x.test"}}, {"apis": ["nope"]}, {"hosts": {"clarius": "medimock.local"}}):
        with pytest.raises(ValueError), medimock.intercept(app=shared, **bad):
            pass
    with pytest.raises(ValueError, match="no host"), medimock.intercept(app=shared, hosts={"clarius": []}, control_host=None):
        pass
    assert medimock.inprocess._active is None


# -- bodies, media, errors ---------------------------------------------------------------------------
def test_json_form_multipart_and_streamed_bodies(mock):
    key = clarius_key(mock)
    token = mock.credentials["clarius"]["unconfirmed_customer_tokens"][1]
    assert requests.post(f"{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=key, timeout=10).status_code == 200
    request_uuid = requests.get(f"{CLARIUS}/exams/accessible/", headers=key, timeout=10).json()["results"][0]["request_uuid"]
    reports = f"{CLARIUS}/services/requests/{request_uuid}/reports/"
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4096
    assert (
        requests.post(
            reports, data={"name": "multipart"}, files={"file": ("r.pdf", pdf, "application/pdf")}, headers=key, timeout=10
        ).status_code
        == 201
    )
    assert (
        requests.post(
            reports, data={"name": "file object"}, files={"file": ("r.pdf", io.BytesIO(pdf))}, headers=key, timeout=10
        ).status_code
        == 201
    )
    stored = mock.control.clarius_reports(request_uuid)
    assert [r["sha256"] for r in stored] == [hashlib.sha256(pdf).hexdigest()] * 2

    def chunks():
        yield b'{"token": '
        yield f'"{token}"}}'.encode()

    streamed = requests.post(
        f"{CLARIUS}/services/customer-confirmations/", data=chunks(), headers={**key, "Content-Type": "application/json"}, timeout=10
    )
    assert streamed.status_code == 200 and streamed.json() == {"token": token}
    creds = mock.credentials["ambra"]
    login = requests.post(f"{AMBRA}/session/login", data={"login": creds["login"], "password": creds["password"]}, timeout=10)
    assert login.status_code == 200 and login.json()["status"] == "OK"  # form-encoded
    as_text = requests.post(
        f"{AMBRA}/session/login",
        data=f"login={creds['login']}&password={creds['password']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert as_text.status_code == 200  # a str body


def test_query_strings_arrive_as_sent(mock):
    sid = ambra_sid(mock)
    everything = requests.get(f"{AMBRA}/study/list", params={"sid": sid, "page.rows": 5000}, timeout=10).json()
    reply = requests.get(
        f"{AMBRA}/study/list", params=[("sid", sid), ("filter.modality.in", '["CT","MR"]'), ("page.rows", "5000")], timeout=10
    ).json()
    assert reply["status"] == "OK" and reply["page"]["count"] < everything["page"]["count"]
    assert {s["modality"] for s in reply["studies"]} <= {"CT", "MR"}
    customer = mock.credentials["clarius"]["customer_tokens"][0]
    filtered = requests.get(f"{CLARIUS}/exams/accessible/", params={"customer_id": customer}, headers=clarius_key(mock), timeout=10)
    assert {r["customer_id"] for r in filtered.json()["results"]} == {customer}


def test_binary_media_round_trips_byte_for_byte(mock):
    key = clarius_key(mock)
    seen = {}
    for item in requests.get(f"{CLARIUS}/exams/accessible/", params={"limit": 30}, headers=key, timeout=10).json()["results"]:
        for capture in requests.get(item["download_url"], headers=key, timeout=10).json()["captures"]:
            reply = requests.get(capture["url"], timeout=10)
            seen[reply.headers["Content-Type"]] = reply.content
    assert set(seen) == {"image/jpeg", "image/png", "video/mp4"}
    for kind, (_, content_type, _) in clarius_fixtures.MEDIA.items():
        assert seen[content_type] == clarius_fixtures.media_bytes(kind)
    streamed = requests.get(capture["url"], stream=True, timeout=10)
    with streamed:
        assert b"".join(streamed.iter_content(1000)) == seen[streamed.headers["Content-Type"]]
    head = requests.head(capture["url"], timeout=10)
    assert head.content == b"" and head.headers["Content-Length"] == str(len(seen[head.headers["Content-Type"]]))


def test_tscharts_image_data_round_trips(mock):
    creds = mock.credentials["tscharts"]
    key = {"Authorization": creds["authorization"]}
    data = base64.b64encode(Path(clarius_fixtures.MEDIA_DIR / "capture.mp4").read_bytes() * 3).decode()
    body = {"patient": creds["patients"][1], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": data}
    created = requests.post(f"{TSCHARTS}/image/", json=body, headers=key, timeout=30)
    assert created.status_code == 200
    assert requests.get(f"{TSCHARTS}/image/{created.json()['id']}/", headers=key, timeout=30).json()["data"] == data


def test_errors_in_each_apis_dialect(mock):
    assert requests.post(f"{AMBRA}/session/login", data={"login": "x@y.z", "password": "no"}, timeout=10).json() == {
        "status": "ERROR",
        "error_type": "INVALID_CREDENTIALS",
    }
    assert requests.post(f"{AMBRA}/session/login", data={"login": "x@y.z", "password": "no"}, timeout=10).status_code == 412
    expired = requests.post(f"{AMBRA}/study/list", data={"sid": "00000000-0000-0000-0000-000000000000"}, timeout=10)
    assert (expired.status_code, expired.json()["error_type"]) == (401, "NO_SESSION")
    missing = requests.post(f"{AMBRA}/study/get", data={"sid": ambra_sid(mock)}, timeout=10)
    assert missing.status_code == 412 and missing.json()["error_type"] == "MISSING_FIELDS"
    refused = requests.get(f"{CLARIUS}/exams/accessible/", headers={"Authorization": "Service-API-Key a.b"}, timeout=10)
    assert (refused.status_code, refused.headers["WWW-Authenticate"], refused.json()) == (
        401,
        "Service-API-Key",
        {"detail": "Invalid API key."},
    )
    no_token = requests.get(f"{RADIOLOGY}/reports", params={"organizationId": "x"}, timeout=10)
    assert no_token.status_code == 401 and no_token.json()["error"] == "invalid_token"
    tscharts = requests.get(f"{TSCHARTS}/image/1/", headers={"Authorization": "Token nope"}, timeout=10)
    assert tscharts.status_code == 401


def test_state_persists_within_the_intercept(mock):
    creds = mock.credentials["tscharts"]
    key = {"Authorization": creds["authorization"]}
    body = {
        "patient": creds["patients"][2],
        "clinic": creds["clinics"][1],
        "station": creds["stations"][2],
        "type": "Headshot",
        "data": "QUJD",
    }
    image = requests.post(f"{TSCHARTS}/image/", json=body, headers=key, timeout=10).json()["id"]
    listed = requests.get(f"{TSCHARTS}/image/", params={"patient": creds["patients"][2], "newest": "true"}, headers=key, timeout=10)
    assert image in (listed.json() if isinstance(listed.json(), list) else [listed.json()["id"]])
    assert requests.delete(f"{TSCHARTS}/image/{image}/", headers=key, timeout=10).status_code == 200
    assert requests.get(f"{TSCHARTS}/image/{image}/", headers=key, timeout=10).status_code == 404
    assert [e["status"] for e in mock.control.journal(api="tscharts")] == [200, 200, 200, 404]


def test_parallel_requests_in_one_intercept(mock):
    key = clarius_key(mock)

    def poll(offset: int) -> int:
        return requests.get(f"{CLARIUS}/exams/accessible/", params={"limit": 1, "offset": offset}, headers=key, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(poll, range(80))) == [200] * 80
    assert len(mock.control.journal(api="clarius", limit=1000)) == 80


# -- faults -------------------------------------------------------------------------------------------
def test_prefer_header_faults(mock):
    key = clarius_key(mock)
    unavailable = requests.get(f"{CLARIUS}/services/settings/", headers={**key, "Prefer": "code=503"}, timeout=10)
    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "1")
    assert unavailable.json() == {"detail": "Service temporarily unavailable, try again later."}
    with pytest.raises(requests.ConnectionError) as dropped:
        requests.get(f"{CLARIUS}/services/settings/", headers={**key, "Prefer": "drop"}, timeout=10)
    assert "Remote end closed connection without response" in str(dropped.value)
    started = time.monotonic()
    assert requests.get(f"{CLARIUS}/services/settings/", headers={**key, "Prefer": "latency=300"}, timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{CLARIUS}/services/settings/", headers={**key, "Prefer": "latency=400"}, timeout=(5, 0.2))
    faults = [e["fault"] for e in mock.control.journal(api="clarius")]
    assert faults[0].startswith("prefer status=503") and faults[1] == "prefer drop" and "latency=300ms" in faults[2]


def test_fault_rules_from_the_control_api_or_the_control_host(mock):
    mock.control.set_faults([{"api": "ambra", "status": 500, "times": 1}])
    failed = requests.post(f"{AMBRA}/session/login", data={"login": "x", "password": "y"}, timeout=10)
    assert failed.status_code == 500 and failed.json()["status"] == "ERROR"
    assert requests.post(f"{AMBRA}/session/login", data={"login": "x", "password": "y"}, timeout=10).status_code == 412
    assert requests.put("http://medimock.local/__mock__/faults", json=[{"api": "clarius", "drop": True}], timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{CLARIUS}/services/settings/", headers=clarius_key(mock), timeout=10)
    assert mock.control.faults()[0]["applied"] == 1
    mock.control.clear_faults()
    assert requests.get(f"{CLARIUS}/services/settings/", headers=clarius_key(mock), timeout=10).status_code == 200


def test_status_retries_of_a_client_are_replayed(mock):
    mock.control.add_fault(api="clarius", operation_id="getSettings", status=503, times=2)
    with requests.Session() as session:
        session.mount("https://", HTTPAdapter(max_retries=Retry(total=3, status_forcelist=(503,), backoff_factor=0)))
        assert session.get(f"{CLARIUS}/services/settings/", headers=clarius_key(mock), timeout=10).status_code == 200
    assert [e["status"] for e in mock.control.journal(api="clarius")] == [503, 503, 200]


def test_control_errors_raise(mock):
    with pytest.raises(ControlError) as bad:
        mock.control.add_fault(api="clarius")
    assert bad.value.status == 400 and bad.value.body["error"] == "invalid_request"
    with pytest.raises(ControlError):
        mock.control.request("GET", "/no-such-route")


# -- passthrough ---------------------------------------------------------------------------------------
def test_other_hosts_are_refused_by_default(mock, receiver):
    with pytest.raises(requests.ConnectionError, match="medimock: "):
        requests.post(receiver.url, json={}, timeout=5)
    assert receiver.received == []


def test_passthrough_lets_the_named_prefixes_reach_the_network(shared, receiver):
    with medimock.intercept(app=shared, passthrough=[receiver.url]):
        assert requests.post(receiver.url, json={"n": 1}, timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.post(receiver.url.replace("/hook", "/other"), json={}, timeout=5)
    with medimock.intercept(app=shared, passthrough=re.compile(r"http://127\.0\.0\.1:\d+/")):
        assert requests.post(receiver.url, json={"n": 2}, timeout=5).status_code == 200
    with medimock.intercept(app=shared, passthrough=True):
        assert requests.post(receiver.url, json={"n": 3}, timeout=5).status_code == 200
        assert requests.get("https://cloud.clarius.com/api/public/v0/services/settings/", timeout=5).status_code == 401  # still the mock
    assert [r["json"] for r in receiver.received] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_user_stubs_for_other_hosts(mock):
    mock.responses.add(responses.GET, "https://partner.example.test/ping", json={"pong": True})
    assert requests.get("https://partner.example.test/ping", timeout=5).json() == {"pong": True}


# -- webhooks --------------------------------------------------------------------------------------------
def upload_with_notification(mock, url: str) -> dict:
    key = clarius_key(mock)
    assert requests.patch(f"{CLARIUS}/services/settings/", json={"notification_url": url}, headers=key, timeout=10).status_code == 200
    return mock.control.clarius_upload(captures=2)


def records(mock, request_uuid: str) -> list[dict]:
    mock.control.wait_for_webhooks(10)
    reply = requests.get(f"{CLARIUS}/services/notifications/records/", headers=clarius_key(mock), timeout=10).json()
    return [r["event"] for r in reply["results"] if request_uuid in r["event"]["request"]["content"]]


def test_webhooks_to_an_inbox_in_process(mock):
    inbox = mock.receive_webhooks("https://integrator.example.test/notify")
    upload = upload_with_notification(mock, inbox.url)
    (delivery,) = inbox.wait()
    payload = delivery.json()
    assert payload["request_uuid"] == upload["request_uuid"]
    assert payload["download_url"].startswith(f"{CLARIUS}/exams/download-requests/")  # the Clarius host, followable in process
    assert delivery.headers["Content-Type"] == "application/json"
    assert requests.get(payload["download_url"], headers=clarius_key(mock), timeout=10).status_code == 200
    (record,) = records(mock, upload["request_uuid"])
    assert record["response"]["status_code"] == 200 and record["error"] is None
    with pytest.raises(ValueError, match="host the mock answers"):
        mock.receive_webhooks("https://cloud.clarius.com/hook")


def test_webhooks_to_a_loopback_receiver_need_passthrough(shared, receiver):
    with medimock.intercept(app=shared, passthrough=[receiver.url]) as mock:
        upload = upload_with_notification(mock, receiver.url)
        assert receiver.arrived.wait(10)
        assert receiver.received[0]["json"]["request_uuid"] == upload["request_uuid"]
        assert records(mock, upload["request_uuid"])[0]["response"]["status_code"] == 200
    receiver.received.clear()
    with medimock.intercept(app=shared) as mock:
        upload = upload_with_notification(mock, receiver.url)
        (record,) = records(mock, upload["request_uuid"])
        assert record["response"] is None and record["error"] == "connection refused"
    assert receiver.received == []  # refused in process: nothing reached the network


def test_a_webhook_to_an_intercepted_host_reaches_the_mock(mock):
    upload = upload_with_notification(mock, "http://medimock.local/not-a-receiver")
    (record,) = records(mock, upload["request_uuid"])
    assert record["response"]["status_code"] == 404  # answered by the mock itself, in process
    assert any(e["path"] == "/not-a-receiver" for e in mock.control.journal())


def test_webhook_fault_rules_apply(mock):
    inbox = mock.receive_webhooks("https://integrator.example.test/faulty")
    mock.control.add_fault(api="clarius", webhooks=True, status=500, times=1)
    upload = upload_with_notification(mock, inbox.url)
    (record,) = records(mock, upload["request_uuid"])
    assert record["error"].startswith("injected fault") and inbox.deliveries == []


def test_leaving_waits_for_webhooks_under_way(shared):
    with medimock.intercept(app=shared) as mock:
        mock.reset()
        inbox = mock.receive_webhooks("https://integrator.example.test/slow")
        mock.control.add_fault(api="clarius", webhooks=True, latency_ms=400)
        upload_with_notification(mock, inbox.url)
        assert inbox.deliveries == []
    assert len(inbox.deliveries) == 1  # delivered through the patch before requests was unpatched


# -- lifecycle ----------------------------------------------------------------------------------------
def medimock_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("medimock-")}


def test_a_mock_of_its_own_is_closed_on_exit():
    before = medimock_threads()
    with medimock.intercept(apis=["clarius"], webhook_timeout=1.0) as mock:
        store_dir = Path(mock.app.store.path).parent
        assert store_dir.exists()
        inbox = mock.receive_webhooks("https://integrator.example.test/x")
        upload_with_notification(mock, inbox.url)
        inbox.wait()
        assert requests.get(f"{CLARIUS}/services/settings/", headers=clarius_key(mock), timeout=10).status_code == 200
        assert medimock_threads() - before  # the journal writer and webhook workers ran
        assert list(mock.hosts) == ["clarius"]
    assert not store_dir.exists()  # the temporary database is removed
    assert medimock_threads() <= before
    assert HTTPAdapter.send.__module__ == "requests.adapters"  # requests is no longer patched
    with pytest.raises(InterceptError, match="closed"):
        mock.control.health()
    with pytest.raises(InterceptError):
        mock.responses


def test_an_app_given_is_left_open(shared):
    with medimock.intercept(app=shared) as mock:
        assert mock.app is shared.extensions["medimock"]
    assert shared.test_client().get("/__mock__/health").status_code == 200


def test_cleanup_after_an_exception(shared):
    with pytest.raises(RuntimeError, match="boom"), medimock.intercept(app=shared):
        raise RuntimeError("boom")
    assert medimock.inprocess._active is None and HTTPAdapter.send.__module__ == "requests.adapters"


def test_nested_use_is_refused(mock, shared):
    with pytest.raises(InterceptError, match="already active"), medimock.intercept(app=shared):
        pass
    assert mock.active  # the outer one is untouched
    assert requests.get(f"{CLARIUS}/services/settings/", headers=clarius_key(mock), timeout=10).status_code == 200


def test_use_from_another_thread_is_refused(mock, shared):
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with medimock.intercept(app=shared):
                pass
        except InterceptError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], InterceptError)
    # ...but requests from other threads are answered by the active one (responses patches the process)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: requests.get(f"{CLARIUS}/services/settings/", timeout=10).status_code).result() == 401


def test_another_requests_mock_is_refused(shared):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as other:
        other.add(responses.GET, "https://x.test/", body="x")
        with pytest.raises(InterceptError, match="already patched"), medimock.intercept(app=shared):
            pass
    assert medimock.inprocess._active is None


def test_start_once_and_stop_twice(shared):
    active = medimock.intercept(app=shared)
    with pytest.raises(InterceptError):
        active.stop()
    active.start()
    with pytest.raises(InterceptError, match="once"):
        active.start()
    active.stop()
    active.stop()  # harmless
    assert not active.active
