"""The validating proxy in front of real HTTP servers on loopback: forwarding, validation, journal, report, redaction."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import requests

CLARIUS = "/api/public/v0"


def clarius_headers(upstream) -> dict[str, str]:
    return {"Authorization": upstream.credentials["clarius"]["authorization"]}


def violations_of(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["where"], v["kind"]) for v in entry["violations"]]


# -- forwarding -----------------------------------------------------------------------------------
def test_valid_traffic_is_byte_identical_and_has_no_violations(upstream, start_proxy):
    proxy = start_proxy("clarius", upstream.base("clarius"))
    headers = clarius_headers(upstream)
    paths = [
        f"{CLARIUS}/exams/accessible/?limit=3",
        f"{CLARIUS}/exams/accessible/?limit=2&offset=4",
        f"{CLARIUS}/exams/applications/",
        f"{CLARIUS}/services/settings/",
        f"{CLARIUS}/services/confirmed-tokens/",
        f"{CLARIUS}/services/notifications/records/",
        f"{CLARIUS}/services/api-keys/",
    ]
    for path in paths:
        direct = requests.get(upstream.url + path, headers=headers, timeout=10)
        proxied = requests.get(proxy.url + path, headers=headers, timeout=10)
        assert proxied.status_code == direct.status_code == 200, (path, proxied.text)
        assert proxied.content == direct.content, path
        assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
        assert int(proxied.headers["Content-Length"]) == len(direct.content)
    # The Host header is the upstream's: links the upstream builds point at itself.
    page = requests.get(proxy.url + f"{CLARIUS}/exams/accessible/?limit=1", headers=headers, timeout=10).json()
    assert page["next"].startswith(upstream.url)
    # A write goes through with its body, and the settings read back through the proxy.
    patched = requests.patch(
        proxy.url + f"{CLARIUS}/services/settings/", json={"notification_url": "http://127.0.0.1:9/hook"}, headers=headers, timeout=10
    )
    assert patched.status_code == 200, patched.text
    assert requests.get(upstream.url + f"{CLARIUS}/services/settings/", headers=headers, timeout=10).json()["notification_url"] == (
        "http://127.0.0.1:9/hook"
    )

    entries = proxy.journal()
    assert len(entries) == len(paths) + 2
    assert all(entry["violations"] == [] for entry in entries), [e for e in entries if e["violations"]]
    assert {entry["operation_id"] for entry in entries} >= {"pollExams", "getSettings", "updateSettings", "listApiKeys"}
    report = proxy.report()
    assert report["totals"]["requests"] == len(paths) + 2
    assert report["totals"]["violations"] == 0
    assert "No violations" in proxy.report("markdown")


def test_headers_path_and_body_are_forwarded_as_sent(echo_upstream, start_proxy):
    proxy = start_proxy("clarius", echo_upstream)
    body = b'{"a": 1,  "b": "\xc3\xa9"}'
    response = requests.post(
        proxy.url + "/some/odd%2Fpath/?q=1&q=2&x=%20y",
        data=body,
        headers={"Content-Type": "application/json", "X-Custom": "kept", "Connection": "X-Hop", "X-Hop": "dropped", "TE": "trailers"},
        timeout=10,
    )
    assert response.status_code == 200
    echoed = response.json()
    sent = {name.lower(): value for name, value in echoed["headers"]}
    assert echoed["method"] == "POST"
    assert echoed["raw_path"] == "/some/odd%2Fpath/?q=1&q=2&x=%20y"  # percent-encoding and query untouched
    assert base64.b64decode(echoed["body_base64"]) == body
    assert sent["host"] == echo_upstream.removeprefix("http://")
    assert sent["x-custom"] == "kept"
    assert "x-hop" not in sent and "te" not in sent  # hop-by-hop, and what Connection names
    assert sent["content-length"] == str(len(body))
    # The upstream's hop-by-hop headers stop at the proxy; its own go through.
    assert response.headers["X-Echo"] == "1"
    assert "Keep-Alive" not in response.headers
    # Not a Clarius operation: forwarded all the same, and journaled as undocumented.
    (entry,) = proxy.journal()
    assert violations_of(entry) == [("request", "undocumented_operation")]


def test_compressed_bodies_pass_through_and_are_validated_decoded(echo_upstream, start_proxy, tmp_path):
    record = tmp_path / "rec.jsonl"
    proxy = start_proxy("clarius", echo_upstream, record=str(record))
    response = requests.get(proxy.url + "/gzip", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw)) == {"compressed": True, "access_token": "GZIPPED-SECRET-TOKEN-123"}
    proxy.proxy.close()  # flush the recording
    line = json.loads(record.read_text())
    assert "GZIPPED-SECRET-TOKEN-123" not in record.read_text()
    assert json.loads(line["response"]["body"]["text"]) == {"compressed": True, "access_token": "[redacted]"}
    assert all(name.lower() != "content-encoding" for name, _ in line["response"]["headers"])  # stored decoded


def test_large_responses_stream_through_unvalidated_and_large_requests_are_refused(upstream, echo_upstream, start_proxy):
    proxy = start_proxy("clarius", upstream.base("clarius"), max_body_bytes=4096)
    headers = clarius_headers(upstream)
    path = f"{CLARIUS}/exams/accessible/?limit=40"
    direct = requests.get(upstream.url + path, headers=headers, timeout=10)
    assert len(direct.content) > 4096
    proxied = requests.get(proxy.url + path, headers=headers, timeout=10)
    assert proxied.status_code == 200 and proxied.content == direct.content
    refused = requests.post(proxy.url + f"{CLARIUS}/services/api-keys/", data=b"x" * 5000, headers=headers, timeout=10)
    assert refused.status_code == 413
    assert refused.json()["error"] == "request_too_large"
    # The streamed exchange is journaled when its body ends, which may come after the 413: found by status, not place.
    by_status = {entry["status"]: entry for entry in proxy.journal()}
    streamed, too_large = by_status[200], by_status[413]
    assert any("streamed" in note for note in streamed["detail"]["notes"])
    assert streamed["violations"] == [] and streamed["status"] == 200
    assert too_large["status"] == 413 and too_large["operation_id"] == "createApiKey"
    # A big body of an upstream with no Content-Length problem: all of it arrives.
    echo_proxy = start_proxy("clarius", echo_upstream, max_body_bytes=1024)
    assert len(requests.get(echo_proxy.url + "/big", timeout=10).content) == 300_000


# -- validation -----------------------------------------------------------------------------------
def test_defective_upstream_violations_are_journaled_and_reported(defective_upstream, start_proxy, tmp_path):
    report_file = tmp_path / "report.md"
    proxy = start_proxy("clarius", defective_upstream.base("clarius"), report=str(report_file))
    headers = clarius_headers(defective_upstream)
    poll = requests.get(proxy.url + f"{CLARIUS}/exams/accessible/?limit=2", headers=headers, timeout=10)
    assert poll.status_code == 200 and "download_url" not in poll.json()["results"][0]  # returned as the upstream sent it
    token = defective_upstream.credentials["clarius"]["unconfirmed_customer_tokens"][0]
    confirm = requests.post(proxy.url + f"{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=headers, timeout=10)
    assert confirm.status_code == 202
    anonymous = requests.get(proxy.url + f"{CLARIUS}/services/settings/", timeout=10)
    assert anonymous.status_code == 200  # the upstream ignores authentication

    # Found by operation, not by place: an exchange is journaled once its answer is sent, which may race the next request.
    by_operation = {entry["operation_id"]: entry for entry in proxy.journal()}
    poll_entry, confirm_entry, anonymous_entry = (by_operation[op] for op in ("pollExams", "confirmCustomer", "getSettings"))
    assert poll_entry["operation_id"] == "pollExams"
    schema = [v for v in poll_entry["violations"] if v["kind"] == "response_schema"]
    assert {v["field"] for v in schema} == {"results/0/download_url", "results/1/download_url"}
    assert all(v["where"] == "response" and v["rule"] == "required" for v in schema)
    assert violations_of(confirm_entry) == [("response", "undocumented_status")]
    assert "202" in confirm_entry["violations"][0]["message"]
    assert violations_of(anonymous_entry) == [("request", "missing_credentials"), ("response", "auth_not_enforced")]

    report = proxy.report()
    by_operation = {op["operation"]: op for op in report["operations"]}
    assert by_operation["pollExams"]["violations"]["response_schema"]["count"] == 2
    assert by_operation["pollExams"]["violations"]["response_schema"]["messages"][0] == {
        "message": "results/*/download_url: This field is required.",
        "count": 2,
    }
    assert by_operation["confirmCustomer"]["violations"]["undocumented_status"]["example"]["status"] == 202
    assert by_operation["getSettings"]["violations"]["auth_not_enforced"]["requests"] == 1
    assert report["violations_by_kind"] == {
        "auth_not_enforced": 1,
        "missing_credentials": 1,
        "response_schema": 2,
        "undocumented_status": 1,
    }
    markdown = report_file.read_text()  # GET /__mock__/proxy/report also rewrites --report
    assert "`pollExams`" in markdown and "response_schema" in markdown and "undocumented_status" in markdown
    assert "results/*/download_url: This field is required." in markdown
    html = proxy.report("html")
    assert html.startswith("<!doctype html>") and "confirmCustomer" in html


def test_invalid_requests_are_forwarded_and_recorded(upstream, start_proxy):
    proxy = start_proxy("clarius", upstream.base("clarius"))
    headers = clarius_headers(upstream)
    bad_limit = requests.get(proxy.url + f"{CLARIUS}/exams/accessible/?limit=ten", headers=headers, timeout=10)
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()  # the upstream's own answer
    bad_body = requests.patch(proxy.url + f"{CLARIUS}/services/settings/", json={"notification_url": 5}, headers=headers, timeout=10)
    assert bad_body.status_code == 400
    wrong_type = requests.patch(
        proxy.url + f"{CLARIUS}/services/settings/", data="a=b", headers={**headers, "Content-Type": "text/plain"}, timeout=10
    )
    assert wrong_type.status_code == 415
    unknown = requests.get(proxy.url + f"{CLARIUS}/nothing-here/", headers=headers, timeout=10)
    assert unknown.status_code == 404
    wrong_method = requests.put(proxy.url + f"{CLARIUS}/exams/accessible/", headers=headers, timeout=10)
    assert wrong_method.status_code == 405

    entries = proxy.journal()
    assert sorted(e["detail"]["upstream_status"] for e in entries) == [400, 400, 404, 405, 415]  # every one was forwarded
    # Found by what was sent, not by place: an exchange is journaled once its answer is sent, which may race the next request.
    by_sent = {(e["method"], e["detail"]["upstream_status"]): e for e in entries}
    limit, body, media, path, method = (by_sent[k] for k in (("GET", 400), ("PATCH", 400), ("PATCH", 415), ("GET", 404), ("PUT", 405)))
    assert [(v["kind"], v.get("field"), v.get("rule")) for v in limit["violations"]] == [("invalid_request", "limit", "type")]
    assert [(v["kind"], v.get("field")) for v in body["violations"]] == [("invalid_request", "notification_url")]
    assert [v["kind"] for v in media["violations"]] == ["unsupported_media_type"]
    assert violations_of(path) == [("request", "undocumented_operation")]
    assert violations_of(method) == [("request", "undocumented_operation")]
    assert "PUT is not documented" in method["violations"][0]["message"]
    report = proxy.report()
    undocumented = [op for op in report["operations"] if not op["documented"]]
    assert {(op["method"], op["path"]) for op in undocumented} == {
        ("GET", f"{CLARIUS}/nothing-here/"),
        ("PUT", f"{CLARIUS}/exams/accessible/"),
    }


def test_upstream_down_is_502_and_silent_upstream_is_504(closed_port, echo_upstream, start_proxy):
    down = start_proxy("clarius", f"http://127.0.0.1:{closed_port}")
    response = requests.get(down.url + f"{CLARIUS}/exams/accessible/?sid=QUERYSECRET-1", timeout=10)
    assert response.status_code == 502
    assert response.headers["X-Medimock-Proxy"] == "error"
    assert response.json()["error"] == "upstream_unreachable"
    assert "connection refused" in response.json()["detail"]
    (entry,) = down.journal()
    assert entry["status"] == 502 and entry["detail"]["proxy_error"] == "upstream_unreachable"
    assert entry["query"] == "sid=%5Bredacted%5D"
    assert down.report()["totals"]["upstream_errors"] == 1

    slow = start_proxy("clarius", echo_upstream, timeout=0.3)
    response = requests.get(slow.url + "/slow", timeout=10)
    assert response.status_code == 504
    assert response.json()["error"] == "upstream_timeout"
    (entry,) = slow.journal()
    assert entry["status"] == 504


def test_requests_outside_the_mount_are_not_forwarded(upstream, start_proxy):
    proxy = start_proxy("radiology", upstream.base("radiology"))
    response = requests.get(proxy.url + "/api/public/v0/exams/accessible/", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "outside_mount"
    assert "/radiology" in response.json()["detail"]


def test_control_api(upstream, start_proxy):
    proxy = start_proxy("clarius", upstream.base("clarius"), control_token="control-secret")
    assert requests.get(proxy.url + "/__mock__/requests", timeout=10).status_code == 401
    auth = {"Authorization": "Bearer control-secret"}
    health = requests.get(proxy.url + "/__mock__/health", headers=auth, timeout=10).json()
    assert health["mode"] == "proxy" and health["api"] == "clarius" and health["upstream"] == upstream.url
    assert requests.get(proxy.url + "/__mock__/nothing", headers=auth, timeout=10).status_code == 404
    assert requests.post(proxy.url + "/__mock__/requests", headers=auth, timeout=10).status_code == 405
    assert requests.get(proxy.url + "/__mock__/proxy/report?format=pdf", headers=auth, timeout=10).status_code == 400
    markdown = requests.get(proxy.url + "/__mock__/proxy/report", headers=auth, timeout=10)
    assert markdown.headers["Content-Type"].startswith("text/markdown")
    assert markdown.text.startswith("# medimock proxy report: clarius")
    requests.get(proxy.url + f"{CLARIUS}/exams/applications/", headers=clarius_headers(upstream), timeout=10)
    assert requests.delete(proxy.url + "/__mock__/requests", headers=auth, timeout=10).status_code == 204
    assert requests.get(proxy.url + "/__mock__/requests", headers=auth, timeout=10).json()["count"] == 0


# -- every API --------------------------------------------------------------------------------------
def test_every_api_through_the_proxy(upstream, start_proxy):
    creds = upstream.credentials
    # tscharts
    tscharts = start_proxy("tscharts", upstream.base("tscharts"))
    token = {"Authorization": creds["tscharts"]["authorization"]}
    listed = requests.get(
        tscharts.url + "/tscharts/v1/image/", params={"patient": creds["tscharts"]["patients"][0]}, headers=token, timeout=10
    )
    assert listed.status_code in (200, 404), listed.text
    login = requests.post(
        tscharts.url + "/tscharts/v1/login/",
        json={"username": creds["tscharts"]["username"], "password": creds["tscharts"]["password"]},
        timeout=10,
    )
    assert login.status_code == 200
    # radiology
    radiology = start_proxy("radiology", upstream.base("radiology"))
    rad = creds["radiology"]
    granted = requests.post(
        radiology.url + "/radiology/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": rad["client_id"], "client_secret": rad["client_secret"]},
        timeout=10,
    )
    assert granted.status_code == 200, granted.text
    bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    status = requests.get(radiology.url + "/radiology/status", params={"order_id": rad["examples"]["order_id"]}, headers=bearer, timeout=10)
    assert status.status_code == 200, status.text
    # ambra
    ambra = start_proxy("ambra", upstream.base("ambra"))
    logged_in = requests.post(
        ambra.url + "/api/v3/session/login", data={"login": creds["ambra"]["login"], "password": creds["ambra"]["password"]}, timeout=10
    )
    assert logged_in.status_code == 200 and logged_in.json()["status"] == "OK"
    sid = logged_in.json()["sid"]
    studies = requests.post(ambra.url + "/api/v3/study/list", data={"sid": sid, "page.rows": 2}, timeout=10)
    assert studies.status_code == 200 and studies.json()["status"] == "OK"
    user = requests.get(ambra.url + "/api/v3/session/user", params={"sid": sid}, timeout=10)
    assert user.status_code == 200
    # clarius
    clarius = start_proxy("clarius", upstream.base("clarius"))
    assert requests.get(clarius.url + f"{CLARIUS}/exams/applications/", headers=clarius_headers(upstream), timeout=10).status_code == 200

    expected = [
        (tscharts, {"listImageIds", "login"}),
        (radiology, {"getToken", "getStatus"}),
        (ambra, {"session_login", "study_list", "session_user_get"}),
        (clarius, {"listApplications"}),
    ]
    for proxy, operations in expected:
        entries = proxy.journal()
        assert all(entry["violations"] == [] for entry in entries), [(e["path"], e["violations"]) for e in entries]
        assert {entry["operation_id"] for entry in entries} == operations
