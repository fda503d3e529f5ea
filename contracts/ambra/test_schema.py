"""Property-based contract tests: every one of Ambra's 925 operations (462 commands, POST and GET).

Positive and negative cases are generated from specs/ambra/openapi.yaml and sent to the target
with a valid sid (``known_values_hook`` in conftest.py; half of the positive reads name objects
that exist, so successful answers are checked as well as Ambra's 412 error hashes). Each
response must be a documented status with a documented content type and a body that matches
the schema (a 412's ``error_type`` must be one the command documents), negative data must be
rejected (Ambra rejects with HTTP 412), undeclared methods (PUT, DELETE) get a 405 with ``Allow``, and every
command that needs credentials must refuse the same call without a sid, with an unknown sid and
with an unknown Bearer token (schemathesis's own ``ignored_auth`` cannot see a sid sent in a form
body, so ``credentials_enforced`` does its job).

Every check names its source (``medimock.verdict``): schemathesis's checks take it from the spec's
``x-medimock-*`` tags (``medimock.checks``); the suite's own checks below cite the general sections of
the document (specs/sources/ambra-v3-services-api-preamble.txt: "Error handling", "Global information")
or name the medimock convention they follow, which only warns unless the run is strict.

Budget: ``ambra_examples()`` per operation (3 by default; ``MEDIMOCK_AMBRA_EXAMPLES``, or the
common ``MEDIMOCK_CONTRACT_EXAMPLES`` / ``make contract FULL=1``, scale it up). schemathesis's
coverage phase (dozens of boundary cases per operation) is off unless ``MEDIMOCK_AMBRA_COVERAGE=1``;
``MEDIMOCK_AMBRA_OPERATIONS`` (a regex on command paths) limits a run to some commands.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import zlib
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.meta import TestPhase

from medimock.checks import UNDECLARED_METHOD, tags_of, tiered, with_source
from medimock.suite import SCHEMA_CHECKS, ambra_examples
from medimock.verdict import CitationError, Convention, Document, Source, expect, preview

schema = schemathesis.pytest.from_fixture("ambra_schema")
# Commands beyond the public document (/account/add, /account/delete: x-medimock-undocumented) are never required of a target.
schema = schema.exclude(lambda ctx: bool(ctx.operation.definition.raw.get("x-medimock-undocumented")))
if os.environ.get("MEDIMOCK_AMBRA_OPERATIONS"):  # a regex on command paths, e.g. "^/study/": only those operations
    # an exclude, not include(path_regex=...): schemathesis ORs include filters, so the beside test's include(beside)
    # below would widen the run again to every command beside (a quarter of all)
    _ONLY = re.compile(os.environ["MEDIMOCK_AMBRA_OPERATIONS"])
    schema = schema.exclude(lambda ctx: not _ONLY.search(ctx.operation.path))

PREAMBLE = "ambra-v3-services-api-preamble.txt"
DOCUMENT = "ambra-v3-services-api.txt"
STATUS_FIELD = Document(PREAMBLE, "Every returned data structure has a status field that holds either OK or ERROR")
AUTHORIZATION = Document(PREAMBLE, "401 Authorization required")
PRECONDITION = Document(PREAMBLE, "412 Precondition failed", 2)  # the json hash with status ERROR, error_type
ERROR_HASH = Convention(
    "error-hash",
    "the document gives the error hash (status ERROR, error_type) for HTTP 412 only; medimock answers its 401, 404, 405 "
    "and 413 with one too, where another server may send an empty or an HTML body",
)
LOGIN = Document(DOCUMENT, "Returns status • OK", 3, after="URL /session/login")
SESSION_LIVES = Document.of(
    Document(DOCUMENT, "ttl • Number of minutes the session has to live"), Document(DOCUMENT, "A user can have up to 10 active sessions")
)

# ignored_auth cannot see a sid sent in a form body: credentials_enforced below does its job
CHECKS: list[Any] = [check for check in SCHEMA_CHECKS if check.__name__ != "ignored_auth"]
_CONFIRMED: set[str] = set()  # operations whose credential enforcement was already confirmed in this run


def _json(response: Any) -> Any:
    """A reply's JSON (a requests or a schemathesis response), or None: a check never crashes on a body."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def _content_type(response: Any) -> str:
    headers = response.headers or {}
    value = headers.get("content-type", headers.get("Content-Type", ""))  # schemathesis: lowercased names, lists of values
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).split(";", 1)[0].strip().lower()


def require(condition: Any, message: str) -> None:
    """A custom check's failure (schemathesis's checks fail with an AssertionError, which ``tiered`` classifies)."""
    if not condition:
        raise AssertionError(message)


def _requires_credentials(case: Any) -> bool:
    security = case.operation.definition.raw.get("security") or []
    return bool(security) and all(requirement for requirement in security)


def _without_credentials(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    for key in ("params", "data"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k != "sid"}
    out["headers"] = {k: v for k, v in (out.get("headers") or {}).items() if k.lower() not in ("authorization", "x-ambrahealth-sid")}
    return out


@with_source(AUTHORIZATION)
def credentials_enforced(ctx: Any, response: Any, case: Any) -> None:
    """A command without an anonymous alternative that succeeded must refuse the same call without valid credentials.

    Without a sid, with an unknown sid, and with an unknown Bearer token the answer must be the
    HTTP 401 of an invalid session (or the 412 INVALID_CREDENTIALS/INVALID_SID a command documents
    instead of a 401) — never a success. Once per operation and run.
    """
    label = case.operation.label
    if not _requires_credentials(case) or not 200 <= response.status_code < 300 or label in _CONFIRMED:
        return None
    kwargs = _without_credentials(case.as_transport_kwargs())
    where = "data" if isinstance(kwargs.get("data"), dict) else "params"
    unknown = f"contract-unknown-{uuid.uuid4()}"
    probes = {
        "without a sid": kwargs,
        "with an unknown sid": {**kwargs, where: {**(kwargs.get(where) or {}), "sid": unknown}},
        "with an unknown Bearer token": {**kwargs, "headers": {**kwargs["headers"], "Authorization": f"Bearer {unknown}"}},
    }
    documented = set(case.operation.definition.raw.get("responses") or {})
    for what, probe in probes.items():
        refused = requests.request(**{**probe, "timeout": 60})
        if refused.status_code == 412 and "401" not in documented:
            body = _json(refused)
            error_type = body.get("error_type") if isinstance(body, dict) else None
            require(
                error_type in ("INVALID_CREDENTIALS", "INVALID_SID", "MISSING_FIELDS"),
                (f"{label} needs credentials: the same call {what} must be refused, got 412 {preview(refused.content)}"),
            )
            continue
        require(
            refused.status_code == 401,
            (
                f"{label} needs credentials (sid, Bearer or basic): the same call {what} must be a 401, "
                f"got {refused.status_code} {_content_type(refused) or 'without Content-Type'} {preview(refused.content)}"
            ),
        )
    _CONFIRMED.add(label)
    return None


_STATUS_REPLIES: dict[str, bool] = {}


def _success_has_status(case: Any) -> bool:
    """Whether the command's 200 reply is a status hash: not so where its own Returns line says otherwise
    ("Returns The data in i18next format": the spec's corrections give such replies without a status)."""
    label = case.operation.label
    if label not in _STATUS_REPLIES:
        tags = tags_of(case)
        node = tags.response(case.operation.definition.raw, 200) or {}
        schema = tags.resolve(((node.get("content") or {}).get("application/json") or {}).get("schema")) or {}
        parts = [tags.resolve(part) for part in schema.get("allOf") or [schema]]
        _STATUS_REPLIES[label] = any(isinstance(part, dict) and "status" in (part.get("properties") or {}) for part in parts)
    return _STATUS_REPLIES[label]


@with_source(STATUS_FIELD)
def ambra_reply_status(ctx: Any, response: Any, case: Any) -> None:
    """Ambra's dialect: a JSON hash reply says ``"status": "OK"`` on success and ``"ERROR"`` on a 4xx."""
    if "json" not in _content_type(response) or case.operation.path == "/bundle":
        return None
    body = _json(response)
    if not isinstance(body, dict):
        return None  # not a hash (or not JSON at all): the schema checks judge that
    if response.status_code == 200 and _success_has_status(case):
        require(body.get("status") == "OK", f"{case.operation.label}: a 200 reply holds status OK, not {body.get('status')!r}")
    elif 400 <= response.status_code < 500:
        require(
            body.get("status") == "ERROR",
            (f"{case.operation.label}: a {response.status_code} reply holds status ERROR, not {body.get('status')!r}"),
        )
    return None


def _error_hash_source(case: Any, response: Any) -> Source:
    return PRECONDITION if response.status_code == 412 else ERROR_HASH


@with_source(_error_hash_source)
def ambra_error_hash(ctx: Any, response: Any, case: Any) -> None:
    """A refusal is an Ambra error hash: status ERROR and an error_type token (the document's rule for a 412;
    for a 401, 404, 405 or 413 medimock's convention)."""
    if not 400 <= response.status_code < 500 or case.operation.path == "/bundle":
        return None
    documented = tags_of(case).response(case.operation.definition.raw, response.status_code)
    if documented is not None and not documented.get("content"):
        return None  # a status the command documents without a body (/customcode/zip's bare 404)
    body = _json(response)
    require(
        isinstance(body, dict)
        and body.get("status") == "ERROR"
        # a token, or ["INVALID_JSON", "<field>"] as the live service sends it
        and (isinstance(body.get("error_type"), str) or (isinstance(body.get("error_type"), list) and bool(body.get("error_type")))),
        (
            f"{case.operation.label}: a {response.status_code} answer is an error hash with status ERROR and an error_type, not "
            f"{_content_type(response) or 'a body without Content-Type'} {preview(response.content)}"
        ),
    )
    return None


_METHODS_PROBED: set[str] = set()  # paths already probed with an undeclared method in this run


@with_source(UNDECLARED_METHOD)
def undeclared_method_refused(ctx: Any, response: Any, case: Any) -> None:
    """A method the spec does not declare for a command (PUT, DELETE) is a 405 with ``Allow``; once per path.

    The document says nothing of PUT or DELETE (its 405 is for a GET of a command that must be POSTed,
    which the spec's GET operations state), so this is medimock's convention. schemathesis's
    ``unsupported_method`` does the same in its coverage phase, which the Ambra run leaves off by
    default (MEDIMOCK_AMBRA_COVERAGE=1 turns it on): 925 operations would take too long.
    """
    path = case.operation.path
    if path in _METHODS_PROBED:
        return None
    _METHODS_PROBED.add(path)
    declared = {m.upper() for m in case.operation.schema.raw_schema["paths"][path] if m in ("get", "post", "put", "delete", "patch")}
    url = case.as_transport_kwargs()["url"]
    for method in sorted({"PUT", "DELETE"} - declared):
        probe = requests.request(method, url, timeout=60)
        require(
            probe.status_code == 405,
            (f"{method} {path} is not in the spec: expected 405, got {probe.status_code} {preview(probe.content)}"),
        )
        allowed = {m.strip().upper() for m in probe.headers.get("Allow", "").split(",") if m.strip()}
        require(declared <= allowed and method not in allowed, f"{method} {path}: Allow lists {sorted(declared)}, not {sorted(allowed)}")
    return None


CHECKS += [tiered(check) for check in (credentials_enforced, ambra_reply_status, ambra_error_hash, undeclared_method_refused)]


def beside(ctx: Any) -> bool:
    """A quarter of the commands (by a hash of method and path: the same on every run and machine), tested by
    ``test_operation_honours_contract_beside``: under pytest-xdist it runs in the other suites' lane
    (contracts/conftest.py), so that on two cores Ambra's property run does not make the run's length alone."""
    operation = ctx.operation
    return zlib.crc32(f"{operation.method.upper()} {operation.path}".encode()) % 4 == 0


@schema.exclude(beside).parametrize()
@settings(max_examples=ambra_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, ambra, ambra_world):
    honours_contract(case, ambra, ambra_world)


@schema.include(beside).parametrize()
@settings(max_examples=ambra_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract_beside(case, ambra, ambra_world):
    honours_contract(case, ambra, ambra_world)


def honours_contract(case: Any, ambra: Any, ambra_world: Any) -> None:
    if case.meta is not None and case.meta.phase.name == TestPhase.EXAMPLES:
        case = ambra_world.map_case(None, case)  # schemathesis's map_case hooks do not see the spec's examples
    response = case.call(session=ambra.session, timeout=60)
    sent = case.body if isinstance(case.body, dict) else case.query
    ambra_world.remember(case.operation.path, dict(sent or {}), response)
    case.validate_response(response, checks=CHECKS)


def still_gettable(resource: str) -> Source:
    """The source of "the target's <resource> can still be got": its /get command's Returns line."""
    document = Document(DOCUMENT, "Returns status • OK", after=f"URL /{resource}/get")
    try:
        document.citations
    except CitationError:
        return STATUS_FIELD
    return document


def test_property_run_left_the_suite_session_and_fixtures_intact(ambra, ambra_world):
    """The property tests must not log the suite out, delete the administrator or lose the account's objects."""
    ttl = ambra.call("/session/ttl")
    expect(SESSION_LIVES, ttl.status_code == 200, f"the suite's sid still works after the property tests (not {ttl.status_code})", ttl)
    fresh = ambra.login(ambra.login_name, ambra.password)
    me = ambra.ok("/session/user", sid=fresh, source=LOGIN)
    expect(LOGIN, me.get("uuid") == ambra_world.known.get("user"), f"the administrator still logs in as itself: {me.get('uuid')!r}")
    ambra.call("/session/logout", sid=fresh)
    for resource, known in sorted(ambra_world.known.items()):
        command = ambra_world.commands.get(f"/{resource}/get")
        if command is None or "uuid" not in command.properties:
            continue
        response = ambra.call(command.path, {"uuid": known})
        expect(
            still_gettable(resource),
            response.status_code == 200,
            f"the target's {resource} {known} still exists after the property tests (they change only the suite's own objects)",
            response,
        )
