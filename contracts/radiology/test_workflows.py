"""Radiology workflows: behaviour across calls, not only the shape of one response.

token (GET, POST, HTTP Basic) -> poll -> fetch each result -> acknowledge -> the next poll no
longer holds them; an expired token, a token without the operation's scope and another
organisation's orders are refused; "only the most recent" order of a study. Every check names its
source: the line of specs/sources/radiology-report-retrieval-api.txt it enforces (``Document``),
or the medimock convention it follows where the document is silent (``Convention``), which only
warns unless the run is strict.

The document is 63 lines: endpoints, query parameters, Bearer tokens that live an hour, scopes
for "report retrieval and status queries", "only the most recent" order of a study, a poll of
what was "not yet retrieved" and an acknowledgement that "marks report as received". It gives
no payload, no status code, no error and no scope name: reading any field of a reply, every
error status and body, the scope names, the order states and report types are medimock's
conventions (see specs/radiology/README.md). A check that needs a field reads it through the
``payload-shape`` convention and judges what it then sees by the document.

Workflows that make orders appear or move time need medimock's control API
(``/__mock__/radiology/orders``, ``/__mock__/radiology/clock``); against other targets they use
identifiers from the environment (``RADIOLOGY_EXPIRED_TOKEN``, ``RADIOLOGY_OTHER_ORDER_ID``,
``RADIOLOGY_MULTI_ORDER_STUDY_UID``, ``RADIOLOGY_STUDY_GROUP``) or are skipped. What the suite
acknowledges, and when, is in conftest.py's docstring.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
import requests

from medimock.conformance.curl import register_secret
from medimock.suite import max_body, spec_schemas
from medimock.verdict import Convention, Document, expect, field, json_body

SPEC = spec_schemas("radiology")
SOURCE = "radiology-report-retrieval-api.txt"
STATUS_OPERATIONS = [("GET", "/status"), ("GET", "/orderId")]  # "status queries"
REPORT_OPERATIONS = [("GET", "/results"), ("GET", "/report"), ("GET", "/reports"), ("POST", "/reports")]  # "report retrieval"
REPORT_TYPES_OF = {"PRELIMINARY": "PRELIMINARY", "FINAL": "FINAL", "ADDENDED": "ADDENDUM"}
BASIC_HOW = (
    'the client credentials as HTTP Basic: export RADIOLOGY_BASIC=$(printf %s "$RADIOLOGY_CLIENT_ID:$RADIOLOGY_CLIENT_SECRET" | base64)'
)

# -- what the document says (specs/sources/radiology-report-retrieval-api.txt) -------------------------
BEARER = Document(
    SOURCE,
    "Include Authorization: Bearer <token> header on all API calls.",
    also=Document(SOURCE, "All endpoints require scoped OAuth2 Bearer tokens").anchors,
)
SCOPED = Document(
    SOURCE,
    "API validates token scope and expiration before processing requests.",
    also=Document(SOURCE, "Tokens are scoped for report retrieval and status queries.").anchors,
)
EXPIRY = Document(
    SOURCE,
    "API validates token scope and expiration before processing requests.",
    also=Document(SOURCE, "Retrieves an short-lived (1 hour) OAuth2 bearer token").anchors,
)
TOKEN_GET = Document(SOURCE, "Endpoint: GET <oauth2_endpoint>/token", lines=2, also=Document(SOURCE, "applying client credentials").anchors)
TOKEN = Document(SOURCE, "Retrieves an short-lived (1 hour) OAuth2 bearer token")
CLIENT_AUTH = Document(SOURCE, "applying client credentials or supported grant types")
LEAST = Document(SOURCE, "All endpoints require scoped OAuth2 Bearer tokens, ensuring least-privilege access.")
STATUS = Document(SOURCE, "Endpoint: GET /status?order_id={orderID}", lines=3)
STATUS_RECENT = Document(SOURCE, "Note: If multiple orders correspond to a study UID", after="Order Status Check")
ORDER_IDS = Document(SOURCE, "Endpoint: GET /orderId?study_uid={studyInstanceUID}", lines=2)
RESULTS = Document(SOURCE, "Endpoint: GET /results?order_id={orderID}&report_type={reportType}", lines=3)
RESULTS_RECENT = Document(SOURCE, "Note: If multiple orders correspond to a study UID", after="Single-Study Result Retrieval")
GROUP = Document(SOURCE, "Endpoint: GET /report?study_group={studyGroup}&report_type={reportType}", lines=2)
POLL = Document(SOURCE, "Endpoint: GET /reports?organizationId={orgId}", lines=2)
ACK = Document(SOURCE, "Endpoint: POST /reports?organizationId={orgId}", lines=2)
ACKNOWLEDGED_GONE = Document.of(ACK, POLL)  # marked received -> no longer "not yet retrieved"
PRIVATE = Document(SOURCE, "OAuth2 tokens inherit strict scopes, preventing unauthorized data access.")

# -- what medimock chose where the document is silent ------------------------------------------------
PAYLOAD = Convention(
    "payload-shape",
    "the document gives no payload; the JSON fields of every reply, their names and formats are medimock's (specs/radiology/openapi.yaml)",
)
ERROR_BODY = Convention(
    "oauth2-error-body",
    'the document gives no error body; medimock answers every error with the OAuth2 error object {"error": "<code>", '
    '"error_description": "..."} (RFC 6749 section 5.2, RFC 6750 section 3.1)',
)
BEARER_401 = Convention(
    "bearer-401",
    "the document says every call needs a Bearer token and that its expiration is validated, not how a request without a valid one "
    'is refused; RFC 6750 answers 401 invalid_token with WWW-Authenticate: Bearer (error="invalid_token" when a token was sent)',
)
SCOPE_403 = Convention(
    "scope-403",
    "the document says the API validates a token's scope, not how a token without it is refused; RFC 6750 answers 403 "
    'insufficient_scope with WWW-Authenticate: Bearer error="insufficient_scope", scope="<needed>"',
)
SCOPE_NAMES = Convention(
    "scope-names",
    'the document says tokens are scoped "for report retrieval and status queries" but names no scope; medimock\'s are '
    "reports:read (/results, /report, /reports) and status:read (/status, /orderId)",
)
SCOPE_REQUEST = Convention(
    "scope-request",
    "the document does not say which scopes a token gets; medimock gives every scope the client is allowed when none is asked "
    "for, and refuses a scope the client is not allowed with 400 invalid_scope (RFC 6749 section 3.3 also lets a server narrow it)",
)
TOKEN_POST = Convention(
    "token-post",
    "beyond the document, which shows only GET <oauth2_endpoint>/token: RFC 6749's POST (a form body, or HTTP Basic client "
    "authentication), which OAuth2 client libraries send",
)
TOKEN_RESPONSE = Convention(
    "token-response",
    "the document says a short-lived (1 hour) OAuth2 bearer token; medimock's token reply always names its scope and is sent "
    "with Cache-Control: no-store (RFC 6749 section 5.1), and every request gets a new token",
)
TOKEN_ERRORS = Convention(
    "token-errors",
    "the document gives no token errors; medimock answers with RFC 6749 section 5.2's: 401 invalid_client (with WWW-Authenticate: "
    "Basic after HTTP Basic), 400 invalid_request, unsupported_grant_type, invalid_scope",
)
INPUT = Convention(
    "input-validation",
    "the document gives no error at all; medimock refuses a missing, repeated or malformed parameter with 400 invalid_request",
)
ONE_OF = Convention(
    "one-of-ids",
    "the document shows /status and /results with order_id or with study_uid, not what neither or both mean; medimock "
    "refuses both with 400 invalid_request (x-medimock-one-of-params)",
)
NOT_FOUND = Convention(
    "not-found-404",
    "the document gives no error at all; medimock answers an unknown order, study, study group, or a report of a type the order "
    "does not have (yet), with 404 not_found",
)
OTHER_ORG = Convention(
    "other-organisation",
    "the document says tokens prevent unauthorized data access, not how; medimock answers another organisation's orders, studies "
    "and groups like unknown ones (404 not_found) and another organisationId on /reports with 403 access_denied",
)
AT_LEAST_ONCE = Convention(
    "at-least-once",
    'the document says the poll returns the reports "not yet retrieved" and the acknowledgement "marks report as received"; '
    "medimock reads retrieved as acknowledged: a report polled or fetched through /results comes back in every poll until acknowledged",
)
ACK_BY_ORDER = Convention(
    "ack-by-order",
    'the document\'s acknowledgement has no body; medimock acknowledges the reports of some orders with {"orderIds": [...]} '
    "(an order unknown to the organisation is a 404, an empty list or an unknown field a 400, acknowledging again is harmless)",
)
LIST_ORDER = Convention(
    "list-order", "the document gives no order; medimock's poll lists reports oldest first and /orderId lists orders most recent first"
)
ORDER_STATES = Convention(
    "order-states",
    "the document names a processing status but no values; medimock's states (RECEIVED ... ADDENDED, CANCELLED, FAILED) and the "
    "report types each implies are its own",
)
REPORT_TYPES = Convention(
    "report-types", "the document shows report_type={reportType} but no values; PRELIMINARY, FINAL and ADDENDUM are medimock's"
)
SIZE_LIMIT = Convention(
    "size-limit",
    "the document names no limit; medimock takes acknowledgements of up to 1000 orders in a body of up to --max-body (32 MiB)",
)


# -- reading replies ---------------------------------------------------------------------------------


def valid(name: str, body: Any, what: str, response: Any, source: Any = PAYLOAD) -> bool:
    """``body`` matches the spec's schema ``name`` (medimock's payload); a failure names the fields."""
    problems = SPEC.errors(name, body)
    return expect(source, not problems, f"{what} matches the {name} schema: " + "; ".join(problems[:8]), response)


def body_of(response: Any, name: str, what: str) -> dict[str, Any] | None:
    """A JSON object reply in the spec's ``name`` shape (medimock's convention), or None (warned) when it is not one."""
    body = json_body(response, PAYLOAD, what)
    if not expect(PAYLOAD, isinstance(body, dict), f"{what} is a JSON object", response):
        return None
    valid(name, body, what, response)
    return body


def refused_with(response: Any, status: int, code: str, source: Any, what: str) -> bool:
    """``response`` is the ``status`` with OAuth2 error ``code`` that ``source`` (a convention) says; the body is checked too."""
    if not expect(source, response.status_code == status, f"{what} is a {status} {code}, not {response.status_code}", response):
        return False
    body = json_body(response, ERROR_BODY, f"the {status} reply")
    if isinstance(body, dict):
        problems = SPEC.errors("Error", body)
        expect(ERROR_BODY, not problems, f'the {status} reply is {{"error": ..., "error_description": ...}}: {problems[:3]}', response)
        expect(source, body.get("error") == code, f"{what}: the error code is {code!r}, not {body.get('error')!r}", response)
    else:
        expect(ERROR_BODY, body is not None, f"the {status} reply is a JSON object", response)
    return True


def refused(response: Any, source: Any, what: str) -> bool:
    """The document's refusal: the request was not served (a 401 or 403: the API "validates" before "processing")."""
    return expect(source, response.status_code in (401, 403), f"{what} is refused (401 or 403), not {response.status_code}", response)


def new_study_uid() -> str:
    return f"1.2.826.0.1.3680043.10.{random.randint(10**8, 10**9 - 1)}.{random.randint(1, 10**6)}"


def reports_of(response: Any, what: str) -> list[dict[str, Any]] | None:
    """The report list of a poll (a JSON array of report objects: medimock's payload), or None."""
    body = json_body(response, PAYLOAD, what)
    if not expect(PAYLOAD, isinstance(body, list), f"{what} is a JSON array of reports", response):
        return None
    valid("ReportList", body, what, response)
    return [item for item in body if isinstance(item, dict)]


def poll(radiology: Any, token: str | None, what: str = "the batch poll") -> list[dict[str, Any]] | None:
    response = radiology.get("/reports", token, params={"organizationId": radiology.organization_id})
    if not expect(POLL, response.status_code == 200, f"polling one's own organisation answers 200, not {response.status_code}", response):
        return None
    reports = reports_of(response, what)
    if reports is not None:
        stamps = [str(r.get("createdAt")) for r in reports]
        expect(LIST_ORDER, stamps == sorted(stamps), "the batch poll returns reports oldest first", response)
    return reports


def ids(reports: list[dict[str, Any]] | None, name: str = "reportId") -> set[str]:
    return {str(r.get(name)) for r in reports or [] if r.get(name)}


def acknowledge(radiology: Any, token: str | None, body: Any = None, source: Any = ACK) -> tuple[requests.Response, dict[str, Any] | None]:
    kwargs = {"json": body} if body is not None else {}
    response = radiology.post("/reports", token, params={"organizationId": radiology.organization_id}, **kwargs)
    expect(source, response.status_code == 200, f"acknowledging answers 200, not {response.status_code}", response)
    outcome = body_of(response, "AcknowledgeResponse", "the acknowledgement") if response.status_code == 200 else None
    return response, outcome


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
        headers = radiology.bearer(token)
    if method == "POST":  # acknowledge an order that does not exist: nothing is marked received
        return radiology.post(path, None, params=params, headers=headers, json={"orderIds": ["ORD-CONTRACT-UNKNOWN"]})
    return radiology.get(path, None, params=params, headers=headers)


def served(response: Any) -> bool:
    """Not refused: a 2xx, or a 404 for an identifier the target does not hold."""
    return 200 <= response.status_code < 300 or response.status_code == 404


@pytest.fixture
def control(radiology):
    if not radiology.medimock:
        pytest.skip("the target has no medimock control API (/__mock__/radiology/...) to make orders appear or move its clock")
    return radiology


@contextmanager
def orders_made(radiology: Any) -> Iterator[list[str]]:
    """Orders a test makes appear (through the control API): their reports are acknowledged when the test ends."""
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            radiology.release(made)


def make(radiology: Any, made: list[str], **options: Any) -> dict[str, Any]:
    created = radiology.simulate(**options)
    made.append(created["orderId"])
    return created


def needs_safe_acks(radiology: Any) -> None:
    if not radiology.safe_acks:
        pytest.skip(
            "the suite acknowledges nothing for its organisation on this target (a server that ignores the orderIds body would take "
            "any acknowledgement for 'everything retrieved'); set RADIOLOGY_ACKNOWLEDGE=1 for a test organisation whose pending "
            "reports the suite may mark received"
        )


# -- token endpoint ------------------------------------------------------------------------------


def check_token(radiology: Any, response: requests.Response, how: str, source: Any, scope: str | None = None) -> str | None:
    """A token reply: what the document says of it (a Bearer token living at most an hour that authenticates), and medimock's shape."""
    if not expect(source, response.status_code == 200, f"a token {how} answers 200, not {response.status_code}", response):
        return None
    body = json_body(response, source, f"the token reply ({how})")
    if not expect(source, isinstance(body, dict), f"the token reply ({how}) is an OAuth2 token object", response):
        return None
    token = field(body, "access_token", source, response, f"the token reply ({how})")
    token_type = field(body, "token_type", source, response, f"the token reply ({how})")
    expect(source, str(token_type).lower() == "bearer", f"the token {how} is a Bearer token, not {token_type!r}", response)
    lifetime = body.get("expires_in")
    if expect(TOKEN_RESPONSE, lifetime is not None, f"the token reply ({how}) says when the token expires (expires_in)", response):
        in_range = isinstance(lifetime, int) and not isinstance(lifetime, bool) and 1 <= lifetime <= 3600
        expect(TOKEN, in_range, f"expires_in is a number of seconds, at most 3600 (one hour), not {lifetime!r}", response)
    valid("TokenResponse", body, f"the token reply ({how})", response, TOKEN_RESPONSE)
    expect(
        TOKEN_RESPONSE,
        "no-store" in response.headers.get("Cache-Control", ""),
        "a token reply is sent with Cache-Control: no-store",
        response,
    )
    if scope is not None:
        expect(SCOPE_REQUEST, str(body.get("scope")).split() == scope.split(), f"the token carries the scope asked for ({scope})", response)
    if not isinstance(token, str) or not token:
        return None
    radiology.register_token(token, "GET" if "GET" in how else "POST", scope, None)
    granted = str(body.get("scope") or "reports:read status:read").split()
    method, path = (REPORT_OPERATIONS if "reports:read" in granted else STATUS_OPERATIONS)[0]
    works = resource_call(radiology, token, method, path)
    expect(BEARER, served(works), f"the token {how} authenticates {method} {path}", works)
    return token


def test_token_by_get(radiology):
    """The document's token request: GET <oauth2_endpoint>/token with the client credentials."""
    form = {"grant_type": "client_credentials", "client_id": radiology.client_id, "client_secret": radiology.client_secret}
    response = radiology.session.get(radiology.url("/oauth2/token"), params=form, timeout=30)
    first = check_token(radiology, response, "by GET (the document)", TOKEN_GET)
    again = check_token(radiology, radiology.token_request("GET"), "by GET, again", TOKEN_GET)
    if first and again:
        expect(TOKEN_RESPONSE, first != again, "every token request gets a new token")


def test_token_by_post_and_basic(radiology):
    """RFC 6749's token request (beyond the document): a form body, and HTTP Basic client authentication."""
    tokens = [check_token(radiology, radiology.token_request("POST"), "by POST (client_secret_post)", TOKEN_POST)]
    basic = base64.b64encode(f"{quote(radiology.client_id, safe='')}:{quote(radiology.client_secret, safe='')}".encode()).decode()
    register_secret(basic, "RADIOLOGY_BASIC", BASIC_HOW)
    response = radiology.session.post(
        radiology.url("/oauth2/token"),
        data={"grant_type": "client_credentials", "scope": "status:read"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    tokens.append(check_token(radiology, response, "by POST with HTTP Basic (client_secret_basic)", TOKEN_POST, scope="status:read"))
    if all(tokens):
        expect(TOKEN_RESPONSE, len(set(tokens)) == 2, "every token request gets a new token")
    both = radiology.token_request("POST", scope="reports:read status:read")
    if expect(SCOPE_NAMES, both.status_code == 200, "a token for reports:read and status:read is issued", both):
        scopes = str((json_body(both, TOKEN_RESPONSE, "the token reply") or {}).get("scope", "")).split()
        expect(
            SCOPE_REQUEST, set(scopes) == {"reports:read", "status:read"}, f"the token carries both scopes asked for, not {scopes}", both
        )


def no_token(response: Any, what: str) -> None:
    """The document's part of a failed client authentication: no token (the status and code are RFC 6749's, a convention)."""
    body = json_body(response, TOKEN_ERRORS, what) if response.status_code == 200 else None
    expect(CLIENT_AUTH, not (isinstance(body, dict) and body.get("access_token")), f"{what} gets no token", response)


def test_token_errors(radiology):
    url = radiology.url("/oauth2/token")
    good = {"grant_type": "client_credentials", "client_id": radiology.client_id, "client_secret": radiology.client_secret}
    wrong = {**good, "client_secret": radiology.client_secret + "x"}
    unknown = {**good, "client_id": f"nobody-{uuid.uuid4().hex[:8]}"}
    for response, what in (
        (radiology.session.get(url, params=wrong, timeout=30), "a wrong client secret (GET)"),
        (radiology.session.get(url, params=unknown, timeout=30), "an unknown client (GET)"),
        (radiology.session.post(url, data=wrong, timeout=30), "a wrong client secret (POST)"),
        (radiology.session.post(url, data=unknown, timeout=30), "an unknown client (POST)"),
        (radiology.session.post(url, data={"grant_type": "client_credentials"}, timeout=30), "no client authentication (POST)"),
    ):
        no_token(response, what)
        refused_with(response, 401, "invalid_client", TOKEN_ERRORS, what)
    bad_basic = base64.b64encode(f"{radiology.client_id}:wrong-secret".encode()).decode()
    refused = radiology.session.post(
        url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {bad_basic}"}, timeout=30
    )
    no_token(refused, "HTTP Basic with a wrong secret")
    if refused_with(refused, 401, "invalid_client", TOKEN_ERRORS, "HTTP Basic with a wrong secret"):
        challenge = refused.headers.get("WWW-Authenticate", "")
        expect(
            TOKEN_ERRORS,
            challenge.startswith("Basic"),
            f"a refused HTTP Basic client gets WWW-Authenticate: Basic, not {challenge!r}",
            refused,
        )
    for method in ("GET", "POST"):
        sent = {"params": {**good, "grant_type": "password"}} if method == "GET" else {"data": {**good, "grant_type": "password"}}
        response = radiology.session.request(method, url, timeout=30, **sent)
        refused_with(response, 400, "unsupported_grant_type", TOKEN_ERRORS, f"another grant type ({method})")
    response = radiology.session.get(url, params={**good, "scope": "admin"}, timeout=30)
    refused_with(response, 400, "invalid_scope", TOKEN_ERRORS, "an unknown scope")
    good_basic = base64.b64encode(f"{radiology.client_id}:{radiology.client_secret}".encode()).decode()
    register_secret(good_basic, "RADIOLOGY_BASIC", BASIC_HOW)
    both = radiology.session.post(url, data=good, headers={"Authorization": f"Basic {good_basic}"}, timeout=30)
    refused_with(both, 400, "invalid_request", TOKEN_ERRORS, "two client authentication methods at once")
    repeated = radiology.session.get(url, params={**good, "client_id": [radiology.client_id, radiology.client_id]}, timeout=30)
    refused_with(repeated, 400, "invalid_request", TOKEN_ERRORS, "a repeated parameter")
    # RFC 6749 section 3.2: "Request and response parameters MUST NOT be included more than once": the form body's too
    form = {**good, "client_id": [radiology.client_id, radiology.client_id]}
    repeated = radiology.session.post(url, data=form, timeout=30)
    refused_with(repeated, 400, "invalid_request", TOKEN_ERRORS, "a repeated parameter in the POST form body")
    for name in ("client_secret", "grant_type"):
        response = radiology.session.get(url, params={k: v for k, v in good.items() if k != name}, timeout=30)
        if name == "client_secret":
            no_token(response, "GET without client_secret")
        refused_with(response, 400, "invalid_request", TOKEN_ERRORS, f"GET without {name}")
    for name in ("client_secret", "client_id"):  # POST's body credentials with one of the pair missing (RFC 6749 §2.3.1)
        response = radiology.session.post(url, data={k: v for k, v in good.items() if k != name}, timeout=30)
        no_token(response, f"POST without {name}")
        refused_with(response, 400, "invalid_request", TOKEN_ERRORS, f"POST without {name}")
    for credentials, what in (
        ("not base64!", "HTTP Basic credentials that are not base64"),
        (base64.b64encode(radiology.client_id.encode()).decode(), "HTTP Basic credentials without a colon"),
        (base64.b64encode(f":{radiology.client_secret}".encode()).decode(), "HTTP Basic credentials without a client id"),
    ):
        refused = radiology.session.post(
            url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {credentials}"}, timeout=30
        )
        no_token(refused, what)
        if refused_with(refused, 401, "invalid_client", TOKEN_ERRORS, what):
            challenge = refused.headers.get("WWW-Authenticate", "")
            expect(TOKEN_ERRORS, challenge.startswith("Basic"), f"{what}: WWW-Authenticate: Basic, not {challenge!r}", refused)
    # The right credentials with a character outside the base64 alphabet inside: RFC 7617's base64 is RFC 4648's, whose
    # section 3.3 says to reject such data; read leniently they would be the client's (so no document check: a token here
    # authenticates the right client, only the refusal is medimock's)
    encoded = good_basic
    what = "HTTP Basic credentials with a character outside base64 ('*')"
    refused = radiology.session.post(
        url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {encoded[:4]}*{encoded[4:]}"}, timeout=30
    )
    refused_with(refused, 401, "invalid_client", TOKEN_ERRORS, what)


# -- poll, fetch, acknowledge ---------------------------------------------------------------------


def test_unacknowledged_reports_come_back(radiology, token):
    with orders_made(radiology) as made:
        created = make(radiology, made, status="FINAL") if radiology.medimock else None
        first = poll(radiology, token)
        if not first:
            if first is not None:
                pytest.skip("the organisation has no unacknowledged report")
            return
        second = poll(radiology, token, "the next poll")
        missing = ids(first) - ids(second)
        expect(AT_LEAST_ONCE, not missing, f"an unacknowledged report comes back in the next poll ({sorted(missing)[:5]})")
        if created:
            expect(POLL, created["orderId"] in ids(second, "orderId"), f"a finished order's report ({created['orderId']}) is in the poll")


def test_poll_fetch_acknowledge(radiology, token):
    """Poll, fetch every polled report through /results, poll again, acknowledge some orders: they are gone from the next poll."""
    with orders_made(radiology) as made:
        if radiology.medimock:
            make(radiology, made, status="FINAL")
            make(radiology, made, status="ADDENDED")
        first = poll(radiology, token)
        if first is None:
            return
        if not first:
            pytest.skip("the organisation has no unacknowledged report to fetch and acknowledge")
        batch = first[:30]
        for report in batch:
            order, kind = report.get("orderId"), report.get("reportType")
            response = radiology.get("/results", token, params={"order_id": order, "report_type": kind})
            if not expect(
                RESULTS, response.status_code == 200, f"a polled report ({order} {kind}) can be fetched through /results", response
            ):
                continue
            fetched = body_of(response, "Report", f"/results for {order} {kind}")
            if fetched is not None:
                same = {k: v for k, v in fetched.items() if k != "status"} == {k: v for k, v in report.items() if k != "status"}
                expect(RESULTS, same, f"/results returns the report the poll delivered ({report.get('reportId')})", response)

        again = poll(radiology, token, "the next poll")
        missing = ids(batch) - ids(again)
        if again is not None:
            expect(
                AT_LEAST_ONCE,
                not missing,
                f"polling or fetching a report does not acknowledge it: the next poll still holds it ({sorted(missing)[:5]})",
            )

        if made:
            orders = sorted(made)
        elif radiology.may_consume:  # the organisation's own reports: as few as will do, one order's
            orders = sorted(ids(batch, "orderId"))[:1]
            radiology.consumed.update(orders)
        else:
            pytest.skip(
                "the suite acknowledges only reports it made appear (through a medimock control API), or the organisation's own with "
                "RADIOLOGY_ACKNOWLEDGE=1"
            )
        response, outcome = acknowledge(radiology, token, {"orderIds": orders}, ACK_BY_ORDER)
        if response.status_code != 200:
            return
        if outcome is not None:
            expect(
                ACK_BY_ORDER,
                set(outcome.get("orderIds") or []) == set(orders),
                f"the acknowledgement names the orders acknowledged: {outcome}",
                response,
            )
            delivered = [r for r in again or [] if r.get("orderId") in orders]
            expect(
                ACK_BY_ORDER,
                outcome.get("acknowledged") == len(delivered),
                "the count is the number of delivered reports of those orders",
                response,
            )
        after = poll(radiology, token, "the poll after the acknowledgement")
        back = [r.get("reportId") for r in after or [] if r.get("orderId") in orders]
        expect(ACKNOWLEDGED_GONE, not back, f"acknowledged reports are not returned by the next poll ({back[:5]})")
        repeat, outcome = acknowledge(radiology, token, {"orderIds": orders}, ACK_BY_ORDER)
        if outcome is not None:
            expect(ACK_BY_ORDER, outcome == {"acknowledged": 0, "orderIds": []}, f"acknowledging again is harmless: {outcome}", repeat)


def test_acknowledge_everything_retrieved(radiology, token):
    """The document's acknowledgement (no body): every retrieved report is marked received; one that came later is not."""
    with orders_made(radiology) as made:
        if radiology.medimock:
            make(radiology, made, status="FINAL")
        first = poll(radiology, token)
        if first is None:
            return
        if not first:
            pytest.skip("the organisation has no unacknowledged report to acknowledge")
        theirs = ids(first, "orderId") - set(made)
        if theirs and not radiology.may_consume:
            pytest.skip(
                f"acknowledging without a body marks every retrieved report received, {len(theirs)} order(s) of the target's own too: "
                "the suite does that only with RADIOLOGY_ACKNOWLEDGE=1 (or on the embedded mock it starts and deletes)"
            )
        late = make(radiology, made, status="PRELIMINARY") if radiology.medimock else None  # arrives after the poll
        radiology.consumed.update(theirs)
        response, outcome = acknowledge(radiology, token)
        if response.status_code != 200:
            return
        if outcome is not None:
            expect(
                ACK_BY_ORDER,
                (outcome.get("acknowledged") or 0) >= len(first),
                f"the count covers every retrieved report: {outcome}",
                response,
            )
        after = poll(radiology, token, "the poll after the acknowledgement")
        if after is None:
            return
        back = sorted(ids(first) & ids(after))
        expect(ACKNOWLEDGED_GONE, not back, f"every retrieved report is marked received: the next poll does not return them ({back[:5]})")
        if late is not None:
            expect(
                ACK,
                late["orderId"] in ids(after, "orderId"),
                "a report that arrived after the last poll was not retrieved, so it is not acknowledged",
            )


def test_poll_of_more_than_500_pending_orders_returns_them_all(radiology, token, control):
    """The poll returns "all reports ... not yet retrieved", however many: the test makes orders through the control API
    until 502 are pending (more than the 500 a server may read at a time), and every made order's report is in the next
    poll (medimock reads the orders of a poll 500 at a time: a chunk that skips one answered 500)."""
    first = poll(radiology, token, "the poll before the orders are made")
    if first is None:
        return
    pending = ids(first, "orderId")
    with orders_made(radiology) as made:
        for _ in range(max(1, 502 - len(pending))):
            make(radiology, made, status="FINAL")
        polled = poll(radiology, token, f"the poll with {len(pending) + len(made)} orders pending")
        if polled is None:
            return
        missing = set(made) - ids(polled, "orderId")
        expect(
            POLL,
            not missing,
            f"the poll returns the reports of all {len(made)} orders made ({len(missing)} missing: {sorted(missing)[:5]})",
        )


def test_acknowledge_validation(radiology, token):
    needs_safe_acks(radiology)
    params = {"organizationId": radiology.organization_id}
    for body, promise in (({"orderIds": []}, "an empty orderIds list"), ({"orderIds": ["A"], "extra": 1}, "an unknown field")):
        refused_with(radiology.post("/reports", token, params=params, json=body), 400, "invalid_request", ACK_BY_ORDER, promise)
    unknown = radiology.post("/reports", token, params=params, json={"orderIds": [f"ORD-UNKNOWN-{uuid.uuid4().hex[:8]}"]})
    refused_with(unknown, 404, "not_found", ACK_BY_ORDER, "acknowledging an order unknown to the organisation")


def test_acknowledge_many_orders(radiology, token):
    """An acknowledgement of up to 1000 orders, as large as MEDIMOCK_MAX_BODY allows; a refusal for its size says so."""
    needs_safe_acks(radiology)
    order = "ORD-UNKNOWN-" + uuid.uuid4().hex[:20]
    count = max(1, min(1000, (max_body() - 64) // (len(order) + 8)))
    body = {"orderIds": [f"{order}-{index:04d}" for index in range(count)]}
    size = len(json.dumps(body))
    response = radiology.post("/reports", token, params={"organizationId": radiology.organization_id}, json=body)
    if response.status_code == 413 or (response.status_code == 400 and not response.content):
        expect(
            SIZE_LIMIT,
            False,
            f"an acknowledgement of {count} orders ({size} bytes) is read; the target refused it ({response.status_code}"
            f"{', empty body' if not response.content else ''}): its request size limit is lower; set MEDIMOCK_MAX_BODY below it",
            response,
        )
        return
    refused_with(response, 404, "not_found", ACK_BY_ORDER, f"acknowledging {count} orders unknown to the organisation ({size} bytes)")


# -- authentication and scopes ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), STATUS_OPERATIONS + REPORT_OPERATIONS)
@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token-0123456789", "Token {token}", "Basic {basic}", "{token}"])
def test_bad_tokens_are_401(radiology, token, method, path, authorization):
    basic = base64.b64encode(f"{radiology.client_id}:{radiology.client_secret}".encode()).decode()
    register_secret(basic, "RADIOLOGY_BASIC", BASIC_HOW)
    headers = {"Authorization": authorization.format(token=token, basic=basic)} if authorization else {}
    response = resource_call(radiology, None, method, path, headers=headers)
    what = f"{method} {path} with Authorization {authorization!r}"
    refused(response, BEARER, what)
    if refused_with(response, 401, "invalid_token", BEARER_401, what):
        challenge = response.headers.get("WWW-Authenticate", "")
        expect(BEARER_401, challenge.startswith("Bearer"), f"a 401 carries a Bearer challenge (RFC 6750), not {challenge!r}", response)


def test_unknown_token_challenge_names_the_error(radiology):
    response = radiology.get("/reports", "not-a-token-0123456789", params={"organizationId": radiology.organization_id})
    refused(response, BEARER, "an unknown token")
    if refused_with(response, 401, "invalid_token", BEARER_401, "an unknown token"):
        challenge = response.headers.get("WWW-Authenticate", "")
        expect(
            BEARER_401,
            'error="invalid_token"' in challenge,
            f"when a token was sent the challenge names the error: {challenge!r}",
            response,
        )


def advance(radiology: Any, seconds: float) -> None:
    moved = requests.post(radiology.target.control("/radiology/clock"), json={"advance_seconds": seconds}, timeout=10)
    if moved.status_code != 200:
        pytest.fail(f"POST /__mock__/radiology/clock: {moved.status_code} {moved.text[:200]}", pytrace=False)


def test_expired_token_is_rejected(radiology, token):
    expired = radiology.credentials.get("expired_token")
    if radiology.medimock:
        issued = radiology.token_request("GET")
        body = json_body(issued, TOKEN, "the token reply")
        expired, lifetime = field(body, "access_token", TOKEN, issued), field(body, "expires_in", TOKEN, issued)
        if not isinstance(expired, str) or not isinstance(lifetime, int):
            return
        radiology.register_token(expired, "GET", None, None)
        early = max(0, lifetime - 30)
        if early:
            advance(radiology, early)
            works = radiology.get("/reports", expired, params={"organizationId": radiology.organization_id})
            expect(EXPIRY, works.status_code == 200, f"a token works until it expires ({early} s of {lifetime} s)", works)
        advance(radiology, lifetime - early + 1)
    elif not expired:
        pytest.skip("no way to get an expired token: set RADIOLOGY_EXPIRED_TOKEN, or use a target with medimock's control API")
    else:
        register_secret(expired, "RADIOLOGY_EXPIRED_TOKEN", "export RADIOLOGY_EXPIRED_TOKEN=... (a token of the client, over an hour old)")
    for method, path in [("GET", "/status"), ("GET", "/results"), ("GET", "/reports")]:
        response = resource_call(radiology, expired, method, path)
        refused(response, EXPIRY, f"an expired token on {method} {path} (tokens live one hour)")
        if refused_with(response, 401, "invalid_token", BEARER_401, f"an expired token on {method} {path}"):
            challenge = response.headers.get("WWW-Authenticate", "")
            expect(BEARER_401, 'error="invalid_token"' in challenge, f"the challenge names invalid_token: {challenge!r}", response)
    fresh = radiology.token()
    works = resource_call(radiology, fresh, "GET", "/reports")
    expect(BEARER, works.status_code == 200, "a new token works again", works)


def other_scope(scope: str) -> str:
    return "reports:read" if scope == "status:read" else "status:read"


def check_scope(radiology: Any, narrow: str, scope: str, who: str) -> None:
    """A token with only ``scope``: refused where the other kind is needed, served where its own is."""
    refused_ops = REPORT_OPERATIONS if scope == "status:read" else STATUS_OPERATIONS
    allowed_ops = STATUS_OPERATIONS if scope == "status:read" else REPORT_OPERATIONS
    for method, path in refused_ops:
        response = resource_call(radiology, narrow, method, path)
        what = f"{who}'s {scope} token on {method} {path}, which needs {other_scope(scope)}"
        refused(response, SCOPED, what)
        if refused_with(response, 403, "insufficient_scope", SCOPE_403, what):
            challenge = response.headers.get("WWW-Authenticate", "")
            named = 'error="insufficient_scope"' in challenge and other_scope(scope) in challenge
            expect(SCOPE_403, named, f"the challenge names the scope needed: {challenge!r}", response)
    for method, path in allowed_ops:
        if method == "POST" and not radiology.safe_acks:
            continue
        response = resource_call(radiology, narrow, method, path)
        expect(SCOPED, served(response), f"{who}'s {scope} token is enough for {method} {path}", response)


@pytest.mark.parametrize("scope", ["status:read", "reports:read"])
def test_wrong_scope_is_403(radiology, token, scope):
    narrow = radiology.token(scope=scope)
    if not expect(SCOPE_NAMES, narrow is not None, f"the client gets a token for scope {scope}"):
        return
    check_scope(radiology, narrow, scope, radiology.client_id)


def single_scope_clients(radiology: Any) -> list[dict[str, Any]]:
    """Clients of our organisation allowed exactly one scope: from the environment, or the target's credentials."""
    creds = radiology.credentials
    if creds.get("single_scope_client_id") and creds.get("single_scope_client_secret"):
        return [{"client_id": creds["single_scope_client_id"], "client_secret": creds["single_scope_client_secret"], "scopes": None}]
    clients = []
    for org in radiology.credentials.get("organizations") or []:
        if org.get("organization_id") != radiology.organization_id:
            continue
        for client in org.get("clients") or []:
            if len(client.get("scopes") or []) == 1 and "client_credentials" in (client.get("grant_types") or []):
                clients.append(client)
    return clients


def test_single_scope_client(radiology):
    clients = single_scope_clients(radiology)
    if not clients:
        pytest.skip("the target names no client of this organisation with a single scope (RADIOLOGY_SINGLE_SCOPE_CLIENT_ID/_SECRET)")
    for client in clients:
        client_id, secret = str(client["client_id"]), str(client["client_secret"])
        register_secret(
            client_id, "RADIOLOGY_SINGLE_SCOPE_CLIENT_ID", "export RADIOLOGY_SINGLE_SCOPE_CLIENT_ID=... (a client allowed one scope)"
        )
        register_secret(secret, "RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET", "export RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET=... (its secret)")
        issued = radiology.token_request("GET", client_id, secret)
        if not expect(CLIENT_AUTH, issued.status_code == 200, f"{client_id} gets a token with its client credentials", issued):
            continue
        body = json_body(issued, TOKEN, "the token reply")
        token = field(body, "access_token", TOKEN, issued)
        scopes = str((body or {}).get("scope") or "").split()
        if not isinstance(token, str) or not expect(
            SCOPE_REQUEST, len(scopes) == 1, f"{client_id} is allowed a single scope, not {scopes}", issued
        ):
            continue
        radiology.register_token(token, "GET", None, client_id)
        scope = scopes[0]
        if client.get("scopes"):
            expect(
                SCOPE_REQUEST,
                scopes == list(client["scopes"]),
                f"without scope, a client gets the scopes it is allowed ({client['scopes']})",
                issued,
            )
        asked = radiology.token_request("GET", client_id, secret, scope=other_scope(scope))
        if asked.status_code == 200:  # a server may narrow the scope instead (RFC 6749 section 3.3), never widen it
            granted = str((json_body(asked, TOKEN_RESPONSE, "the token reply") or {}).get("scope") or "").split()
            expect(LEAST, other_scope(scope) not in granted, f"{client_id} never gets {other_scope(scope)}, which it is not allowed", asked)
        refused_with(asked, 400, "invalid_scope", SCOPE_REQUEST, f"{client_id} asking for {other_scope(scope)}, which it is not allowed")
        check_scope(radiology, token, scope, client_id)


# -- organisations ------------------------------------------------------------------------------------


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
    known = other_organization(radiology)
    for org in (known, f"org-{uuid.uuid4().hex[:10]}"):
        if not org:
            continue
        polled = radiology.get("/reports", token, params={"organizationId": org})
        if org == known:  # a real organisation: its reports are not the caller's to see
            expect(PRIVATE, not 200 <= polled.status_code < 300, f"polling another organisation ({org}) is refused", polled)
        refused_with(polled, 403, "access_denied", OTHER_ORG, f"polling another organisation ({org})")
        body = {} if radiology.may_consume else {"json": {"orderIds": [f"ORD-UNKNOWN-{uuid.uuid4().hex[:8]}"]}}
        acked = radiology.post("/reports", token, params={"organizationId": org}, **body)
        if org == known:
            expect(PRIVATE, not 200 <= acked.status_code < 300, f"acknowledging for another organisation ({org}) is refused", acked)
        refused_with(acked, 403, "access_denied", OTHER_ORG, f"acknowledging for another organisation ({org})")


def test_other_organisation_orders_are_not_visible(radiology, token):
    theirs: dict[str, Any] = {}
    with orders_made(radiology) as made:
        if radiology.medimock and other_organization(radiology):
            uid = new_study_uid()
            ours = make(radiology, made, study_uid=uid, status="FINAL")
            group = f"GRP-CONTRACT-{uuid.uuid4().hex[:8].upper()}"
            mine = make(radiology, made, organizationId=other_organization(radiology), study_uid=uid, study_group=group, status="FINAL")
            theirs = {"order_id": mine["orderId"], "study_uid": uid, "study_group": group, "ours": ours["orderId"]}
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
        expect(PRIVATE, status.status_code != 200, f"another organisation's order {order} is not shown (/status)", status)
        refused_with(
            status, 404, "not_found", OTHER_ORG, f"another organisation's order {order} is indistinguishable from an unknown one (/status)"
        )
        for report_type in ("PRELIMINARY", "FINAL"):
            results = radiology.get("/results", token, params={"order_id": order, "report_type": report_type})
            expect(
                PRIVATE,
                results.status_code != 200,
                f"another organisation's {report_type} report of {order} is not shown (/results)",
                results,
            )
            refused_with(results, 404, "not_found", OTHER_ORG, f"another organisation's order {order} has no visible {report_type} report")
        if theirs.get("study_group"):
            grouped = radiology.get("/report", token, params={"study_group": theirs["study_group"], "report_type": "FINAL"})
            expect(PRIVATE, grouped.status_code != 200, f"another organisation's study group {theirs['study_group']} is not shown", grouped)
            refused_with(grouped, 404, "not_found", OTHER_ORG, f"another organisation's study group {theirs['study_group']} is not visible")
        if radiology.safe_acks:
            acked = radiology.post("/reports", token, params={"organizationId": radiology.organization_id}, json={"orderIds": [order]})
            refused_with(acked, 404, "not_found", ACK_BY_ORDER, "acknowledging another organisation's order")
        if theirs.get("ours"):  # one study sent by both organisations: each sees only its own order
            listed = radiology.get("/orderId", token, params={"study_uid": theirs["study_uid"]})
            if expect(ORDER_IDS, listed.status_code == 200, "the caller's own study has order ids", listed):
                orders = field(body_of(listed, "StudyOrderIds", "/orderId"), "orderIds", PAYLOAD, listed, "/orderId")
                expect(PRIVATE, orders == [theirs["ours"]], f"/orderId lists only the caller's orders of a shared study: {orders}", listed)
            latest = radiology.get("/status", token, params={"study_uid": theirs["study_uid"]})
            if expect(STATUS, latest.status_code == 200, "the caller's own study has a status", latest):
                shown = field(body_of(latest, "OrderStatus", "/status"), "orderId", PAYLOAD, latest, "/status")
                expect(
                    PRIVATE,
                    shown == theirs["ours"],
                    f"/status by study_uid uses the caller's order, not another organisation's newer one ({shown})",
                    latest,
                )
            polled = poll(radiology, token)
            expect(POLL, order not in ids(polled, "orderId"), "the poll never delivers another organisation's reports")


# -- studies with several orders -------------------------------------------------------------------


def test_status_of_a_study_is_its_most_recent_order(radiology, token, control):
    uid = new_study_uid()
    with orders_made(radiology) as made:
        older = make(radiology, made, study_uid=uid, status="FINAL")
        newer = make(radiology, made, study_uid=uid, status="PRELIMINARY")
        status = radiology.get("/status", token, params={"study_uid": uid})
        if expect(STATUS, status.status_code == 200, "a study with orders has a status", status):
            shown = body_of(status, "OrderStatus", "/status by study_uid") or {}
            expect(
                STATUS_RECENT,
                shown.get("orderId") == newer["orderId"],
                f"with several orders for a study, /status returns only the most recent ({newer['orderId']}), not {shown.get('orderId')}",
                status,
            )
            expect(
                ORDER_STATES,
                shown.get("status") in (None, "PRELIMINARY"),
                f"the most recent order is PRELIMINARY, not {shown.get('status')}",
                status,
            )
        by_order = radiology.get("/status", token, params={"order_id": older["orderId"]})
        if expect(STATUS, by_order.status_code == 200, "the older order has a status", by_order):
            shown = body_of(by_order, "OrderStatus", "/status by order_id") or {}
            expect(
                STATUS,
                shown.get("orderId") in (None, older["orderId"]),
                f"/status by order_id is that order, not {shown.get('orderId')}",
                by_order,
            )
            expect(ORDER_STATES, shown.get("status") in (None, "FINAL"), f"the older order is FINAL, not {shown.get('status')}", by_order)

        listed = radiology.get("/orderId", token, params={"study_uid": uid})
        if expect(ORDER_IDS, listed.status_code == 200, "a study with orders has order ids", listed):
            orders = field(body_of(listed, "StudyOrderIds", "/orderId"), "orderIds", PAYLOAD, listed, "/orderId")
            if isinstance(orders, list):
                expect(
                    ORDER_IDS,
                    sorted(orders) == sorted([newer["orderId"], older["orderId"]]),
                    f"/orderId lists every order of the study: {orders}",
                    listed,
                )
                expect(
                    LIST_ORDER,
                    orders == [newer["orderId"], older["orderId"]],
                    f"/orderId lists the most recent order first: {orders}",
                    listed,
                )

        prelim = radiology.get("/results", token, params={"study_uid": uid, "report_type": "PRELIMINARY"})
        if expect(RESULTS_RECENT, prelim.status_code == 200, "/results by study_uid returns the most recent order's report", prelim):
            got = field(body_of(prelim, "Report", "/results by study_uid"), "orderId", PAYLOAD, prelim, "/results")
            expect(
                RESULTS_RECENT,
                got in (None, newer["orderId"]),
                f"/results by study_uid uses the most recent order ({newer['orderId']}), not {got}",
                prelim,
            )
        final = radiology.get("/results", token, params={"study_uid": uid, "report_type": "FINAL"})
        if final.status_code == 200:
            got = field(body_of(final, "Report", "/results by study_uid"), "orderId", PAYLOAD, final, "/results")
            expect(
                RESULTS_RECENT,
                got != older["orderId"],
                "/results by study_uid uses only the most recent order: not the older order's FINAL report",
                final,
            )
        refused_with(final, 404, "not_found", NOT_FOUND, "/results by study_uid for a report type the most recent order does not have")
        older_final = radiology.get("/results", token, params={"order_id": older["orderId"], "report_type": "FINAL"})
        if expect(RESULTS, older_final.status_code == 200, "the older order's FINAL report is there by order_id", older_final):
            got = field(body_of(older_final, "Report", "/results by order_id"), "orderId", PAYLOAD, older_final, "/results")
            expect(RESULTS, got in (None, older["orderId"]), f"/results by order_id is that order's report, not {got}", older_final)


def test_order_ids_of_a_study_with_several_orders(radiology, token):
    uid = radiology.example("study_uid_with_several_orders")
    if not uid:
        pytest.skip("the target names no study with several orders (RADIOLOGY_MULTI_ORDER_STUDY_UID)")
    listed = radiology.get("/orderId", token, params={"study_uid": uid})
    if not expect(ORDER_IDS, listed.status_code == 200, f"the study {uid} has order ids", listed):
        return
    orders = field(body_of(listed, "StudyOrderIds", "/orderId"), "orderIds", PAYLOAD, listed, "/orderId")
    if not isinstance(orders, list):
        return
    expect(
        ORDER_IDS,
        len(orders) >= 2,
        f"/orderId lists every order of a study with several (RADIOLOGY_MULTI_ORDER_STUDY_UID): {orders}",
        listed,
    )
    created: dict[str, str] = {}
    for order in orders:
        status = radiology.get("/status", token, params={"order_id": order})
        if not expect(STATUS, status.status_code == 200, f"every listed order ({order}) has a status", status):
            continue
        shown = body_of(status, "OrderStatus", f"/status of {order}") or {}
        expect(
            ORDER_IDS, shown.get("studyUid") in (None, uid), f"every listed order belongs to the study, not {shown.get('studyUid')}", status
        )
        created[order] = str(shown.get("createdAt"))
    stamps = [created[o] for o in orders if o in created]
    expect(
        LIST_ORDER,
        stamps == sorted(stamps, reverse=True),
        f"/orderId lists the orders most recent first: {list(zip(orders, stamps))}",
        listed,
    )
    if len(created) == len(orders) and created:
        newest = max(created, key=lambda o: created[o])
        latest = radiology.get("/status", token, params={"study_uid": uid})
        if expect(STATUS, latest.status_code == 200, "the study has a status", latest):
            shown = field(body_of(latest, "OrderStatus", "/status by study_uid"), "orderId", PAYLOAD, latest, "/status")
            expect(STATUS_RECENT, shown == newest, f"/status by study_uid is the most recent order ({newest}), not {shown}", latest)


def test_status_and_results_of_a_study_agree(radiology, token):
    """/status and /results by study_uid both use the study's most recent order (the document says so of each)."""
    uid = radiology.example("study_uid_with_several_orders")
    if not uid:
        pytest.skip("the target names no study with several orders (RADIOLOGY_MULTI_ORDER_STUDY_UID)")
    latest = radiology.get("/status", token, params={"study_uid": uid})
    if not expect(STATUS, latest.status_code == 200, f"the study {uid} has a status", latest):
        return
    shown = body_of(latest, "OrderStatus", "/status by study_uid") or {}
    newest, kinds = shown.get("orderId"), shown.get("reportTypes")
    if not isinstance(newest, str) or not isinstance(kinds, list) or not kinds:
        pytest.skip(f"the most recent order of {uid} names no report (reportTypes {kinds})")
    for kind in kinds:
        result = radiology.get("/results", token, params={"study_uid": uid, "report_type": kind})
        if expect(RESULTS_RECENT, result.status_code == 200, f"the most recent order's {kind} report is returned by study_uid", result):
            got = field(body_of(result, "Report", "/results by study_uid"), "orderId", PAYLOAD, result, "/results")
            expect(
                Document.of(RESULTS_RECENT, STATUS_RECENT),
                got == newest,
                f"/results by study_uid uses the most recent order, as /status does ({newest}), not {got}",
                result,
            )


def test_status_and_reports_agree(radiology, token):
    """An order's status, its reportTypes and the reports /results returns tell the same story."""
    with orders_made(radiology) as made:
        orders = list(dict.fromkeys(str(r.get("orderId")) for r in poll(radiology, token) or []))[-20:]
        if radiology.medimock:
            for state in ("RECEIVED", "IN_PROGRESS", "PRELIMINARY", "FINAL", "ADDENDED", "CANCELLED", "FAILED"):
                orders.append(make(radiology, made, status=state)["orderId"])
        if radiology.example("order_id"):
            orders.append(radiology.example("order_id"))
        if not orders:
            pytest.skip("the target names no order to look at")
        for order in orders:
            response = radiology.get("/status", token, params={"order_id": order})
            if not expect(STATUS, response.status_code == 200, f"an order of the organisation ({order}) has a status", response):
                continue
            status = body_of(response, "OrderStatus", f"/status of {order}")
            if status is None or not isinstance(status.get("reportTypes"), list):
                continue
            expect(
                ORDER_STATES,
                str(status.get("updatedAt")) >= str(status.get("createdAt")),
                f"{order}: the status changes after the order is created",
                response,
            )
            implied = REPORT_TYPES_OF.get(str(status.get("status")))
            if implied:
                expect(
                    ORDER_STATES,
                    implied in status["reportTypes"],
                    f"{order} is {status.get('status')}: its {implied} report exists",
                    response,
                )
            for report_type in ("PRELIMINARY", "FINAL", "ADDENDUM"):
                result = radiology.get("/results", token, params={"order_id": order, "report_type": report_type})
                if report_type not in status["reportTypes"]:
                    refused_with(
                        result, 404, "not_found", NOT_FOUND, f"{order} has no {report_type} report (reportTypes {status['reportTypes']})"
                    )
                    continue
                if not expect(RESULTS, result.status_code == 200, f"{order} lists a {report_type} report, so /results returns it", result):
                    continue
                report = body_of(result, "Report", f"/results {order} {report_type}") or {}
                expect(
                    RESULTS,
                    (report.get("orderId"), report.get("reportType")) == (order, report_type),
                    f"/results returns the report asked for ({order} {report_type})",
                    result,
                )
                expect(PAYLOAD, report.get("studyUid") == status.get("studyUid"), "a report names its order's study", result)
                expect(
                    ORDER_STATES, report.get("status") == status.get("status"), "a report's status is its order's current status", result
                )


# -- parameters and group reports ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/status", "/results"])
def test_exactly_one_of_order_id_and_study_uid(radiology, token, path):
    extra = {"report_type": "FINAL"} if path == "/results" else {}
    for params, what in (({}, "neither"), ({"order_id": "ORD-1", "study_uid": "1.2.3"}, "both")):
        response = radiology.get(path, token, params={**params, **extra})
        refused_with(response, 400, "invalid_request", ONE_OF, f"{path} with {what} of order_id and study_uid")


@pytest.mark.parametrize(
    ("path", "params", "source"),
    [
        ("/status", {"study_uid": "1.2.x"}, INPUT),
        ("/orderId", {}, INPUT),
        ("/results", {"order_id": "ORD-1"}, INPUT),
        ("/results", {"order_id": "ORD-1", "report_type": "PDF"}, REPORT_TYPES),
        ("/report", {"study_group": "GRP-1"}, INPUT),
        ("/status", {"order_id": "bad id!"}, INPUT),
        ("/status", {"order_id": ["ORD-1", "ORD-2"]}, INPUT),
    ],
    ids=["uid-letters", "no-study-uid", "no-report-type", "report-type-PDF", "group-no-report-type", "order-id-spaces", "order-id-twice"],
)
def test_malformed_parameters_are_400(radiology, token, path, params, source):
    refused_with(radiology.get(path, token, params=params), 400, "invalid_request", source, f"{path} with {params}")


def test_group_report_of_a_group_of_one_order(radiology, token, control):
    """A study group whose only order has its FINAL report: /report returns it ("the desired report associated with the
    specified study group"). The seeded groups have two orders or more: a server that reads a group's organisation from
    its second order answers a group of one with a 500 (the mutant handlers.py:207 of the seed-21 mutation sample)."""
    group = f"GRP-CONTRACT-{uuid.uuid4().hex[:8].upper()}"
    with orders_made(radiology) as made:
        only = make(radiology, made, study_group=group, status="FINAL")
        response = radiology.get("/report", token, params={"study_group": group, "report_type": "FINAL"})
        if expect(GROUP, response.status_code == 200, f"the study group {group} of one order has its FINAL report", response):
            report = body_of(response, "GroupReport", "/report") or {}
            expect(
                PAYLOAD,
                report.get("orderIds") == [only["orderId"]] and report.get("studyUids") == [only["studyUid"]],
                f"/report of a group of one order names that order and its study: {report.get('orderIds')}, {report.get('studyUids')}",
                response,
            )


def test_group_report(radiology, token):
    group = radiology.example("study_group")
    if not group:
        pytest.skip("the target names no study group with a FINAL report (RADIOLOGY_STUDY_GROUP)")
    response = radiology.get("/report", token, params={"study_group": group, "report_type": "FINAL"})
    if expect(GROUP, response.status_code == 200, f"the study group {group} has its FINAL report", response):
        report = body_of(response, "GroupReport", "/report") or {}
        expect(
            GROUP,
            (report.get("studyGroup"), report.get("reportType")) in ((group, "FINAL"), (None, None)),
            f"/report returns the report asked for ({group} FINAL)",
            response,
        )
        for order in report.get("orderIds") or []:
            status = radiology.get("/status", token, params={"order_id": order})
            if expect(STATUS, status.status_code == 200, f"a member order of {group} ({order}) has a status", status):
                shown = body_of(status, "OrderStatus", f"/status of {order}") or {}
                member = shown.get("studyGroup") == group and shown.get("studyUid") in (report.get("studyUids") or [])
                expect(PAYLOAD, member, f"order {order} is a member of {group}", status)
    unknown = radiology.get("/report", token, params={"study_group": f"GRP-UNKNOWN-{uuid.uuid4().hex[:8]}", "report_type": "FINAL"})
    refused_with(unknown, 404, "not_found", NOT_FOUND, "an unknown study group")
