"""What the Ambra contract checks stand on: the passages of the two Ambra documents
(``specs/sources/ambra-v3-services-api.txt`` and its general sections,
``ambra-v3-services-api-preamble.txt``) and the conventions medimock follows where they are silent,
plus the reading of an Ambra reply through ``medimock.verdict`` (an OK hash, an error hash).

Used by ``contracts/ambra/test_general_sections.py``, ``test_client_setup.py`` and the smaller check modules; it speaks HTTP
through the suite's ``Ambra`` client (``contracts/ambra/conftest.py``) and knows nothing of the mock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from .suite import require
from .verdict import Convention, Document, expect, json_body

MAIN = "ambra-v3-services-api.txt"
GENERAL = "ambra-v3-services-api-preamble.txt"

# -- the general sections (the preamble) --------------------------------------------------------------
STATUS = Document(GENERAL, "Every returned data structure has a status field that holds either OK or ERROR")
ERRORS = Document(GENERAL, "412 Precondition failed", lines=3)
FIELDS = Document(GENERAL, "The returned fields for an object can be limited", lines=1)
FIELDS_TOP = Document(GENERAL, "All the top level returned fields except status can be filter via the special fields._top")
FILTERS = Document(GENERAL, "A filter is one or more parameters of the format filter.FIELD.CONDITION", lines=2)
DATES = Document(GENERAL, "Supported date and datetime formats are")
FILTER_TZ = Document(GENERAL, "A timezone offset in numeric format can be passed in the filter.tz", lines=2)
TZ_ORDER = Document(GENERAL, "Timezones apply in this order")
SECONDARY = Document(GENERAL, "A filter can be applied on a secondary table")
SAVED = Document(
    GENERAL,
    "A saved filter can be applied by passing the filter UUID",
    also=Document(MAIN, "A JSON hash containing a filter expression that will be AND'ed together", lines=2).anchors,
)
FILTER_NOT_FOUND = Document(GENERAL, "FILTER_NOT_FOUND")
CUSTOMFIELD_FILTER = Document(GENERAL, "Custom fields can be filtered by specifying the field as customfield-CUSTOMFIELD_UUID")
CUSTOMFIELD_SORT = Document(MAIN, "For customfield-UUID-(asc|desc) sorts type=number as interger")
PAGE_DEFAULT = Document(GENERAL, "The default is 100 or 1000 depending on the object type")
UTC = Document(GENERAL, "Date and time stamps are in UTC")

# -- what medimock chose where the documents are silent -------------------------------------------------
SECONDARY_TABLES = Convention(
    "secondary-table-names",
    "the document gives filter.TABLE.FIELD.CONDITION without naming a command's tables; medimock reads TABLE as the "
    "object a field of the object names (account for a study's account, phi_namespace and namespace for its PHI namespace)",
)
TIMESTAMP_FORM = Convention(
    "timestamp-offset",
    "the document says stamps are in UTC, not their form; a client's own tests show the live service's "
    "2022-08-10 10:11:12.123456+00 (the client appends 00 and parses %z)",
)
INVALID_JSON_LIST = Convention(
    "invalid-json-error-type",
    'a client\'s own tests show the live service answering a role\'s settings that do not parse with error_type ["INVALID_JSON", "settings"]',
)
UNDOCUMENTED_ACCOUNTS = Convention(
    "account-add-delete",
    "/account/add and /account/delete are system-administrator commands absent from the public document; a client's own test "
    "suite creates and removes its test account with them (DUPLICATE_NAME, NOT_EMPTY, an Administrator role)",
)

STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(.*)$")
STAMP_FORM = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00$")


def ok(
    ambra: Any, path: str, params: dict[str, Any] | None = None, source: Document = STATUS, what: str = "", **kwargs: Any
) -> dict[str, Any]:
    """The reply of a call that must succeed: HTTP 200 with ``"status": "OK"`` ({} when a convention only warned)."""
    return succeeded(ambra.call(path, params, **kwargs), source, what or f"{path} {sorted(params or {})}")


def succeeded(response: Any, source: Document = STATUS, what: str = "") -> dict[str, Any]:
    """``ok``'s verdict on a reply already received (a check that first looks at it for a reason to skip)."""
    expect(source, response.status_code == 200, f"{what} succeeds (HTTP 200, not {response.status_code})", response)
    body = json_body(response, source, what)
    expect(STATUS, isinstance(body, dict) and body.get("status") == "OK", f"{what}: a 200 reply holds status OK", response)
    return body if isinstance(body, dict) else {}


STUDY_ADD = Document(MAIN, "uuid • The study uuid", after="URL /study/add")


@contextmanager
def own_study(ambra: Any, patient_name: str) -> Iterator[Any]:
    """The uuid of a CT study of the suite's own, added in the administrator's account namespace (/study/add must
    succeed) and deleted afterwards; None when the reply named no uuid (a convention only warned)."""
    namespace = ambra.namespace_id()
    params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace,
              "patient_name": patient_name, "modality": "CT", "study_date": "20240102"}  # fmt: skip
    with own_object(ambra, "/study/add", params, STUDY_ADD, "a study of the suite's own") as study:
        yield study


@contextmanager
def own_object(ambra: Any, add: str, params: dict[str, Any], source: Document, what: str) -> Iterator[Any]:
    """The uuid of an object of the suite's own, added by ``add`` (which must succeed: ``source`` says why) and deleted
    afterwards by the command of the same group (``/study/add`` -> ``/study/delete``); None when the reply named no uuid."""
    created = ok(ambra, add, params, source, what).get("uuid")
    try:
        yield created
    finally:
        if created:
            ambra.call(add.rsplit("/", 1)[0] + "/delete", {"uuid": created})


@contextmanager
def member_session(ambra: Any, target: Any) -> Iterator[str]:
    """A sid of the User-role member the target names (AMBRA_USER_LOGIN and AMBRA_USER_PASSWORD: the test is skipped
    without them), logged out afterwards."""
    creds = require(target, "ambra", "user_login", "user_password")
    sid = ambra.login(creds["user_login"], creds["user_password"])
    try:
        yield sid
    finally:
        ambra.call("/session/logout", sid=sid)


# The one user setting the suite stores (/setting/set), the same key each run; deleted when a check is done with it.
SUITE_SETTING = "medimock_contract_setting"


def delete_setting(ambra: Any, key: str = SUITE_SETTING) -> None:
    """Remove a setting of the suite's ("Use the value __DELETE__ to delete a setting"), whatever the target answers."""
    ambra.call("/setting/set", {"key": key, "value": "__DELETE__"})


def flag(value: object) -> int | None:
    """A reply's flag as 0 or 1 (the document's flags; also as text), None when it is neither."""
    return int(str(value)) if str(value) in ("0", "1") else None


def error_type(body: Any) -> Any:
    """The error token of an error hash (the first of ``["INVALID_JSON", "settings"]``)."""
    value = body.get("error_type") if isinstance(body, dict) else None
    return value[0] if isinstance(value, list) and value else value


def skip_if_not_permitted(response: Any, source: Document, what: str, reason: str) -> None:
    """Skip the check (``reason``) when the target refused the call as NOT_PERMITTED: the suite's credentials do not
    reach what the check needs, which says nothing of the target."""
    if response.status_code == 412 and error_type(json_body(response, source, what)) == "NOT_PERMITTED":
        pytest.skip(f"{reason} (NOT_PERMITTED)")


def refused(ambra: Any, path: str, params: dict[str, Any], wanted: str, source: Document, what: str, **kwargs: Any) -> dict[str, Any]:
    """The error hash of a call that must fail with ``wanted`` (HTTP 412)."""
    response = ambra.call(path, params, **kwargs)
    expect(ERRORS, response.status_code == 412, f"{what}: an HTTP 412 error hash, not {response.status_code}", response)
    body = json_body(response, ERRORS, what)
    expect(source, error_type(body) == wanted, f"{what}: error_type {wanted}, not {error_type(body)!r}", response)
    return body if isinstance(body, dict) else {}


def moment(stamp: Any) -> tuple[datetime, bool] | None:
    """A reply's timestamp as a naive UTC datetime (the document: "Date and time stamps are in UTC"), and
    whether it has microseconds; None when it is no timestamp."""
    match = STAMP.match(str(stamp or ""))
    if match is None:
        return None
    day, time, micro, _ = match.groups()
    return datetime.strptime(f"{day} {time}.{(micro or '0').ljust(6, '0')}", "%Y-%m-%d %H:%M:%S.%f"), micro is not None
