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

Budget: ``ambra_examples()`` per operation (3 by default; ``MEDIMOCK_AMBRA_EXAMPLES``, or the
common ``MEDIMOCK_CONTRACT_EXAMPLES`` / ``make contract FULL=1``, scale it up). schemathesis's
coverage phase (dozens of boundary cases per operation) is off unless ``MEDIMOCK_AMBRA_COVERAGE=1``;
``MEDIMOCK_AMBRA_OPERATIONS`` (a regex on command paths) limits a run to some commands.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.generation.meta import TestPhase

from medimock.suite import SCHEMA_CHECKS, ambra_examples

schema = schemathesis.pytest.from_fixture("ambra_schema")
# Commands beyond the public document (/account/add, /account/delete: x-medimock-undocumented) are never required of a target.
schema = schema.exclude(lambda ctx: bool(ctx.operation.definition.raw.get("x-medimock-undocumented")))
if os.environ.get("MEDIMOCK_AMBRA_OPERATIONS"):  # a regex on command paths, e.g. "^/study/": only those operations
    schema = schema.include(path_regex=os.environ["MEDIMOCK_AMBRA_OPERATIONS"])

# ignored_auth cannot see a sid sent in a form body: credentials_enforced below does its job
CHECKS: list[Any] = [check for check in SCHEMA_CHECKS if getattr(check, "__wrapped__", check) is not checks.ignored_auth]
_CONFIRMED: set[str] = set()  # operations whose credential enforcement was already confirmed in this run


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


def credentials_enforced(ctx: Any, response: requests.Response, case: Any) -> None:
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
            error_type = (
                refused.json().get("error_type") if refused.headers.get("Content-Type", "").startswith("application/json") else None
            )
            assert error_type in ("INVALID_CREDENTIALS", "INVALID_SID", "MISSING_FIELDS"), (
                f"{label} needs credentials: the same call {what} must be refused, got 412 {refused.text[:200]}"
            )
            continue
        assert refused.status_code == 401, (
            f"{label} needs credentials (sid, Bearer or basic): the same call {what} must be a 401, "
            f"got {refused.status_code} {refused.text[:200]}"
        )
    _CONFIRMED.add(label)
    return None


def ambra_reply_status(ctx: Any, response: requests.Response, case: Any) -> None:
    """Ambra's dialect: a JSON hash reply says ``"status": "OK"`` on success and ``"ERROR"`` on a 4xx."""
    if not response.headers.get("Content-Type", "").startswith("application/json") or case.operation.path == "/bundle":
        return None
    body = response.json()
    if not isinstance(body, dict):
        return None
    if response.status_code == 200:
        assert body.get("status") == "OK", f"{case.operation.label}: a 200 reply holds status OK, not {body.get('status')!r}"
    elif 400 <= response.status_code < 500:
        error_type = body.get("error_type")  # a token, or ["INVALID_JSON", "<field>"] as the live service sends it
        assert body.get("status") == "ERROR" and (isinstance(error_type, str) or (isinstance(error_type, list) and error_type)), (
            f"{case.operation.label}: a {response.status_code} reply is an error hash with status ERROR and an error_type: {body}"
        )
    return None


_METHODS_PROBED: set[str] = set()  # paths already probed with an undeclared method in this run


def undeclared_method_refused(ctx: Any, response: requests.Response, case: Any) -> None:
    """A method the spec does not declare for a command (PUT, DELETE) is a 405 with ``Allow``; once per path.

    schemathesis's ``unsupported_method`` does this in its coverage phase, which the Ambra run leaves
    off by default (MEDIMOCK_AMBRA_COVERAGE=1 turns it on): 925 operations would take too long.
    """
    path = case.operation.path
    if path in _METHODS_PROBED:
        return None
    _METHODS_PROBED.add(path)
    declared = {m.upper() for m in case.operation.schema.raw_schema["paths"][path] if m in ("get", "post", "put", "delete", "patch")}
    url = case.as_transport_kwargs()["url"]
    for method in sorted({"PUT", "DELETE"} - declared):
        probe = requests.request(method, url, timeout=60)
        assert probe.status_code == 405, f"{method} {path} is not in the spec: expected 405, got {probe.status_code} {probe.text[:200]}"
        allowed = {m.strip().upper() for m in probe.headers.get("Allow", "").split(",") if m.strip()}
        assert declared <= allowed and method not in allowed, f"{method} {path}: Allow lists {sorted(declared)}, not {sorted(allowed)}"
    return None


CHECKS += [credentials_enforced, ambra_reply_status, undeclared_method_refused]


@schema.parametrize()
@settings(max_examples=ambra_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, ambra, ambra_world):
    if case.meta is not None and case.meta.phase.name == TestPhase.EXAMPLES:
        case = ambra_world.map_case(None, case)  # schemathesis's map_case hooks do not see the spec's examples
    response = case.call(session=ambra.session, timeout=60)
    sent = case.body if isinstance(case.body, dict) else case.query
    ambra_world.remember(case.operation.path, dict(sent or {}), response)
    case.validate_response(response, checks=CHECKS)


def test_property_run_left_the_suite_session_and_fixtures_intact(ambra, ambra_world):
    """The property tests must not log the suite out, delete the administrator or lose the account's objects."""
    assert ambra.call("/session/ttl").status_code == 200, "the suite's sid still works after the property tests"
    fresh = ambra.login(ambra.login_name, ambra.password)
    assert ambra.ok("/session/user", sid=fresh)["uuid"] == ambra_world.known["user"], "the administrator still logs in"
    ambra.call("/session/logout", sid=fresh)
    checked = []
    for resource, known in sorted(ambra_world.known.items()):
        command = ambra_world.commands.get(f"/{resource}/get")
        if command is None or "uuid" not in command.properties:
            continue
        response = ambra.call(command.path, {"uuid": known})
        assert response.status_code == 200, f"the target's {resource} {known} still exists after the property tests: {response.text[:300]}"
        checked.append(resource)
    assert {"account", "study", "user"} <= set(checked), f"checked: {checked}"
