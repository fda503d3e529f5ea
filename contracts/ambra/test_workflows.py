"""Ambra workflows: behaviour across calls, every reply checked against the data it returns.

login -> study/list paging until ``more`` is 0 -> study/get -> study/set -> get shows the change ->
study/delete -> get is NOT_FOUND; the add/get/set/list/delete lifecycle of other resources; every
filter condition and both sort directions against the data the list returns; ``fields``
selection; the 412 errors of lists (INVALID_SORT_FIELD, INVALID_SORT_ORDER, INVALID_FIELD,
INVALID_CONDITION) and MISSING_FIELDS naming every missing field; role permissions
(NOT_PERMITTED); logout and expiry invalidate a session (401); OAuth client-credentials tokens as
Bearer; HTTP basic authentication; /bundle (templates, HTTP_STATUS_CODE, inherit_sid, malformed
bundles); GET and POST are the same call. Every reply is validated against the schema
specs/ambra/openapi.yaml documents for its command and status.

The workflows change only what they create: the studies and objects they set and delete are
their own, added first (and removed when a test fails half-way).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import pytest
import requests

from medimock.suite import require, spec_schemas

SPEC = spec_schemas("ambra")
UNKNOWN = "00000000-0000-4000-8000-000000000000"  # a uuid no target holds
MAX_PAGES = 500  # a paging walk that never ends is a failure, not a hang


def describe(response: requests.Response) -> str:
    request = response.request
    body = request.body if isinstance(request.body, str) else (request.body or b"").decode("utf-8", "replace")
    shown = f" [{body[:240]}]" if body else ""
    return f"{request.method} {request.path_url}{shown} -> {response.status_code} {response.text[:400]}"


def command_of(response: requests.Response, base_url: str) -> str:
    path = (response.request.path_url or "").split("?", 1)[0]
    prefix = requests.utils.urlparse(base_url).path.rstrip("/")
    return path[len(prefix) :] if path.startswith(prefix) else path


def reply(ambra: Any, response: requests.Response, status: int = 200, what: str = "") -> Any:
    """The JSON body of a reply that must have ``status``; it must match the spec's schema for that reply."""
    assert response.status_code == status, f"{what}: expected HTTP {status}, got {describe(response)}"
    body = response.json()
    command = command_of(response, ambra.base_url)
    problems = SPEC.reply_errors(command, str(response.request.method), status, body)
    assert not problems, f"{what}: the {status} reply of {command} does not match the spec: {problems[:8]} ({describe(response)})"
    return body


def ok(ambra: Any, path: str, params: dict[str, Any] | None = None, what: str = "", **kwargs: Any) -> dict[str, Any]:
    body = reply(ambra, ambra.call(path, params, **kwargs), 200, what or path)
    assert body["status"] == "OK"
    return dict(body)


def error(ambra: Any, path: str, params: dict[str, Any] | None, error_type: str, what: str = "", **kwargs: Any) -> dict[str, Any]:
    response = ambra.call(path, params, **kwargs)
    body = reply(ambra, response, 412, what or f"{path} must fail with {error_type}")
    assert body["status"] == "ERROR" and body["error_type"] == error_type, (
        f"{what or path}: expected the error {error_type}, got {body.get('error_type')} ({describe(response)})"
    )
    return dict(body)


def refused(ambra: Any, response: requests.Response, what: str) -> None:
    """An invalid, expired or missing session: HTTP 401 with an Ambra error hash."""
    body = reply(ambra, response, 401, what)
    assert body["status"] == "ERROR", f"{what}: a 401 is an error hash: {describe(response)}"


def walk(ambra: Any, path: str, collection: str, params: dict[str, Any], rows: int, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, page by page until ``more`` is 0, checking each page hash; (items, pages)."""
    items: list[dict[str, Any]] = []
    for number in range(1, MAX_PAGES + 1):
        body = ok(ambra, path, {**params, "page.rows": rows, "page.number": number}, f"{path} page {number}", **kwargs)
        page, found = body.get("page"), body.get(collection)
        assert isinstance(page, dict) and isinstance(found, list), f"{path} returns a page hash and {collection}: {str(body)[:300]}"
        assert (page["rows"], page["number"]) == (rows, number), f"the page hash names the page asked for: {page}"
        assert page["count"] == len(found), f"page {number}: count {page['count']} is the number of rows returned ({len(found)})"
        assert len(found) <= rows, f"page {number} holds at most page.rows={rows} rows, not {len(found)}"
        items += found
        if page["more"] == 0:
            return items, number
        assert page["more"] == 1 and len(found) == rows, f"page {number} says more=1: it is full ({len(found)} of {rows})"
    pytest.fail(f"{path}: still more=1 after {MAX_PAGES} pages")


def list_all(ambra: Any, path: str, collection: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a list, paged or not (not every list command takes page.rows)."""
    command = SPEC.document["paths"][path]["post"]
    properties = command["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    if "page.rows" in properties:
        return walk(ambra, path, collection, params, 5000)[0]
    found = ok(ambra, path, params).get(collection)
    assert isinstance(found, list), f"{path} returns {collection}"
    return found


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def account(ambra: Any) -> str:
    return str(ambra.account_id())


@pytest.fixture(scope="module")
def namespace(ambra: Any) -> str:
    return str(ambra.namespace_id())


@pytest.fixture(scope="module")
def studies(ambra: Any, namespace: str) -> list[dict[str, Any]]:
    """Every study of the administrator's account namespace, as the list shows them."""
    found, _ = walk(ambra, "/study/list", "studies", {"filter.phi_namespace.equals": namespace}, 5000)
    if len(found) < 10:
        pytest.skip(f"the account namespace holds {len(found)} studies: too few to check filters and sorts against")
    return found


def new_study(ambra: Any, namespace: str, **fields: Any) -> str:
    """A study of the suite's own in the account namespace (its uuid)."""
    params = {
        "study_uid": f"2.25.{uuid.uuid4().int}",
        "phi_namespace": namespace,
        "storage_namespace": namespace,
        "patient_name": "CONTRACT^TEST",
        "patientid": f"MRN-C{uuid.uuid4().hex[:8].upper()}",
        "modality": "CT",
        "study_date": "20240607",
        "study_description": "CT HEAD W/O CONTRAST",
        "accession_number": f"C{uuid.uuid4().hex[:9].upper()}",
        **fields,
    }
    body = ok(ambra, "/study/add", params, "adding a study of the suite's own")
    assert isinstance(body.get("uuid"), str), f"/study/add answers the new study's uuid: {body}"
    return str(body["uuid"])


def other_sid(ambra: Any) -> tuple[str, str]:
    """A fresh session of a user other than the administrator when the target names one (sessions are capped per user)."""
    creds = ambra.credentials
    for login, password in ((creds.get("user_login"), creds.get("user_password")), (creds.get("phr_login"), creds.get("phr_password"))):
        if login and password:
            return ambra.login(login, password), str(login)
    return ambra.login(ambra.login_name, ambra.password), ambra.login_name


# -- sessions ----------------------------------------------------------------------------------------


def test_login_session_user_and_ttl(ambra):
    response = ambra.session.post(ambra.url("/session/login"), data={"login": ambra.login_name, "password": ambra.password}, timeout=60)
    session = reply(ambra, response, 200, "/session/login")
    SPEC.assert_valid("Session", session, "the login reply")
    user = ok(ambra, "/session/user", sid=session["sid"])
    assert user["uuid"] == session["uuid"], "/session/user is the user who logged in"
    assert ok(ambra, "/session/user")["uuid"] == user["uuid"], "the suite's session is the same user's"
    ttl = ok(ambra, "/session/ttl", sid=session["sid"])["ttl"]
    expire = user.get("session_expire")
    assert isinstance(ttl, int) and ttl > 0, f"a fresh session has time to live: {ttl}"
    if isinstance(expire, int) and expire > 0:
        assert expire - 2 <= ttl <= expire, f"a fresh session lives session_expire ({expire}) minutes, /session/ttl says {ttl}"
    wrong = error(ambra, "/session/login", {"login": ambra.login_name, "password": ambra.password + "x"}, "INVALID_CREDENTIALS", sid=None)
    assert "sid" not in wrong
    ok(ambra, "/session/logout", sid=session["sid"])


def test_logout_invalidates_the_sid(ambra):
    sid, login = other_sid(ambra)
    second, _ = other_sid(ambra)
    assert ok(ambra, "/session/ttl", sid=sid)["ttl"] > 0
    ok(ambra, "/session/logout", sid=sid)
    for path in ("/session/user", "/session/ttl", "/study/list", "/study/count"):
        refused(ambra, ambra.call(path, sid=sid), f"{path} with the sid of {login} after /session/logout")
        refused(ambra, ambra.call(path, method="GET", sid=sid), f"GET {path} with a logged-out sid")
    assert ok(ambra, "/session/ttl", sid=second)["ttl"] > 0, "logout ends that session only, not the user's other sessions"
    ok(ambra, "/session/logout", sid=second)


@pytest.mark.parametrize("sid", [None, "", "not-a-session", UNKNOWN])
def test_missing_or_unknown_sid_is_401(ambra, sid):
    calls = [("/study/list", {}), ("/session/user", {}), ("/group/list", {"account_id": UNKNOWN})]
    if sid:  # /study/get takes (sid || node_id && serial_no): without a sid it is MISSING_FIELDS, with a bad one a 401
        calls.append(("/study/get", {"uuid": UNKNOWN}))
    else:
        missing = error(ambra, "/study/get", {"uuid": UNKNOWN}, "MISSING_FIELDS", "/study/get with neither a sid nor a node", sid=sid)
        assert "sid" in missing.get("error_subtype", []), f"the missing alternative is named: {missing}"
    for path, params in calls:
        for method in ("POST", "GET"):
            refused(ambra, ambra.call(path, params, method=method, sid=sid), f"{method} {path} with sid={sid!r}")


def test_expired_oauth_token_is_refused(ambra, target):
    creds = require(target, "ambra", "oauth_client_id", "oauth_client_secret")
    form = {"grant_type": "client_credentials", "client_id": creds["oauth_client_id"], "client_secret": creds["oauth_client_secret"]}
    token = ok(ambra, "/session/oauth/token", {**form, "duration": 2}, "a token for 2 seconds", sid=None)
    assert token["expires_in"] == 2, f"the token lives the duration asked for: {token}"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    issued = time.monotonic()
    works = ambra.call("/session/user", sid=None, headers=bearer)
    if time.monotonic() - issued < 1.5:
        reply(ambra, works, 200, "a 2-second token works at once")
    time.sleep(max(0.0, issued + 3.0 - time.monotonic()))
    for path in ("/session/user", "/study/list"):
        refused(ambra, ambra.call(path, sid=None, headers=bearer), f"{path} with a Bearer token that expired a second ago")


def test_expired_session_is_refused(ambra, target):
    sid, login = other_sid(ambra)
    ttl = ok(ambra, "/session/ttl", sid=sid)["ttl"]
    user = ok(ambra, "/session/user", sid=sid)
    expire = user.get("session_expire")
    if isinstance(expire, int) and expire > 0:
        assert 0 < ttl <= expire, f"/session/ttl ({ttl} minutes) is at most the session_expire of the user's accounts ({expire})"
    if not target.control_url:
        ok(ambra, "/session/logout", sid=sid)
        pytest.skip(f"sessions live {ttl} minutes and the target has no medimock control API to expire one now")
    expired = requests.post(target.control("/ambra/sessions/expire"), json={"sid": sid}, timeout=10)
    assert expired.status_code == 200, f"POST /__mock__/ambra/sessions/expire: {expired.status_code} {expired.text[:200]}"
    for path in ("/session/user", "/session/ttl", "/study/list"):
        refused(ambra, ambra.call(path, sid=sid), f"{path} with the expired session of {login}")
    refused(ambra, ambra.call("/study/list", method="GET", sid=sid), "GET /study/list with an expired session")


def test_oauth_client_credentials_token_as_bearer(ambra, target):
    creds = require(target, "ambra", "oauth_client_id", "oauth_client_secret")
    form = {"grant_type": "client_credentials", "client_id": creds["oauth_client_id"], "client_secret": creds["oauth_client_secret"]}
    token = ok(ambra, "/session/oauth/token", form, "client credentials", sid=None)
    assert token["token_type"].lower() == "bearer" and token["access_token"], f"a bearer token: {token}"
    assert isinstance(token["expires_in"], int) and 0 < token["expires_in"] <= 86400, f"expires_in: {token['expires_in']}"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    me = ok(ambra, "/session/user", sid=None, headers=bearer)
    if creds["oauth_client_id"].lower() == ambra.login_name.lower():
        assert me["uuid"] == ok(ambra, "/session/user")["uuid"], "the token stands for the client's user (the administrator)"
    listed = ok(ambra, "/study/list", {"page.rows": 2}, "/study/list with a Bearer token", sid=None, headers=bearer)
    assert len(listed["studies"]) <= 2
    if listed["studies"]:
        uuid_ = listed["studies"][0]["uuid"]
        assert ok(ambra, "/study/get", {"uuid": uuid_}, sid=None, headers=bearer)["uuid"] == uuid_
        assert ok(ambra, "/study/get", {"uuid": uuid_}, method="GET", sid=None, headers=bearer)["uuid"] == uuid_
    again = ok(ambra, "/session/oauth/token", form, "a second token", sid=None)
    assert again["access_token"] != token["access_token"], "every token request issues a new token"
    error(ambra, "/session/oauth/token", {**form, "client_secret": "wrong-" + uuid.uuid4().hex}, "AUTH_FAILED", sid=None)
    missing = error(ambra, "/session/oauth/token", {"grant_type": "client_credentials"}, "MISSING_FIELDS", sid=None)
    assert set(missing["error_subtype"]) == {"client_id", "client_secret"}, f"MISSING_FIELDS names both: {missing}"
    refused(
        ambra, ambra.call("/session/user", sid=None, headers={"Authorization": f"Bearer unknown-{uuid.uuid4().hex}"}), "an unknown token"
    )


def test_http_basic_authentication(ambra):
    def basic(login: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}

    good = basic(ambra.login_name, ambra.password)
    me = ok(ambra, "/session/user", sid=None, headers=good)
    assert me["uuid"] == ok(ambra, "/session/user")["uuid"], "basic authentication stands for the user whose login it names"
    assert ok(ambra, "/session/user", method="GET", sid=None, headers=good)["uuid"] == me["uuid"]
    count = ok(ambra, "/study/count", sid=None, headers=good)["count"]
    assert count == ok(ambra, "/study/count")["count"], "basic authentication sees what a session of the same user sees"
    for bad in (basic(ambra.login_name, ambra.password + "x"), basic("nobody-" + uuid.uuid4().hex, "x"), {"Authorization": "Basic !!!"}):
        refused(ambra, ambra.call("/study/list", sid=None, headers=bad), f"/study/list with {bad['Authorization'][:12]}...")


# -- studies -----------------------------------------------------------------------------------------


def test_study_list_paging_walk(ambra, namespace):
    params = {"filter.phi_namespace.equals": namespace}
    total = ok(ambra, "/study/count", params)["count"]
    assert total > 0, "the account namespace holds studies to page through"
    rows = max(1, min(5000, -(-total // 7)))  # about seven pages
    items, pages = walk(ambra, "/study/list", "studies", params, rows)
    uuids = [s["uuid"] for s in items]
    assert len(uuids) == len(set(uuids)), f"no study appears on two pages: {len(uuids) - len(set(uuids))} duplicates"
    assert len(uuids) == total, f"walking the pages until more=0 finds /study/count's {total} studies, not {len(uuids)}"
    assert pages == -(-total // rows), f"{total} studies at {rows} a page are {-(-total // rows)} pages, not {pages}"
    assert all(s["phi_namespace"] == namespace for s in items), "every study matches the filter"
    past = ok(ambra, "/study/list", {**params, "page.rows": rows, "page.number": pages + 3})
    assert past["studies"] == [] and past["page"]["more"] == 0 and past["page"]["count"] == 0, (
        f"a page past the end is empty: {past['page']}"
    )
    first = ok(ambra, "/study/list", params)["page"]
    assert first["rows"] == 100 and first["number"] == 1, f"page.rows defaults to 100, page.number to 1: {first}"
    assert first["more"] == (1 if total > 100 else 0), f"{total} studies: more on the first default page is {first['more']}"
    created = [s.get("created") for s in ok(ambra, "/study/list", {**params, "page.rows": min(total, 50)})["studies"]]
    if all(created):
        assert created == sorted(created, reverse=True), "the list is sorted by creation, most recent first (the document)"


def test_study_lifecycle(ambra, namespace):
    listed = ok(ambra, "/study/list", {"page.rows": 3, "filter.phi_namespace.equals": namespace})["studies"]
    for item in listed:  # a listed study is what /study/get returns
        got = ok(ambra, "/study/get", {"uuid": item["uuid"]})
        differing = {k: (v, got.get(k)) for k, v in item.items() if k in got and got[k] != v}
        assert not differing, f"/study/get {item['uuid']} returns the fields /study/list showed: {differing}"
    study_uid = f"2.25.{uuid.uuid4().int}"
    study = new_study(ambra, namespace, study_uid=study_uid, patient_name="DOE^JANE", image_count="12")
    try:
        got = ok(ambra, "/study/get", {"uuid": study})
        expected = {"uuid": study, "study_uid": study_uid, "phi_namespace": namespace, "storage_namespace": namespace,
                    "patient_name": "DOE^JANE", "modality": "CT", "image_count": 12}  # fmt: skip
        assert {k: got.get(k) for k in expected} == expected, f"the study comes back as added: {got}"
        by_uid = ok(ambra, "/study/get", {"study_uid": study_uid, "storage_namespace": namespace, "phi_namespace": namespace})
        assert by_uid["uuid"] == study, "a study is found by its storage triplet too"
        found = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})["studies"]
        assert [s["uuid"] for s in found] == [study], f"the list filtered by study_uid finds the new study: {found}"
        duplicate = error(ambra, "/study/add", {"study_uid": study_uid, "phi_namespace": namespace, "storage_namespace": namespace},
                          "ALREADY_EXISTS")  # fmt: skip
        assert duplicate.get("error_subtype") == study, f"ALREADY_EXISTS names the existing study: {duplicate}"

        ok(ambra, "/study/set", {"study_id": study, "patient_name": "DOE^JANET", "study_description": "CT HEAD UPDATED"})
        changed = ok(ambra, "/study/get", {"uuid": study})
        assert (changed["patient_name"], changed["study_description"]) == ("DOE^JANET", "CT HEAD UPDATED"), f"/study/set is seen: {changed}"
        assert changed["study_uid"] == study_uid and changed["modality"] == "CT", "fields not set are kept"
        listed_again = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})["studies"]
        assert [s["patient_name"] for s in listed_again] == ["DOE^JANET"], "the list shows the change too"
        assert ok(ambra, "/study/exists", {"uuid": study})["exists"] == 1

        ok(ambra, "/study/delete", {"uuid": study})
        gone = error(ambra, "/study/get", {"uuid": study}, "NOT_FOUND", "a deleted study")
        assert gone.get("error_subtype") == "uuid", f"NOT_FOUND names the parameter: {gone}"
        error(ambra, "/study/delete", {"uuid": study}, "NOT_FOUND", "deleting a study twice")
        error(ambra, "/study/set", {"study_id": study, "patient_name": "X"}, "NOT_FOUND", "setting a deleted study")
        assert ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})["studies"] == [], "a deleted study is not listed"
        assert ok(ambra, "/study/exists", {"uuid": study})["exists"] == 0
    finally:
        ambra.call("/study/delete", {"uuid": study})


# the resources of the generic lifecycle: (add parameters beyond account_id and name, the field set changes, its new value)
RESOURCES = {
    "group": ({}, "name"),
    "location": ({}, "name"),
    "customfield": ({"object": "Study", "type": "text"}, "name"),
    "webhook": ({"event": "STUDY_UPLOAD", "url": "http://127.0.0.1:9/contract", "method": "POST_JSON"}, "name"),
}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_resource_lifecycle(ambra, account, resource):
    extra, field = RESOURCES[resource]
    collection = {"group": "groups", "location": "locations", "customfield": "customfields", "webhook": "webhooks"}[resource]
    name = f"Contract {resource} {uuid.uuid4().hex[:8]}"
    added = ok(ambra, f"/{resource}/add", {"account_id": account, "name": name, **extra})
    item = added.get("uuid")
    assert isinstance(item, str), f"/{resource}/add answers the new uuid: {added}"
    try:
        got = ok(ambra, f"/{resource}/get", {"uuid": item})
        assert got["uuid"] == item and got["name"] == name, f"/{resource}/get returns what was added: {got}"
        for key, value in extra.items():
            assert str(got.get(key)) == value, f"/{resource}/get keeps {key}={value}: {got.get(key)!r}"
        listed = [x for x in list_all(ambra, f"/{resource}/list", collection, {"account_id": account}) if x["uuid"] == item]
        assert len(listed) == 1 and listed[0]["name"] == name, f"/{resource}/list holds the new {resource} once: {listed}"

        renamed = name + " renamed"
        ok(ambra, f"/{resource}/set", {"uuid": item, field: renamed})
        assert ok(ambra, f"/{resource}/get", {"uuid": item})[field] == renamed, f"/{resource}/set is seen by /{resource}/get"
        listed = [x for x in list_all(ambra, f"/{resource}/list", collection, {"account_id": account}) if x["uuid"] == item]
        assert [x[field] for x in listed] == [renamed], f"/{resource}/list shows the change: {listed}"

        ok(ambra, f"/{resource}/delete", {"uuid": item})
        gone = error(ambra, f"/{resource}/get", {"uuid": item}, "NOT_FOUND", f"a deleted {resource}")
        assert gone.get("error_subtype") == "uuid", f"NOT_FOUND names the parameter: {gone}"
        error(ambra, f"/{resource}/delete", {"uuid": item}, "NOT_FOUND", f"deleting a {resource} twice")
        error(ambra, f"/{resource}/set", {"uuid": item, field: "x"}, "NOT_FOUND", f"setting a deleted {resource}")
        remaining = list_all(ambra, f"/{resource}/list", collection, {"account_id": account})
        assert item not in [x["uuid"] for x in remaining], f"a deleted {resource} is not listed"
    finally:
        ambra.call(f"/{resource}/delete", {"uuid": item})


# -- filters, sorts, fields ------------------------------------------------------------------------------


def matches(value: Any, condition: str, wanted: Any) -> bool:
    """What ``filter.FIELD.CONDITION=wanted`` keeps, as the document defines the conditions."""
    if condition == "equals":
        return value is not None and value == wanted
    if condition == "equals_or_null":
        return value is None or value == wanted
    if condition == "not_equals":
        return value is not None and value != wanted
    if condition == "not_equals_or_null":
        return value is None or value != wanted
    if condition == "like":
        pattern = re.escape(str(wanted).lower()).replace("%", ".*").replace(r"\*", ".*").replace("_", ".")
        return value is not None and re.fullmatch(pattern, str(value).lower(), re.DOTALL) is not None
    if condition == "in":
        return value is not None and value in wanted
    if condition == "in_or_null":
        return value is None or value in wanted
    if value is None:
        return False
    return bool({"gt": value > wanted, "ge": value >= wanted, "lt": value < wanted, "le": value <= wanted}[condition])


def filter_cases(studies: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """Every condition, with values taken from the data so that each one keeps some studies and drops others."""

    def common(field: str) -> Any:
        values = [s.get(field) for s in studies if s.get(field) is not None]
        return max(sorted(set(values)), key=values.count) if values else None

    def middle(field: str) -> Any:
        values = sorted(s[field] for s in studies if s.get(field) is not None)
        return values[len(values) // 2] if values else None

    modality, physician, name = common("modality"), common("referring_physician"), sorted(s["patient_name"] for s in studies)[0]
    others = sorted({s.get("modality") for s in studies} - {modality, None})
    cases = [
        ("modality", "equals", modality),
        ("modality", "not_equals", modality),
        ("modality", "in", [modality, *others[:1]]),
        ("referring_physician", "equals_or_null", physician),
        ("referring_physician", "not_equals_or_null", physician),
        ("referring_physician", "in_or_null", [physician]),
        ("patient_name", "like", name[:3] + "%"),
        ("patient_name", "like", "%" + name[-3:]),
        ("patient_name", "like", name[:2] + "*"),
        ("image_count", "gt", middle("image_count")),
        ("image_count", "ge", middle("image_count")),
        ("image_count", "lt", middle("image_count")),
        ("image_count", "le", middle("image_count")),
        ("study_date", "ge", middle("study_date")),
        ("study_date", "lt", middle("study_date")),
        ("created", "gt", middle("created")),
        ("created", "le", middle("created")),
    ]
    return [case for case in cases if case[2] is not None]


def test_every_filter_condition_against_the_data(ambra, namespace, studies):
    base = {"filter.phi_namespace.equals": namespace}
    discriminating = []
    for field, condition, wanted in filter_cases(studies):
        raw = json.dumps(wanted) if isinstance(wanted, list) else str(wanted)
        got, _ = walk(ambra, "/study/list", "studies", {**base, f"filter.{field}.{condition}": raw}, 5000)
        expected = {s["uuid"] for s in studies if matches(s.get(field), condition, wanted)}
        wrong = [s["uuid"] for s in got if not matches(s.get(field), condition, wanted)]
        assert not wrong, f"filter.{field}.{condition}={raw} returned studies that do not match it: {wrong[:5]}"
        missing = expected - {s["uuid"] for s in got}
        assert not missing, f"filter.{field}.{condition}={raw} left out {len(missing)} matching studies, e.g. {sorted(missing)[:3]}"
        if 0 < len(expected) < len(studies):
            discriminating.append(f"{field}.{condition}")
    assert len(discriminating) >= 12, f"the data should let most conditions keep some studies and drop others: {discriminating}"
    both = {**base, "filter.modality.equals": filter_cases(studies)[0][2], "filter.image_count.gt": "10"}
    combined, _ = walk(ambra, "/study/list", "studies", both, 5000)
    expected = {s["uuid"] for s in studies if s.get("modality") == both["filter.modality.equals"] and (s.get("image_count") or 0) > 10}
    assert {s["uuid"] for s in combined} == expected, "filters combine (AND)"
    counted = ok(ambra, "/study/count", both)["count"]
    assert counted == len(expected), f"/study/count applies the same filters as /study/list: {counted} != {len(expected)}"


def test_generic_list_filter_and_sort(ambra, account):
    everything, _ = walk(ambra, "/customfield/list", "customfields", {"account_id": account}, 5000)
    if len(everything) < 2:
        pytest.skip("the account has fewer than two customfields")
    names = [c["name"] for c in everything]
    prefix = sorted(names)[0][:3]
    liked = walk(ambra, "/customfield/list", "customfields", {"account_id": account, "filter.name.like": prefix + "%"}, 5000)[0]
    assert sorted(c["uuid"] for c in liked) == sorted(c["uuid"] for c in everything if c["name"].lower().startswith(prefix.lower())), (
        f"filter.name.like={prefix}% on /customfield/list"
    )
    for direction in ("asc", "desc"):
        ranked = [
            c["name"]
            for c in walk(ambra, "/customfield/list", "customfields", {"account_id": account, "sort_by": f"name-{direction}"}, 5000)[0]
        ]
        assert ranked == sorted(names, reverse=direction == "desc"), f"/customfield/list sort_by=name-{direction}: {ranked}"
    first = ok(ambra, "/customfield/list", {"account_id": account, "page.rows": 1, "sort_by": "name-asc"})
    assert first["page"] == {**first["page"], "rows": 1, "number": 1, "more": 1, "count": 1}, f"a generic list pages too: {first['page']}"
    assert first["customfields"][0]["name"] == sorted(names)[0]


@pytest.mark.parametrize("field", ["image_count", "patient_name", "study_date", "created"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_one_field(ambra, namespace, studies, field, direction):
    ranked, _ = walk(ambra, "/study/list", "studies", {"filter.phi_namespace.equals": namespace, "sort_by": f"{field}-{direction}"}, 5000)
    values = [s.get(field) for s in ranked]
    known = [v for v in values if v is not None]
    assert len(known) >= len(values) // 2, f"most studies have a {field}"
    nulls = [i for i, v in enumerate(values) if v is None]
    assert nulls in ([], list(range(len(nulls))), list(range(len(values) - len(nulls), len(values)))), "studies without it sort together"
    assert known == sorted(known, reverse=direction == "desc"), f"sort_by={field}-{direction}: {known[:12]}..."
    assert sorted(s["uuid"] for s in ranked) == sorted(s["uuid"] for s in studies), "sorting changes the order, not the set"


def test_sort_by_several_fields(ambra, namespace, studies):
    ranked, _ = walk(
        ambra, "/study/list", "studies", {"filter.phi_namespace.equals": namespace, "sort_by": "modality-asc,image_count-desc"}, 5000
    )
    keys = [(s["modality"], -s["image_count"]) for s in ranked]
    assert keys == sorted(keys), "sort_by=modality-asc,image_count-desc sorts by modality, then by image_count descending"
    assert len({s["modality"] for s in ranked}) > 1, "the data holds several modalities"
    page_two = ok(
        ambra, "/study/list", {"filter.phi_namespace.equals": namespace, "sort_by": "image_count-desc", "page.rows": 5, "page.number": 2}
    )
    by_count = sorted(studies, key=lambda s: -s["image_count"])
    assert [s["image_count"] for s in page_two["studies"]] == [s["image_count"] for s in by_count[5:10]], "pages follow the sort"


@pytest.mark.parametrize(
    ("params", "error_type", "subtype"),
    [
        ({"sort_by": "no_such_field-asc"}, "INVALID_SORT_FIELD", "no_such_field"),
        ({"sort_by": "modality-asc,colour-desc"}, "INVALID_SORT_FIELD", "colour"),
        ({"sort_by": "modality-sideways"}, "INVALID_SORT_ORDER", "modality"),
        ({"sort_by": "modality-asc,image_count-up"}, "INVALID_SORT_ORDER", "image_count"),
        ({"filter.no_such_field.equals": "1"}, "INVALID_FIELD", "filter.no_such_field.equals"),
        ({"filter.modality.resembles": "CT"}, "INVALID_CONDITION", "filter.modality.resembles"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_sort_and_filter_errors(ambra, params, error_type, subtype, method):
    body = error(ambra, "/study/list", params, error_type, f"/study/list {params}", method=method)
    assert body.get("error_subtype") == subtype, f"{error_type} names {subtype!r} in error_subtype: {body}"


def test_fields_selection(ambra, namespace):
    required = set(SPEC.document["components"]["schemas"]["Study"]["required"])
    params = {"filter.phi_namespace.equals": namespace, "page.rows": 10, "sort_by": "created-desc"}
    full = {s["uuid"]: s for s in ok(ambra, "/study/list", params)["studies"]}
    wanted = ["patient_name", "modality"]
    selected = ok(ambra, "/study/list", {**params, "fields": json.dumps(wanted)})["studies"]
    assert [s["uuid"] for s in selected] == list(full), "fields selects columns, not rows"
    for study in selected:
        assert set(wanted) <= set(study) <= set(wanted) | required, (
            f"fields={wanted} returns those fields (and {sorted(required)}): {sorted(study)}"
        )
        assert {k: study[k] for k in study} == {k: full[study["uuid"]][k] for k in study}, "selected fields keep their values"
    assert any(set(s) - set(wanted) - required for s in full.values()), "without fields, the list returns more fields"
    uuid_ = next(iter(full))
    one = ok(ambra, "/study/get", {"uuid": uuid_, "fields": json.dumps(["modality"])})
    shown = set(one) - {"status"}
    assert "modality" in shown and shown <= {"modality"} | required, f"/study/get with fields=[modality]: {sorted(shown)}"
    error(ambra, "/study/list", {"fields": "[not json"}, "INVALID_JSON", "fields that are not JSON")


# -- errors ------------------------------------------------------------------------------------------------


def missing_fields_commands() -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """Commands whose form requires several fields (and no alternative involving the sid): (path, required, alternatives)."""
    found = []
    for path, item in sorted(SPEC.document["paths"].items()):
        post = item.get("post") or {}
        schema = (((post.get("requestBody") or {}).get("content") or {}).get("application/x-www-form-urlencoded") or {}).get("schema") or {}
        required = [n for n in schema.get("required") or () if n != "sid"]
        alternatives = list(post.get("x-ambra-alternatives") or [])
        security = post.get("security") or []
        if len(required) < 2 or any("sid" in o or "serial_no" in o for g in alternatives for o in g):
            continue
        if not security or not all(requirement for requirement in security):
            continue
        found.append((path, required, alternatives))
    return found[::4]  # every fourth, about twenty commands across the groups


def valid_value(path: str, name: str) -> str:
    """A value of the form field's type (so that only the missing field is wrong)."""
    post = SPEC.document["paths"][path]["post"]
    schema = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"].get(name) or {}
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("contentMediaType") == "application/json":
        return "[]" if (schema.get("contentSchema") or {}).get("type") == "array" else "{}"
    if schema.get("type") == "integer":
        return "1"
    return "contract@example.org" if "email" in name else "contract"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_missing_fields_lists_every_missing_field(ambra, method):
    commands = missing_fields_commands()
    assert len(commands) >= 10, f"the spec has commands that require several fields: {len(commands)}"
    for path, required, alternatives in commands:
        if method == "GET" and set(SPEC.document["paths"][path]["get"].get("responses") or {}) == {"405"}:
            continue
        body = error(ambra, path, {}, "MISSING_FIELDS", f"{method} {path} with only a sid", method=method)
        subtype = body.get("error_subtype")
        assert isinstance(subtype, list), f"{path}: MISSING_FIELDS holds the list of missing fields in error_subtype: {body}"
        allowed = set(required) | {n for g in alternatives for o in g for n in o}
        assert set(required) <= set(subtype) <= allowed, f"{path}: error_subtype {subtype} names every missing field {required}"
        for group in alternatives:
            assert any(set(option) <= set(subtype) for option in group), f"{path}: an unsatisfied alternative {group} is named: {subtype}"
        last = required[-1]
        partial = {n: valid_value(path, n) for n in required[:-1]}
        body = error(ambra, path, partial, "MISSING_FIELDS", f"{method} {path} without {last}", method=method)
        assert set(body.get("error_subtype") or []) - {n for g in alternatives for o in g for n in o} == {last}, (
            f"{path}: only the missing {last!r} is named, not {body.get('error_subtype')}"
        )
        empty = error(ambra, path, {**partial, last: ""}, "MISSING_FIELDS", f"{method} {path} with an empty {last}", method=method)
        assert last in (empty.get("error_subtype") or []), f"{path}: a field without data in it is missing too: {empty}"


def test_invalid_flag_and_integer_name_the_field(ambra):
    assert error(ambra, "/study/list", {"extra": "2"}, "INVALID_FLAG").get("error_subtype") == "extra"
    assert error(ambra, "/study/list", {"page.rows": "ten"}, "INVALID_INTEGER").get("error_subtype") == "page.rows"
    assert error(ambra, "/study/list", {"page.rows": "5001"}, "INVALID_INTEGER").get("error_subtype") == "page.rows"


# -- permissions ---------------------------------------------------------------------------------------------


def test_user_role_is_not_permitted_what_only_an_admin_may_do(ambra, target, account, namespace):
    creds = require(target, "ambra", "user_login", "user_password")
    user = ambra.login(creds["user_login"], creds["user_password"])
    perms = ok(ambra, "/session/permissions", {"account_id": account}, "the User role's permissions", sid=user)
    for flag in ("group_edit", "webhook_view", "study_delete", "study_view"):
        assert flag in perms, f"/session/permissions lists {flag}: {sorted(perms)[:20]}"
    assert (perms["study_view"], perms["group_edit"], perms["webhook_view"], perms["study_delete"]) == (1, 0, 0, 0), (
        f"the User role may view studies but not edit groups, view webhooks or delete studies: {perms}"
    )
    visible = ok(ambra, "/study/list", {"page.rows": 2}, "a User may list studies (study_view)", sid=user)["studies"]
    if visible:
        ok(ambra, "/study/get", {"uuid": visible[0]["uuid"]}, "a User may get a study it sees (study_view)", sid=user)

    name = f"Contract forbidden {uuid.uuid4().hex[:8]}"
    error(ambra, "/group/add", {"account_id": account, "name": name}, "NOT_PERMITTED", "a User adding a group (group_edit)", sid=user)
    groups = walk(ambra, "/group/list", "groups", {"account_id": account}, 5000)[0]
    assert name not in [g.get("name") for g in groups], "a refused /group/add adds nothing"
    error(ambra, "/webhook/list", {"account_id": account}, "NOT_PERMITTED", "a User listing webhooks (webhook_view)", sid=user)
    ok(ambra, "/webhook/list", {"account_id": account}, "the administrator may list webhooks")

    study = new_study(ambra, namespace)
    try:
        error(ambra, "/study/delete", {"uuid": study}, "NOT_PERMITTED", "a User deleting a study (study_delete)", sid=user)
        assert ok(ambra, "/study/get", {"uuid": study})["uuid"] == study, "a refused /study/delete deletes nothing"
        ok(ambra, "/study/delete", {"uuid": study}, "the administrator may delete it")
    finally:
        ambra.call("/study/delete", {"uuid": study})
    added = ok(ambra, "/group/add", {"account_id": account, "name": name}, "the administrator may add a group")
    ok(ambra, "/group/delete", {"uuid": added["uuid"]})
    ok(ambra, "/session/logout", sid=user)


# -- /bundle ---------------------------------------------------------------------------------------------------


def bundle(ambra: Any, calls: Any, query: str = "", data: bytes | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    """POST /bundle: ``calls`` as JSON, or raw ``data``."""
    if data is not None:
        return ambra.session.post(ambra.url("/bundle") + query, data=data, headers=headers, timeout=60)
    return ambra.session.post(ambra.url("/bundle") + query, json=calls, headers=headers, timeout=60)


def check_results(ambra: Any, calls: list[dict[str, Any]], results: Any) -> list[int]:
    """Each bundled reply carries HTTP_STATUS_CODE and matches the schema of its command's reply with that status."""
    assert isinstance(results, list) and len(results) == len(calls), f"one reply per call, in order: {str(results)[:300]}"
    statuses = []
    for call, result in zip(calls, results, strict=True):
        assert isinstance(result, dict) and isinstance(result.get("HTTP_STATUS_CODE"), int), f"{call['URL']}: HTTP_STATUS_CODE in {result}"
        status = result["HTTP_STATUS_CODE"]
        statuses.append(status)
        if call["URL"] in SPEC.document["paths"] and status in (200, 401, 412):
            body = {k: v for k, v in result.items() if k != "HTTP_STATUS_CODE"}
            problems = SPEC.reply_errors(call["URL"], "post", status, body)
            assert not problems, f"the bundled {call['URL']} reply ({status}) does not match the spec: {problems[:5]}"
    return statuses


def test_bundle_templates_and_status_codes(ambra, namespace):
    creds = ambra.credentials
    login, password = (
        (creds.get("user_login"), creds.get("user_password")) if creds.get("user_login") else (ambra.login_name, ambra.password)
    )
    calls = [
        {"URL": "/session/login", "login": login, "password": password},
        {"URL": "/study/list", "sid": "{{sid}}", "page.rows": 2},
        {"URL": "/study/get", "sid": "{{sid}}", "uuid": "{{studies.[1].uuid}}"},
        {"URL": "/study/get", "sid": "{{sid}}", "uuid": UNKNOWN},
        {"URL": "/session/user", "sid": "{{sid}}"},
        {"URL": "/no/such/command", "sid": "{{sid}}"},
    ]
    response = bundle(ambra, calls)
    assert response.status_code == 200, describe(response)
    results = response.json()
    statuses = check_results(ambra, calls, results)
    assert statuses[:5] == [200, 200, 200, 412, 200], f"each call's own status: {statuses}: {results[2]}"
    assert statuses[5] >= 400, f"an unknown command in a bundle fails on its own: {statuses[5]}"
    assert len(results[1]["studies"]) == 2, "{{sid}} from the login reply authenticated the list"
    assert results[2]["uuid"] == results[1]["studies"][1]["uuid"], "{{studies.[1].uuid}} is the second study of the list before it"
    assert results[3]["error_type"] == "NOT_FOUND", "an error of one call is its own reply; the bundle goes on"
    assert results[4]["uuid"] == results[0]["uuid"], "the bundle ran the calls in order, with the session it logged in"
    ok(ambra, "/session/logout", sid=results[0]["sid"])


def test_bundle_inherit_sid(ambra):
    me = ok(ambra, "/session/user")["uuid"]
    calls = [{"URL": "/session/user"}, {"URL": "/study/count"}]
    inherited = bundle(ambra, calls, f"?inherit_sid=1&sid={ambra.sid}")
    assert inherited.status_code == 200, describe(inherited)
    results = inherited.json()
    assert check_results(ambra, calls, results) == [200, 200], f"inherit_sid=1: the calls run with the bundle's sid: {results}"
    assert results[0]["uuid"] == me and results[1]["count"] == ok(ambra, "/study/count")["count"]
    plain = bundle(ambra, calls, f"?sid={ambra.sid}")
    assert check_results(ambra, calls, plain.json()) == [401, 401], "without inherit_sid, calls without a sid have no session"
    header = bundle(ambra, calls, "?inherit_sid=1", headers={"X-AmbraHealth-SID": ambra.sid})
    assert check_results(ambra, calls, header.json()) == [200, 200], "the sid may come in the X-AmbraHealth-SID header"


@pytest.mark.parametrize("body", [b"{not json", b"{}", b"[]", b'[{"sid": "x"}]', b"[1, 2]", b'"/session/uuid"'])
def test_malformed_bundle_is_400(ambra, body):
    response = bundle(ambra, None, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, f"a bundle that is not a JSON array of hashes with a URL is an HTTP 400: {describe(response)}"


# -- GET and POST --------------------------------------------------------------------------------------------


def test_get_and_post_are_equivalent(ambra, account, namespace):
    first = ok(ambra, "/study/list", {"page.rows": 1, "filter.phi_namespace.equals": namespace})["studies"]
    group = ok(ambra, "/group/list", {"account_id": account})["groups"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/study/list", {"page.rows": 7, "page.number": 2, "sort_by": "patient_name-asc", "filter.modality.in": '["CT","MR"]'}),
        ("/study/count", {"filter.modality.equals": "CT"}),
        ("/study/list", {"sort_by": "colour-asc"}),
        ("/group/add", {"name": "x"}),
        ("/group/get", {"uuid": UNKNOWN}),
        ("/session/user", {}),
    ]
    if first:
        calls.append(("/study/get", {"uuid": first[0]["uuid"]}))
    if group:
        calls.append(("/group/get", {"uuid": group[0]["uuid"]}))
    for path, params in calls:
        by_post, by_get = ambra.call(path, params), ambra.call(path, params, method="GET")
        assert by_post.status_code == by_get.status_code, f"{path} {params}: POST {by_post.status_code}, GET {by_get.status_code}"
        assert by_post.json() == by_get.json(), (
            f"{path} {params}: GET and POST answer the same\n  {describe(by_post)}\n  {describe(by_get)}"
        )
        reply(ambra, by_get, by_get.status_code, f"GET {path}")
    mixed = ambra.session.post(ambra.url("/study/list") + f"?sid={ambra.sid}&page.rows=3", data={"page.rows": "2"}, timeout=60)
    assert len(reply(ambra, mixed, 200, "a POST with parameters in the query string and the body")["studies"]) == 2, "the body wins"


def test_post_only_command_refuses_get(ambra):
    response = ambra.call("/session/login", {"login": ambra.login_name, "password": ambra.password}, method="GET", sid=None)
    assert response.status_code == 405, f"/session/login must be POSTed: {describe(response)}"
    body = reply(ambra, response, 405, "GET /session/login")
    assert body["status"] == "ERROR"
    assert "sid" not in body, "a refused GET of /session/login logs nobody in"
