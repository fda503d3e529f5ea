"""Radiology workflows: behaviour across calls, not only the shape of one response.

token (GET, POST, HTTP Basic) -> poll -> fetch each result -> acknowledge -> the next poll
no longer holds them; unacknowledged reports come back; an expired token, a token without
the operation's scope and another organisation's orders are refused; "only the most
recent" order of a study. Every assertion says what specs/radiology/openapi.yaml (and its
README) promises.

Workflows that create orders or move time need medimock's control API
(``/__mock__/radiology/orders``, ``/__mock__/radiology/clock``); against other targets they
use identifiers from the environment (``RADIOLOGY_EXPIRED_TOKEN``, ``RADIOLOGY_OTHER_ORDER_ID``,
``RADIOLOGY_MULTI_ORDER_STUDY_UID``, ``RADIOLOGY_STUDY_GROUP``) or are skipped.
"""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests

from medimock.suite import spec_schemas

SPEC = spec_schemas("radiology")
STATUS_OPERATIONS = [("GET", "/status", "order_id"), ("GET", "/orderId", "study_uid")]
REPORT_OPERATIONS = [
    ("GET", "/results", "order_id"),
    ("GET", "/report", "study_group"),
    ("GET", "/reports", None),
    ("POST", "/reports", None),
]


def describe(response: requests.Response) -> str:
    return f"{response.request.method} {response.request.path_url} -> {response.status_code} {response.text[:300]}"


def new_study_uid() -> str:
    return f"1.2.826.0.1.3680043.10.{random.randint(10**8, 10**9 - 1)}.{random.randint(1, 10**6)}"


def assert_error(response: requests.Response, status: int, code: str, promise: str) -> dict[str, Any]:
    assert response.status_code == status, f"{promise}: expected {status} {code}, got {describe(response)}"
    body = response.json()
    SPEC.assert_valid("Error", body, f"the error body of {response.request.method} {response.request.path_url}")
    assert body["error"] == code, f"{promise}: the error code is {code!r}, not {body['error']!r}"
    return body


def poll(radiology: Any, token: str) -> list[dict[str, Any]]:
    response = radiology.get("/reports", token, params={"organizationId": radiology.organization_id})
    assert response.status_code == 200, f"polling one's own organisation: {describe(response)}"
    reports = response.json()
    SPEC.assert_valid("ReportList", reports, "the batch poll")
    stamps = [r["createdAt"] for r in reports]
    assert stamps == sorted(stamps), "the batch poll returns reports oldest first"
    return reports


def acknowledge(radiology: Any, token: str, body: Any = None) -> dict[str, Any]:
    kwargs = {"json": body} if body is not None else {}
    response = radiology.post("/reports", token, params={"organizationId": radiology.organization_id}, **kwargs)
    assert response.status_code == 200, f"acknowledging: {describe(response)}"
    SPEC.assert_valid("AcknowledgeResponse", response.json(), "the acknowledgement")
    return response.json()


def resource_call(radiology: Any, token: str | None, method: str, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    """A valid request to a resource operation (identifiers that may or may not exist)."""
    params = {
        "/status": {"order_id": radiology.example("order_id") or "ORD-CONTRACT-0001"},
        "/orderId": {"study_uid": radiology.example("study_uid") or "1.2.3.4"},
        "/results": {"order_id": radiology.example("order_id") or "ORD-CONTRACT-0001", "report_type": "FINAL"},
        "/report": {"study_group": radiology.example("study_group") or "GRP-CONTRACT-0001", "report_type": "FINAL"},
        "/reports": {"organizationId": radiology.organization_id},
    }[path]
    if headers is None:
        headers = radiology.bearer(token) if token else {}
    if method == "POST":  # acknowledge an order that does not exist: nothing is marked received
        return radiology.post(path, None, params=params, headers=headers, json={"orderIds": ["ORD-CONTRACT-UNKNOWN"]})
    return radiology.get(path, None, params=params, headers=headers)


@pytest.fixture
def control(target):
    if not target.control_url:
        pytest.skip("the target has no medimock control API (/__mock__/radiology/...) to create orders or move its clock")
    return target


def simulate(target: Any, **options: Any) -> dict[str, Any]:
    response = requests.post(target.control("/radiology/orders"), json=options, timeout=10)
    assert response.status_code == 201, f"POST /__mock__/radiology/orders {options}: {response.status_code} {response.text[:300]}"
    return response.json()


# -- token endpoint -----------------------------------------------------------------------------


def check_token(radiology: Any, response: requests.Response, how: str, scope: str | None = None) -> str:
    assert response.status_code == 200, f"a token {how}: {describe(response)}"
    body = response.json()
    SPEC.assert_valid("TokenResponse", body, f"the token response ({how})")
    assert body["token_type"] == "Bearer" and 1 <= body["expires_in"] <= 3600, "a Bearer token living at most one hour"
    assert "no-store" in response.headers.get("Cache-Control", ""), "token responses are sent with Cache-Control: no-store"
    if scope is not None:
        assert body["scope"].split() == scope.split(), f"the token carries the scope asked for ({scope}), not {body['scope']!r}"
    method, path, _ = (REPORT_OPERATIONS if "reports:read" in body["scope"].split() else STATUS_OPERATIONS)[0]
    works = resource_call(radiology, body["access_token"], method, path)
    assert works.status_code in (200, 404), f"the token {how} authenticates: {describe(works)}"
    return str(body["access_token"])


def test_token_get_post_and_basic(radiology):
    form = {"grant_type": "client_credentials", "client_id": radiology.client_id, "client_secret": radiology.client_secret}
    tokens = [
        check_token(radiology, radiology.session.get(radiology.url("/oauth2/token"), params=form, timeout=30), "by GET (the document)"),
        check_token(
            radiology, radiology.session.post(radiology.url("/oauth2/token"), data=form, timeout=30), "by POST (client_secret_post)"
        ),
    ]
    basic = base64.b64encode(f"{quote(radiology.client_id, safe='')}:{quote(radiology.client_secret, safe='')}".encode()).decode()
    response = radiology.session.post(
        radiology.url("/oauth2/token"),
        data={"grant_type": "client_credentials", "scope": "status:read"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    tokens.append(check_token(radiology, response, "by POST with HTTP Basic (client_secret_basic)", scope="status:read"))
    assert len(set(tokens)) == 3, "every token request gets a new token"
    full = radiology.token_response(scope="reports:read status:read")
    assert full.status_code == 200 and set(full.json()["scope"].split()) == {"reports:read", "status:read"}


def test_token_errors(radiology):
    url = radiology.url("/oauth2/token")
    good = {"grant_type": "client_credentials", "client_id": radiology.client_id, "client_secret": radiology.client_secret}
    wrong = {**good, "client_secret": radiology.client_secret + "x"}
    assert_error(radiology.session.post(url, data=wrong, timeout=30), 401, "invalid_client", "a wrong client secret")
    assert_error(radiology.session.get(url, params=wrong, timeout=30), 401, "invalid_client", "a wrong client secret (GET)")
    assert_error(
        radiology.session.post(url, data={**good, "client_id": f"nobody-{uuid.uuid4().hex[:8]}"}, timeout=30),
        401,
        "invalid_client",
        "an unknown client",
    )
    assert_error(
        radiology.session.post(url, data={"grant_type": "client_credentials"}, timeout=30),
        401,
        "invalid_client",
        "no client authentication",
    )
    bad_basic = base64.b64encode(f"{radiology.client_id}:wrong-secret".encode()).decode()
    refused = radiology.session.post(
        url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {bad_basic}"}, timeout=30
    )
    assert_error(refused, 401, "invalid_client", "HTTP Basic with a wrong secret")
    assert refused.headers.get("WWW-Authenticate", "").startswith("Basic"), "a refused HTTP Basic client gets WWW-Authenticate: Basic"
    assert_error(
        radiology.session.post(url, data={**good, "grant_type": "password"}, timeout=30),
        400,
        "unsupported_grant_type",
        "another grant type",
    )
    assert_error(
        radiology.session.get(url, params={**good, "grant_type": "password"}, timeout=30),
        400,
        "unsupported_grant_type",
        "another grant type (GET)",
    )
    assert_error(radiology.session.post(url, data={**good, "scope": "admin"}, timeout=30), 400, "invalid_scope", "an unknown scope")
    good_basic = base64.b64encode(f"{radiology.client_id}:{radiology.client_secret}".encode()).decode()
    both = radiology.session.post(url, data=good, headers={"Authorization": f"Basic {good_basic}"}, timeout=30)
    assert_error(both, 400, "invalid_request", "two client authentication methods at once")
    repeated = radiology.session.get(url, params={**good, "client_id": [radiology.client_id, radiology.client_id]}, timeout=30)
    assert_error(repeated, 400, "invalid_request", "a repeated parameter")
    missing = {k: v for k, v in good.items() if k != "client_secret"}
    assert_error(radiology.session.get(url, params=missing, timeout=30), 400, "invalid_request", "GET without client_secret")
    assert_error(
        radiology.session.get(url, params={k: v for k, v in good.items() if k != "grant_type"}, timeout=30),
        400,
        "invalid_request",
        "no grant_type",
    )


# -- poll, fetch, acknowledge -------------------------------------------------------------------


def test_poll_fetch_acknowledge(radiology, token, target):
    if target.control_url:
        simulate(target, status="FINAL")
        simulate(target, status="ADDENDED")
    first = poll(radiology, token)
    if not first:
        pytest.skip("the organisation has no unacknowledged report to fetch and acknowledge")
    batch = first[:30]
    for report in batch:
        response = radiology.get("/results", token, params={"order_id": report["orderId"], "report_type": report["reportType"]})
        assert response.status_code == 200, f"every polled report can be fetched by order_id and report_type: {describe(response)}"
        fetched = response.json()
        SPEC.assert_valid("Report", fetched, f"/results for {report['orderId']} {report['reportType']}")
        same = {k: v for k, v in fetched.items() if k != "status"} == {k: v for k, v in report.items() if k != "status"}
        assert same, f"/results returns the report the poll delivered ({report['reportId']})"

    again = poll(radiology, token)
    missing = {r["reportId"] for r in batch} - {r["reportId"] for r in again}
    assert not missing, f"fetching a report does not acknowledge it: the next poll still holds it ({sorted(missing)[:5]})"

    orders = sorted({r["orderId"] for r in batch})
    outcome = acknowledge(radiology, token, {"orderIds": orders})
    assert set(outcome["orderIds"]) == set(orders), f"the acknowledgement names the orders acknowledged: {outcome}"
    acknowledged_reports = [r for r in again if r["orderId"] in orders]
    assert outcome["acknowledged"] == len(acknowledged_reports), "the count is the number of delivered reports of those orders"

    after = poll(radiology, token)
    back = [r["reportId"] for r in after if r["orderId"] in orders]
    assert not back, f"acknowledged reports are not returned by the next poll ({back[:5]})"
    repeat = acknowledge(radiology, token, {"orderIds": orders})
    assert repeat == {"acknowledged": 0, "orderIds": []}, f"acknowledging again is harmless: {repeat}"


def test_acknowledge_everything_delivered(radiology, token, control):
    simulate(control, status="FINAL")
    first = poll(radiology, token)
    assert first, "a simulated finished order has a report in the next poll"
    late = simulate(control, status="PRELIMINARY")  # arrives after the poll: must not be acknowledged
    outcome = acknowledge(radiology, token)
    assert outcome["acknowledged"] >= len(first), f"acknowledging without a body marks every delivered report: {outcome}"
    assert late["orderId"] not in outcome["orderIds"], "a report that arrived after the last poll is not acknowledged"
    after = poll(radiology, token)
    assert not {r["reportId"] for r in first} & {r["reportId"] for r in after}, "acknowledged reports are not returned by the next poll"
    newest_delivered = max(r["createdAt"] for r in first)
    earlier = [r["reportId"] for r in after if r["createdAt"] <= newest_delivered and r["orderId"] != late["orderId"]]
    assert not earlier, f"the next poll is empty but for reports issued since ({earlier[:5]})"
    assert any(r["orderId"] == late["orderId"] for r in after), "the late report is delivered by the next poll"
    acknowledge(radiology, token)
    assert not [r for r in poll(radiology, token) if r["orderId"] == late["orderId"]]


def test_unacknowledged_reports_come_back(radiology, token, target):
    created = simulate(target, status="FINAL") if target.control_url else None
    first = poll(radiology, token)
    if not first:
        pytest.skip("the organisation has no unacknowledged report")
    second = poll(radiology, token)
    missing = {r["reportId"] for r in first} - {r["reportId"] for r in second}
    assert not missing, f"delivery is at-least-once: an unacknowledged report comes back in the next poll ({sorted(missing)[:5]})"
    if created:
        assert created["orderId"] in {r["orderId"] for r in second}


def test_acknowledge_validation(radiology, token):
    params = {"organizationId": radiology.organization_id}
    for body, promise in (({"orderIds": []}, "an empty orderIds list"), ({"orderIds": ["A"], "extra": 1}, "an unknown field")):
        assert_error(radiology.post("/reports", token, params=params, json=body), 400, "invalid_request", promise)
    unknown = radiology.post("/reports", token, params=params, json={"orderIds": [f"ORD-UNKNOWN-{uuid.uuid4().hex[:8]}"]})
    assert_error(unknown, 404, "not_found", "acknowledging an order unknown to the organisation")


# -- authentication and scopes --------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in STATUS_OPERATIONS + REPORT_OPERATIONS])
@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token-0123456789", "Token {token}", "Basic {basic}", "{token}"])
def test_bad_tokens_are_401(radiology, token, method, path, authorization):
    basic = base64.b64encode(f"{radiology.client_id}:{radiology.client_secret}".encode()).decode()
    headers = {"Authorization": authorization.format(token=token, basic=basic)} if authorization else {}
    response = resource_call(radiology, None, method, path, headers=headers)
    assert_error(response, 401, "invalid_token", f"{method} {path} with Authorization {authorization!r}")
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), f"a 401 carries a Bearer challenge (RFC 6750), not {challenge!r}"


def test_unknown_token_challenge_names_the_error(radiology):
    response = radiology.get("/reports", "not-a-token-0123456789", params={"organizationId": radiology.organization_id})
    assert_error(response, 401, "invalid_token", "an unknown token")
    assert 'error="invalid_token"' in response.headers.get("WWW-Authenticate", ""), "when a token was sent the challenge names the error"


def test_expired_token_is_rejected(radiology, target):
    expired = radiology.credentials.get("expired_token")
    if target.control_url:
        issued = radiology.token_response()
        assert issued.status_code == 200, describe(issued)
        expired, lifetime = issued.json()["access_token"], issued.json()["expires_in"]
        early = max(0, lifetime - 30)
        if early:
            advance(target, early)
            works = radiology.get("/reports", expired, params={"organizationId": radiology.organization_id})
            assert works.status_code == 200, f"a token works until it expires ({early} s of {lifetime} s): {describe(works)}"
        advance(target, lifetime - early + 1)
    elif not expired:
        pytest.skip("no way to get an expired token: set RADIOLOGY_EXPIRED_TOKEN, or use a target with medimock's control API")
    for method, path in [("GET", "/status"), ("GET", "/results"), ("GET", "/reports")]:
        response = resource_call(radiology, expired, method, path)
        assert_error(response, 401, "invalid_token", f"an expired token on {method} {path} (tokens live one hour)")
        assert 'error="invalid_token"' in response.headers.get("WWW-Authenticate", ""), "the challenge names invalid_token"
    fresh = radiology.token()
    assert resource_call(radiology, fresh, "GET", "/reports").status_code == 200, "a new token works again"


def advance(target: Any, seconds: float) -> None:
    moved = requests.post(target.control("/radiology/clock"), json={"advance_seconds": seconds}, timeout=10)
    assert moved.status_code == 200, f"POST /__mock__/radiology/clock: {moved.status_code} {moved.text[:200]}"


def single_scope_clients(radiology: Any) -> list[dict[str, Any]]:
    """Clients of our organisation allowed exactly one scope: from the environment, or the target's credentials."""
    creds = radiology.credentials
    if creds.get("single_scope_client_id") and creds.get("single_scope_client_secret"):
        issued = radiology.token_response(creds["single_scope_client_id"], creds["single_scope_client_secret"])
        assert issued.status_code == 200, f"RADIOLOGY_SINGLE_SCOPE_CLIENT_ID gets a token: {describe(issued)}"
        scopes = issued.json()["scope"].split()
        assert len(scopes) == 1, f"RADIOLOGY_SINGLE_SCOPE_CLIENT_ID names a client allowed a single scope, not {scopes}"
        return [{"client_id": creds["single_scope_client_id"], "client_secret": creds["single_scope_client_secret"], "scopes": scopes}]
    clients = []
    for org in radiology.credentials.get("organizations") or []:
        if org.get("organization_id") != radiology.organization_id:
            continue
        for client in org.get("clients") or []:
            if len(client.get("scopes") or []) == 1 and "client_credentials" in (client.get("grant_types") or []):
                clients.append(client)
    return clients


@pytest.mark.parametrize("scope", ["status:read", "reports:read"])
def test_wrong_scope_is_403(radiology, scope):
    narrow = radiology.token(scope=scope)
    refused = REPORT_OPERATIONS if scope == "status:read" else STATUS_OPERATIONS
    allowed = STATUS_OPERATIONS if scope == "status:read" else REPORT_OPERATIONS
    other = "reports:read" if scope == "status:read" else "status:read"
    for method, path, _ in refused:
        response = resource_call(radiology, narrow, method, path)
        assert_error(response, 403, "insufficient_scope", f"a {scope} token on {method} {path}, which needs {other}")
        challenge = response.headers.get("WWW-Authenticate", "")
        assert 'error="insufficient_scope"' in challenge and other in challenge, f"the challenge names the scope needed: {challenge!r}"
    for method, path, _ in allowed:
        response = resource_call(radiology, narrow, method, path)
        assert response.status_code in (200, 404), f"a {scope} token is enough for {method} {path}: {describe(response)}"


def test_single_scope_client(radiology):
    clients = single_scope_clients(radiology)
    if not clients:
        pytest.skip("the target names no client of this organisation with a single scope (RADIOLOGY_SINGLE_SCOPE_CLIENT_ID/_SECRET)")
    for client in clients:
        scope = client["scopes"][0]
        other = "reports:read" if scope == "status:read" else "status:read"
        issued = radiology.token_response(client["client_id"], client["client_secret"])
        assert issued.status_code == 200, describe(issued)
        assert issued.json()["scope"] == scope, f"without scope, a client gets the scopes it is allowed ({scope})"
        asked = radiology.token_response(client["client_id"], client["client_secret"], scope=other)
        assert_error(asked, 400, "invalid_scope", f"{client['client_id']} asking for {other}, which it is not allowed")
        for method, path, _ in REPORT_OPERATIONS if scope == "status:read" else STATUS_OPERATIONS:
            response = resource_call(radiology, issued.json()["access_token"], method, path)
            assert_error(response, 403, "insufficient_scope", f"{client['client_id']} ({scope} only) on {method} {path}")


# -- organisations --------------------------------------------------------------------------------


def other_organization(radiology: Any) -> str | None:
    return radiology.credentials.get("other_organization_id") or next(
        (
            o["organization_id"]
            for o in radiology.credentials.get("organizations") or []
            if o.get("organization_id") != radiology.organization_id
        ),
        None,
    )


def test_other_organisation_is_denied_on_reports(radiology, token):
    for org in (other_organization(radiology), f"org-{uuid.uuid4().hex[:10]}"):
        if not org:
            continue
        polled = radiology.get("/reports", token, params={"organizationId": org})
        assert_error(polled, 403, "access_denied", f"polling another organisation ({org})")
        acked = radiology.post("/reports", token, params={"organizationId": org})
        assert_error(acked, 403, "access_denied", f"acknowledging for another organisation ({org})")


def test_other_organisation_orders_are_not_visible(radiology, token, target):
    theirs: dict[str, Any] = {}
    if target.control_url and other_organization(radiology):
        uid = new_study_uid()
        ours = simulate(target, study_uid=uid, status="FINAL")
        group = f"GRP-CONTRACT-{uuid.uuid4().hex[:8].upper()}"
        made = simulate(target, organizationId=other_organization(radiology), study_uid=uid, study_group=group, status="FINAL")
        theirs = {"order_id": made["orderId"], "study_uid": uid, "study_group": group, "ours": ours["orderId"]}
    else:
        examples = radiology.credentials.get("other_organization_examples") or {}
        theirs = {
            "order_id": radiology.credentials.get("other_order_id") or examples.get("order_id"),
            "study_group": examples.get("study_group"),
        }
    if not theirs.get("order_id"):
        pytest.skip("the target names no order of another organisation (RADIOLOGY_OTHER_ORDER_ID)")

    order = theirs["order_id"]
    status = radiology.get("/status", token, params={"order_id": order})
    assert_error(status, 404, "not_found", f"another organisation's order {order} is indistinguishable from an unknown one (/status)")
    for report_type in ("PRELIMINARY", "FINAL"):
        results = radiology.get("/results", token, params={"order_id": order, "report_type": report_type})
        assert_error(results, 404, "not_found", f"another organisation's order {order} has no visible {report_type} report (/results)")
    if theirs.get("study_group"):
        group = radiology.get("/report", token, params={"study_group": theirs["study_group"], "report_type": "FINAL"})
        assert_error(group, 404, "not_found", f"another organisation's study group {theirs['study_group']} is not visible")
    acked = radiology.post("/reports", token, params={"organizationId": radiology.organization_id}, json={"orderIds": [order]})
    assert_error(acked, 404, "not_found", "acknowledging another organisation's order")
    if theirs.get("ours"):  # one study sent by both organisations: each sees only its own order
        ids = radiology.get("/orderId", token, params={"study_uid": theirs["study_uid"]})
        assert ids.status_code == 200, describe(ids)
        assert ids.json()["orderIds"] == [theirs["ours"]], f"/orderId lists only the caller's orders of a shared study: {ids.json()}"
        latest = radiology.get("/status", token, params={"study_uid": theirs["study_uid"]})
        assert latest.status_code == 200 and latest.json()["orderId"] == theirs["ours"], (
            f"/status by study_uid uses the caller's most recent order, not another organisation's newer one: {describe(latest)}"
        )
        polled = poll(radiology, token)
        assert order not in {r["orderId"] for r in polled}, "the poll never delivers another organisation's reports"


# -- studies with several orders ------------------------------------------------------------------


def test_status_of_a_study_is_its_most_recent_order(radiology, token, control):
    uid = new_study_uid()
    older = simulate(control, study_uid=uid, status="FINAL")
    newer = simulate(control, study_uid=uid, status="PRELIMINARY")
    status = radiology.get("/status", token, params={"study_uid": uid})
    assert status.status_code == 200, describe(status)
    SPEC.assert_valid("OrderStatus", status.json(), "/status by study_uid")
    assert status.json()["orderId"] == newer["orderId"], (
        f"with several orders for a study, /status returns only the most recent ({newer['orderId']}), not {status.json()['orderId']}"
    )
    assert status.json()["status"] == "PRELIMINARY"
    by_order = radiology.get("/status", token, params={"order_id": older["orderId"]})
    assert by_order.status_code == 200 and by_order.json()["orderId"] == older["orderId"] and by_order.json()["status"] == "FINAL"

    ids = radiology.get("/orderId", token, params={"study_uid": uid})
    assert ids.status_code == 200, describe(ids)
    SPEC.assert_valid("StudyOrderIds", ids.json(), "/orderId")
    assert ids.json() == {"studyUid": uid, "orderIds": [newer["orderId"], older["orderId"]]}, (
        "/orderId lists every order, most recent first"
    )

    prelim = radiology.get("/results", token, params={"study_uid": uid, "report_type": "PRELIMINARY"})
    assert prelim.status_code == 200 and prelim.json()["orderId"] == newer["orderId"], (
        f"/results by study_uid uses the most recent order: {describe(prelim)}"
    )
    final = radiology.get("/results", token, params={"study_uid": uid, "report_type": "FINAL"})
    assert_error(final, 404, "not_found", "/results by study_uid uses only the most recent order, which has no FINAL report yet")
    older_final = radiology.get("/results", token, params={"order_id": older["orderId"], "report_type": "FINAL"})
    assert older_final.status_code == 200 and older_final.json()["orderId"] == older["orderId"], describe(older_final)


def test_order_ids_of_a_study_with_several_orders(radiology, token):
    uid = radiology.example("study_uid_with_several_orders")
    if not uid:
        pytest.skip("the target names no study with several orders (RADIOLOGY_MULTI_ORDER_STUDY_UID)")
    ids = radiology.get("/orderId", token, params={"study_uid": uid})
    assert ids.status_code == 200, describe(ids)
    SPEC.assert_valid("StudyOrderIds", ids.json(), "/orderId")
    orders = ids.json()["orderIds"]
    assert len(orders) >= 2, f"the study has several orders: {orders}"
    created = []
    for order in orders:
        status = radiology.get("/status", token, params={"order_id": order})
        assert status.status_code == 200, f"every listed order has a status: {describe(status)}"
        assert status.json()["studyUid"] == uid, "every listed order belongs to the study"
        created.append(status.json()["createdAt"])
    assert created == sorted(created, reverse=True), f"/orderId lists the orders most recent first: {list(zip(orders, created))}"
    latest = radiology.get("/status", token, params={"study_uid": uid})
    assert latest.status_code == 200 and latest.json()["orderId"] == orders[0], (
        f"/status by study_uid is the most recent order ({orders[0]}): {describe(latest)}"
    )


def test_status_and_reports_agree(radiology, token, target):
    """An order's status, its reportTypes and the reports /results returns tell the same story."""
    orders = list(dict.fromkeys(r["orderId"] for r in poll(radiology, token)))[-20:]
    if target.control_url:
        statuses = ("RECEIVED", "IN_PROGRESS", "PRELIMINARY", "FINAL", "ADDENDED", "CANCELLED", "FAILED")
        orders += [simulate(target, status=status)["orderId"] for status in statuses]
    if radiology.example("order_id"):
        orders.append(radiology.example("order_id"))
    if not orders:
        pytest.skip("the target names no order to look at")
    implied = {"PRELIMINARY": "PRELIMINARY", "FINAL": "FINAL", "ADDENDED": "ADDENDUM"}
    for order in orders:
        response = radiology.get("/status", token, params={"order_id": order})
        assert response.status_code == 200, f"an order of the organisation has a status: {describe(response)}"
        status = response.json()
        SPEC.assert_valid("OrderStatus", status, f"/status of {order}")
        assert status["updatedAt"] >= status["createdAt"], f"{order}: the status changes after the order is created"
        if status["status"] in implied:
            assert implied[status["status"]] in status["reportTypes"], (
                f"{order} is {status['status']}: its {implied[status['status']]} report exists"
            )
        for report_type in ("PRELIMINARY", "FINAL", "ADDENDUM"):
            result = radiology.get("/results", token, params={"order_id": order, "report_type": report_type})
            if report_type in status["reportTypes"]:
                assert result.status_code == 200, f"{order} lists a {report_type} report, so /results returns it: {describe(result)}"
                SPEC.assert_valid("Report", result.json(), f"/results {order} {report_type}")
                report = result.json()
                assert (report["orderId"], report["reportType"], report["studyUid"]) == (order, report_type, status["studyUid"])
                assert report["status"] == status["status"], "a report's status is its order's current status"
            else:
                assert_error(result, 404, "not_found", f"{order} has no {report_type} report (reportTypes {status['reportTypes']})")


# -- parameters and group reports ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/status", "/results"])
def test_exactly_one_of_order_id_and_study_uid(radiology, token, path):
    extra = {"report_type": "FINAL"} if path == "/results" else {}
    for params, what in (({}, "neither"), ({"order_id": "ORD-1", "study_uid": "1.2.3"}, "both")):
        response = radiology.get(path, token, params={**params, **extra})
        assert_error(response, 400, "invalid_request", f"{path} with {what} of order_id and study_uid")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/status", {"study_uid": "1.2.x"}),
        ("/orderId", {}),
        ("/results", {"order_id": "ORD-1"}),
        ("/results", {"order_id": "ORD-1", "report_type": "PDF"}),
        ("/report", {"study_group": "GRP-1"}),
        ("/status", {"order_id": "bad id!"}),
        ("/status", {"order_id": ["ORD-1", "ORD-2"]}),
    ],
)
def test_malformed_parameters_are_400(radiology, token, path, params):
    assert_error(radiology.get(path, token, params=params), 400, "invalid_request", f"{path} with {params}")


def test_group_report(radiology, token):
    group = radiology.example("study_group")
    if not group:
        pytest.skip("the target names no study group with a FINAL report (RADIOLOGY_STUDY_GROUP)")
    response = radiology.get("/report", token, params={"study_group": group, "report_type": "FINAL"})
    assert response.status_code == 200, describe(response)
    report = response.json()
    SPEC.assert_valid("GroupReport", report, "/report")
    assert report["studyGroup"] == group and report["reportType"] == "FINAL"
    for order in report["orderIds"]:
        status = radiology.get("/status", token, params={"order_id": order}).json()
        assert status["studyGroup"] == group and status["studyUid"] in report["studyUids"], f"order {order} is a member of {group}"
    unknown = radiology.get("/report", token, params={"study_group": f"GRP-UNKNOWN-{uuid.uuid4().hex[:8]}", "report_type": "FINAL"})
    assert_error(unknown, 404, "not_found", "an unknown study group")
