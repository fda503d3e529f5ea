"""Clarius Service API workflows: behaviour across calls, not only the shape of one response.

API keys (create, authenticate, list, revoke), settings, customer confirmation, polling with every
page, downloads and every capture, reports, customised applications, and, against a medimock target,
webhooks. Every check names its source: the line of specs/sources/clarius-cloud-api-v0.txt (or of the
earlier revision, clarius-cloud-api-v0-early.md) it enforces (``Document``), or the medimock
convention it follows where the document is silent (``Convention``: DRF's status codes and error
bodies, strict page parameters...), which only warns unless the run is strict.

Set-up goes through documented operations only. Exams cannot be made through the API (scanners
upload them): the workflows that need one share one set-up step, which skips them once, with the
reason, on a target without exams. Everything a test creates is removed (conftest.py compares the
target's listings before and after the run); the webhook tests need medimock's control API to
simulate an upload and are skipped against any other target.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from medimock.suite import SetupStep, spec_schemas
from medimock.verdict import Convention, Document, expect, field, json_body

SPEC = spec_schemas("clarius")
S = "clarius-cloud-api-v0.txt"
EARLY = "clarius-cloud-api-v0-early.md"
MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}

# -- what the document says (specs/sources/clarius-cloud-api-v0.txt) --------------------------------------
API_KEY = Document(S, "Include your API key in the Authorization header with the Service-API-Key keyword.", lines=5)
REQUIRES_KEY = Document(S, "Requires API key", occurrence=1, also=API_KEY.anchors)
KEY_LIST = Document(
    S, "GET https://cloud.clarius.com/api/public/v0/services/api-keys/", also=Document(S, '"prefix": "QUgDR6JB",', lines=3).anchors
)
KEY_CREATE = Document(S, "POST https://cloud.clarius.com/api/public/v0/services/api-keys/", lines=6)
KEY_CREATED = Document(S, "Example Response", after="Create API key", lines=8)
KEY_SECRET = Document(S, "It is not possible to retrieve the key after it", lines=1)
KEY_REVOKE = Document(S, "DELETE https://cloud.clarius.com/api/public/v0/services/api-keys/[key prefix]/")
KEY_NOT_SELF = Document(S, "Note: it is not possible to revoke the key you're using to authenticate.")
KEY_ROTATION = Document(S, "For rotating API keys, use Create and Revoke APIs.")
SETTINGS_GET = Document(S, "Returns your settings")
SETTINGS_PATCH = Document(S, "PATCH https://cloud.clarius.com/api/public/v0/services/settings/", lines=3)
ALLOWED = Document(S, "Allowed fields", lines=4)
NOTIFICATION_URL = Document(S, '"notification_url" - a valid URL or an empty string')
TRANSFER_URL = Document(S, '"token_transfer_url" - a valid URL containing the string {token} anywhere in the URL, or an empty string')
CONFIRM = Document(S, "POST https://cloud.clarius.com/api/public/v0/services/customer-confirmations/", lines=4)
CONFIRM_200 = Document(S, "200 if successfully confirmed integration.")
CONFIRM_404 = Document(S, "404 if a customer with this token does not exist.")
ACTIVE_TOKENS = Document(S, "Returns a paginated list of tokens for all confirmed users.")
POLL = Document(S, "The poll API returns all accessible exam downloads in the notification payload format.")
FILTER = Document(S, "customer_id exact match", occurrence=1)
LIMIT = Document(S, "limit (default: 100) - maximum number of results per page", occurrence=1)
PAGE = Document(S, '"count" - total number of items in the response', lines=4, occurrence=1)
PAYLOAD = Document(S, "Notification payload contains the uploaded exam", also=Document(S, '"request_uuid": "cf1b649c', lines=5).anchors)
DOWNLOAD = Document(S, "Later, asynchronously retrieve the data by following the download URL.")
DOWNLOAD_DATA = Document(S, '"request_uuid" - UUID of the customer', lines=12)
CAPTURES = Document(S, '"captures" - a list of ultrasound captures with each item containing a "url" field')
EARLY_DOWNLOAD = Document(
    EARLY,
    "GET https://cloud.clarius.com/api/public/v0/exams/[exam uuid]/data/",
    also=Document(EARLY, "### Current response", lines=12).anchors,
)
REPORT = Document(S, "Optionally, upload one or more report files associated with a user request.")
REPORT_PARAMS = Document(S, "name - user-friendly name describing the report.", lines=2)
APPLICATIONS = Document(S, "Retrieve a list of applications we have on Clarius Cloud.")
CUSTOMISED = Document(S, "List customized applications", lines=5)
CUSTOMISE = Document(S, "PUT https://cloud.clarius.com/api/public/v0/services/applications/[application uuid]/")
ANNOTATIONS = Document(S, "annotations - a list of annotations you would like your users to use", lines=4)
RETRIEVE = Document(S, "GET https://cloud.clarius.com/api/public/v0/services/applications/[application uuid]/")
REMOVE = Document(S, "Remove application customizations", lines=5)
WEBHOOK = Document(S, "Webhook requirements", lines=3)
RECORDS = Document(S, "we log every time we call your webhook.")
RECORDS_14_DAYS = Document(S, "Records are deleted after 14 days.")

# -- what medimock chose where the document is silent --------------------------------------------------------
KEY_401 = Convention(
    "key-401",
    'the document says each API "Requires API key" but not how a missing or bad key is refused; medimock answers DRF\'s 401 '
    "{detail} with WWW-Authenticate: Service-API-Key",
)
JSON_ERRORS = Convention("json-error-body", 'the document shows no error body; medimock answers Django REST framework\'s {"detail": "..."}')
FIELD_ERRORS = Convention(
    "field-errors",
    "the document gives no status or body for invalid input; medimock answers DRF's 400 {field: [messages]} naming each field",
)
CREATED_201 = Convention("created-status", "the document shows a created key but no status; medimock answers DRF's 201 Created")
DELETED_204 = Convention("deleted-status", "the document gives no reply to a revocation or removal; medimock answers DRF's 204 No Content")
SELF_REVOKE_403 = Convention("self-revoke-403", "the document says a key cannot revoke itself, not with which status; medimock answers 403")
NOT_FOUND = Convention(
    "not-found", "the document gives no status for an unknown object (but an unknown customer token); medimock answers DRF's 404"
)
SETTINGS_REPLY = Convention(
    "settings-reply", "the document shows no reply to an update; medimock answers DRF's 200 with the whole settings"
)
UNKNOWN_FIELDS = Convention(
    "unknown-fields",
    'the document lists the "Allowed fields" but not what happens to others; DRF ignores them, medimock refuses them (400)',
)
STRICT_PAGES = Convention(
    "strict-parameters",
    "the document does not say what a limit of 0, a negative or a non-numeric limit or offset does; DRF's LimitOffsetPagination "
    "falls back to the default, medimock refuses them with a 400 naming the parameter",
)
FULL_PAGES = Convention("full-pages", "the document says limit is the maximum per page; medimock fills every page but the last")
REPORT_REPLY = Convention("report-reply", "the document shows no reply to an upload; medimock answers DRF's 201 with the stored report")
CUSTOMISATION_REPLY = Convention(
    "customisation-reply", "the document shows no reply to an update; medimock answers 200 with the customised application"
)
CONFIRM_AGAIN = Convention(
    "confirm-twice", "the document does not say what confirming a token twice does; medimock confirms it again (200)"
)
DATA_BY_EXAM = Convention(
    "early-download", "the earlier revision's download by exam is not in the current document; medimock still serves it"
)
MOCK_CONTROL = Convention(
    "mock-control",
    "medimock's control API (a scanner upload, the stored reports, the customer tokens /__mock__/credentials names) is not the vendor's: "
    "it names the target as it is now",
)


def eventually(probe: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def valid(name: str, body: Any, source: Any, what: str, response: Any = None) -> bool:
    """``body`` matches the spec's schema ``name``; a failure names the fields."""
    problems = SPEC.errors(name, body)
    return expect(source, not problems, f"{what} matches the {name} schema: " + "; ".join(problems[:8]), response)


def error_body(response: requests.Response, schema: str = "Error", source: Convention = JSON_ERRORS) -> Any:
    """An error's body: DRF's ``{"detail": ...}`` or ``{field: [messages]}`` (medimock's convention; the document shows none)."""
    body = json_body(response, source, "an error reply")
    if body is not None:
        problems = SPEC.errors(schema, body)
        expect(source, not problems, f"an error reply is DRF's {schema}: {problems[:3]}", response)
    return body


def succeeded(response: requests.Response, source: Document, status: int, exact: Convention, what: str) -> bool:
    """A documented success (any 2xx, by ``source``) with medimock's exact status (``exact``, a convention)."""
    if not expect(source, 200 <= response.status_code < 300, f"{what} succeeds (2xx, not {response.status_code})", response):
        return False
    expect(exact, response.status_code == status, f"{what} is a {status}, not {response.status_code}", response)
    return True


def refused(
    response: requests.Response, source: Document | Convention, status: int, exact: Convention, what: str, schema: str = "Error"
) -> bool:
    """A refusal the document asks for (any 4xx, by ``source``), with medimock's status and DRF body as conventions."""
    if not expect(source, 400 <= response.status_code < 500, f"{what} is refused (4xx, not {response.status_code})", response):
        return False
    if expect(exact, response.status_code == status, f"{what} is a {status}, not {response.status_code}", response):
        error_body(response, schema, FIELD_ERRORS if schema == "ValidationErrors" else JSON_ERRORS)
    return True


def fetch(clarius: Any, path: str, source: Document, what: str, url: str | None = None, **params: Any) -> Any:
    """GET a documented resource: a 200 with a JSON body (None when it is not one: the failure is reported)."""
    response = clarius.session.get(url, headers=clarius.headers, timeout=30) if url else clarius.get(path, params=params or None)
    if not expect(source, response.status_code == 200, f"{what} answers 200, not {response.status_code}", response):
        return None
    return json_body(response, source, what)


def walk(clarius: Any, path: str, source: Document, **params: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """Follow ``next`` links from the first page; every result and every page (as far as they could be read)."""
    pages: list[dict[str, Any]] = []
    body = fetch(clarius, path, source, f"GET {path} {params}", **params)
    while isinstance(body, dict):
        valid("Page", body, PAGE, "a page", None)
        pages.append(body)
        following = body.get("next")
        if not following or not expect(PAGE, len(pages) < 1000, "pagination ends (1000 pages followed)"):
            break
        body = fetch(clarius, path, PAGE, f"the next page ({following})", url=str(following))
    if not pages:
        expect(source, False, f"GET {path} {params} answers a page (count, next, previous, results)")
    results = [item for page in pages for item in (page.get("results") if isinstance(page.get("results"), list) else [])]
    return results, pages


# -- set-up: exams and applications come from the target -------------------------------------------------


@pytest.fixture(scope="module")
def _exams(clarius) -> SetupStep:
    def find() -> list[dict[str, Any]]:
        body = fetch(clarius, "/exams/accessible/", POLL, "GET /exams/accessible/?limit=8", limit=8)
        valid("ExamDownloadPage", body, POLL, "the poll page (GET /exams/accessible/?limit=8)")
        results = body.get("results") if isinstance(body, dict) else None
        return [item for item in results or [] if isinstance(item, dict)]

    return SetupStep("exams: the target's exam downloads (GET /api/public/v0/exams/accessible/)", find)


@pytest.fixture
def exams(_exams, request) -> list[dict[str, Any]]:
    found = _exams.get(request)
    if not found:
        pytest.skip(
            "the target has no exams: the API cannot make one (scanners upload them); upload an exam of a customer "
            "of the service, or use a medimock target, which has its own"
        )
    return found


@pytest.fixture(scope="module")
def _applications(clarius) -> SetupStep:
    def find() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        listed = fetch(clarius, "/exams/applications/", APPLICATIONS, "GET /exams/applications/")
        customised = fetch(clarius, "/services/applications/", CUSTOMISED, "GET /services/applications/")
        expect(APPLICATIONS, isinstance(listed, list), f"the applications are a JSON array: {str(listed)[:200]}")
        expect(CUSTOMISED, isinstance(customised, list), f"the customised applications are a JSON array: {str(customised)[:200]}")
        apps = [a for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
        done = {a.get("uuid"): a for a in customised if isinstance(a, dict)} if isinstance(customised, list) else {}
        return apps, done

    return SetupStep("applications: Clarius Cloud's applications (GET /api/public/v0/exams/applications/)", find)


@pytest.fixture
def applications(_applications, request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    apps, done = _applications.get(request)
    if not apps:
        pytest.skip("the target lists no Clarius Cloud applications (GET /api/public/v0/exams/applications/ is empty)")
    return apps, done


# -- API keys -------------------------------------------------------------------------------------


@contextmanager
def new_key(clarius: Any, name: str) -> Iterator[tuple[requests.Response, dict[str, Any]]]:
    """Create a key (revoked after the test, whatever happened); the create reply and its body."""
    created = clarius.request("POST", "/services/api-keys/", json={"name": name})
    body = json_body(created, KEY_CREATED, "the create reply") if 200 <= created.status_code < 300 else None
    body = body if isinstance(body, dict) else {}
    try:
        yield created, body
    finally:
        prefix = body.get("prefix")
        if isinstance(prefix, str) and prefix:
            clarius.request("DELETE", f"/services/api-keys/{prefix}/")


def key_prefixes(clarius: Any, what: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = clarius.get("/services/api-keys/", headers=headers or clarius.headers)
    if not expect(KEY_LIST, response.status_code == 200, f"{what}: the key list answers 200, not {response.status_code}", response):
        return []
    body = json_body(response, KEY_LIST, "the key list")
    expect(KEY_LIST, isinstance(body, list), "the key list is a JSON array", response)
    return [k for k in body if isinstance(k, dict)] if isinstance(body, list) else []


def test_api_key_lifecycle(clarius):
    with new_key(clarius, f"contract {uuid.uuid4().hex[:8]}") as (created, body):
        if not succeeded(created, KEY_CREATE, 201, CREATED_201, "creating an API key"):
            return
        valid("ApiKeyCreated", body, KEY_CREATED, "the create reply", created)
        key, prefix = body.get("key"), body.get("prefix")
        if not expect(
            KEY_CREATED, isinstance(key, str) and isinstance(prefix, str), "the create reply has the key and its prefix", created
        ):
            return
        expect(KEY_CREATED, key.startswith(prefix + "."), f"the key is <prefix>.<secret> ({prefix!r})", created)
        new_headers = {"Authorization": f"Service-API-Key {key}"}

        listed = clarius.get("/services/api-keys/", headers=new_headers)
        expect(KEY_ROTATION, listed.status_code == 200, f"a newly created key authenticates (200, not {listed.status_code})", listed)
        entries = (
            [k for k in (json_body(listed, KEY_LIST, "the key list") or []) if isinstance(k, dict)] if listed.status_code == 200 else []
        )
        entry = next((k for k in entries if k.get("prefix") == prefix), None)
        expect(KEY_LIST, entry is not None, f"the new key {prefix} is listed", listed)
        expect(KEY_SECRET, entry is None or "key" not in entry, "the full key is shown only at creation (no 'key' in the list)", listed)
        expect(KEY_SECRET, key not in listed.text, "the secret of the key is never listed", listed)

        own = clarius.request("DELETE", f"/services/api-keys/{prefix}/", headers=new_headers)
        refused(own, KEY_NOT_SELF, 403, SELF_REVOKE_403, "a key revoking itself")

        revoked = clarius.request("DELETE", f"/services/api-keys/{prefix}/")
        if not succeeded(revoked, KEY_REVOKE, 204, DELETED_204, f"revoking key {prefix} with another key"):
            return
        after = clarius.get("/services/api-keys/", headers=new_headers)
        if expect(KEY_ROTATION, after.status_code in (401, 403), f"a revoked key stops working at once (not {after.status_code})", after):
            expect(KEY_401, after.status_code == 401, f"a revoked key is a 401, not {after.status_code}", after)
        remaining = key_prefixes(clarius, "after a revocation")
        expect(KEY_LIST, all(k.get("prefix") != prefix for k in remaining), f"a revoked key ({prefix}) is no longer listed")
        again = clarius.request("DELETE", f"/services/api-keys/{prefix}/")
        refused(again, KEY_REVOKE, 404, NOT_FOUND, "revoking a revoked key")


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
    what = f"GET /exams/accessible/ with Authorization {authorization!r}"
    if not expect(REQUIRES_KEY, response.status_code in (401, 403), f"{what} is refused (401/403, not {response.status_code})", response):
        return
    if expect(KEY_401, response.status_code == 401, f"{what} is a 401", response):
        error_body(response)
        expect(
            KEY_401,
            response.headers.get("WWW-Authenticate") == "Service-API-Key",
            "a 401 carries WWW-Authenticate: Service-API-Key",
            response,
        )


# -- settings -------------------------------------------------------------------------------------


def test_settings_round_trip(clarius):
    update = {"notification_url": "https://hooks.example.com/clarius", "token_transfer_url": "https://example.com/{token}/"}
    patched = clarius.request("PATCH", "/services/settings/", json=update)
    if not expect(SETTINGS_PATCH, patched.status_code == 200, f"a valid update answers 200, not {patched.status_code}", patched):
        return
    reply = json_body(patched, SETTINGS_REPLY, "the update reply")
    expect(SETTINGS_REPLY, reply == update, f"the update answers the whole settings: {reply}", patched)
    stored = fetch(clarius, "/services/settings/", SETTINGS_GET, "GET /services/settings/")
    expect(SETTINGS_GET, stored == update, f"settings persist: {stored} != {update}")
    valid("Settings", stored, ALLOWED, "the settings")

    partial = clarius.request("PATCH", "/services/settings/", json={"notification_url": ""})
    expect(
        NOTIFICATION_URL, partial.status_code == 200, f"notification_url may be an empty string (200, not {partial.status_code})", partial
    )
    stored = fetch(clarius, "/services/settings/", SETTINGS_GET, "GET /services/settings/")
    expect(SETTINGS_PATCH, stored == {**update, "notification_url": ""}, f"PATCH changes only the fields given: {stored}")


@pytest.mark.parametrize(
    ("body", "source"),
    [
        ({"token_transfer_url": "https://example.com/no-token-here/"}, TRANSFER_URL),
        ({"notification_url": "not a url"}, NOTIFICATION_URL),
        ({"notification_url": None}, NOTIFICATION_URL),
        ({"token_transfer_url": 42}, TRANSFER_URL),
        ({"unknown_field": "x"}, UNKNOWN_FIELDS),
        # the document's payload is an object of the allowed fields; DRF refuses anything else with 400 non_field_errors
        (["https://example.com/{token}/"], ALLOWED),
        ("https://example.com/{token}/", ALLOWED),
    ],
    ids=[
        "transfer-url-without-token",
        "notification-url-not-a-url",
        "notification-url-null",
        "transfer-url-number",
        "unknown-field",
        "array-body",
        "string-body",
    ],
)
def test_invalid_settings_are_rejected(clarius, body, source):
    before = fetch(clarius, "/services/settings/", SETTINGS_GET, "GET /services/settings/")
    try:
        response = clarius.request("PATCH", "/services/settings/", json=body)
        refused(response, source, 400, FIELD_ERRORS, f"PATCH {body}", schema="ValidationErrors")
        after = fetch(clarius, "/services/settings/", SETTINGS_GET, "GET /services/settings/")
        expect(ALLOWED, after == before, f"a refused update changes nothing: {after} != {before}")
    finally:  # wrongly accepted: the settings are put back all the same
        if isinstance(before, dict):
            clarius.request("PATCH", "/services/settings/", json=before)


# -- customers ------------------------------------------------------------------------------------


def confirmed_tokens(clarius: Any) -> list[Any]:
    tokens, _ = walk(clarius, "/services/confirmed-tokens/", ACTIVE_TOKENS)
    return tokens


def named_customers(target: Any) -> tuple[list[str], list[str]] | None:
    """The confirmed and the unconfirmed customer tokens a medimock target's /__mock__/credentials names now (None for any
    other target)."""
    if target.control_url is None:
        return None
    named = requests.get(target.control("/credentials"), timeout=30)
    body = (json_body(named, MOCK_CONTROL, "the credentials") or {}).get("clarius") or {}
    return [str(t) for t in body.get("confirmed_customer_tokens") or []], [str(t) for t in body.get("unconfirmed_customer_tokens") or []]


def test_confirmation_then_confirmed_tokens(clarius, target):
    named = named_customers(target)
    if named is not None:  # a medimock names its customer tokens as the Active Tokens API lists them
        confirmed, unconfirmed = named
        listed = confirmed_tokens(clarius)
        wrong = sorted(set(unconfirmed) & set(listed))
        expect(MOCK_CONTROL, not wrong, f"/__mock__/credentials names no confirmed token as unconfirmed: {wrong[:3]}")
        expect(
            MOCK_CONTROL, set(confirmed) == set(listed), "/__mock__/credentials names as confirmed the tokens the Active Tokens API lists"
        )
    if not clarius.unconfirmed:
        pytest.skip("the target names no unconfirmed customer token (CLARIUS_UNCONFIRMED_TOKEN or /__mock__/credentials)")
    token = clarius.unconfirmed[0]
    if token in confirmed_tokens(clarius):
        pytest.skip("the named unconfirmed token is already confirmed on this target")
    response = clarius.request("POST", "/services/customer-confirmations/", json={"token": token})
    expect(CONFIRM_200, response.status_code == 200, f"confirming a customer's token is a 200, not {response.status_code}", response)
    tokens = confirmed_tokens(clarius)
    expect(ACTIVE_TOKENS, token in tokens, "a confirmed token is listed by the Active Tokens API")
    expect(ACTIVE_TOKENS, len(tokens) == len(set(tokens)), "each confirmed token is listed once")
    named = named_customers(target)
    if named is not None and token in tokens:  # and once confirmed, no longer as an unconfirmed one
        expect(MOCK_CONTROL, token in named[0] and token not in named[1], f"/__mock__/credentials names {token} as confirmed now")
    again = clarius.request("POST", "/services/customer-confirmations/", json={"token": token})
    expect(CONFIRM_AGAIN, again.status_code == 200, f"confirming twice is not an error (200, not {again.status_code})", again)


def test_confirming_an_unknown_token_is_404(clarius):
    response = clarius.request("POST", "/services/customer-confirmations/", json={"token": f"unknown-{uuid.uuid4()}"})
    if expect(CONFIRM_404, response.status_code == 404, f"confirming an unknown token is a 404, not {response.status_code}", response):
        error_body(response)


def test_confirmation_without_token_is_400(clarius):
    response = clarius.request("POST", "/services/customer-confirmations/", json={})
    if refused(response, CONFIRM, 400, FIELD_ERRORS, "a confirmation without a token", schema="ValidationErrors"):
        body = json_body(response, FIELD_ERRORS, "the 400") if response.status_code == 400 else None
        expect(FIELD_ERRORS, not isinstance(body, dict) or "token" in body, f"the 400 names the field token: {body}", response)


# -- exams ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pagination_walk(clarius, exams, limit):
    results, pages = walk(clarius, "/exams/accessible/", POLL, limit=limit)
    if not pages:
        return
    count = pages[0].get("count")
    expect(PAGE, all(page.get("count") == count for page in pages), "count is the same on every page")
    expect(PAGE, len(results) == count, f"walking every page yields count ({count}) items, got {len(results)}")
    ids = [item.get("request_uuid") for item in results if isinstance(item, dict)]
    expect(PAGE, len(ids) == len(set(ids)), "no submission appears twice")
    expect(PAGE, pages[0].get("previous") is None, f"the first page's previous is null: {pages[0].get('previous')}")
    expect(PAGE, pages[-1].get("next") is None, "the last page's next is null")
    sizes = [len(page.get("results") or []) for page in pages]
    expect(LIMIT, all(size <= limit for size in sizes), f"no page holds more than limit={limit}: {sizes[:20]}")
    expect(FULL_PAGES, all(size == limit for size in sizes[:-1]), f"every page but the last is full: {sizes[:20]}")
    for item in results[:50]:
        valid("NotificationPayload", item, PAYLOAD, "a poll result")
    if len(pages) > 1:  # previous of page 2 leads back to page 1
        back = fetch(clarius, "", PAGE, "the previous page of page 2", url=str(pages[1].get("previous")))
        expect(PAGE, isinstance(back, dict) and back.get("results") == pages[0].get("results"), "page 2's previous is page 1")


def test_default_page_size_is_100(clarius, exams):
    page = fetch(clarius, "/exams/accessible/", POLL, "GET /exams/accessible/")
    if isinstance(page, dict) and isinstance(page.get("results"), list) and isinstance(page.get("count"), int):
        expect(
            LIMIT,
            len(page["results"]) == min(100, page["count"]),
            f"the default page holds min(100, count) results: {len(page['results'])}",
        )


def test_customer_filter(clarius, exams):
    chosen = exams[0].get("customer_id")
    everything, _ = walk(clarius, "/exams/accessible/", POLL, limit=1000)
    results, pages = walk(clarius, "/exams/accessible/", FILTER, customer_id=chosen, limit=5)
    expect(FILTER, results, f"a customer with exams ({chosen}) has results")
    expect(FILTER, all(isinstance(i, dict) and i.get("customer_id") == chosen for i in results), "customer_id is an exact-match filter")
    expected = [item for item in everything if isinstance(item, dict) and item.get("customer_id") == chosen]
    if pages:
        expect(FILTER, pages[0].get("count") == len(expected), f"the filtered count is the customer's exams ({len(expected)})")
    nobody = fetch(clarius, "/exams/accessible/", FILTER, "a filter matching nobody", customer_id=f"nobody-{uuid.uuid4()}")
    if isinstance(nobody, dict):
        expect(FILTER, nobody.get("count") == 0 and nobody.get("results") == [], f"a customer_id matching nobody has no results: {nobody}")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"offset": -5}, {"offset": "x"}])
def test_bad_page_parameters_are_400(clarius, params):
    response = clarius.get("/exams/accessible/", params=params)
    if refused(response, STRICT_PAGES, 400, STRICT_PAGES, f"GET /exams/accessible/ with {params}", schema="ValidationErrors"):
        body = json_body(response, FIELD_ERRORS, "the 400") if response.status_code == 400 else None
        expect(FIELD_ERRORS, not isinstance(body, dict) or set(body) & set(params), f"the 400 names the parameter: {body}", response)


def test_download_and_every_capture(clarius, exams):
    for item in exams:
        url = item.get("download_url")
        if not expect(PAYLOAD, isinstance(url, str) and url.startswith(("http://", "https://")), f"download_url is a URL: {url!r}"):
            continue
        response = clarius.session.get(url, headers=clarius.headers, timeout=30)
        if not expect(DOWNLOAD, response.status_code == 200, f"download_url answers 200, not {response.status_code}", response):
            continue
        data = json_body(response, DOWNLOAD_DATA, "a download")
        valid("ExamData", data, DOWNLOAD_DATA, "a download", response)
        if not isinstance(data, dict):
            continue
        expect(DOWNLOAD_DATA, data.get("request_uuid") == item.get("request_uuid"), "the download is the submission's", response)
        captures = data.get("captures") if isinstance(data.get("captures"), list) else []
        expect(CAPTURES, captures, "an uploaded exam has captures", response)
        for capture in captures:
            capture_url = capture.get("url") if isinstance(capture, dict) else None
            if not expect(CAPTURES, isinstance(capture_url, str), f"a capture has a url: {capture}", response):
                continue
            media = clarius.session.get(capture_url, timeout=30)
            if not expect(CAPTURES, media.status_code == 200, f"capture {capture_url} downloads (200, not {media.status_code})", media):
                continue
            kind = media.headers.get("Content-Type", "").split(";")[0]
            expect(CAPTURES, kind.startswith(("image/", "video/")), f"a capture is an image or a video, not {kind!r}", media)
            expect(CAPTURES, media.content, "a capture has bytes", media)
            if kind in MAGIC:
                expect(CAPTURES, media.content.startswith(MAGIC[kind]), f"{capture_url} is a real {kind}", media)
            if kind == "video/mp4":
                expect(CAPTURES, media.content[4:8] == b"ftyp", f"{capture_url} is a real MP4", media)


def test_early_revision_download_by_exam(clarius, exams):
    exam = exams[0].get("exam_uuid")
    response = clarius.get(f"/exams/{exam}/data/")
    if expect(
        DATA_BY_EXAM,
        response.status_code == 200,
        f"the earlier revision's download by exam answers 200, not {response.status_code}",
        response,
    ):
        valid(
            "ExamDataEarly",
            json_body(response, EARLY_DOWNLOAD, "the earlier revision's download"),
            EARLY_DOWNLOAD,
            "the download",
            response,
        )
        missing = clarius.get(f"/exams/{uuid.uuid4()}/data/")
        refused(missing, NOT_FOUND, 404, NOT_FOUND, "the download of an unknown exam")


def test_unknown_download_request_is_404(clarius):
    response = clarius.get(f"/exams/download-requests/{uuid.uuid4()}/data/")
    refused(response, NOT_FOUND, 404, NOT_FOUND, "the download of an unknown request")


def test_report_upload(clarius, exams, target):
    if target.control_url is None and os.environ.get("CLARIUS_REPORT_UPLOADS", "").lower() not in ("1", "true", "yes"):
        pytest.skip(
            "an uploaded report cannot be removed (the document has no way to): set CLARIUS_REPORT_UPLOADS=1 to upload "
            "test reports to this target's first exam"
        )
    request_uuid = exams[0].get("request_uuid")
    path = f"/services/requests/{request_uuid}/reports/"
    content = b"%PDF-1.4\n% medimock contract report\n" + uuid.uuid4().bytes
    uploaded = clarius.request("POST", path, data={"name": "Contract report"}, files={"file": ("report.pdf", content, "application/pdf")})
    if succeeded(uploaded, REPORT, 201, REPORT_REPLY, "uploading a report"):
        stored = json_body(uploaded, REPORT_REPLY, "the upload reply")
        if valid("Report", stored, REPORT_REPLY, "the upload reply", uploaded):
            expect(
                REPORT_REPLY,
                stored["size"] == len(content) and stored["name"] == "Contract report",
                "the reply describes the file",
                uploaded,
            )

    no_file = clarius.request("POST", path, files={"name": (None, "No file")})  # multipart without a file part
    refused(no_file, REPORT_PARAMS, 400, FIELD_ERRORS, "a report without a file", schema="ValidationErrors")
    text_field = clarius.request("POST", path, files={"name": (None, "Text, not a file"), "file": (None, "not a file part")})
    refused(text_field, REPORT_PARAMS, 400, FIELD_ERRORS, "a 'file' sent as a text field", schema="ValidationErrors")
    no_name = clarius.request("POST", path, files={"file": ("r.pdf", content, "application/pdf")})
    refused(no_name, REPORT_PARAMS, 400, FIELD_ERRORS, "a report without a name", schema="ValidationErrors")
    unknown = clarius.request("POST", f"/services/requests/{uuid.uuid4()}/reports/", data={"name": "x"}, files={"file": ("r.pdf", content)})
    refused(unknown, NOT_FOUND, 404, NOT_FOUND, "a report for an unknown request")
    if target.control_url:
        listed = requests.get(target.control("/clarius/reports"), params={"request_uuid": request_uuid}, timeout=10)
        body = json_body(listed, MOCK_CONTROL, "the control API's reports")
        reports = body.get("results") if isinstance(body, dict) else None
        digest = hashlib.sha256(content).hexdigest()
        expect(
            REPORT, any(r.get("sha256") == digest for r in reports or [] if isinstance(r, dict)), "the file is stored byte for byte", listed
        )
        others = [r.get("request_uuid") for r in reports or [] if isinstance(r, dict) and r.get("request_uuid") != request_uuid]
        expect(MOCK_CONTROL, not others, f"?request_uuid= lists only that request's reports, not those of {others[:3]}", listed)
        every = requests.get(target.control("/clarius/reports"), timeout=10)
        body = json_body(every, MOCK_CONTROL, "the control API's reports")
        everything = body.get("results") if isinstance(body, dict) else None
        expect(
            MOCK_CONTROL,
            any(r.get("sha256") == digest for r in everything or [] if isinstance(r, dict)),
            "without ?request_uuid= the control API lists every report, the one uploaded here too",
            every,
        )


# -- applications ---------------------------------------------------------------------------------


def test_customized_application_lifecycle(clarius, applications):
    apps, done = applications
    for application in apps:
        valid("Application", application, APPLICATIONS, "an application")
    free = [a for a in apps if a.get("uuid") not in done]
    if not free:
        pytest.skip("every application of the target is customised already: the suite changes none of the target's own")
    chosen = free[-1]
    app_uuid = chosen.get("uuid")
    annotations = [{"title": "Contract", "labels": ["A", "B"], "linked": True}]
    try:
        put = clarius.request("PUT", f"/services/applications/{app_uuid}/", json={"annotations": annotations})
        if not expect(CUSTOMISE, 200 <= put.status_code < 300, f"customising an application succeeds (not {put.status_code})", put):
            return
        expect(CUSTOMISATION_REPLY, put.status_code == 200, f"customising answers 200, not {put.status_code}", put)
        reply = json_body(put, CUSTOMISATION_REPLY, "the customisation reply")
        wanted = {"uuid": app_uuid, "name": chosen.get("name"), "annotations": annotations}
        expect(CUSTOMISATION_REPLY, reply == wanted, f"the reply is the customised application: {reply}", put)
        got = fetch(clarius, f"/services/applications/{app_uuid}/", RETRIEVE, "the customised application")
        expect(RETRIEVE, isinstance(got, dict) and got.get("annotations") == annotations, f"the customisation is kept: {got}")
        listed = fetch(clarius, "/services/applications/", CUSTOMISED, "GET /services/applications/")
        expect(
            CUSTOMISED, any(isinstance(a, dict) and a.get("uuid") == app_uuid for a in listed or []), "a customised application is listed"
        )
        removed = clarius.request("DELETE", f"/services/applications/{app_uuid}/")
        if not succeeded(removed, REMOVE, 204, DELETED_204, "removing the customisation"):
            return
        after = clarius.get(f"/services/applications/{app_uuid}/")
        expect(
            REMOVE,
            after.status_code != 200 or annotations != field(json_body(after, REMOVE), "annotations", REMOVE, after),
            "a removed customisation is gone",
            after,
        )
        refused(after, REMOVE, 404, NOT_FOUND, "retrieving a removed customisation")
        refused(clarius.request("DELETE", f"/services/applications/{app_uuid}/"), NOT_FOUND, 404, NOT_FOUND, "removing it twice")
        unknown = clarius.request("PUT", f"/services/applications/{uuid.uuid4()}/", json={"annotations": annotations})
        refused(unknown, NOT_FOUND, 404, NOT_FOUND, "customising an application that does not exist")
    finally:
        clarius.request("DELETE", f"/services/applications/{app_uuid}/")


@pytest.mark.parametrize(
    "body",
    [{"annotations": [{"title": "x", "labels": ["a"]}]}, {"annotations": "nope"}, {}],
    ids=["annotation-without-linked", "annotations-not-a-list", "no-annotations"],
)
def test_invalid_annotations_are_rejected(clarius, applications, body):
    apps, done = applications
    free = [a for a in apps if a.get("uuid") not in done]
    if not free:
        pytest.skip("every application of the target is customised already: the suite changes none of the target's own")
    app_uuid = free[0].get("uuid")
    try:
        response = clarius.request("PUT", f"/services/applications/{app_uuid}/", json=body)
        refused(response, ANNOTATIONS, 400, FIELD_ERRORS, f"customising with {body}", schema="ValidationErrors")
    finally:
        clarius.request("DELETE", f"/services/applications/{app_uuid}/")  # wrongly accepted: removed all the same


# -- webhooks (need the control API) ------------------------------------------------------------------


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


def simulate_upload(target: Any, **options: Any) -> dict[str, Any] | None:
    """A scanner upload through medimock's control API; None when the control API made none (reported)."""
    started = time.monotonic()
    response = requests.post(target.control("/clarius/exams"), json=options, timeout=10)
    expect(MOCK_CONTROL, response.status_code == 201, f"the control API simulates an upload (201, not {response.status_code})", response)
    expect(MOCK_CONTROL, time.monotonic() - started < 2, "the simulated upload returns at once; the webhook goes out in the background")
    body = json_body(response, MOCK_CONTROL, "the simulated upload") if response.status_code == 201 else None
    found = isinstance(body, dict) and isinstance(body.get("request_uuid"), str)
    expect(MOCK_CONTROL, found, "the simulated upload names its request_uuid", response)
    return body if found and isinstance(body, dict) else None


def set_notification_url(clarius: Any, url: str) -> None:
    response = clarius.request("PATCH", "/services/settings/", json={"notification_url": url})
    expect(
        NOTIFICATION_URL, response.status_code == 200, f"the notification URL {url} is accepted (200, not {response.status_code})", response
    )


def find_record(clarius: Any, request_uuid: str) -> dict[str, Any] | None:
    page = fetch(clarius, "/services/notifications/records/", RECORDS, "GET /services/notifications/records/", limit=50)
    for record in (page.get("results") if isinstance(page, dict) else None) or []:
        content = ((record.get("event") or {}).get("request") or {}).get("content") if isinstance(record, dict) else None
        if isinstance(content, str) and request_uuid in content:
            return record
    return None


def test_webhook_delivery(clarius, control):
    with Receiver() as receiver:
        set_notification_url(clarius, receiver.url)
        upload = simulate_upload(control, captures=3, patient="animal")
        if upload is None:
            return
        expect(WEBHOOK, eventually(lambda: receiver.received, timeout=10), "the receiver got the notification (10 s)")
    if not receiver.received:
        return
    try:
        payload = json.loads(receiver.received[0]["body"])
    except ValueError:
        payload = None
    valid("NotificationPayload", payload, PAYLOAD, "the webhook payload")
    if not isinstance(payload, dict):
        return
    expect(PAYLOAD, payload.get("request_uuid") == upload.get("request_uuid"), "the payload names the submission")
    expect(PAYLOAD, payload.get("exam_uuid") == upload.get("exam_uuid"), "the payload names the exam")
    expect(WEBHOOK, receiver.received[0]["headers"].get("Content-Type", "").startswith("application/json"), "the payload is sent as JSON")
    data = fetch(clarius, "", DOWNLOAD, "the payload's download_url", url=str(payload.get("download_url")))
    if isinstance(data, dict):
        expect(CAPTURES, len(data.get("captures") or []) == 3, "the download holds the upload's 3 captures")
        expect(DOWNLOAD_DATA, "animal_type" in (data.get("patient") or {}), "an animal patient carries animal fields")
    polled, _ = walk(clarius, "/exams/accessible/", FILTER, customer_id=payload.get("customer_id"), limit=1000)
    expect(
        POLL,
        any(isinstance(i, dict) and i.get("request_uuid") == payload.get("request_uuid") for i in polled),
        "the poll API lists the upload",
    )

    record = eventually(lambda: find_record(clarius, str(upload.get("request_uuid"))))
    if expect(RECORDS, record is not None, "the notification records show the call"):
        valid("NotificationRecord", record, RECORDS, "the record")
        event = record.get("event") or {}
        expect(RECORDS, (event.get("request") or {}).get("url") == receiver.url, "the record names the receiver's URL")
        expect(
            RECORDS,
            (event.get("response") or {}).get("status_code") == 200 and event.get("error") is None,
            f"the record shows the 200: {event}",
        )


def test_webhook_to_a_silent_receiver_is_a_failed_record(clarius, control):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does) but never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/silent"
    try:
        set_notification_url(clarius, url)
        upload = simulate_upload(control)
        if upload is None:
            return
        record = eventually(lambda: find_record(clarius, str(upload["request_uuid"])), timeout=60, interval=0.25)
    finally:
        silent.close()
    if expect(RECORDS, record is not None, "a failed call is recorded too"):
        valid("NotificationRecord", record, RECORDS, "the record")
        event = record.get("event") or {}
        expect(
            RECORDS, event.get("response") is None and event.get("error"), f"a receiver that does not answer is a failed record: {event}"
        )


def test_webhook_to_a_closed_port_is_a_failed_record(clarius, control):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    set_notification_url(clarius, f"http://127.0.0.1:{port}/")
    upload = simulate_upload(control)
    if upload is None:
        return
    record = eventually(lambda: find_record(clarius, str(upload["request_uuid"])))
    if expect(RECORDS, record is not None, "a call to a closed port is recorded"):
        event = record.get("event") or {}
        expect(RECORDS, event.get("response") is None, f"no response: {event}")
        expect(RECORDS, "refused" in str(event.get("error")), f"the error says the connection was refused: {event.get('error')}")


def test_records_older_than_14_days_are_not_returned(clarius):
    cutoff = datetime.now(UTC) - timedelta(days=14, minutes=5)
    records, _ = walk(clarius, "/services/notifications/records/", RECORDS, limit=100)
    for record in records:
        logged = record.get("logged_at") if isinstance(record, dict) else None
        try:
            when = datetime.fromisoformat(str(logged).replace("Z", "+00:00"))
        except ValueError:
            expect(RECORDS, False, f"a record's logged_at is a date-time: {logged!r}")
            continue
        expect(RECORDS_14_DAYS, when >= cutoff, f"a record logged {logged} is older than 14 days")
