"""Ambra workflows: behaviour across calls, every reply checked against the data it returns.

login -> study/list paging until ``more`` is 0 -> study/get -> study/set -> get shows the change ->
study/delete -> get is NOT_FOUND; the add/get/set/list/delete lifecycle of other resources; every
filter condition and both sort directions against the data the list returns; ``fields``
selection; the 412 errors of lists (INVALID_SORT_FIELD, INVALID_SORT_ORDER, INVALID_FIELD,
INVALID_CONDITION) and MISSING_FIELDS naming every missing field; role permissions
(NOT_PERMITTED); logout and expiry invalidate a session (401); OAuth client-credentials tokens as
Bearer; HTTP basic authentication; /bundle (templates, HTTP_STATUS_CODE, inherit_sid, malformed
bundles); GET and POST are the same call.

Every check names its source: the lines of the vendor document it enforces (``Document``: a
command's block in specs/sources/ambra-v3-services-api.txt, or a general section, "Error handling",
"Filter clauses", "Pagination"..., in specs/sources/ambra-v3-services-api-preamble.txt), or the
medimock convention it follows where the document is silent (``Convention``: error hashes on a 401,
the page hash's ``count``, 100 studies a page...), which only warns unless the run is strict. Every
reply is also validated against the schema specs/ambra/openapi.yaml gives it: a field the command's
Returns lines name that is missing fails by the document, any other difference (types, enums) is the
``reply-schema`` convention.

The workflows change only what they create: the studies and objects they set and delete are their
own, added first and deleted in ``finally`` (also what the target wrongly accepted). On a target
whose account holds too few studies to tell filters apart, they add a dozen of their own first.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import requests

from medimock.ambra_contract import member_session
from medimock.suite import SetupStep, require, spec_schemas
from medimock.verdict import CitationError, Convention, Document, Source, expect, field, json_body, sources_dir

SPEC = spec_schemas("ambra")
UNKNOWN = "00000000-0000-4000-8000-000000000000"  # a uuid no target holds
MAX_PAGES = 500  # a paging walk that never ends is a failure, not a hang
PREAMBLE = "ambra-v3-services-api-preamble.txt"
DOCUMENT = "ambra-v3-services-api.txt"


# -- citing a command's block of the document ---------------------------------------------------------------------


@cache
def _document() -> tuple[str, ...]:
    return tuple(" ".join(line.split()) for line in (sources_dir() / DOCUMENT).read_text(encoding="utf-8").splitlines())


def _block_lines(path: str) -> range:
    """The lines of a command's block: from its ``URL <path>`` line to the ``top`` that ends it."""
    text = _document()
    start = next((index for index, line in enumerate(text) if line == f"URL {path}"), None)
    if start is None:
        raise CitationError(f"{DOCUMENT}: no command {path}")
    end = next((index for index in range(start, len(text)) if text[index] == "top"), len(text))
    return range(start, end)


def _line(index: int, lines: int = 1) -> Document:
    """A citation of line ``index`` (0-based), anchored on its whole text (with the occurrence that makes it unique)."""
    text = _document()
    occurrence = sum(1 for line in text[: index + 1] if text[index] in line)
    return Document(DOCUMENT, text[index], lines, occurrence=occurrence)


def block(path: str, anchor: str, lines: int = 1) -> Document:
    """The first line of command ``path``'s block that holds ``anchor`` (and the ``lines - 1`` after it)."""
    wanted = " ".join(anchor.split())
    for index in _block_lines(path):
        if wanted in _document()[index]:
            return _line(index, lines)
    raise CitationError(f"{DOCUMENT}: the block of {path} holds no line with {anchor!r}")


@cache
def returns(path: str) -> Source:
    """A command's ``Returns status • OK`` line: what a successful call of it answers."""
    try:
        return block(path, "Returns status • OK")
    except CitationError:
        return STATUS_FIELD


@cache
def returned_field(path: str, name: str) -> Document | None:
    """The Returns line of command ``path`` that names the field ``name`` (None: the block does not name it)."""
    try:
        lines = _block_lines(path)
    except CitationError:
        return None
    text, inside = _document(), False
    for index in lines:
        line = text[index]
        inside = inside or line.startswith("Returns ")
        if line.startswith(("Permission", "Errors", "Notes")):
            inside = False
        if inside and line.removeprefix("Returns ").startswith(f"{name} •"):
            return _line(index)
    return None


# -- what the document says: its general sections (the preamble) ------------------------------------------------
STATUS_FIELD = Document(PREAMBLE, "Every returned data structure has a status field that holds either OK or ERROR")
GET_OR_POST = Document(PREAMBLE, "A call is made to a URL using either a POST or a GET")
ERROR_CODES = Document(PREAMBLE, "Errors are flagged by an HTTP error code as follows", 4)  # 401, 405, 412: never a 5xx
AUTHORIZATION = Document(PREAMBLE, "401 Authorization required")
POST_ONLY = Document(PREAMBLE, "405 Method not allowed")
PRECONDITION = Document(PREAMBLE, "412 Precondition failed", 2)  # the json hash: status ERROR, error_type, error_subtype
FILTERS = Document(PREAMBLE, "A filter is one or more parameters of the format filter.FIELD.CONDITION")
CONDITIONS = {
    name: Document(PREAMBLE, anchor)
    for name, anchor in (
        ("equals", "equals - an exact match e.g."),
        ("equals_or_null", "equals_or_null - an exact match plus any null values"),
        ("not_equals", "not_equals - Not equals an exact match e.g."),
        ("not_equals_or_null", "not_equals_or_null - Not equals an exact match or is null"),
        ("like", "like - a wildcard match"),
        ("gt", "gt - a greater than match"),
        ("ge", "ge - a greater than or equal to match"),
        ("lt", "lt - a less than match"),
        ("le", "le - a less than or equal to match"),
        ("in", "in - match one of the items in the JSON array e.g."),
        ("in_or_null", "in_or_null - match one of the items in the JSON array or the null value"),
    )
}
FILTERS_AND = Document(PREAMBLE, "Multiple filters are AND'ed together")
INVALID_FIELD = Document(PREAMBLE, "INVALID_FIELD • The field is not valid for this object")
INVALID_CONDITION = Document(PREAMBLE, "INVALID_CONDITION • The condition is not support")
FIELDS = Document(PREAMBLE, "The returned fields for an object can be limited")
PAGINATION = Document(PREAMBLE, "If pagination is applied to the list command")  # page.rows, page.number, their defaults
PAGE_HASH = Document(PREAMBLE, "The command will return a hash called page", 4)  # more, rows, number

# -- the document's sorting and bundle sections, and the commands (ambra-v3-services-api.txt) ---------------------
SORT = Document(DOCUMENT, "If a list can be sorted it will support the sort_by parameter")
SORT_ORDER = Document.of(SORT, Document(DOCUMENT, "will sort the results by name in ascending order and then date in descending order."))
INVALID_SORT_FIELD = Document(DOCUMENT, "INVALID_SORT_FIELD • The field is not valid for this object")
INVALID_SORT_ORDER = Document(DOCUMENT, "INVALID_SORT_ORDER • The sort order for the field is invalid")
BUNDLE = Document(DOCUMENT, "You can bundle a series of calls into a single call")
BUNDLE_REPLIES = Document(DOCUMENT, "If the POST is malformed the server will return an HTTP_BAD_REQUEST")  # and HTTP_STATUS_CODE
TEMPLATES = Document.of(
    Document(DOCUMENT, "Within a bundled call you can use values from previous calls"),
    Document(DOCUMENT, "The templated values can use dot notation"),
)
INHERIT_SID = Document(DOCUMENT, "The templated values can use dot notation")  # the same line goes on with inherit_sid

LOGIN = block("/session/login", "Returns status • OK", 3)  # status, sid, uuid
LOGIN_REFUSED = block("/session/login", "INVALID_CREDENTIALS • Invalid user name or password.")
LOGIN_IS_POST = Document.of(POST_ONLY, block("/session/login", "The call must be a POST"))
SESSION_CAP = block("/session/login", "A user can have up to 10 active sessions")
SESSION_USER = Document.of(Document(DOCUMENT, "Get the user information for the session owner"), returns("/session/user"))
SESSION_EXPIRE = block("/session/user", "session_expire • The session expiration value in minutes")
TTL = block("/session/ttl", "ttl • Number of minutes the session has to live")
LOGOUT = Document.of(Document(DOCUMENT, "Description Log out a session"), AUTHORIZATION)
EXPIRY = Document.of(TTL, AUTHORIZATION)
OAUTH_EXPIRY = Document.of(block("/session/oauth/token", "expires_in • Number of seconds before the token expires"), AUTHORIZATION)
OTHER_AUTH = Document.of(block("/session/user", "sid • The session id (optional if basic authentication or an OAuth token"), AUTHORIZATION)
OAUTH = block("/session/oauth/token", "access_token • The access token", 4)  # access_token, created_at, expires_in, token_type
OAUTH_DURATION = block("/session/oauth/token", "duration • The number of seconds the token is valid for")
OAUTH_BEARER = Document.of(block("/session/oauth/token", "The access_token should be passed as the Bearer value"), AUTHORIZATION)
OAUTH_REFUSED = block("/session/oauth/token", "AUTH_FAILED • Authentication failed")
OAUTH_MISSING = block("/session/oauth/token", "MISSING_FIELDS")
PERMISSIONS = block("/session/permissions", "The permissions for the user in this account")
USER_ROLE = Document.of(
    Document(DOCUMENT, "The default roles are Admin, User, PHR and Anonymous"),
    Document(DOCUMENT, "group_edit 1 0 0 0"),
    Document(DOCUMENT, "webhook_view 0 0 0 0"),
    Document(DOCUMENT, "study_delete 0 0 1 0"),
    Document(DOCUMENT, "study_view 1 1 1 1"),
)

STUDY_ADD = block("/study/add", "uuid • The study uuid")
ALREADY_EXISTS = block("/study/add", "ALREADY_EXISTS • The study already exists")
STUDY_GET = block("/study/get", "Returns status • OK", 7)  # status, uuid, star, study_uid, phi_namespace..., storage_namespace
STUDY_BY_TRIPLET = block("/study/get", "The study uuid or the storage triplet")
STUDY_NOT_FOUND = block("/study/get", "NOT_FOUND • The study can not be found")
STUDY_SET = block("/study/set", "Returns status • OK")
STUDY_SET_NOT_FOUND = block("/study/set", "NOT_FOUND • The study can not be found")
STUDY_DELETE = block("/study/delete", "Returns status • OK")
STUDY_DELETE_NOT_FOUND = block("/study/delete", "NOT_FOUND • The study can not be found")
STUDY_DELETE_REFUSED = Document.of(block("/study/delete", "Permission study_delete"), block("/study/delete", "NOT_PERMITTED •"))
STUDY_LIST = block("/study/list", "studies • An array of the studies the user has")
STUDY_LIST_ORDER = block("/study/list", "The list is sorted by creation order from most recent to oldest")
STUDY_LIST_FIELDS = Document.of(block("/study/list", "fields • A JSON list of the study fields to return"), FIELDS)
STUDY_GET_FIELDS = Document.of(block("/study/get", "fields • A JSON list of the study fields to return"), FIELDS)
STUDY_COUNT = Document.of(
    block("/study/count", "count • The study count"), block("/study/count", "All filters from the /study/list call apply")
)
STUDY_EXISTS = block("/study/exists", "exists • Flag if the study exists")
GROUP_ADD_REFUSED = Document.of(block("/group/add", "Permission group_edit"), block("/group/add", "NOT_PERMITTED •"))
WEBHOOK_LIST_REFUSED = Document.of(block("/webhook/list", "Permission webhook_view"), block("/webhook/list", "NOT_PERMITTED •"))

# -- what medimock chose where the document is silent ----------------------------------------------------------------
ERROR_HASH = Convention(
    "error-hash",
    "the document gives the error hash (status ERROR, error_type) for HTTP 412 only; medimock answers its 401, 404, 405 "
    "and 413 with one too, where another server may send an empty or an HTML body",
)
NOT_FOUND_SUBTYPE = Convention(
    "not-found-subtype",
    "the get and delete commands document NOT_FOUND without an error_subtype; medimock names the parameter (uuid), "
    "as /study/add and the set commands document it for theirs",
)
PAGE_COUNT = Convention(
    "page-count",
    "the document's page hash holds more, rows and number; medimock adds count, the number of rows on the page, which the public SDK reads",
)
DEFAULT_ROWS = Convention(
    "page-rows-default", 'the document: "The default is 100 or 1000 depending on the object type"; medimock pages studies 100 at a time'
)
FULL_PAGES = Convention("full-pages", "the document does not say that a page with more=1 is full; medimock fills every page but the last")
PAGE_PAST_END = Convention(
    "page-past-end", "the document does not say what a page number past the last page returns; medimock answers an empty page, more=0"
)
SORT_NULLS = Convention(
    "sort-nulls", "the document does not say where objects without a value of the sort field go; medimock keeps them together"
)
LIKE_ASTERISK = Convention("like-asterisk", "the document's wildcard is % (filter.last.like=jack%); medimock also reads * as one")
PARAMETER_ERRORS = Convention(
    "parameter-errors",
    "the /study/list block lists neither INVALID_FLAG nor INVALID_INTEGER, and the preamble says flags are 0 or 1 and page.rows "
    "at most 5000 but not how other values are refused; medimock refuses them with those errors, naming the field in "
    "error_subtype, as /study/add and /customfield/set document them",
)
INVALID_JSON = Convention(
    "invalid-json",
    "the /study/list block names no error for fields that are not JSON; medimock answers INVALID_JSON naming the field, "
    "as the commands that document it do",
)
FORM_OVER_QUERY = Convention(
    "form-over-query",
    "the document does not say which wins when a POST carries a parameter in its query string and its body; medimock takes the body",
)
NEW_TOKEN = Convention(
    "oauth-new-token", "the document does not say whether asking for a token again returns a new one; medimock issues a new one each time"
)
SID_HEADER = Convention(
    "sid-header",
    "the document passes an inherited sid to the bundled calls in the X-AmbraHealth-SID header; that the bundle call "
    "itself takes its sid from that header is medimock's reading",
)
EMPTY_BUNDLE = Convention(
    "empty-bundle", "the document asks for a JSON array of hashes, and does not say whether an empty one is malformed; medimock refuses it"
)
REPLY_SCHEMA = Convention(
    "reply-schema",
    "the spec's reply schemas type what the document's Returns lines only name (integers, 0/1 flags, enums, nested "
    "shapes, error_type lists); medimock answers with those types",
)


# -- reading replies -------------------------------------------------------------------------------------------------

REQUIRED = re.compile(r"^\(root\): '([^']+)' is a required property$")


class Reply(dict[str, Any]):
    """A reply's hash, with the exchange it came in (``.response``), for the checks made on it later."""

    def __init__(self, body: dict[str, Any], response: requests.Response | None) -> None:
        super().__init__(body)
        self.response = response


class Listing(list[dict[str, Any]]):
    """The items of a list walked page by page, with the first page's exchange (``.response``)."""

    response: requests.Response | None = None


def quiet_json(response: requests.Response) -> Any:
    """A reply's JSON or None, for the suite's own bookkeeping (cleanup), which never checks anything."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def command_of(response: requests.Response, base_url: str) -> str:
    path = (response.request.path_url or "").split("?", 1)[0]
    prefix = requests.utils.urlparse(base_url).path.rstrip("/")
    return path[len(prefix) :] if path.startswith(prefix) else path


def conforms(ambra: Any, response: requests.Response, status: int, body: Any, what: str) -> None:
    """The reply matches the spec's schema for it: a field the command's Returns lines name that is missing fails
    by the document; any other difference (types, enums, medimock's additions) is the reply-schema convention."""
    command = command_of(response, ambra.base_url)
    problems = SPEC.reply_errors(command, str(response.request.method), status, body)
    other = []
    for problem in problems:
        match = REQUIRED.match(problem)
        documented = returned_field(command, match.group(1)) if match else None
        if documented is not None:
            expect(documented, False, f"{what}: the {status} reply of {command} has the documented field {match.group(1)!r}", response)
        else:
            other.append(problem)
    expect(REPLY_SCHEMA, not other, f"{what}: the {status} reply of {command} matches the spec's schema: {other[:8]}", response)


def success(ambra: Any, response: requests.Response, source: Source, what: str) -> Reply:
    """The hash of a reply that must be a success (HTTP 200, status OK), checked against its schema."""
    expect(source, response.status_code == 200, f"{what} succeeds (HTTP 200); it answered {response.status_code}", response)
    body = json_body(response, source, what)
    expect(STATUS_FIELD, isinstance(body, dict) and body.get("status") == "OK", f"{what}: a 200 reply is a hash with status OK", response)
    if isinstance(body, dict):
        conforms(ambra, response, 200, body, what)
        return Reply(body, response)
    return Reply({}, response)


def ok(ambra: Any, path: str, params: dict[str, Any] | None = None, what: str = "", source: Source | None = None, **kwargs: Any) -> Reply:
    return success(ambra, ambra.call(path, params, **kwargs), source or returns(path), what or path)


def refusal(ambra: Any, response: requests.Response, error_type: str, source: Source, what: str) -> Reply:
    """The hash of a reply that must be the 412 error ``error_type`` (``source``: where the command documents it)."""
    expect(
        ERROR_CODES,
        response.status_code < 500,
        f"{what} is refused with an error code the document flags errors with (401, 405, 412); it answered {response.status_code}",
        response,
    )
    status_source = source if isinstance(source, Convention) else Document.of(PRECONDITION, source)
    expect(
        status_source,
        response.status_code == 412,
        f"{what} is refused with HTTP 412 {error_type}; it answered {response.status_code}",
        response,
    )
    if response.status_code != 412:
        return Reply({}, response)
    body = json_body(response, PRECONDITION, what)
    if not expect(
        PRECONDITION,
        isinstance(body, dict) and body.get("status") == "ERROR" and isinstance(body.get("error_type"), str),
        f"{what}: a 412 is a hash with status ERROR and an error_type",
        response,
    ):
        return Reply({}, response)
    expect(source, body.get("error_type") == error_type, f"{what}: the error is {error_type}, not {body.get('error_type')!r}", response)
    conforms(ambra, response, 412, body, what)
    return Reply(body, response)


def error(ambra: Any, path: str, params: dict[str, Any] | None, error_type: str, source: Source, what: str = "", **kwargs: Any) -> Reply:
    response = ambra.call(path, params, **kwargs)
    discard(ambra, path, response)
    return refusal(ambra, response, error_type, source, what or f"{path} must fail with {error_type}")


def refused(ambra: Any, response: requests.Response, what: str, source: Source = AUTHORIZATION) -> None:
    """An invalid, expired or missing session: HTTP 401 (the document), with an Ambra error hash (medimock's convention)."""
    if not expect(source, response.status_code == 401, f"{what} is refused with HTTP 401; it answered {response.status_code}", response):
        return
    body = json_body(response, ERROR_HASH, f"{what}: the 401")
    if body is not None:
        expect(ERROR_HASH, isinstance(body, dict) and body.get("status") == "ERROR", f"{what}: a 401 is an error hash", response)


def discard(ambra: Any, path: str, response: requests.Response) -> None:
    """Delete what an add that had to be refused created all the same (nothing is left behind)."""
    body = quiet_json(response) if response.status_code == 200 and path.endswith("/add") else None
    if isinstance(body, dict) and isinstance(body.get("uuid"), str):
        ambra.call(path[: -len("add")] + "delete", {"uuid": body["uuid"]})


def walk(ambra: Any, path: str, collection: str, params: dict[str, Any], rows: int, **kwargs: Any) -> tuple[Listing, int]:
    """Every item of a list, page by page until ``more`` is 0, checking each page hash; (items, pages)."""
    items = Listing()
    for number in range(1, MAX_PAGES + 1):
        response = ambra.call(path, {**params, "page.rows": rows, "page.number": number}, **kwargs)
        items.response = items.response or response
        body = success(ambra, response, returns(path), f"{path} page {number}")
        page, found = body.get("page"), body.get(collection)
        expect(PAGE_HASH, isinstance(page, dict), f"{path} returns a page hash: {str(body)[:300]}", response)
        expect(returns(path), isinstance(found, list), f"{path} returns the list {collection}: {str(body)[:300]}", response)
        page, found = page if isinstance(page, dict) else {}, found if isinstance(found, list) else []
        expect(
            PAGE_HASH, (page.get("rows"), page.get("number")) == (rows, number), f"the page hash names the page asked for: {page}", response
        )
        count = field(page, "count", PAGE_COUNT, response, f"the page hash of {path} page {number}")
        expect(
            PAGE_COUNT,
            count is None or count == len(found),
            f"page {number}: count {count!r} is the number of rows returned ({len(found)})",
            response,
        )
        expect(PAGINATION, len(found) <= rows, f"page {number} holds at most page.rows={rows} rows, not {len(found)}", response)
        items += [item for item in found if isinstance(item, dict)]
        more = page.get("more")
        expect(PAGE_HASH, more in (0, 1), f"page {number}: more is the flag 0 or 1, not {more!r}", response)
        if more != 1:
            return items, number
        expect(FULL_PAGES, len(found) == rows, f"page {number} says more=1: it is full ({len(found)} of {rows})", response)
    expect(PAGE_HASH, False, f"{path}: still more=1 after {MAX_PAGES} pages", items.response)
    return items, MAX_PAGES


def number(value: Any) -> float:
    """A numeric field as a number to sort by (0 when it is not one: the reply-schema check reports that)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def list_all(ambra: Any, path: str, collection: str, params: dict[str, Any]) -> Listing:
    """Every item of a list, paged or not (not every list command takes page.rows)."""
    command = SPEC.document["paths"][path]["post"]
    properties = command["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    if "page.rows" in properties:
        return walk(ambra, path, collection, params, 5000)[0]
    reply = ok(ambra, path, params)
    found = reply.get(collection)
    expect(returns(path), isinstance(found, list), f"{path} returns the list {collection}", reply.response)
    items = Listing(item for item in found or [] if isinstance(item, dict))
    items.response = reply.response
    return items


def uuids(items: list[dict[str, Any]]) -> list[Any]:
    return [item.get("uuid") for item in items]


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def account(ambra: Any) -> str:
    return str(ambra.account_id())


@pytest.fixture(scope="module")
def namespace(ambra: Any) -> str:
    return str(ambra.namespace_id())


@pytest.fixture(scope="module")
def admin_may(ambra: Any, account: str) -> Callable[..., None]:
    """``admin_may("study_delete", ...)`` skips the test when the administrator lacks those permissions.

    The document's default Admin role has study_delete, webhook_view and webhook_edit off; a sysadmin (as
    medimock's seeded administrator is) may do everything. Tests that would create what they cannot delete skip.
    """
    me = quiet_json(ambra.call("/session/user")) or {}
    permissions = quiet_json(ambra.call("/session/permissions", {"account_id": account})) or {}

    def check(*flags: str) -> None:
        if me.get("sysadmin") == 1:
            return
        missing = [flag for flag in flags if permissions.get(flag) != 1]
        if missing:
            pytest.skip(f"the administrator (AMBRA_LOGIN) lacks {', '.join(missing)} in account {account}: give it a role with them")

    return check


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
    body = ok(ambra, "/study/add", params, "adding a study of the suite's own", STUDY_ADD)
    expect(STUDY_ADD, isinstance(body.get("uuid"), str), f"/study/add answers the new study's uuid: {body}", body.response)
    return str(body.get("uuid"))


def other_sid(ambra: Any) -> tuple[str, str]:
    """A fresh session of a user other than the administrator when the target names one (sessions are capped per user:
    "A user can have up to 10 active sessions")."""
    creds = ambra.credentials
    for login, password in ((creds.get("user_login"), creds.get("user_password")), (creds.get("phr_login"), creds.get("phr_password"))):
        if login and password:
            return ambra.login(login, password), str(login)
    return ambra.login(ambra.login_name, ambra.password), ambra.login_name


# the suite's own studies, added when the account's do not tell the filters apart:
# (modality, referring_physician or None, patient_name, image_count, study_date)
OWN_STUDIES = [
    ("CT", "SMITH^JOHN", "ADAMS^AMY", 1, "20230105"),
    ("CT", "SMITH^JOHN", "BAKER^BEN", 3, "20230212"),
    ("CT", "JONES^ANN", "CARTER^CORA", 5, "20230321"),
    ("CT", None, "DAVIS^DAN", 7, "20230430"),
    ("CT", "SMITH^JOHN", "EVANS^ELLA", 9, "20230515"),
    ("CT", "JONES^ANN", "FOSTER^FRED", 11, "20230622"),
    ("MR", "SMITH^JOHN", "GRANT^GINA", 13, "20230703"),
    ("MR", None, "HUGHES^HAL", 15, "20230818"),
    ("MR", "JONES^ANN", "IRWIN^IDA", 17, "20230909"),
    ("MR", "SMITH^JOHN", "JAMES^JOE", 19, "20231010"),
    ("US", None, "KELLY^KIM", 21, "20231111"),
    ("US", "JONES^ANN", "LEWIS^LEO", 23, "20231212"),
]


def namespace_studies(ambra: Any, namespace: str) -> list[dict[str, Any]]:
    return walk(ambra, "/study/list", "studies", {"filter.phi_namespace.equals": namespace}, 5000)[0]


def discriminating(studies: list[dict[str, Any]]) -> list[str]:
    """The filter cases that keep some of ``studies`` and drop others (the data tells them apart)."""
    found = []
    for name, condition, wanted, _ in filter_cases(studies):
        kept = [s for s in studies if matches(s.get(name), condition, wanted)]
        if 0 < len(kept) < len(studies):
            found.append(f"{name}.{condition}")
    return found


@pytest.fixture(scope="module")
def _studies(ambra: Any, namespace: str, admin_may: Callable[..., None]) -> Iterator[SetupStep]:
    created: list[str] = []

    def make() -> list[dict[str, Any]]:
        found = namespace_studies(ambra, namespace)
        if len(found) >= 10 and len(discriminating(found)) >= 12:
            return found
        admin_may("study_upload", "study_delete")
        for modality, physician, name, images, date in OWN_STUDIES:
            fields = {"modality": modality, "patient_name": name, "image_count": images, "study_date": date}
            created.append(new_study(ambra, namespace, **fields, **({"referring_physician": physician} if physician else {})))
        found = namespace_studies(ambra, namespace)
        if len(discriminating(found)) < 12:
            pytest.skip(f"the account namespace's studies tell only {discriminating(found)} filter conditions apart")
        return found

    yield SetupStep("studies: the account namespace's studies, varied enough to tell filters apart (POST /study/list)", make)
    for study in created:
        ambra.call("/study/delete", {"uuid": study})


@pytest.fixture
def studies(_studies: SetupStep, request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Every study of the administrator's account namespace, as the list shows them (at least ten, varied)."""
    return list(_studies.get(request))


# -- sessions ----------------------------------------------------------------------------------------


def test_login_session_user_and_ttl(ambra):
    response = ambra.session.post(ambra.url("/session/login"), data={"login": ambra.login_name, "password": ambra.password}, timeout=60)
    session = success(ambra, response, LOGIN, "/session/login")
    sid = field(session, "sid", LOGIN, response)
    ambra.register_sid(str(sid), ambra.login_name)
    try:
        user = ok(ambra, "/session/user", sid=sid)
        expect(SESSION_USER, user.get("uuid") == session.get("uuid"), "/session/user is the user who logged in", user.response)
        mine = ok(ambra, "/session/user")
        expect(SESSION_USER, mine.get("uuid") == user.get("uuid"), "the suite's session is the same user's", mine.response)
        lives = ok(ambra, "/session/ttl", sid=sid)
        ttl, expire = lives.get("ttl"), user.get("session_expire")
        expect(TTL, isinstance(ttl, int) and ttl > 0, f"a fresh session has time to live: {ttl!r}", lives.response)
        if isinstance(expire, int) and expire > 0 and isinstance(ttl, int):
            expect(
                Document.of(TTL, SESSION_EXPIRE),
                expire - 2 <= ttl <= expire,
                f"a fresh session lives session_expire ({expire}) minutes, /session/ttl says {ttl}",
                lives.response,
            )
        wrong = {"login": ambra.login_name, "password": ambra.password + "x"}
        refusal_body = error(ambra, "/session/login", wrong, "INVALID_CREDENTIALS", LOGIN_REFUSED, "a wrong password", sid=None)
        expect(LOGIN_REFUSED, "sid" not in refusal_body, "a refused login hands out no sid", refusal_body.response)
    finally:
        ambra.call("/session/logout", sid=sid)


def test_logout_invalidates_the_sid(ambra):
    sid, login = other_sid(ambra)
    second, _ = other_sid(ambra)
    try:
        lives = ok(ambra, "/session/ttl", sid=sid)
        expect(TTL, isinstance(lives.get("ttl"), int) and lives["ttl"] > 0, f"a fresh session has time to live: {lives}", lives.response)
        ok(ambra, "/session/logout", sid=sid)
        for path in ("/session/user", "/session/ttl", "/study/list", "/study/count"):
            refused(ambra, ambra.call(path, sid=sid), f"{path} with the sid of {login} after /session/logout", LOGOUT)
            refused(ambra, ambra.call(path, method="GET", sid=sid), f"GET {path} with a logged-out sid", LOGOUT)
        still = ok(ambra, "/session/ttl", sid=second)
        expect(LOGOUT, isinstance(still.get("ttl"), int), "logout ends that session only, not the user's other sessions", still.response)
    finally:
        ambra.call("/session/logout", sid=sid)
        ambra.call("/session/logout", sid=second)


def test_eleventh_session_drops_the_oldest(ambra):
    """The document: "A user can have up to 10 active sessions. Old sessions are dropped first." Tried with a user other
    than the administrator, whose session the suite keeps for its whole run."""
    creds = ambra.credentials
    users = [(creds.get(f"{kind}_login"), creds.get(f"{kind}_password")) for kind in ("phr", "user")]
    login, password = next(((name, secret) for name, secret in users if name and secret), (None, None))
    if not (login and password):
        pytest.skip("the target names no user besides the administrator (AMBRA_PHR_LOGIN or AMBRA_USER_LOGIN)")
    sids: list[str] = []
    try:
        for _ in range(11):
            sids.append(ambra.login(login, password))
        dropped = Document.of(SESSION_CAP, AUTHORIZATION)
        refused(ambra, ambra.call("/session/ttl", sid=sids[0]), f"the oldest of eleven sessions of {login}", dropped)
        for index, sid in enumerate(sids[1:], 2):
            ok(ambra, "/session/ttl", sid=sid, source=SESSION_CAP, what=f"session {index} of 11 of {login}")
    finally:
        for sid in sids:
            ambra.call("/session/logout", sid=sid)


@pytest.mark.parametrize("sid", [None, "", "not-a-session", UNKNOWN])
def test_missing_or_unknown_sid_is_401(ambra, sid):
    calls = [("/study/list", {}), ("/session/user", {}), ("/group/list", {"account_id": UNKNOWN})]
    if sid:  # /study/get takes (sid || node_id && serial_no): without a sid it is MISSING_FIELDS, with a bad one a 401
        calls.append(("/study/get", {"uuid": UNKNOWN}))
    else:
        missing = block("/study/get", "MISSING_FIELDS")
        body = error(ambra, "/study/get", {"uuid": UNKNOWN}, "MISSING_FIELDS", missing, "/study/get with neither a sid nor a node", sid=sid)
        subtype = body.get("error_subtype")
        named = not body or (isinstance(subtype, list) and "sid" in subtype)
        expect(missing, named, f"the missing alternative is named: {subtype!r}", body.response)
    for path, params in calls:
        for method in ("POST", "GET"):
            refused(ambra, ambra.call(path, params, method=method, sid=sid), f"{method} {path} with sid={sid!r}")


def oauth_form(target: Any) -> dict[str, str]:
    creds = require(target, "ambra", "oauth_client_id", "oauth_client_secret")
    return {"grant_type": "client_credentials", "client_id": creds["oauth_client_id"], "client_secret": creds["oauth_client_secret"]}


def token_of(ambra: Any, body: Reply) -> str:
    token = body.get("access_token")
    expect(OAUTH, isinstance(token, str) and bool(token), f"the token reply holds an access_token: {body}", body.response)
    ambra.register_token(token)
    return str(token)


@dataclass
class ShortToken:
    """A Bearer token asked for 2 seconds: the token reply, its headers, when it was issued, and the first call with it."""

    body: Reply
    bearer: dict[str, str]
    issued: float
    first_call: requests.Response
    at_once: bool  # the first call was made within 1.5 s of the issue


@pytest.fixture(scope="module")
def short_token(ambra, target) -> ShortToken:
    """Asked for by one of the module's first tests, so that the token's expiry is checked by its last test without
    waiting (on the lane that decides how long a run takes)."""
    body = ok(ambra, "/session/oauth/token", {**oauth_form(target), "duration": 2}, "a token for 2 seconds", sid=None)
    bearer = {"Authorization": f"Bearer {token_of(ambra, body)}"}
    issued = time.monotonic()
    first_call = ambra.call("/session/user", sid=None, headers=bearer)
    return ShortToken(body, bearer, issued, first_call, time.monotonic() - issued < 1.5)


def test_a_short_oauth_token_works_at_once(ambra, short_token):
    """A token lives the duration asked for and works at once (its expiry: the module's last test)."""
    body = short_token.body
    expect(OAUTH_DURATION, body.get("expires_in") == 2, f"the token lives the duration asked for: {body}", body.response)
    if short_token.at_once:
        success(ambra, short_token.first_call, OAUTH_BEARER, "a 2-second token works at once")


EXPIRE_ROUTE = "POST /__mock__/ambra/sessions/expire"
MOCK_CONTROL = Convention(
    "mock-control",
    "medimock's control API (expiring a session now) is not the vendor's; a target that lists the route in "
    "/__mock__/health expires a session that is live",
)


def control_routes(target: Any) -> list[str]:
    """The routes the target's medimock control API lists in /__mock__/health (none when it lists none)."""
    try:
        health = quiet_json(requests.get(target.control("/health"), timeout=10))
    except requests.RequestException:
        return []
    routes = health.get("control") if isinstance(health, dict) else None
    return [str(route) for route in routes] if isinstance(routes, list) else []


def test_expired_session_is_refused(ambra, target):
    sid, login = other_sid(ambra)
    try:
        lives = ok(ambra, "/session/ttl", sid=sid)
        ttl, expire = lives.get("ttl"), ok(ambra, "/session/user", sid=sid).get("session_expire")
        if isinstance(expire, int) and expire > 0:
            at_most = isinstance(ttl, int) and 0 < ttl <= expire
            what = f"/session/ttl ({ttl!r} minutes) is at most the session_expire of the user's accounts ({expire})"
            expect(Document.of(TTL, SESSION_EXPIRE), at_most, what, lives.response)
        if not target.control_url:
            pytest.skip(f"sessions live {ttl} minutes and the target has no medimock control API to expire one now")
        expired = requests.post(target.control("/ambra/sessions/expire"), json={"sid": sid}, timeout=10)
        if expired.status_code != 200:
            if EXPIRE_ROUTE in control_routes(target):  # medimock's own route refused a session that just answered
                expect(MOCK_CONTROL, False, f"{EXPIRE_ROUTE} expires the live session of {login}: {expired.status_code}", expired)
            pytest.skip(f"the medimock control API did not expire the session: {expired.status_code} {expired.text[:200]}")
        for path in ("/session/user", "/session/ttl", "/study/list"):
            refused(ambra, ambra.call(path, sid=sid), f"{path} with the expired session of {login}", EXPIRY)
        refused(ambra, ambra.call("/study/list", method="GET", sid=sid), "GET /study/list with an expired session", EXPIRY)
    finally:
        ambra.call("/session/logout", sid=sid)


def test_oauth_client_credentials_token_as_bearer(ambra, target):
    form = oauth_form(target)
    body = ok(ambra, "/session/oauth/token", form, "client credentials", sid=None)
    token = token_of(ambra, body)
    expect(OAUTH, str(body.get("token_type", "")).lower() == "bearer", f"a bearer token: {body}", body.response)
    expires_in = body.get("expires_in")
    expect(OAUTH_DURATION, isinstance(expires_in, int) and 0 < expires_in <= 86400, f"expires_in: {expires_in!r}", body.response)
    bearer = {"Authorization": f"Bearer {token}"}
    me = ok(ambra, "/session/user", sid=None, headers=bearer, source=OAUTH_BEARER)
    if form["client_id"].lower() == ambra.login_name.lower():
        expect(
            OAUTH_BEARER, me.get("uuid") == ok(ambra, "/session/user").get("uuid"), "the token stands for the client's user", me.response
        )
    listed = ok(ambra, "/study/list", {"page.rows": 2}, "/study/list with a Bearer token", OAUTH_BEARER, sid=None, headers=bearer)
    studies = listed.get("studies") if isinstance(listed.get("studies"), list) else []
    expect(PAGINATION, len(studies) <= 2, f"page.rows=2 lists at most 2 studies, not {len(studies)}", listed.response)
    if studies and isinstance(studies[0], dict):
        uuid_ = studies[0].get("uuid")
        for method in ("POST", "GET"):
            got = ok(
                ambra,
                "/study/get",
                {"uuid": uuid_},
                f"{method} /study/get with a Bearer token",
                OAUTH_BEARER,
                method=method,
                sid=None,
                headers=bearer,
            )
            expect(OAUTH_BEARER, got.get("uuid") == uuid_, f"{method} /study/get with a Bearer token gets the study listed", got.response)
    second = ok(ambra, "/session/oauth/token", form, "a second token", sid=None)
    expect(NEW_TOKEN, token_of(ambra, second) != token, "every token request issues a new token", second.response)
    wrong = {**form, "client_secret": "wrong-" + uuid.uuid4().hex}
    error(ambra, "/session/oauth/token", wrong, "AUTH_FAILED", OAUTH_REFUSED, "a wrong client_secret", sid=None)
    missing = error(ambra, "/session/oauth/token", {"grant_type": "client_credentials"}, "MISSING_FIELDS", OAUTH_MISSING, sid=None)
    subtype = missing.get("error_subtype")
    expect(
        OAUTH_MISSING,
        not missing or (isinstance(subtype, list) and set(subtype) == {"client_id", "client_secret"}),
        f"MISSING_FIELDS names both missing fields: {subtype!r}",
        missing.response,
    )
    unknown = {"Authorization": f"Bearer unknown-{uuid.uuid4().hex}"}
    refused(ambra, ambra.call("/session/user", sid=None, headers=unknown), "an unknown token", OAUTH_BEARER)


def test_http_basic_authentication(ambra):
    def basic(login: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}

    good = basic(ambra.login_name, ambra.password)
    me = ok(ambra, "/session/user", sid=None, headers=good, source=OTHER_AUTH, what="/session/user with basic authentication")
    expect(OTHER_AUTH, me.get("uuid") == ok(ambra, "/session/user").get("uuid"), "basic authentication is the user it names", me.response)
    by_get = ok(ambra, "/session/user", method="GET", sid=None, headers=good, source=OTHER_AUTH, what="GET /session/user, basic")
    expect(OTHER_AUTH, by_get.get("uuid") == me.get("uuid"), "GET with basic authentication is the same user", by_get.response)
    count = ok(ambra, "/study/count", sid=None, headers=good, source=OTHER_AUTH, what="/study/count with basic authentication")
    expect(
        OTHER_AUTH,
        count.get("count") == ok(ambra, "/study/count").get("count"),
        "basic authentication sees what a session of the same user sees",
        count.response,
    )
    for bad in (basic(ambra.login_name, ambra.password + "x"), basic("nobody-" + uuid.uuid4().hex, "x"), {"Authorization": "Basic !!!"}):
        refused(ambra, ambra.call("/study/list", sid=None, headers=bad), f"/study/list with {bad['Authorization'][:12]}...")


# -- studies -----------------------------------------------------------------------------------------


def test_study_list_paging_walk(ambra, namespace, studies):
    params = {"filter.phi_namespace.equals": namespace}
    counted = ok(ambra, "/study/count", params, source=STUDY_COUNT)
    total = counted.get("count")
    expect(STUDY_COUNT, isinstance(total, int) and total > 0, f"the namespace holds studies to page through: {total!r}", counted.response)
    total = total if isinstance(total, int) and total > 0 else len(studies)
    rows = max(1, min(5000, -(-total // 7)))  # about seven pages
    items, pages = walk(ambra, "/study/list", "studies", params, rows)
    listed, walked, shown = uuids(items), Document.of(PAGE_HASH, STUDY_COUNT), items.response
    expect(walked, len(listed) == len(set(listed)), f"no study appears on two pages: {len(listed) - len(set(listed))} duplicates", shown)
    expect(walked, len(listed) == total, f"walking the pages until more=0 finds /study/count's {total} studies, not {len(listed)}", shown)
    expect(FULL_PAGES, pages == -(-total // rows), f"{total} studies at {rows} a page are {-(-total // rows)} pages, not {pages}", shown)
    expect(FILTERS, all(s.get("phi_namespace") == namespace for s in items), "every study matches the filter", shown)
    past = ok(ambra, "/study/list", {**params, "page.rows": rows, "page.number": pages + 3})
    past_page = past.get("page") if isinstance(past.get("page"), dict) else {}
    expect(
        PAGE_PAST_END, past.get("studies") == [] and past_page.get("more") == 0, f"a page past the end is empty: {past_page}", past.response
    )
    furthest = ambra.call("/study/list", {**params, "page.rows": rows, "page.number": 2**31 - 1})
    far = quiet_json(furthest) if furthest.status_code == 200 else None
    far_page = far.get("page") if isinstance(far, dict) and isinstance(far.get("page"), dict) else {}
    empty = isinstance(far, dict) and far.get("studies") == [] and far_page.get("more") == 0
    expect(PAGE_PAST_END, empty, f"page.number {2**31 - 1} (the largest 32-bit integer) is a page past the end too: {far_page}", furthest)
    default = ok(ambra, "/study/list", params)
    first = default.get("page") if isinstance(default.get("page"), dict) else {}
    defaults = first.get("rows") in (100, 1000) and first.get("number") == 1
    expect(PAGINATION, defaults, f"page.rows defaults to 100 or 1000, page.number to 1: {first}", default.response)
    expect(DEFAULT_ROWS, first.get("rows") == 100, f"page.rows defaults to 100 studies: {first}", default.response)
    default_rows = first.get("rows") if isinstance(first.get("rows"), int) else 100
    more = first.get("more") == (1 if total > default_rows else 0)
    expect(PAGE_HASH, more, f"{total} studies: more on the first default page is {first.get('more')}", default.response)
    recent = ok(ambra, "/study/list", {**params, "page.rows": min(total, 50)})
    created = [s.get("created") for s in recent.get("studies") or [] if isinstance(s, dict)]
    if created and all(created):
        in_order = created == sorted(created, reverse=True)
        expect(STUDY_LIST_ORDER, in_order, "the list is sorted by creation, most recent first", recent.response)


def test_study_lifecycle(ambra, namespace, admin_may):
    listed = ok(ambra, "/study/list", {"page.rows": 3, "filter.phi_namespace.equals": namespace}).get("studies") or []
    for item in [i for i in listed if isinstance(i, dict)]:  # a listed study is what /study/get returns
        got = ok(ambra, "/study/get", {"uuid": item.get("uuid")})
        differing = {k: (v, got.get(k)) for k, v in item.items() if k in got and got[k] != v}
        expect(STUDY_LIST, not differing, f"/study/get {item.get('uuid')} returns the fields /study/list showed: {differing}", got.response)
    admin_may("study_upload", "study_delete")
    # the namespace's studies, and the caller's CT studies (the new study is one): both count it, then no longer
    scopes = ({"filter.phi_namespace.equals": namespace}, {"filter.modality.equals": "CT"})
    before = [ok(ambra, "/study/count", scope, source=STUDY_COUNT).get("count") for scope in scopes]

    def counts(more: int, what: str) -> None:
        for scope, was in zip(scopes, before, strict=True):
            counted = ok(ambra, "/study/count", scope, source=STUDY_COUNT)
            right = isinstance(was, int) and counted.get("count") == was + more
            expect(STUDY_COUNT, right, f"/study/count {scope} {what}: {was!r} -> {counted.get('count')!r}", counted.response)

    study_uid = f"2.25.{uuid.uuid4().int}"
    study = new_study(ambra, namespace, study_uid=study_uid, patient_name="DOE^JANE", image_count="12")
    try:
        counts(1, "counts the added study")
        got = ok(ambra, "/study/get", {"uuid": study})
        expected = {"uuid": study, "study_uid": study_uid, "phi_namespace": namespace, "storage_namespace": namespace,
                    "patient_name": "DOE^JANE", "modality": "CT", "image_count": "12"}  # fmt: skip
        shown = {k: None if got.get(k) is None else str(got.get(k)) for k in expected}
        expect(STUDY_GET, shown == expected, f"the study comes back as added: {shown}", got.response)
        triplet = {"study_uid": study_uid, "storage_namespace": namespace, "phi_namespace": namespace}
        by_uid = ok(ambra, "/study/get", triplet, source=STUDY_BY_TRIPLET)
        expect(STUDY_BY_TRIPLET, by_uid.get("uuid") == study, "a study is found by its storage triplet too", by_uid.response)
        found = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})
        matched = uuids(found.get("studies") or [])
        expect(CONDITIONS["equals"], matched == [study], f"the list filtered by study_uid finds the new study: {matched}", found.response)
        duplicate = error(ambra, "/study/add", triplet, "ALREADY_EXISTS", ALREADY_EXISTS)
        names_it = not duplicate or duplicate.get("error_subtype") == study
        expect(ALREADY_EXISTS, names_it, f"ALREADY_EXISTS names the existing study: {duplicate}", duplicate.response)

        ok(ambra, "/study/set", {"study_id": study, "patient_name": "DOE^JANET", "study_description": "CT HEAD UPDATED"})
        changed = ok(ambra, "/study/get", {"uuid": study})
        seen = (changed.get("patient_name"), changed.get("study_description"))
        expect(STUDY_SET, seen == ("DOE^JANET", "CT HEAD UPDATED"), f"/study/set is seen by /study/get: {seen}", changed.response)
        kept = changed.get("study_uid") == study_uid and changed.get("modality") == "CT"
        expect(STUDY_SET, kept, "fields not set are kept", changed.response)
        again = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})
        names = [s.get("patient_name") for s in again.get("studies") or [] if isinstance(s, dict)]
        expect(STUDY_SET, names == ["DOE^JANET"], f"the list shows the change too: {names}", again.response)
        exists = ok(ambra, "/study/exists", {"uuid": study})
        expect(
            STUDY_EXISTS, exists.get("exists") == 1, f"/study/exists says 1 for the study, not {exists.get('exists')!r}", exists.response
        )

        ok(ambra, "/study/delete", {"uuid": study})
        gone = error(ambra, "/study/get", {"uuid": study}, "NOT_FOUND", STUDY_NOT_FOUND, "a deleted study")
        counts(0, "no longer counts the deleted study")
        expect(NOT_FOUND_SUBTYPE, not gone or gone.get("error_subtype") == "uuid", f"NOT_FOUND names the parameter: {gone}", gone.response)
        error(ambra, "/study/delete", {"uuid": study}, "NOT_FOUND", STUDY_DELETE_NOT_FOUND, "deleting a study twice")
        error(ambra, "/study/set", {"study_id": study, "patient_name": "X"}, "NOT_FOUND", STUDY_SET_NOT_FOUND, "setting a deleted study")
        after = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid})
        expect(STUDY_DELETE, after.get("studies") == [], "a deleted study is not listed", after.response)
        exists = ok(ambra, "/study/exists", {"uuid": study})
        expect(
            STUDY_EXISTS, exists.get("exists") == 0, f"/study/exists says 0 after the delete, not {exists.get('exists')!r}", exists.response
        )
    finally:
        ambra.call("/study/delete", {"uuid": study})


# the resources of the generic lifecycle: (add parameters beyond account_id and name, the field set changes)
RESOURCES = {
    "group": ({}, "name"),
    "location": ({}, "name"),
    "customfield": ({"object": "Study", "type": "text"}, "name"),
    "webhook": ({"event": "STUDY_UPLOAD", "url": "http://127.0.0.1:9/contract", "method": "POST_JSON"}, "name"),
}
COLLECTIONS = {"group": "groups", "location": "locations", "customfield": "customfields", "webhook": "webhooks"}
PERMITS = {"group": ("group_view", "group_edit"), "location": ("location_view", "location_edit"),
           "customfield": ("customfield_view", "customfield_edit"), "webhook": ("webhook_view", "webhook_edit")}  # fmt: skip


def lifecycle_sources(resource: str) -> dict[str, Document]:
    """What the document says of each step of a resource's lifecycle (its five command blocks)."""
    return {
        "add": block(f"/{resource}/add", "uuid •"),
        "get": block(f"/{resource}/get", "Returns status • OK", 3),  # status, uuid, name
        "set": Document.of(block(f"/{resource}/set", "Returns status • OK"), block(f"/{resource}/get", "Returns status • OK", 3)),
        "list": Document.of(block(f"/{resource}/list", "Returns status • OK"), block(f"/{resource}/list", f"{COLLECTIONS[resource]} •")),
        "delete": block(f"/{resource}/delete", "Returns status • OK"),
        "get_not_found": block(f"/{resource}/get", "NOT_FOUND •"),
        "delete_not_found": block(f"/{resource}/delete", "NOT_FOUND •"),
        "set_not_found": block(f"/{resource}/set", "NOT_FOUND •"),
    }


LIFECYCLE = {resource: lifecycle_sources(resource) for resource in RESOURCES}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_resource_lifecycle(ambra, account, resource, admin_may):
    admin_may(*PERMITS[resource])
    extra, name_field = RESOURCES[resource]
    cite, collection = LIFECYCLE[resource], COLLECTIONS[resource]
    name = f"Contract {resource} {uuid.uuid4().hex[:8]}"

    def listed() -> tuple[list[dict[str, Any]], Any]:
        everything = list_all(ambra, f"/{resource}/list", collection, {"account_id": account})
        return [x for x in everything if x.get("uuid") == item], everything.response

    added = ok(ambra, f"/{resource}/add", {"account_id": account, "name": name, **extra}, source=cite["add"])
    item = added.get("uuid")
    expect(cite["add"], isinstance(item, str), f"/{resource}/add answers the new uuid: {added}", added.response)
    try:
        got = ok(ambra, f"/{resource}/get", {"uuid": item}, source=cite["get"])
        same = got.get("uuid") == item and got.get("name") == name
        expect(cite["get"], same, f"/{resource}/get returns what was added: {got}", got.response)
        for key, value in extra.items():
            expect(cite["get"], str(got.get(key)) == value, f"/{resource}/get keeps {key}={value}: {got.get(key)!r}", got.response)
        found, response = listed()
        once = len(found) == 1 and found[0].get("name") == name
        expect(cite["list"], once, f"/{resource}/list holds the new {resource} once: {found}", response)

        renamed = name + " renamed"
        ok(ambra, f"/{resource}/set", {"uuid": item, name_field: renamed}, source=cite["set"])
        again = ok(ambra, f"/{resource}/get", {"uuid": item}, source=cite["get"])
        seen = again.get(name_field) == renamed
        expect(cite["set"], seen, f"/{resource}/set is seen by /{resource}/get: {again.get(name_field)!r}", again.response)
        found, response = listed()
        expect(cite["list"], [x.get(name_field) for x in found] == [renamed], f"/{resource}/list shows the change: {found}", response)

        ok(ambra, f"/{resource}/delete", {"uuid": item}, source=cite["delete"])
        gone = error(ambra, f"/{resource}/get", {"uuid": item}, "NOT_FOUND", cite["get_not_found"], f"a deleted {resource}")
        expect(NOT_FOUND_SUBTYPE, not gone or gone.get("error_subtype") == "uuid", f"NOT_FOUND names the parameter: {gone}", gone.response)
        error(ambra, f"/{resource}/delete", {"uuid": item}, "NOT_FOUND", cite["delete_not_found"], f"deleting a {resource} twice")
        changed = {"uuid": item, name_field: "x"}
        error(ambra, f"/{resource}/set", changed, "NOT_FOUND", cite["set_not_found"], f"setting a deleted {resource}")
        found, response = listed()
        expect(cite["delete"], not found, f"a deleted {resource} is not listed", response)
    finally:
        ambra.call(f"/{resource}/delete", {"uuid": item})


# -- filters, sorts, fields ------------------------------------------------------------------------------


def like(value: Any, pattern: str, asterisk: bool, fold: bool) -> bool:
    """SQL's LIKE (``%`` any run, ``_`` one character), ``*`` as ``%`` too when ``asterisk``; case-folded when ``fold``."""
    if value is None:
        return False
    text, pattern = (str(value).lower(), pattern.lower()) if fold else (str(value), pattern)
    regex = "".join(".*" if c == "%" or (asterisk and c == "*") else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def matches(value: Any, condition: str, wanted: Any, fold: bool = True) -> bool:
    """What ``filter.FIELD.CONDITION=wanted`` keeps, as the document defines the conditions.

    ``like`` is case-insensitive with ``fold`` (the most a server may keep) and case-sensitive without it
    (the least): the document does not say which.
    """
    if condition == "equals":
        return value is not None and value == wanted
    if condition == "equals_or_null":
        return value is None or value == wanted
    if condition == "not_equals":
        return value is not None and value != wanted
    if condition == "not_equals_or_null":
        return value is None or value != wanted
    if condition == "like":
        return like(value, str(wanted), True, fold)
    if condition == "in":
        return value is not None and value in wanted
    if condition == "in_or_null":
        return value is None or value in wanted
    if value is None:
        return False
    try:
        return bool({"gt": value > wanted, "ge": value >= wanted, "lt": value < wanted, "le": value <= wanted}[condition])
    except TypeError:
        return False


def filter_cases(studies: list[dict[str, Any]]) -> list[tuple[str, str, Any, Source]]:
    """Every condition, with values taken from the data so that each one keeps some studies and drops others."""

    def common(field: str) -> Any:
        values = [s.get(field) for s in studies if s.get(field) is not None]
        return max(sorted(set(values), key=str), key=values.count) if values else None

    def middle(field: str) -> Any:
        values = sorted((s[field] for s in studies if s.get(field) is not None), key=lambda v: (str(type(v)), v))
        return values[len(values) // 2] if values else None

    names = sorted(str(s.get("patient_name")) for s in studies if s.get("patient_name"))
    modality, physician, name = common("modality"), common("referring_physician"), names[0] if names else None
    others = sorted({s.get("modality") for s in studies} - {modality, None}, key=str)
    cases = [
        ("modality", "equals", modality, CONDITIONS["equals"]),
        ("modality", "not_equals", modality, CONDITIONS["not_equals"]),
        ("modality", "in", [modality, *others[:1]], CONDITIONS["in"]),
        ("referring_physician", "equals_or_null", physician, CONDITIONS["equals_or_null"]),
        ("referring_physician", "not_equals_or_null", physician, CONDITIONS["not_equals_or_null"]),
        ("referring_physician", "in_or_null", [physician], CONDITIONS["in_or_null"]),
        ("patient_name", "like", name[:3] + "%" if name else None, CONDITIONS["like"]),
        ("patient_name", "like", "%" + name[-3:] if name else None, CONDITIONS["like"]),
        ("patient_name", "like", name[:2] + "*" if name else None, LIKE_ASTERISK),
        ("image_count", "gt", middle("image_count"), CONDITIONS["gt"]),
        ("image_count", "ge", middle("image_count"), CONDITIONS["ge"]),
        ("image_count", "lt", middle("image_count"), CONDITIONS["lt"]),
        ("image_count", "le", middle("image_count"), CONDITIONS["le"]),
        ("study_date", "ge", middle("study_date"), CONDITIONS["ge"]),
        ("study_date", "lt", middle("study_date"), CONDITIONS["lt"]),
        ("created", "gt", middle("created"), CONDITIONS["gt"]),
        ("created", "le", middle("created"), CONDITIONS["le"]),
    ]
    return [case for case in cases if case[2] is not None and case[2] != [None]]


def test_every_filter_condition_against_the_data(ambra, namespace, studies):
    base = {"filter.phi_namespace.equals": namespace}
    for name, condition, wanted, source in filter_cases(studies):
        raw = json.dumps(wanted) if isinstance(wanted, list) else str(wanted)
        got, _ = walk(ambra, "/study/list", "studies", {**base, f"filter.{name}.{condition}": raw}, 5000)
        most = {s.get("uuid") for s in studies if matches(s.get(name), condition, wanted)}
        least = {s.get("uuid") for s in studies if matches(s.get(name), condition, wanted, fold=False)}
        wrong = [s.get("uuid") for s in got if s.get("uuid") not in most]
        expect(source, not wrong, f"filter.{name}.{condition}={raw} returned studies that do not match it: {wrong[:5]}", got.response)
        missing = sorted(least - set(uuids(got)))
        expect(source, not missing, f"filter.{name}.{condition}={raw} left out {len(missing)} matches, e.g. {missing[:3]}", got.response)
    both = {**base, "filter.modality.equals": filter_cases(studies)[0][2], "filter.image_count.gt": "10"}
    combined, _ = walk(ambra, "/study/list", "studies", both, 5000)
    modality = both["filter.modality.equals"]
    expected = {s.get("uuid") for s in studies if s.get("modality") == modality and number(s.get("image_count")) > 10}
    expect(FILTERS_AND, set(uuids(combined)) == expected, "filters combine (AND)", combined.response)
    counted = ok(ambra, "/study/count", both, source=STUDY_COUNT)
    same = counted.get("count") == len(expected)
    expect(
        STUDY_COUNT,
        same,
        f"/study/count applies the filters of /study/list: {counted.get('count')!r}, not {len(expected)}",
        counted.response,
    )


@pytest.fixture(scope="module")
def customfields(ambra: Any, account: str) -> Iterator[list[str]]:
    """The account's customfields; two of the suite's own are added (and deleted after) when it has fewer than two."""
    created: list[str] = []
    listed = quiet_json(ambra.call("/customfield/list", {"account_id": account, "page.rows": 5000})) or {}
    if len(listed.get("customfields") or []) < 2:
        for name in ("Contract Alpha field", "Contract Beta field"):
            body = quiet_json(ambra.call("/customfield/add", {"account_id": account, "name": name, "object": "Study", "type": "text"}))
            if isinstance(body, dict) and isinstance(body.get("uuid"), str):
                created.append(body["uuid"])
    yield created
    for item in created:
        ambra.call("/customfield/delete", {"uuid": item})


def test_generic_list_filter_and_sort(ambra, account, customfields):
    everything, _ = walk(ambra, "/customfield/list", "customfields", {"account_id": account}, 5000)
    if len(everything) < 2:
        pytest.skip("the account has fewer than two customfields, and the suite could not add its own")
    names = [str(c.get("name")) for c in everything]
    prefix = sorted(names)[0][:3]
    liked = walk(ambra, "/customfield/list", "customfields", {"account_id": account, "filter.name.like": prefix + "%"}, 5000)[0]
    kept = set(uuids(liked))
    most = {c.get("uuid") for c in everything if like(c.get("name"), prefix + "%", False, True)}
    least = {c.get("uuid") for c in everything if like(c.get("name"), prefix + "%", False, False)}
    expect(
        CONDITIONS["like"],
        least <= kept <= most,
        f"filter.name.like={prefix}% on /customfield/list keeps the names like it",
        liked.response,
    )
    for direction in ("asc", "desc"):
        params = {"account_id": account, "sort_by": f"name-{direction}"}
        listing = walk(ambra, "/customfield/list", "customfields", params, 5000)[0]
        ranked = [str(c.get("name")) for c in listing]
        in_order = ranked == sorted(names, reverse=direction == "desc")
        expect(SORT_ORDER, in_order, f"/customfield/list sort_by=name-{direction}: {ranked}", listing.response)
    first = ok(ambra, "/customfield/list", {"account_id": account, "page.rows": 1, "sort_by": "name-asc"})
    page = first.get("page") if isinstance(first.get("page"), dict) else {}
    paged = (page.get("rows"), page.get("number"), page.get("more")) == (1, 1, 1)
    expect(PAGE_HASH, paged, f"a generic list pages too: {page}", first.response)
    expect(PAGE_COUNT, page.get("count") == 1, f"the page hash counts the one row on it: {page}", first.response)
    shown = [c.get("name") for c in first.get("customfields") or [] if isinstance(c, dict)]
    expect(SORT_ORDER, shown == sorted(names)[:1], f"the first page holds the first name: {shown}", first.response)


@pytest.mark.parametrize("field_name", ["image_count", "patient_name", "study_date", "created"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_one_field(ambra, namespace, studies, field_name, direction):
    params = {"filter.phi_namespace.equals": namespace, "sort_by": f"{field_name}-{direction}"}
    if sum(s.get(field_name) is not None for s in studies) < len(studies) // 2:
        pytest.skip(f"fewer than half of the namespace's studies have a {field_name} to sort by")
    ranked, _ = walk(ambra, "/study/list", "studies", params, 5000)
    values = [s.get(field_name) for s in ranked]
    known = [v for v in values if v is not None]
    nulls = [i for i, v in enumerate(values) if v is None]
    together = nulls in ([], list(range(len(nulls))), list(range(len(values) - len(nulls), len(values))))
    expect(SORT_NULLS, together, "studies without it sort together", ranked.response)
    try:
        in_order = known == sorted(known, reverse=direction == "desc")
    except TypeError:
        in_order = False
    expect(SORT_ORDER, in_order, f"sort_by={field_name}-{direction}: {known[:12]}...", ranked.response)
    same = sorted(map(str, uuids(ranked))) == sorted(map(str, uuids(studies)))
    expect(SORT, same, "sorting changes the order, not the set", ranked.response)


def test_sort_by_several_fields(ambra, namespace, studies):
    params = {"filter.phi_namespace.equals": namespace, "sort_by": "modality-asc,image_count-desc"}
    if len({s.get("modality") for s in studies}) < 2:
        pytest.skip("the namespace's studies are all of one modality: a second sort key would never be used")
    ranked, _ = walk(ambra, "/study/list", "studies", params, 5000)
    keys = [(str(s.get("modality")), -number(s.get("image_count"))) for s in ranked]
    expect(SORT_ORDER, keys == sorted(keys), f"{params['sort_by']} sorts by modality, then by image_count descending", ranked.response)
    page_two = ok(ambra, "/study/list", {**params, "sort_by": "image_count-desc", "page.rows": 5, "page.number": 2})
    by_count = sorted(studies, key=lambda s: -number(s.get("image_count")))
    second = [s.get("image_count") for s in page_two.get("studies") or [] if isinstance(s, dict)]
    follows = second == [s.get("image_count") for s in by_count[5:10]]
    expect(Document.of(SORT_ORDER, PAGINATION), follows, f"pages follow the sort: page 2 holds {second}", page_two.response)


@pytest.mark.parametrize(
    ("params", "error_type", "subtype", "source"),
    [
        ({"sort_by": "no_such_field-asc"}, "INVALID_SORT_FIELD", "no_such_field", INVALID_SORT_FIELD),
        ({"sort_by": "modality-asc,colour-desc"}, "INVALID_SORT_FIELD", "colour", INVALID_SORT_FIELD),
        ({"sort_by": "modality-sideways"}, "INVALID_SORT_ORDER", "modality", INVALID_SORT_ORDER),
        ({"sort_by": "modality-asc,image_count-up"}, "INVALID_SORT_ORDER", "image_count", INVALID_SORT_ORDER),
        ({"filter.no_such_field.equals": "1"}, "INVALID_FIELD", "filter.no_such_field.equals", INVALID_FIELD),
        ({"filter.modality.resembles": "CT"}, "INVALID_CONDITION", "filter.modality.resembles", INVALID_CONDITION),
    ],
    ids=["sort-field", "second-sort-field", "sort-order", "second-sort-order", "filter-field", "filter-condition"],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_sort_and_filter_errors(ambra, params, error_type, subtype, source, method):
    body = error(ambra, "/study/list", params, error_type, source, f"/study/list {params}", method=method)
    names_it = not body or body.get("error_subtype") == subtype
    expect(source, names_it, f"{error_type} names {subtype!r} in error_subtype: {body}", body.response)


def test_fields_selection(ambra, namespace):
    required = set(SPEC.document["components"]["schemas"]["Study"]["required"])
    params = {"filter.phi_namespace.equals": namespace, "page.rows": 10, "sort_by": "created-desc"}
    full = {s.get("uuid"): s for s in ok(ambra, "/study/list", params).get("studies") or [] if isinstance(s, dict)}
    wanted = ["patient_name", "modality"]
    reply = ok(ambra, "/study/list", {**params, "fields": json.dumps(wanted)})
    selected = [s for s in reply.get("studies") or [] if isinstance(s, dict)]
    expect(STUDY_LIST_FIELDS, uuids(selected) == list(full), "fields selects columns, not rows", reply.response)
    for study in selected:
        shown = set(study)
        only = set(wanted) <= shown <= set(wanted) | required
        expect(STUDY_LIST_FIELDS, only, f"fields={wanted} returns those (and at most {sorted(required)}): {sorted(shown)}", reply.response)
        same = {k: study[k] for k in study} == {k: (full.get(study.get("uuid")) or {}).get(k) for k in study}
        expect(STUDY_LIST_FIELDS, same, "selected fields keep their values", reply.response)
    more = any(set(s) - set(wanted) - required for s in full.values())
    expect(STUDY_LIST_FIELDS, more, "without fields, the list returns more fields", reply.response)
    if full:
        one = ok(ambra, "/study/get", {"uuid": next(iter(full)), "fields": json.dumps(["modality"])})
        shown = set(one) - {"status"}
        only = "modality" in shown and shown <= {"modality"} | required
        expect(STUDY_GET_FIELDS, only, f"/study/get with fields=[modality]: {sorted(shown)}", one.response)
    error(ambra, "/study/list", {"fields": "[not json"}, "INVALID_JSON", INVALID_JSON, "fields that are not JSON")


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


def missing_source(path: str) -> Source:
    """The command's MISSING_FIELDS line (with the preamble's "Fields are required unless noted as optional")."""
    required = Document(PREAMBLE, "Fields are required unless noted as optional")
    try:
        return Document.of(block(path, "MISSING_FIELDS"), required)
    except CitationError:
        return required


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_missing_fields_lists_every_missing_field(ambra, method):
    commands = missing_fields_commands()
    if len(commands) < 10:
        pytest.fail(f"the spec has too few commands that require several fields to check MISSING_FIELDS with: {len(commands)}")
    for path, required, alternatives in commands:
        if method == "GET" and set(SPEC.document["paths"][path]["get"].get("responses") or {}) == {"405"}:
            continue
        source = missing_source(path)
        alternative_names = {n for g in alternatives for o in g for n in o}
        body = error(ambra, path, {}, "MISSING_FIELDS", source, f"{method} {path} with only a sid", method=method)
        subtype = body.get("error_subtype")
        listed = expect(
            source, not body or isinstance(subtype, list), f"{path}: error_subtype lists the missing fields: {body}", body.response
        )
        if body and listed:
            every = set(required) <= set(subtype) <= set(required) | alternative_names
            expect(source, every, f"{path}: error_subtype {subtype} names every missing field {required}", body.response)
            for group in alternatives:
                named = any(set(option) <= set(subtype) for option in group)
                expect(source, named, f"{path}: an unsatisfied alternative {group} is named: {subtype}", body.response)
        last = required[-1]
        partial = {n: valid_value(path, n) for n in required[:-1]}
        body = error(ambra, path, partial, "MISSING_FIELDS", source, f"{method} {path} without {last}", method=method)
        subtype = body.get("error_subtype") if isinstance(body.get("error_subtype"), list) else []
        only = not body or set(subtype) - alternative_names == {last}
        expect(source, only, f"{path}: only the missing {last!r} is named, not {subtype}", body.response)
        empty = error(ambra, path, {**partial, last: ""}, "MISSING_FIELDS", source, f"{method} {path} with an empty {last}", method=method)
        named_empty = empty.get("error_subtype") if isinstance(empty.get("error_subtype"), list) else []
        expect(source, not empty or last in named_empty, f"{path}: a field without data in it is missing too: {empty}", empty.response)


def test_invalid_flag_and_integer_name_the_field(ambra):
    for params, error_type, name in (
        ({"extra": "2"}, "INVALID_FLAG", "extra"),
        ({"page.rows": "ten"}, "INVALID_INTEGER", "page.rows"),
        ({"page.rows": "5001"}, "INVALID_INTEGER", "page.rows"),
    ):
        body = error(ambra, "/study/list", params, error_type, PARAMETER_ERRORS, f"/study/list {params}")
        expect(PARAMETER_ERRORS, not body or body.get("error_subtype") == name, f"{error_type} names {name!r}: {body}", body.response)


INTEGER_RANGE = Convention(
    "integer-range",
    "the document bounds no integer but page.rows; medimock keeps 64-bit signed integers and refuses one beyond them "
    "(2**63, -2**63-1) with INVALID_INTEGER naming the field, where another server may keep it or refuse it otherwise",
)


def test_an_integer_beyond_64_bits_is_invalid(ambra, account, admin_may):
    admin_may("customfield_edit")
    for value in (2**63, -(2**63) - 1):
        params = {"account_id": account, "name": f"contract wide {uuid.uuid4().hex[:8]}", "object": "Study", "type": "text",
                  "display_order": str(value)}  # fmt: skip
        body = error(ambra, "/customfield/add", params, "INVALID_INTEGER", INTEGER_RANGE, f"/customfield/add with display_order {value}")
        named = not body or body.get("error_subtype") == "display_order"
        expect(INTEGER_RANGE, named, f"INVALID_INTEGER names display_order: {body}", body.response)


# -- commands on an object that does not exist -----------------------------------------------------------------
STUDY_SHARE_WHO_NOT_FOUND = block("/study/share/who", "NOT_FOUND • The study or share object can not be found")
STUDY_PERMISSIONS_NOT_FOUND = block("/study/permissions", "NOT_FOUND • The study can not be found")


def test_a_study_command_on_a_study_that_does_not_exist_is_not_found(ambra):
    """Commands that act on one study and document NOT_FOUND for it answer NOT_FOUND for a uuid no study has (not
    their OK reply): /study/share/who and /study/permissions, which read and change nothing."""
    for path, params, source in (
        ("/study/share/who", {"uuid": UNKNOWN, "type": "user"}, STUDY_SHARE_WHO_NOT_FOUND),
        ("/study/permissions", {"uuid": UNKNOWN}, STUDY_PERMISSIONS_NOT_FOUND),
    ):
        error(ambra, path, params, "NOT_FOUND", source, f"{path} of a study that does not exist")


# -- permissions ---------------------------------------------------------------------------------------------


def test_user_role_is_not_permitted_what_only_an_admin_may_do(ambra, target, account, namespace, admin_may):
    with member_session(ambra, target) as user:
        name = f"Contract forbidden {uuid.uuid4().hex[:8]}"
        study: str | None = None
        try:
            perms = ok(ambra, "/session/permissions", {"account_id": account}, "the User role's permissions", PERMISSIONS, sid=user)
            for flag in ("group_edit", "webhook_view", "study_delete", "study_view"):
                expect(PERMISSIONS, flag in perms, f"/session/permissions lists {flag}: {sorted(perms)[:20]}", perms.response)
            flags = tuple(perms.get(flag) for flag in ("study_view", "group_edit", "webhook_view", "study_delete"))
            what = "the User role may view studies but not edit groups, view webhooks or delete studies"
            expect(USER_ROLE, flags == (1, 0, 0, 0), f"{what}: {flags}", perms.response)
            visible = ok(ambra, "/study/list", {"page.rows": 2}, "a User may list studies (study_view)", sid=user).get("studies") or []
            if visible and isinstance(visible[0], dict):
                ok(ambra, "/study/get", {"uuid": visible[0].get("uuid")}, "a User may get a study it sees (study_view)", sid=user)

            adding = {"account_id": account, "name": name}
            error(ambra, "/group/add", adding, "NOT_PERMITTED", GROUP_ADD_REFUSED, "a User adding a group", sid=user)
            groups = walk(ambra, "/group/list", "groups", {"account_id": account}, 5000)[0]
            expect(GROUP_ADD_REFUSED, name not in [g.get("name") for g in groups], "a refused /group/add adds nothing", groups.response)
            error(
                ambra, "/webhook/list", {"account_id": account}, "NOT_PERMITTED", WEBHOOK_LIST_REFUSED, "a User listing webhooks", sid=user
            )

            admin_may("study_upload", "study_delete")
            study = new_study(ambra, namespace)
            error(ambra, "/study/delete", {"uuid": study}, "NOT_PERMITTED", STUDY_DELETE_REFUSED, "a User deleting a study", sid=user)
            still = ok(ambra, "/study/get", {"uuid": study})
            expect(STUDY_DELETE_REFUSED, still.get("uuid") == study, "a refused /study/delete deletes nothing", still.response)
            ok(ambra, "/study/delete", {"uuid": study}, "the administrator may delete it")
            admin_may("group_edit", "webhook_view")
            ok(ambra, "/webhook/list", {"account_id": account}, "the administrator may list webhooks")
            added = ok(ambra, "/group/add", adding, "the administrator may add a group")
            ok(ambra, "/group/delete", {"uuid": added.get("uuid")})
        finally:
            if study is not None:
                ambra.call("/study/delete", {"uuid": study})
            leftover = quiet_json(ambra.call("/group/list", {"account_id": account, "filter.name.equals": name}))
            for group in leftover.get("groups") or [] if isinstance(leftover, dict) else []:
                if isinstance(group, dict) and group.get("name") == name:
                    ambra.call("/group/delete", {"uuid": group.get("uuid")})


ACCOUNT_LIST = Document(DOCUMENT, "Description List the accounts the user belongs to")  # the line before its block


def test_account_list_holds_the_accounts_the_user_belongs_to(ambra, target, account):
    """/account/list of a User-role member (no sysadmin, who may see more) lists the account it is a member of."""
    with member_session(ambra, target) as user:
        accounts = walk(ambra, "/account/list", "accounts", {}, 5000, sid=user)[0]
        listed = uuids(accounts)
        expect(ACCOUNT_LIST, account in listed, f"the User's /account/list holds its account {account}: {listed[:10]}", accounts.response)


SHARE_RULE_TYPE = block("/account/can/share", "INVALID_TYPE • The type of object is invalidate")


def test_a_share_rule_of_an_unknown_type_is_invalid_type(ambra, account, admin_may):
    """/account/can/share with a by_type outside (user|account|group|location) is INVALID_TYPE, the error its block
    documents for it (not a token of its own for the parameter)."""
    admin_may("account_edit")
    rule = {"account_id": account, "by_type": "planet", "by_id": account, "with_type": "account", "with_id": account}
    response = ambra.call("/account/can/share", rule)
    if response.status_code == 200:  # wrongly accepted: the rule goes again
        ambra.call("/account/can/share/stop", rule)
    refusal(ambra, response, "INVALID_TYPE", SHARE_RULE_TYPE, "/account/can/share with by_type=planet")


# -- /bundle ---------------------------------------------------------------------------------------------------


def bundle(ambra: Any, calls: Any, query: str = "", data: bytes | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    """POST /bundle: ``calls`` as JSON, or raw ``data``."""
    if data is not None:
        return ambra.session.post(ambra.url("/bundle") + query, data=data, headers=headers, timeout=60)
    return ambra.session.post(ambra.url("/bundle") + query, json=calls, headers=headers, timeout=60)


def bundled(
    ambra: Any, response: requests.Response, calls: list[dict[str, Any]], source: Source, what: str
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The replies of a bundle (one hash per call, in order, each with HTTP_STATUS_CODE) and their statuses.

    Each reply with a status the spec documents matches the schema of its command's reply with that status.
    """
    expect(source, response.status_code == 200, f"{what} succeeds (HTTP 200); it answered {response.status_code}", response)
    results = json_body(response, BUNDLE, what)
    expect(
        BUNDLE,
        isinstance(results, list) and len(results) == len(calls),
        f"{what}: one reply per call, in order: {str(results)[:300]}",
        response,
    )
    results = [r if isinstance(r, dict) else {} for r in results] if isinstance(results, list) else []
    statuses = []
    for call, result in zip(calls, results, strict=False):
        status = result.get("HTTP_STATUS_CODE")
        expect(
            BUNDLE_REPLIES,
            isinstance(status, int),
            f"{what}: the reply of {call['URL']} carries HTTP_STATUS_CODE: {str(result)[:200]}",
            response,
        )
        statuses.append(status)
        if call["URL"] in SPEC.document["paths"] and status in (200, 401, 412):
            body = {k: v for k, v in result.items() if k != "HTTP_STATUS_CODE"}
            problems = SPEC.reply_errors(call["URL"], "post", status, body)
            expect(
                REPLY_SCHEMA, not problems, f"{what}: the bundled {call['URL']} reply ({status}) matches the spec: {problems[:5]}", response
            )
    return results, statuses


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
    results, statuses = bundled(ambra, response, calls, BUNDLE, "a bundle of six calls")
    sid = results[0].get("sid") if results else None
    if isinstance(sid, str):
        ambra.register_sid(sid, login)
    try:
        expect(BUNDLE_REPLIES, statuses[:5] == [200, 200, 200, 412, 200], f"each call's own status: {statuses}", response)
        expect(
            BUNDLE_REPLIES,
            len(statuses) > 5 and isinstance(statuses[5], int) and statuses[5] >= 400,
            f"an unknown command fails on its own: {statuses[5:]}",
            response,
        )
        listed = results[1].get("studies") if len(results) > 1 and isinstance(results[1].get("studies"), list) else []
        expect(TEMPLATES, len(listed) == 2, "{{sid}} from the login reply authenticated the list", response)
        second = listed[1].get("uuid") if len(listed) > 1 and isinstance(listed[1], dict) else None
        expect(
            TEMPLATES,
            len(results) > 2 and results[2].get("uuid") == second,
            "{{studies.[1].uuid}} is the second study of the list before it",
            response,
        )
        expect(
            Document.of(BUNDLE_REPLIES, STUDY_NOT_FOUND),
            len(results) > 3 and results[3].get("error_type") == "NOT_FOUND",
            "an error of one call is its own reply; the bundle goes on",
            response,
        )
        expect(
            BUNDLE,
            len(results) > 4 and results[4].get("uuid") == results[0].get("uuid"),
            "the bundle ran the calls in order, with the session it logged in",
            response,
        )
    finally:
        if isinstance(sid, str):
            ambra.call("/session/logout", sid=sid)


def test_bundle_inherit_sid(ambra):
    me = ok(ambra, "/session/user").get("uuid")
    calls = [{"URL": "/session/user"}, {"URL": "/study/count"}]
    inherited = bundle(ambra, calls, f"?inherit_sid=1&sid={ambra.sid}")
    results, statuses = bundled(ambra, inherited, calls, INHERIT_SID, "inherit_sid=1")
    expect(INHERIT_SID, statuses == [200, 200], f"inherit_sid=1: the calls run with the bundle's sid: {statuses}", inherited)
    count = ok(ambra, "/study/count").get("count")
    theirs = len(results) == 2 and results[0].get("uuid") == me and results[1].get("count") == count
    expect(INHERIT_SID, theirs, "the calls are the session's own", inherited)
    without = bundle(ambra, calls, f"?sid={ambra.sid}")
    _, plain = bundled(ambra, without, calls, BUNDLE, "a bundle without inherit_sid")
    expect(Document.of(INHERIT_SID, AUTHORIZATION), plain == [401, 401], f"without inherit_sid, calls have no session: {plain}", without)
    header = bundle(ambra, calls, "?inherit_sid=1", headers={"X-AmbraHealth-SID": ambra.sid})
    _, by_header = bundled(ambra, header, calls, SID_HEADER, "inherit_sid=1 with the sid in X-AmbraHealth-SID")
    expect(SID_HEADER, by_header == [200, 200], f"the sid may come in the X-AmbraHealth-SID header: {by_header}", header)


@pytest.mark.parametrize("body", [b"{not json", b"{}", b"[]", b'[{"sid": "x"}]', b"[1, 2]", b'"/session/uuid"'])
def test_malformed_bundle_is_400(ambra, body):
    response = bundle(ambra, None, data=body, headers={"Content-Type": "application/json"})
    expect(
        EMPTY_BUNDLE if body == b"[]" else Document.of(BUNDLE, BUNDLE_REPLIES),
        response.status_code == 400,
        f"a bundle that is not a JSON array of hashes with a URL is refused with HTTP 400; it answered {response.status_code}",
        response,
    )


def test_a_bundle_of_1001_calls_is_answered_or_refused_as_malformed(ambra):
    """A bundle longer than medimock holds (1000 calls) is refused as malformed (HTTP 400); a server without such a
    limit answers a hash per call. Either is the document's; an answer of another kind is not (the bundle is sent
    with the suite's sid, and its calls, /session/uuid, need none)."""
    calls = [{"URL": "/session/uuid"}] * 1001
    response = bundle(ambra, calls, f"?sid={ambra.sid}")
    what = f"a bundle of {len(calls)} calls is answered (200) or refused as malformed (400, or 413 for its size)"
    if not expect(
        Document.of(BUNDLE, BUNDLE_REPLIES),
        response.status_code in (200, 400, 413),
        f"{what}; it answered {response.status_code}",
        response,
    ):
        return
    if response.status_code == 200:
        replies = quiet_json(response)
        each = isinstance(replies, list) and len(replies) == len(calls) and all(isinstance(r, dict) for r in replies)
        expect(BUNDLE, each, f"a bundle of {len(calls)} calls answered 200 holds a hash per call", response)


# -- GET and POST --------------------------------------------------------------------------------------------


def test_get_and_post_are_equivalent(ambra, account, namespace):
    first = ok(ambra, "/study/list", {"page.rows": 1, "filter.phi_namespace.equals": namespace}).get("studies") or []
    group = ok(ambra, "/group/list", {"account_id": account}).get("groups") or []
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/study/list", {"page.rows": 7, "page.number": 2, "sort_by": "patient_name-asc", "filter.modality.in": '["CT","MR"]'}),
        ("/study/count", {"filter.modality.equals": "CT"}),
        ("/study/list", {"sort_by": "colour-asc"}),
        ("/group/add", {"name": "x"}),
        ("/group/get", {"uuid": UNKNOWN}),
        ("/session/user", {}),
    ]
    if first and isinstance(first[0], dict):
        calls.append(("/study/get", {"uuid": first[0].get("uuid")}))
    if group and isinstance(group[0], dict):
        calls.append(("/group/get", {"uuid": group[0].get("uuid")}))
    for path, params in calls:
        by_post, by_get = ambra.call(path, params), ambra.call(path, params, method="GET")
        discard(ambra, path, by_post)
        discard(ambra, path, by_get)  # /group/add without account_id must fail; if it did not, nothing is left behind
        expect(
            GET_OR_POST,
            by_post.status_code == by_get.status_code,
            f"{path} {params}: POST {by_post.status_code}, GET {by_get.status_code}",
            by_get,
        )
        posted, got = json_body(by_post, GET_OR_POST, f"POST {path}"), json_body(by_get, GET_OR_POST, f"GET {path}")
        expect(GET_OR_POST, posted == got, f"{path} {params}: GET and POST answer the same", by_get)
        if by_get.status_code in (200, 412) and isinstance(got, dict):
            conforms(ambra, by_get, by_get.status_code, got, f"GET {path}")
    mixed = ambra.session.post(ambra.url("/study/list") + f"?sid={ambra.sid}&page.rows=3", data={"page.rows": "2"}, timeout=60)
    studies = success(ambra, mixed, GET_OR_POST, "a POST with parameters in the query string and the body").get("studies")
    expect(FORM_OVER_QUERY, isinstance(studies, list) and len(studies) == 2, "the body wins over the query string", mixed)


def test_post_only_command_refuses_get(ambra):
    response = ambra.call("/session/login", {"login": ambra.login_name, "password": ambra.password}, method="GET", sid=None)
    sid = (quiet_json(response) or {}).get("sid") if isinstance(quiet_json(response), dict) else None
    if isinstance(sid, str):
        ambra.register_sid(sid, ambra.login_name)
        ambra.call("/session/logout", sid=sid)  # a GET that logged in all the same leaves no session behind
    expect(
        LOGIN_IS_POST,
        response.status_code == 405,
        f"/session/login must be POSTed: a GET is refused with 405; it answered {response.status_code}",
        response,
    )
    expect(LOGIN_IS_POST, sid is None, "a refused GET of /session/login logs nobody in", response)
    body = json_body(response, ERROR_HASH, "the 405 of GET /session/login")
    if body is not None:
        expect(ERROR_HASH, isinstance(body, dict) and body.get("status") == "ERROR", "a 405 is an error hash", response)


def test_expired_oauth_token_is_refused(ambra, short_token):
    """The module's last test: the 2-second token of its first tests has expired by now (or is waited out when this
    test runs alone)."""
    time.sleep(max(0.0, short_token.issued + 3.0 - time.monotonic()))
    for path in ("/session/user", "/study/list"):
        refused(
            ambra,
            ambra.call(path, sid=None, headers=short_token.bearer),
            f"{path} with a Bearer token that expired a second ago",
            OAUTH_EXPIRY,
        )
