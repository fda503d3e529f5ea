"""In process or over HTTP, a client sees the same mock.

One mock (strict mode on) is served on a real loopback port and intercepted at the
vendors' hosts at the same time. Each scenario runs twice from the same database
snapshot: through the loopback server, then through ``medimock.intercept()``; the
replies must match in status, content type, the headers that carry meaning and the
body byte for byte, once each side's base URL is written ``<BASE>`` and the values
that are random by design (tokens, session ids, new uuids) are masked.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

import medimock
from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.pipeline import MockApp

CLARIUS = "/api/public/v0"
MEANINGFUL_HEADERS = ("content-type", "allow", "www-authenticate", "retry-after", "cache-control", "location", "content-disposition")
TRANSPORT_HEADERS = {"date", "server", "connection", "keep-alive", "content-length", "transfer-encoding"}


@dataclass
class Side:
    name: str
    bases: dict[str, str]  # API -> base URL
    roots: list[str]  # what to write as <BASE> in bodies


@dataclass
class World:
    mock: MockApp
    http: Side
    inproc: Side
    creds: dict[str, Any]
    taken: Any


@pytest.fixture(scope="module")
def world(tmp_path_factory, loopback, snapshots) -> Iterator[World]:
    mock = MockApp(MockConfig(strict=True, db=str(tmp_path_factory.mktemp("parity") / "db.sqlite3"), webhook_timeout=2.0))
    wsgi = create_app(mock=mock)
    try:
        with loopback(wsgi) as root, medimock.intercept(app=wsgi, passthrough=[root + "/"]) as mock_in:
            mounts = {api.name: api.definition.mount for api in mock.apis}
            http_bases = {name: root + mount for name, mount in mounts.items()}
            http = Side("http", http_bases, sorted({*http_bases.values(), root}, key=len, reverse=True))
            bases = {name: mock_in.base_url(name) for name in mounts}
            inproc = Side("intercept", bases, sorted(set(bases.values()), key=len, reverse=True))
            creds = dict(mock_in.credentials)
            yield World(mock, http, inproc, creds, snapshots.take(mock))
    finally:
        mock.close()


def normalise(reply: requests.Response, side: Side, masks: tuple[str, ...]) -> dict[str, Any]:
    body = reply.content
    for root in side.roots:
        body = body.replace(root.encode(), b"<BASE>")
    content_type = reply.headers.get("Content-Type", "")
    if content_type.startswith("application/json") and body:
        body = json.dumps(_mask(json.loads(body), masks), sort_keys=True).encode()
    headers = {}
    for name in MEANINGFUL_HEADERS:
        if name in reply.headers:
            value = reply.headers[name]
            for root in side.roots:
                value = value.replace(root, "<BASE>")
            headers[name] = value
    assert reply.headers.get("Content-Length") in (None, str(len(reply.content))) or reply.request.method == "HEAD"
    return {
        "request": f"{reply.request.method} {_path(reply.request.url or '', side, masks)}",
        "status": reply.status_code,
        "headers": headers,
        "header_names": sorted({n.lower() for n in reply.headers} - TRANSPORT_HEADERS),
        "body": body,
    }


def _path(url: str, side: Side, masks: tuple[str, ...]) -> str:
    for root in side.roots:
        url = url.replace(root, "<BASE>")
    for name in masks:
        url = re.sub(rf"([?&]{re.escape(name)}=)[^&]*", r"\1<masked>", url)
    return url


def _mask(value: Any, masks: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: ("<masked>" if k in masks else _mask(v, masks)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, masks) for v in value]
    return value


Scenario = Callable[[requests.Session, dict[str, str], dict[str, Any]], list[requests.Response]]


def compare(world: World, snapshots: Any, scenario: Scenario, masks: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    seen = {}
    for side in (world.http, world.inproc):
        snapshots.restore(world.mock, world.taken)
        with requests.Session() as session:
            replies = scenario(session, side.bases, world.creds)
        seen[side.name] = [normalise(reply, side, masks) for reply in replies]
    assert seen["intercept"] == seen["http"]
    return seen["http"]


# -- Clarius ------------------------------------------------------------------------------------------
def clarius_reads(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    base, key = bases["clarius"], {"Authorization": creds["clarius"]["authorization"]}
    customer = creds["clarius"]["confirmed_customer_tokens"][0]
    page = s.get(f"{base}{CLARIUS}/exams/accessible/", params={"limit": 3, "offset": 3}, headers=key, timeout=10)
    out = [page, s.get(page.json()["next"], headers=key, timeout=10), s.get(page.json()["previous"], headers=key, timeout=10)]
    out.append(s.get(f"{base}{CLARIUS}/exams/accessible/", params={"customer_id": customer, "limit": 50}, headers=key, timeout=10))
    first = page.json()["results"][0]
    for item in s.get(f"{base}{CLARIUS}/exams/accessible/", params={"limit": 8}, headers=key, timeout=10).json()["results"]:
        data = s.get(item["download_url"], headers=key, timeout=10)
        out.append(data)
        out += [s.get(capture["url"], timeout=10) for capture in data.json()["captures"]]
    out.append(s.head(data.json()["captures"][0]["url"], timeout=10))
    out.append(s.get(f"{base}{CLARIUS}/exams/{first['exam_uuid']}/data/", headers=key, timeout=10))
    for path in ("/services/settings/", "/services/confirmed-tokens/", "/services/notifications/records/", "/exams/applications/"):
        out.append(s.get(f"{base}{CLARIUS}{path}", headers=key, timeout=10))
    return out


def clarius_errors(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    base, key = bases["clarius"], {"Authorization": creds["clarius"]["authorization"]}
    poll = f"{base}{CLARIUS}/exams/accessible/"
    return [
        s.get(poll, timeout=10),
        s.get(poll, headers={"Authorization": "Service-API-Key abcd1234.wrong"}, timeout=10),
        s.get(poll, params={"limit": 0}, headers=key, timeout=10),
        s.delete(poll, headers=key, timeout=10),
        s.get(f"{base}{CLARIUS}/exams/download-requests/00000000-0000-4000-8000-000000000000/data/", headers=key, timeout=10),
        s.post(
            f"{base}{CLARIUS}/services/customer-confirmations/", data="token", headers={**key, "Content-Type": "text/plain"}, timeout=10
        ),
        s.patch(f"{base}{CLARIUS}/services/settings/", json={"token_transfer_url": "https://x.example/no-token"}, headers=key, timeout=10),
        s.get(poll, headers={**key, "Prefer": "code=503"}, timeout=10),
        s.get(f"{base}/media/clarius/captures/00000000-0000-4000-8000-000000000000/capture.jpg", timeout=10),
    ]


def clarius_writes(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    base, key = bases["clarius"], {"Authorization": creds["clarius"]["authorization"]}
    token = creds["clarius"]["unconfirmed_customer_tokens"][0]
    out = [s.post(f"{base}{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=key, timeout=10)]
    out.append(s.get(f"{base}{CLARIUS}/services/confirmed-tokens/", headers=key, timeout=10))
    request_uuid = s.get(f"{base}{CLARIUS}/exams/accessible/", headers=key, timeout=10).json()["results"][0]["request_uuid"]
    files = {"file": ("report.pdf", b"%PDF-1.4 " + bytes(range(256)) * 64, "application/pdf")}
    out.append(
        s.post(
            f"{base}{CLARIUS}/services/requests/{request_uuid}/reports/", data={"name": "Findings"}, files=files, headers=key, timeout=10
        )
    )
    out.append(
        s.patch(
            f"{base}{CLARIUS}/services/settings/", json={"notification_url": "https://integrator.example/hook"}, headers=key, timeout=10
        )
    )
    out.append(s.get(f"{base}{CLARIUS}/services/settings/", headers=key, timeout=10))
    return out


def test_clarius_reads_match(world, snapshots):
    replies = compare(world, snapshots, clarius_reads)
    assert [r["status"] for r in replies][:3] == [200, 200, 200]
    assert any(r["headers"].get("content-type") == "video/mp4" for r in replies)
    assert b"<BASE>/api/public/v0/exams/accessible/?limit=3&offset=6" in replies[0]["body"]  # links name the host the client used


def test_clarius_errors_match(world, snapshots):
    replies = compare(world, snapshots, clarius_errors)
    assert [r["status"] for r in replies] == [401, 401, 400, 405, 404, 415, 400, 503, 404]
    assert replies[0]["headers"]["www-authenticate"] == "Service-API-Key"
    assert replies[3]["headers"]["allow"] and replies[7]["headers"]["retry-after"] == "1"


def test_clarius_writes_match(world, snapshots):
    replies = compare(world, snapshots, clarius_writes, masks=("uuid", "created"))
    assert [r["status"] for r in replies] == [200, 200, 201, 200, 200]


# -- tscharts -----------------------------------------------------------------------------------------
def tscharts(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    c = creds["tscharts"]
    base, key = bases["tscharts"] + "/tscharts/v1", {"Authorization": c["authorization"]}
    data = base64.b64encode(bytes(range(256)) * 8192).decode()  # 2 MiB of every byte value
    body = {"patient": c["patients"][0], "clinic": c["clinics"][0], "station": c["stations"][0], "type": "Xray", "data": data}
    created = s.post(f"{base}/image/", json=body, headers=key, timeout=30)
    out = [created, s.get(f"{base}/image/{created.json()['id']}/", headers=key, timeout=30)]
    out.append(s.get(f"{base}/image/", params={"patient": c["patients"][0], "sort": "true"}, headers=key, timeout=10))
    out.append(s.get(f"{base}/image/999999/", headers=key, timeout=10))
    out.append(s.get(f"{base}/image/", params={"patient": c["patients"][0]}, headers={"Authorization": "Token nope"}, timeout=10))
    out.append(s.post(f"{base}/login/", json={"username": c["username"], "password": c["password"]}, timeout=10))
    out.append(s.post(f"{base}/image/", json={**body, "data": "not base64!"}, headers=key, timeout=10))
    out.append(s.delete(f"{base}/image/{created.json()['id']}/", headers=key, timeout=10))
    return out


def test_tscharts_matches(world, snapshots):
    replies = compare(world, snapshots, tscharts, masks=("timestamp",))  # the creation time
    assert [r["status"] for r in replies] == [200, 200, 200, 404, 401, 200, 400, 200]
    assert len(replies[1]["body"]) > 2_000_000


# -- radiology ----------------------------------------------------------------------------------------
def radiology(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    c = creds["radiology"]
    base = bases["radiology"]
    status_client = next(x for x in c["organizations"][0]["clients"] if x["client_id"].endswith("-status"))
    out = [
        s.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(c["client_id"], c["client_secret"]), timeout=10),
        s.get(
            f"{base}/oauth2/token",
            params={"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]},
            timeout=10,
        ),
        s.post(
            f"{base}/oauth2/token", data={"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": "x"}, timeout=10
        ),
    ]
    bearer = {"Authorization": "Bearer " + out[0].json()["access_token"]}
    narrow = s.post(
        f"{base}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(status_client["client_id"], status_client["client_secret"]),
        timeout=10,
    )
    examples = c["examples"]
    out += [
        s.get(f"{base}/status", params={"order_id": examples["order_id"]}, headers=bearer, timeout=10),
        s.get(f"{base}/orderId", params={"study_uid": examples["study_uid_with_several_orders"]}, headers=bearer, timeout=10),
        s.get(f"{base}/results", params={"order_id": examples["order_id"], "report_type": "FINAL"}, headers=bearer, timeout=10),
        s.get(f"{base}/reports", params={"organizationId": c["organization_id"]}, headers=bearer, timeout=10),
        s.get(f"{base}/status", params={"order_id": examples["order_id"]}, timeout=10),
        s.get(
            f"{base}/results",
            params={"order_id": examples["order_id"], "report_type": "FINAL"},
            headers={"Authorization": "Bearer " + narrow.json()["access_token"]},
            timeout=10,
        ),
    ]
    return out


def test_radiology_matches(world, snapshots):
    replies = compare(world, snapshots, radiology, masks=("access_token",))
    assert [r["status"] for r in replies] == [200, 200, 401, 200, 200, 200, 200, 401, 403]


# -- Ambra --------------------------------------------------------------------------------------------
def ambra(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
    c, base = creds["ambra"], bases["ambra"]
    out = [s.post(f"{base}/session/login", data={"login": c["login"], "password": "wrong"}, timeout=10)]
    login = s.post(f"{base}/session/login", data={"login": c["login"], "password": c["password"]}, timeout=10)
    sid = login.json()["sid"]
    out += [
        login,
        s.post(f"{base}/study/list", data={"sid": sid, "page.rows": 3, "sort_by": "patient_name-asc"}, timeout=10),
        s.get(f"{base}/study/list", params={"sid": sid, "page.rows": 2, "page.number": 2, "filter.modality.in": '["CT","MR"]'}, timeout=10),
        s.post(f"{base}/study/list", data={"sid": "not-a-session"}, timeout=10),
        s.post(f"{base}/study/list", timeout=10),
        s.get(f"{base}/session/login", params={"login": c["login"], "password": c["password"]}, timeout=10),
        s.post(f"{base}/study/get", data={"sid": sid}, timeout=10),
        s.post(f"{base}/session/user", data={"sid": sid}, timeout=10),
        s.post(f"{base}/session/user", headers={"X-AmbraHealth-SID": sid}, timeout=10),
        s.post(f"{base}/session/user", headers={"X_AmbraHealth_SID": sid}, timeout=10),  # servers drop headers with "_"
    ]
    return out


def test_ambra_matches(world, snapshots):
    if "ambra" not in world.http.bases:
        pytest.skip("this build does not serve Ambra")
    replies = compare(world, snapshots, ambra, masks=("sid", "sid_md5"))
    assert [r["status"] for r in replies] == [412, 200, 200, 200, 401, 401, 405, 412, 200, 200, 401]
    assert json.loads(replies[0]["body"]) == {"status": "ERROR", "error_type": "INVALID_CREDENTIALS"}
    assert json.loads(replies[4]["body"])["error_type"] == "NO_SESSION"


def test_the_control_host_is_the_whole_server(world, snapshots):
    def control(s: requests.Session, bases: dict[str, str], creds: dict[str, Any]) -> list[requests.Response]:
        root = bases["clarius"] if "127.0.0.1" in bases["clarius"] else "http://medimock.local"
        return [
            s.get(f"{root}/__mock__/health", timeout=10),
            s.get(f"{root}/specs/clarius.yaml", timeout=10),
            s.get(f"{root}/radiology/status", timeout=10),
            s.put(f"{root}/__mock__/faults", json=[{"api": "tscharts", "status": 500}], timeout=10),
            s.delete(f"{root}/__mock__/faults", timeout=10),
            s.get(f"{root}/__mock__/nope", timeout=10),
        ]

    root = world.http.bases["clarius"]  # the loopback server's root
    http, inproc = (
        Side("http", {"clarius": root}, [root]),
        Side("intercept", {"clarius": "http://medimock.local"}, ["http://medimock.local"]),
    )
    world_for_control = World(world.mock, http, inproc, world.creds, world.taken)
    replies = compare(world_for_control, snapshots, control)
    assert [r["status"] for r in replies] == [200, 200, 401, 200, 204, 404]
    assert re.search(rb"url: <BASE>\n", replies[1]["body"])  # the served spec names the host it was fetched from
