"""The radiology mock's behaviour, in process, with strict response validation on."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest

from medimock.fixtures import radiology as fixtures

R = "/radiology"
TOKEN = f"{R}/oauth2/token"
FORWARD = {status: index for index, status in enumerate(fixtures.FORWARD)}


@pytest.fixture
def make(make_app):
    def build(*defects, **overrides):
        overrides.setdefault("apis", ("radiology",))
        return make_app(defects=frozenset(defects), **overrides)

    return build


@pytest.fixture
def app(make):
    return make()


@pytest.fixture
def client(app):
    return app.test_client()


def credentials(client):
    return client.get("/__mock__/credentials").get_json()["radiology"]


@pytest.fixture
def creds(client):
    return credentials(client)


def clients_of(creds, org_index=0):
    """The organisation's clients by suffix: ris (both scopes), reports, status, legacy."""
    return {c["client_id"].rsplit("-", 1)[1]: c for c in creds["organizations"][org_index]["clients"]}


def token(client, client_info, scope=None, style="get"):
    params = {"grant_type": "client_credentials"}
    if scope is not None:
        params["scope"] = scope
    if style == "get":
        response = client.get(
            TOKEN, query_string={**params, "client_id": client_info["client_id"], "client_secret": client_info["client_secret"]}
        )
    elif style == "post":
        response = client.post(TOKEN, data={**params, "client_id": client_info["client_id"], "client_secret": client_info["client_secret"]})
    else:
        basic = base64.b64encode(f"{quote(client_info['client_id'])}:{quote(client_info['client_secret'])}".encode()).decode()
        response = client.post(TOKEN, data=params, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def bearer(access_token):
    return {"Authorization": f"Bearer {access_token}"}


@pytest.fixture
def auth(client, creds):
    return bearer(token(client, clients_of(creds)["ris"]))


def advance_clock(client, seconds):
    response = client.post("/__mock__/radiology/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200
    return response.get_json()


def simulate(client, status_code=201, **options):
    response = client.post("/__mock__/radiology/orders", json=options)
    assert response.status_code == status_code, response.get_json()
    return response.get_json()


def poll(client, auth, org):
    response = client.get(f"{R}/reports", query_string={"organizationId": org}, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ack(client, auth, org, body=None):
    kwargs = {"json": body} if body is not None else {}
    return client.post(f"{R}/reports", query_string={"organizationId": org}, headers=auth, **kwargs)


def org_orders(app, org):
    store = app.extensions["medimock"].store
    return [row["order_id"] for row in store.query("SELECT order_id FROM radiology_orders WHERE organization_id = ? ORDER BY seq", (org,))]


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data()[:300]
    body = response.get_json()
    assert body["error"] == code and isinstance(body["error_description"], str), body


# -- fixtures and credentials ------------------------------------------------------------------
def test_strict_mode_is_on(client):
    assert client.get("/__mock__/health").get_json()["strict"] is True


def test_credentials_shape(creds):
    assert creds["base_url"] == "http://localhost/radiology"
    assert creds["token_url"] == "http://localhost/radiology/oauth2/token"
    assert creds["organization_id"] == creds["organizations"][0]["organization_id"]
    assert len(creds["organizations"]) >= 2 and creds["other_organization_id"] != creds["organization_id"]
    for index, org in enumerate(creds["organizations"]):
        scopes = {suffix: set(c["scopes"]) for suffix, c in clients_of(creds, index).items()}
        assert scopes["ris"] == {"reports:read", "status:read"}
        assert scopes["reports"] == {"reports:read"} and scopes["status"] == {"status:read"}
        assert all(c["client_id"] and c["client_secret"] for c in org["clients"])
    examples = creds["examples"]
    assert all(examples[key] for key in ("order_id", "study_uid", "study_uid_with_several_orders", "study_group"))


def test_fixtures_are_deterministic_with_valid_dicom_uids():
    first, second = fixtures.build(3), fixtures.build(3)
    assert [c.secret for c in first.clients] == [c.secret for c in second.clients]
    assert [o.order_id for o in first.orders] == [o.order_id for o in second.orders]
    uid = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
    assert all(uid.match(o.study_uid) and len(o.study_uid) <= 64 for o in first.orders)
    assert {r.report_type for o in first.orders for r in o.reports} == set(fixtures.REPORT_TYPES)
    assert {o.terminal_status for o in first.orders} >= {None, "CANCELLED", "FAILED"}
    per_study = {}
    for order in first.orders:
        per_study.setdefault(order.study_uid, set()).add(order.organization_id)
    assert any(len(orgs) > 1 for orgs in per_study.values()), "one study was sent by two organisations"
    assert sum(1 for o in first.orders if [o.study_uid for o in first.orders].count(o.study_uid) > 1) > 2


# -- token endpoint -------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ["get", "post", "basic"])
def test_token_styles(client, creds, style):
    ris = clients_of(creds)["ris"]
    access = token(client, ris, style=style)
    assert len(access) >= 16
    assert client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}, headers=bearer(access)).status_code == 200


def test_token_response(client, creds):
    ris = clients_of(creds)["ris"]
    query = {"grant_type": "client_credentials", "client_id": ris["client_id"], "client_secret": ris["client_secret"]}
    first, second = client.get(TOKEN, query_string=query), client.get(TOKEN, query_string=query)
    body = first.get_json()
    assert first.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "reports:read status:read"
    assert body["access_token"] != second.get_json()["access_token"]


def test_token_scope_can_be_narrowed(client, creds):
    access = token(client, clients_of(creds)["ris"], scope="status:read")
    order = {"order_id": creds["examples"]["order_id"]}
    assert client.get(f"{R}/status", query_string=order, headers=bearer(access)).status_code == 200
    assert_error(
        client.get(f"{R}/results", query_string={**order, "report_type": "FINAL"}, headers=bearer(access)), 403, "insufficient_scope"
    )


def test_token_errors(client, creds):
    clients = clients_of(creds)
    ris, reports, legacy = clients["ris"], clients["reports"], clients["legacy"]
    good = {"grant_type": "client_credentials", "client_id": ris["client_id"], "client_secret": ris["client_secret"]}
    assert_error(client.get(TOKEN, query_string={**good, "client_secret": "wrong"}), 401, "invalid_client")
    assert_error(client.get(TOKEN, query_string={**good, "client_id": "nobody"}), 401, "invalid_client")
    assert_error(client.get(TOKEN, query_string={**good, "grant_type": "password"}), 400, "unsupported_grant_type")
    assert_error(client.get(TOKEN, query_string={k: v for k, v in good.items() if k != "grant_type"}), 400, "invalid_request")
    assert_error(client.get(TOKEN, query_string={k: v for k, v in good.items() if k != "client_secret"}), 400, "invalid_request")
    assert_error(client.get(TOKEN, query_string={**good, "scope": "admin"}), 400, "invalid_scope")
    assert_error(client.get(TOKEN, query_string={**good, "scope": ""}), 400, "invalid_scope")
    only_reports = {**good, "client_id": reports["client_id"], "client_secret": reports["client_secret"], "scope": "status:read"}
    assert_error(client.get(TOKEN, query_string=only_reports), 400, "invalid_scope")
    legacy_query = {**good, "client_id": legacy["client_id"], "client_secret": legacy["client_secret"]}
    assert_error(client.get(TOKEN, query_string=legacy_query), 400, "unauthorized_client")
    repeated = client.get(TOKEN + "?" + "&".join(f"{k}={quote(v)}" for k, v in good.items()) + "&scope=status:read&scope=reports:read")
    assert_error(repeated, 400, "invalid_request")


def test_token_post_errors(client, creds):
    ris = clients_of(creds)["ris"]
    basic = {"Authorization": "Basic " + base64.b64encode(f"{ris['client_id']}:{ris['client_secret']}".encode()).decode()}
    wrong_basic = {"Authorization": "Basic " + base64.b64encode(f"{ris['client_id']}:nope".encode()).decode()}
    both = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": ris["client_id"]}, headers=basic)
    assert_error(both, 400, "invalid_request")
    neither = client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert_error(neither, 401, "invalid_client")
    assert "WWW-Authenticate" not in neither.headers
    refused = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=wrong_basic)
    assert_error(refused, 401, "invalid_client")
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="radiology"'
    assert_error(
        client.post(TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%"}), 401, "invalid_client"
    )
    assert_error(client.post(TOKEN, json={"grant_type": "client_credentials"}), 400, "invalid_request")
    assert_error(
        client.post(
            TOKEN, data="grant_type=client_credentials&grant_type=client_credentials", content_type="application/x-www-form-urlencoded"
        ),
        400,
        "invalid_request",
    )
    assert_error(client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": ris["client_id"]}), 400, "invalid_request")
    assert_error(client.post(TOKEN), 400, "invalid_request")
    ignored = client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": ris["client_id"], "client_secret": ris["client_secret"], "extra": "x"}
    )
    assert ignored.status_code == 200, "unknown form fields are ignored (RFC 6749 §3.2)"


# -- bearer authentication and scopes -------------------------------------------------------------------
def test_missing_token_is_401_without_error_attribute(client, creds):
    response = client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]})
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="radiology"'


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "bearer x y"])
def test_bad_token_is_401_with_error_attribute(client, creds, header):
    response = client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}, headers={"Authorization": header})
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="radiology", error="invalid_token"')


def test_basic_credentials_do_not_open_resources(client, creds):
    ris = clients_of(creds)["ris"]
    basic = base64.b64encode(f"{ris['client_id']}:{ris['client_secret']}".encode()).decode()
    assert_error(
        client.get(f"{R}/orderId", query_string={"study_uid": "1.2"}, headers={"Authorization": f"Basic {basic}"}), 401, "invalid_token"
    )


def test_token_expires_after_an_hour(client, creds):
    access = bearer(token(client, clients_of(creds)["ris"]))
    query = {"order_id": creds["examples"]["order_id"]}
    advance_clock(client, 3590)
    assert client.get(f"{R}/status", query_string=query, headers=access).status_code == 200
    advance_clock(client, 20)
    expired = client.get(f"{R}/status", query_string=query, headers=access)
    assert_error(expired, 401, "invalid_token")
    assert "expired" in expired.get_json()["error_description"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert client.get(f"{R}/status", query_string=query, headers=bearer(token(client, clients_of(creds)["ris"]))).status_code == 200


def test_expiry_follows_the_wall_clock(make, monkeypatch):
    import mockserver.clock as clock_module

    client = make().test_client()
    creds = credentials(client)
    access = bearer(token(client, clients_of(creds)["ris"]))
    query = {"order_id": creds["examples"]["order_id"]}
    real = clock_module.time.time
    monkeypatch.setattr(clock_module.time, "time", lambda: real() + 3601)
    assert_error(client.get(f"{R}/status", query_string=query, headers=access), 401, "invalid_token")


def test_token_lifetime_follows_the_config(make):
    app = make(token_ttl=120)
    client = app.test_client()
    ris = clients_of(credentials(client))["ris"]
    response = client.get(
        TOKEN, query_string={"grant_type": "client_credentials", "client_id": ris["client_id"], "client_secret": ris["client_secret"]}
    )
    lifetimes = app.extensions["medimock"].store.query("SELECT expires_at - issued_at AS ttl FROM radiology_tokens")
    assert [round(row["ttl"]) for row in lifetimes] == [120]
    if response.status_code == 200:
        assert response.get_json()["expires_in"] == 120
    else:  # the spec fixes expires_in at 3600 ("1 hour"): strict mode reports the configured departure
        assert any(v.startswith("expires_in") for v in response.get_json()["medimock_strict_violation"]["violations"])


def test_tokens_survive_a_reset(client, creds, auth):
    assert client.post("/__mock__/reset").status_code == 200
    assert client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}, headers=auth).status_code == 200


def test_scopes_are_enforced(client, creds):
    clients = clients_of(creds)
    reports_only = bearer(token(client, clients["reports"]))
    status_only = bearer(token(client, clients["status"]))
    examples, org = creds["examples"], creds["organization_id"]
    status_calls = [(f"{R}/status", {"order_id": examples["order_id"]}), (f"{R}/orderId", {"study_uid": examples["study_uid"]})]
    report_calls = [
        (f"{R}/results", {"order_id": examples["order_id"], "report_type": "FINAL"}),
        (f"{R}/report", {"study_group": examples["study_group"], "report_type": "FINAL"}),
        (f"{R}/reports", {"organizationId": org}),
    ]
    for path, query in status_calls:
        refused = client.get(path, query_string=query, headers=reports_only)
        assert_error(refused, 403, "insufficient_scope")
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="radiology", error="insufficient_scope", scope="status:read"'
        assert client.get(path, query_string=query, headers=status_only).status_code == 200
    for path, query in report_calls:
        refused = client.get(path, query_string=query, headers=status_only)
        assert_error(refused, 403, "insufficient_scope")
        assert 'scope="reports:read"' in refused.headers["WWW-Authenticate"]
        assert client.get(path, query_string=query, headers=reports_only).status_code == 200
    assert_error(ack(client, status_only, org), 403, "insufficient_scope")


def test_scope_is_checked_before_validation(client, creds):
    reports_only = bearer(token(client, clients_of(creds)["reports"]))
    assert_error(client.get(f"{R}/status", headers=reports_only), 403, "insufficient_scope")


# -- status and order ids -----------------------------------------------------------------------------
def test_status_by_order_and_by_study(client, creds, auth):
    examples = creds["examples"]
    by_order = client.get(f"{R}/status", query_string={"order_id": examples["order_id"]}, headers=auth).get_json()
    assert by_order["orderId"] == examples["order_id"] and by_order["studyUid"] == examples["study_uid"]
    assert by_order["status"] in ("FINAL", "ADDENDED") and "FINAL" in by_order["reportTypes"]
    assert by_order["createdAt"] <= by_order["updatedAt"]
    uid = examples["study_uid_with_several_orders"]
    ids = client.get(f"{R}/orderId", query_string={"study_uid": uid}, headers=auth).get_json()
    assert ids["studyUid"] == uid and len(ids["orderIds"]) > 1
    created = [client.get(f"{R}/status", query_string={"order_id": i}, headers=auth).get_json()["createdAt"] for i in ids["orderIds"]]
    assert created == sorted(created, reverse=True), "most recent first"
    latest = client.get(f"{R}/status", query_string={"study_uid": uid}, headers=auth).get_json()
    assert latest["orderId"] == ids["orderIds"][0], "only the most recent order of the study"


@pytest.mark.parametrize("query", [{}, {"order_id": "ORD-1", "study_uid": "1.2.3"}])
def test_status_needs_exactly_one_id(client, auth, query):
    for path in (f"{R}/status", f"{R}/results"):
        response = client.get(path, query_string={**query, "report_type": "FINAL"} if "results" in path else query, headers=auth)
        assert_error(response, 400, "invalid_request")
        assert "order_id" in response.get_json()["error_description"]


@pytest.mark.parametrize(
    "query",
    [
        {"study_uid": "1..2"},
        {"study_uid": "abc"},
        {"study_uid": "1." + "2" * 70},
        {"order_id": "-bad"},
        {"order_id": "x" * 65},
        {"order_id": "\u00e9\U0001f4a9"},
        {"order_id": "ORD-1", "order_id ": "x", "study_uid": ""},
    ],
)
def test_malformed_ids_are_400(client, auth, query):
    assert_error(client.get(f"{R}/status", query_string=query, headers=auth), 400, "invalid_request")


def test_unknown_ids_are_404(client, auth):
    assert_error(client.get(f"{R}/status", query_string={"order_id": "ORD-00000000"}, headers=auth), 404, "not_found")
    assert_error(client.get(f"{R}/status", query_string={"study_uid": "1.2.3.4"}, headers=auth), 404, "not_found")
    # StudyUid's pattern ^[0-9]+(\.[0-9]+)*$ is ECMA-262, where $ is the end of the input: a trailing
    # newline breaks it (Python's re let it through, and this was once a 404)
    assert_error(client.get(f"{R}/status", query_string={"study_uid": "1.2.3\n"}, headers=auth), 400, "invalid_request")
    assert_error(client.get(f"{R}/orderId", query_string={"study_uid": "1.2.3.4"}, headers=auth), 404, "not_found")


def test_repeated_parameter_is_400(client, creds, auth):
    order = creds["examples"]["order_id"]
    assert_error(client.get(f"{R}/status?order_id={order}&order_id={order}", headers=auth), 400, "invalid_request")


def test_statuses_move_forward_as_time_passes(app, client, creds, auth):
    org = creds["organization_id"]
    orders = org_orders(app, org)

    def statuses():
        return {i: client.get(f"{R}/status", query_string={"order_id": i}, headers=auth).get_json()["status"] for i in orders}

    before = statuses()
    advance_clock(client, 4 * 86400)
    auth = bearer(token(client, clients_of(creds)["ris"]))
    after = statuses()
    changed = [i for i in orders if before[i] != after[i]]
    assert changed, "orders received in the last hours have moved on"
    for order_id in orders:
        if before[order_id] in fixtures.TERMINAL or before[order_id] == "ADDENDED":
            assert after[order_id] == before[order_id], "terminal states stay"
        elif after[order_id] not in fixtures.TERMINAL:
            assert FORWARD[after[order_id]] >= FORWARD[before[order_id]], order_id
        else:
            assert FORWARD[before[order_id]] < FORWARD["FINAL"], "CANCELLED/FAILED only before FINAL"


def test_new_reports_appear_in_the_poll_when_their_time_comes(client, creds, auth):
    org = creds["organization_id"]
    first = poll(client, auth, org)
    assert ack(client, auth, org).get_json()["acknowledged"] == len(first)
    assert poll(client, auth, org) == []
    advance_clock(client, 4 * 86400)
    auth = bearer(token(client, clients_of(creds)["ris"]))
    later = poll(client, auth, org)
    assert later and not {r["reportId"] for r in later} & {r["reportId"] for r in first}


# -- results and group reports ------------------------------------------------------------------------
def test_results(client, creds, auth):
    examples = creds["examples"]
    report = client.get(f"{R}/results", query_string={"order_id": examples["order_id"], "report_type": "FINAL"}, headers=auth).get_json()
    assert report["orderId"] == examples["order_id"] and report["reportType"] == "FINAL"
    assert report["contentType"] == "text/plain" and "IMPRESSION:" in report["reportText"]
    by_study = client.get(f"{R}/results", query_string={"study_uid": examples["study_uid"], "report_type": "FINAL"}, headers=auth)
    assert by_study.status_code == 200
    created = simulate(client, status="PRELIMINARY")
    missing = client.get(f"{R}/results", query_string={"order_id": created["orderId"], "report_type": "FINAL"}, headers=auth)
    assert_error(missing, 404, "not_found")
    prelim = client.get(f"{R}/results", query_string={"order_id": created["orderId"], "report_type": "PRELIMINARY"}, headers=auth)
    assert prelim.get_json()["status"] == "PRELIMINARY" and "PRELIMINARY REPORT" in prelim.get_json()["reportText"]
    assert_error(client.get(f"{R}/results", query_string={"order_id": created["orderId"]}, headers=auth), 400, "invalid_request")
    bad_type = client.get(f"{R}/results", query_string={"order_id": created["orderId"], "report_type": "final"}, headers=auth)
    assert_error(bad_type, 400, "invalid_request")


def test_group_report(client, creds, auth):
    group = creds["examples"]["study_group"]
    report = client.get(f"{R}/report", query_string={"study_group": group, "report_type": "FINAL"}, headers=auth).get_json()
    assert report["studyGroup"] == group and len(report["orderIds"]) >= 2 and len(report["studyUids"]) >= 2
    for order_id in report["orderIds"]:
        status = client.get(f"{R}/status", query_string={"order_id": order_id}, headers=auth).get_json()
        assert status["studyGroup"] == group and status["studyUid"] in report["studyUids"]
    assert_error(client.get(f"{R}/report", query_string={"study_group": "GRP-0", "report_type": "FINAL"}, headers=auth), 404, "not_found")
    assert_error(client.get(f"{R}/report", query_string={"study_group": group}, headers=auth), 400, "invalid_request")


# -- organisation isolation -------------------------------------------------------------------------------
def test_other_organisations_data_is_invisible(app, client, creds, auth):
    other = creds["other_organization_examples"]
    assert_error(client.get(f"{R}/status", query_string={"order_id": other["order_id"]}, headers=auth), 404, "not_found")
    assert_error(client.get(f"{R}/status", query_string={"study_uid": other["study_uid"]}, headers=auth), 404, "not_found")
    assert_error(client.get(f"{R}/orderId", query_string={"study_uid": other["study_uid"]}, headers=auth), 404, "not_found")
    results = client.get(f"{R}/results", query_string={"order_id": other["order_id"], "report_type": "FINAL"}, headers=auth)
    assert_error(results, 404, "not_found")
    group = client.get(f"{R}/report", query_string={"study_group": other["study_group"], "report_type": "FINAL"}, headers=auth)
    assert_error(group, 404, "not_found")
    own_orders = set(org_orders(app, creds["organization_id"]))
    store = app.extensions["medimock"].store
    shared = store.query_one("SELECT study_uid FROM radiology_orders GROUP BY study_uid HAVING COUNT(DISTINCT organization_id) > 1")[
        "study_uid"
    ]
    ids = client.get(f"{R}/orderId", query_string={"study_uid": shared}, headers=auth).get_json()["orderIds"]
    assert ids and set(ids) <= own_orders, "a study sent by two organisations shows each only its own orders"


@pytest.mark.parametrize("org", ["__OTHER__", "org-unknown"])
def test_polling_another_organisation_is_403(client, creds, auth, org):
    org = creds["other_organization_id"] if org == "__OTHER__" else org
    assert_error(client.get(f"{R}/reports", query_string={"organizationId": org}, headers=auth), 403, "access_denied")
    assert_error(ack(client, auth, org), 403, "access_denied")


# -- batch poll and acknowledgement ----------------------------------------------------------------------------
def test_poll_ack_poll(client, creds, auth):
    org = creds["organization_id"]
    reports = poll(client, auth, org)
    assert reports, "the seeded organisation has reports waiting"
    stamps = [r["createdAt"] for r in reports]
    assert stamps == sorted(stamps), "oldest first"
    assert poll(client, auth, org) == reports, "unacknowledged reports come back (at-least-once)"
    response = ack(client, auth, org)
    assert response.status_code == 200
    body = response.get_json()
    assert body["acknowledged"] == len(reports) and set(body["orderIds"]) == {r["orderId"] for r in reports}
    assert poll(client, auth, org) == []
    assert ack(client, auth, org, {}).get_json() == {"acknowledged": 0, "orderIds": []}


def test_ack_covers_only_what_a_poll_delivered(client, creds, auth):
    org = creds["organization_id"]
    poll(client, auth, org)
    late = simulate(client, organizationId=org)
    assert late["orderId"] not in ack(client, auth, org).get_json()["orderIds"]
    again = poll(client, auth, org)
    assert [r["orderId"] for r in again] == [late["orderId"]]


def test_ack_by_order_ids(client, creds, auth):
    org = creds["organization_id"]
    poll(client, auth, org)
    ack(client, auth, org)
    first, second = simulate(client, organizationId=org), simulate(client, organizationId=org, report_type="ADDENDUM")
    delivered = poll(client, auth, org)
    assert [r["orderId"] for r in delivered] == [first["orderId"], second["orderId"], second["orderId"]]
    assert [r["reportType"] for r in delivered] == ["FINAL", "FINAL", "ADDENDUM"]
    response = ack(client, auth, org, {"orderIds": [second["orderId"]]})
    assert response.get_json() == {"acknowledged": 2, "orderIds": [second["orderId"]]}
    assert [r["orderId"] for r in poll(client, auth, org)] == [first["orderId"]]


def test_ack_with_an_unknown_order_acknowledges_nothing(client, creds, auth):
    org = creds["organization_id"]
    created = simulate(client, organizationId=org)
    poll(client, auth, org)
    other = creds["other_organization_examples"]["order_id"]
    for order_ids in ([created["orderId"], "ORD-UNKNOWN"], [other]):
        assert_error(ack(client, auth, org, {"orderIds": order_ids}), 404, "not_found")
    assert created["orderId"] in {r["orderId"] for r in poll(client, auth, org)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"orderIds": []}},
        {"json": {"orderIds": ["a", "a"]}},
        {"json": {"orderIds": "ORD-1"}},
        {"json": {"other": 1}},
        {"json": []},
        {"data": "{", "content_type": "application/json"},
        {"data": "orderIds=1", "content_type": "application/x-www-form-urlencoded"},
        {"data": "x", "content_type": "text/plain"},
    ],
)
def test_ack_with_malformed_body_is_400(client, creds, auth, kwargs):
    response = client.post(f"{R}/reports", query_string={"organizationId": creds["organization_id"]}, headers=auth, **kwargs)
    assert_error(response, 400, "invalid_request")


def test_fetching_a_report_does_not_acknowledge_it(client, creds, auth):
    org = creds["organization_id"]
    poll(client, auth, org)
    ack(client, auth, org)
    created = simulate(client, organizationId=org)
    client.get(f"{R}/results", query_string={"order_id": created["orderId"], "report_type": "FINAL"}, headers=auth)
    assert [r["orderId"] for r in poll(client, auth, org)] == [created["orderId"]]


def test_polls_are_per_organisation(client, creds):
    other_client = clients_of(creds, 1)["ris"]
    other_auth = bearer(token(client, other_client))
    other_org = creds["other_organization_id"]
    created = simulate(client, organizationId=creds["organization_id"])
    assert created["orderId"] not in {r["orderId"] for r in poll(client, other_auth, other_org)}


# -- audit log --------------------------------------------------------------------------------------------------
def test_audit_log_records_who_what_when_and_result(client, creds):
    client.delete("/__mock__/radiology/audit")
    clients = clients_of(creds)
    ris, reports_client = clients["ris"], clients["reports"]
    auth = bearer(token(client, ris))
    org, order = creds["organization_id"], creds["examples"]["order_id"]
    client.get(f"{R}/status", query_string={"order_id": order}, headers=auth)
    client.get(f"{R}/results", query_string={"order_id": order, "report_type": "FINAL"}, headers=auth)
    client.get(f"{R}/status", query_string={"order_id": "ORD-00000000"}, headers=auth)
    client.get(f"{R}/reports", query_string={"organizationId": creds["other_organization_id"]}, headers=auth)
    client.get(f"{R}/status", query_string={"order_id": order}, headers=bearer(token(client, reports_client)))
    client.get(f"{R}/status", query_string={"order_id": order}, headers=bearer("forged"))
    client.get(f"{R}/orderId", query_string={"study_uid": "1.2"})
    entries = client.get("/__mock__/radiology/audit").get_json()["results"]
    summary = [(e["operation"], e["client_id"], e["status"], e["result"]) for e in reversed(entries)]
    assert summary == [
        ("getTokenGet", ris["client_id"], 200, "ok"),
        ("getStatus", ris["client_id"], 200, "ok"),
        ("getResults", ris["client_id"], 200, "ok"),
        ("getStatus", ris["client_id"], 404, "not_found"),
        ("pollReports", ris["client_id"], 403, "access_denied"),
        ("getTokenGet", reports_client["client_id"], 200, "ok"),
        ("getStatus", reports_client["client_id"], 403, "insufficient_scope"),
        ("getStatus", None, 401, "invalid_token"),
        ("getOrderIds", None, 401, "invalid_token"),
    ]
    results = next(e for e in entries if e["operation"] == "getResults")
    assert results["organizationId"] == org and results["params"] == {"order_id": order, "report_type": "FINAL"}
    assert results["detail"]["orderIds"] == [order] and results["detail"]["reportIds"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", results["time"])
    token_entry = entries[-1]
    assert token_entry["params"]["client_secret"] == "***", "secrets never reach the audit log"


def test_audit_log_filters(client, creds):
    first = clients_of(creds, 0)["ris"]
    second = clients_of(creds, 1)["ris"]
    for info, org_index in ((first, 0), (second, 1)):
        examples = creds["examples"] if org_index == 0 else creds["other_organization_examples"]
        client.get(f"{R}/status", query_string={"order_id": examples["order_id"]}, headers=bearer(token(client, info)))
    by_org = client.get("/__mock__/radiology/audit", query_string={"organizationId": creds["other_organization_id"]}).get_json()
    assert by_org["count"] >= 2 and {e["organizationId"] for e in by_org["results"]} == {creds["other_organization_id"]}
    by_client = client.get("/__mock__/radiology/audit", query_string={"client_id": first["client_id"], "operation": "getStatus"}).get_json()
    assert by_client["count"] == 1 and by_client["results"][0]["client_id"] == first["client_id"]
    assert client.delete("/__mock__/radiology/audit").status_code == 204
    assert client.get("/__mock__/radiology/audit").get_json()["count"] == 0
    assert client.get("/__mock__/radiology/audit", query_string={"limit": "x"}).status_code == 400


# -- control API ----------------------------------------------------------------------------------------------------
def test_simulate_order_defaults(client, creds, auth):
    created = simulate(client)
    assert created["organizationId"] == creds["organization_id"] and created["status"] == "FINAL"
    assert [r["reportType"] for r in created["reports"]] == ["FINAL"] and created["reportTypes"] == ["FINAL"]
    status = client.get(f"{R}/status", query_string={"study_uid": created["studyUid"]}, headers=auth).get_json()
    assert status["orderId"] == created["orderId"] and status["status"] == "FINAL"


def test_simulate_order_options(client, creds, auth):
    org, other = creds["organization_id"], creds["other_organization_id"]
    addended = simulate(client, report_type="ADDENDUM")
    assert addended["status"] == "ADDENDED" and addended["reportTypes"] == ["FINAL", "ADDENDUM"]
    received = simulate(client, status="RECEIVED")
    assert received["status"] == "RECEIVED" and received["reports"] == []
    cancelled = simulate(client, status="CANCELLED", report_type="PRELIMINARY")
    assert cancelled["status"] == "CANCELLED" and cancelled["reportTypes"] == ["PRELIMINARY"]
    uid = creds["examples"]["study_uid"]
    again = simulate(client, organizationId=org, study_uid=uid, status="IN_PROGRESS")
    assert client.get(f"{R}/status", query_string={"study_uid": uid}, headers=auth).get_json()["orderId"] == again["orderId"]
    assert client.get(f"{R}/orderId", query_string={"study_uid": uid}, headers=auth).get_json()["orderIds"][0] == again["orderId"]
    grouped = [simulate(client, study_group="GRP-NEW-1", report_type="FINAL") for _ in range(2)]
    group = client.get(f"{R}/report", query_string={"study_group": "GRP-NEW-1", "report_type": "FINAL"}, headers=auth).get_json()
    assert group["orderIds"] == [g["orderId"] for g in grouped]
    assert simulate(client, 400, organizationId=other, study_group="GRP-NEW-1")
    assert simulate(client, 404, organizationId="org-unknown")
    assert simulate(client, 400, status="PRELIMINARY", report_type="FINAL")
    assert simulate(client, 400, status="FAILED", report_type="FINAL")
    assert simulate(client, 400, status="DONE")
    assert simulate(client, 400, study_uid="01.2")
    assert simulate(client, 400, colour="blue")
    bad = client.post("/__mock__/radiology/orders", data="[", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"


def test_simulate_moves_an_order_forward_only(client, auth):
    created = simulate(client, status="RECEIVED")
    order_id = created["orderId"]
    for status in ("IN_PROGRESS", "PRELIMINARY", "FINAL", "ADDENDED"):
        moved = simulate(client, 200, orderId=order_id, status=status)
        assert moved["status"] == status
        assert client.get(f"{R}/status", query_string={"order_id": order_id}, headers=auth).get_json()["status"] == status
    assert moved["reportTypes"] == ["PRELIMINARY", "FINAL", "ADDENDUM"]
    assert simulate(client, 400, orderId=order_id, status="FINAL")
    final = simulate(client)
    assert simulate(client, 400, orderId=final["orderId"], status="CANCELLED")
    assert simulate(client, 400, orderId=final["orderId"], status="PRELIMINARY")
    assert simulate(client, 404, orderId="ORD-NOPE", status="FINAL")
    failed = simulate(client, status="IN_PROGRESS")
    assert simulate(client, 200, orderId=failed["orderId"], status="FAILED")["status"] == "FAILED"
    assert simulate(client, 400, orderId=failed["orderId"], status="FINAL")


def test_clock(client):
    before = client.get("/__mock__/radiology/clock").get_json()
    assert before["offset_seconds"] == 0
    after = advance_clock(client, 7200)
    assert after["offset_seconds"] == 7200 and after["now"] > before["now"]
    for body in ({"advance_seconds": -1}, {"advance_seconds": "1"}, {}, []):
        assert client.post("/__mock__/radiology/clock", json=body).status_code == 400
    client.post("/__mock__/reset")
    assert client.get("/__mock__/radiology/clock").get_json()["offset_seconds"] == 0


# -- never a 500 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", f"{R}/status?order_id=%ff%fe", {}),
        ("GET", f"{R}/status?study_uid=" + "9" * 5000, {}),
        ("GET", f"{R}/status?study_uid=99999999999999999999999999999999999999", {}),
        ("GET", f"{R}/status?order_id=%00", {}),
        ("GET", f"{R}/results?order_id=ORD-1&report_type=%F0%9F%92%A9", {}),
        ("GET", f"{R}/report?study_group=\u00e9&report_type=FINAL", {}),
        ("GET", f"{R}/reports?organizationId=" + "\u0000" * 10, {}),
        ("POST", f"{R}/reports?organizationId=x", {"data": "[" * 100_000, "content_type": "application/json"}),
        ("POST", f"{R}/reports?organizationId=x", {"data": b"\xff", "content_type": "application/json"}),
        ("GET", f"{R}/orderId", {}),
        ("PUT", f"{R}/status", {}),
        ("GET", f"{R}/nothing-here", {}),
    ],
)
def test_bad_input_is_never_a_500(client, auth, method, path, kwargs):
    response = client.open(path, method=method, headers=auth, **kwargs)
    assert 400 <= response.status_code < 500, response.get_data()[:300]
    body = response.get_json()
    assert isinstance(body["error"], str) and isinstance(body["error_description"], str)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "grant_type=%ff&client_id=%00&client_secret=\u00e9", "content_type": "application/x-www-form-urlencoded"},
        {
            "data": "grant_type=client_credentials",
            "content_type": "application/x-www-form-urlencoded",
            "headers": {"Authorization": "Basic \u00e9"},
        },
        {
            "data": "grant_type=client_credentials",
            "content_type": "application/x-www-form-urlencoded",
            "headers": {"Authorization": "Basic //79"},
        },
        {"data": "--b\r\n", "content_type": "multipart/form-data; boundary=b"},
        {"data": "{}", "content_type": "application/json"},
        {
            "data": "grant_type=client_credentials&client_id=" + "a" * 10_000 + "&client_secret=b",
            "content_type": "application/x-www-form-urlencoded",
        },
    ],
)
def test_bad_token_requests_are_never_a_500(client, kwargs):
    response = client.post(TOKEN, **kwargs)
    assert 400 <= response.status_code < 500, response.get_data()[:300]
    assert response.get_json()["error"] in ("invalid_request", "invalid_client", "unsupported_grant_type")


def test_spec_is_served(client):
    assert client.get("/specs/radiology.yaml").status_code == 200


# -- deliberate defects: each one visibly changes behaviour --------------------------------------------------------------------
def test_defect_scope_not_enforced(make):
    client = make("radiology.scope_not_enforced").test_client()
    creds = credentials(client)
    reports_only = bearer(token(client, clients_of(creds)["reports"]))
    assert client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}, headers=reports_only).status_code == 200


def test_defect_ack_ignored(make):
    client = make("radiology.ack_ignored").test_client()
    creds = credentials(client)
    auth, org = bearer(token(client, clients_of(creds)["ris"])), creds["organization_id"]
    reports = poll(client, auth, org)
    assert ack(client, auth, org).get_json()["acknowledged"] == len(reports)
    assert poll(client, auth, org) == reports


def test_defect_expired_token_accepted(make):
    client = make("radiology.expired_token_accepted").test_client()
    creds = credentials(client)
    auth = bearer(token(client, clients_of(creds)["ris"]))
    advance_clock(client, 2 * 3600)
    assert client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}, headers=auth).status_code == 200


def test_defect_other_org_visible(make):
    client = make("radiology.other_org_visible").test_client()
    creds = credentials(client)
    auth = bearer(token(client, clients_of(creds)["ris"]))
    other = creds["other_organization_examples"]
    assert client.get(f"{R}/status", query_string={"order_id": other["order_id"]}, headers=auth).status_code == 200
    foreign = client.get(f"{R}/reports", query_string={"organizationId": creds["other_organization_id"]}, headers=auth)
    assert foreign.status_code == 200 and foreign.get_json()


def test_defect_status_not_most_recent(make):
    client = make("radiology.status_not_most_recent").test_client()
    creds = credentials(client)
    auth = bearer(token(client, clients_of(creds)["ris"]))
    uid = creds["examples"]["study_uid_with_several_orders"]
    ids = client.get(f"{R}/orderId", query_string={"study_uid": uid}, headers=auth).get_json()["orderIds"]
    status = client.get(f"{R}/status", query_string={"study_uid": uid}, headers=auth).get_json()
    assert status["orderId"] == ids[-1] != ids[0], "the oldest order instead of the most recent"


def test_defect_auth_ignored(make):
    client = make("radiology.auth_ignored").test_client()
    creds = credentials(client)
    assert client.get(f"{R}/status", query_string={"order_id": creds["examples"]["order_id"]}).status_code == 200


def test_defect_expires_in_string(make):
    client = make("radiology.expires_in_string").test_client()
    ris = clients_of(credentials(client))["ris"]
    response = client.get(
        TOKEN, query_string={"grant_type": "client_credentials", "client_id": ris["client_id"], "client_secret": ris["client_secret"]}
    )
    assert response.status_code == 500
    assert any(v.startswith("expires_in") for v in response.get_json()["medimock_strict_violation"]["violations"])


def test_every_defect_is_registered():
    from mockserver.apis.radiology import API

    assert set(API.defects) == {
        "radiology.scope_not_enforced",
        "radiology.ack_ignored",
        "radiology.expired_token_accepted",
        "radiology.other_org_visible",
        "radiology.status_not_most_recent",
        "radiology.auth_ignored",
        "radiology.expires_in_string",
    }
