"""Ambra's error dialect: HTTP 412 with ``{"status": "ERROR", "error_type", "error_subtype",
"error_data"}`` for request problems, 401 ``NO_SESSION`` for a missing, unknown or
expired session, 405 for a GET of a command that must be POSTed.

Validation failures of the core (``invalid_request`` with structured violations) are
read as Ambra reads them: missing fields and incomplete alternatives are
``MISSING_FIELDS`` with every missing field in ``error_subtype`` (a list, as the
document says: "the error_subtype holds a array of all the missing fields"); a bad flag
``INVALID_FLAG``, a bad integer ``INVALID_INTEGER``, a bad ``sort_by``
``INVALID_SORT_ORDER``/``INVALID_SORT_FIELD``, a value outside an enum the
command's own ``INVALID_<FIELD>`` type (or ``INVALID_VALUE``/``INVALID_FIELD``...; where
the command documents none of those, ``MISSING_FIELDS`` naming the field) — always, where
it can, a type the command documents in its 412 enum (strict mode checks that).
"""

from __future__ import annotations

import re
from typing import Any

from ...http import MockRequest, MockResponse, Problem
from .call import basic_values, closest_missing
from .catalog import Plan, plan_for
from .shapes import is_flag

_SORT_ITEM = re.compile(r"^[A-Za-z0-9_.\-]+-(asc|desc)$")


def error_body(error_type: str, subtype: Any = None, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ERROR", "error_type": error_type}
    if subtype is not None:
        body["error_subtype"] = subtype
    if data is not None:
        body["error_data"] = data
    return body


class AmbraDialect:
    def __init__(self) -> None:
        self.empty_missing_subtype = False  # the ``ambra.missing_fields_subtype_empty`` defect, set at start-up
        self.not_found_ok: frozenset[str] = frozenset()  # operations of the ``ambra.not_found_answers_200`` defect

    def render(self, problem: Problem) -> MockResponse:
        plan = plan_for(problem.extra.get("operation_id"))
        headers = dict(problem.headers)
        if plan is not None and plan.post_only_get:
            headers["Allow"] = "POST"
            return MockResponse(405, error_body("METHOD_NOT_ALLOWED", "The call must be a POST not a GET"), headers)
        kind = problem.kind
        if plan is not None and plan.path == "/bundle" and kind in ("invalid_request", "malformed_body", "unsupported_media_type"):
            return MockResponse(400, b"", headers, content_type="", raw=True)
        if kind == "ambra":
            extra = problem.extra
            if extra["error_type"] == "NOT_FOUND" and extra.get("operation_id") in self.not_found_ok:
                return MockResponse(200, {"status": "OK"}, headers)
            return MockResponse(
                problem.status, error_body(extra["error_type"], extra.get("error_subtype"), extra.get("error_data")), headers
            )
        if kind == "invalid_request" and problem.extra.get("limit") == "query_parameters":
            return MockResponse(413, error_body("TOO_MANY_PARAMETERS", problem.message), headers)
        if kind == "payload_too_large":
            return MockResponse(413, error_body("PAYLOAD_TOO_LARGE", problem.message), headers)
        if kind == "invalid_request":
            return MockResponse(412, self._invalid(plan, problem), headers)
        if kind == "unauthenticated":
            if plan is not None and not plan.documents_401 and plan.errors & {"INVALID_CREDENTIALS", "INVALID_SID"}:
                return MockResponse(412, error_body(plan.pick("INVALID_CREDENTIALS", "INVALID_SID")), headers)
            return MockResponse(401, error_body("NO_SESSION"), headers)
        if kind in ("malformed_body", "unsupported_media_type") and (plan is None or plan.path == "/bundle"):
            return MockResponse(400, b"", headers, content_type="", raw=True)
        if kind == "unsupported_media_type" and plan is not None:
            missing = list(plan.required) + closest_missing(plan.alternatives, lambda name: False)
            return MockResponse(412, error_body(plan.pick("MISSING_FIELDS", "INVALID_FIELD"), missing), headers)
        if kind == "not_found":
            return MockResponse(problem.status, error_body("NOT_FOUND", problem.message), headers)
        if kind == "method_not_allowed":
            return MockResponse(problem.status, error_body("METHOD_NOT_ALLOWED", problem.message), headers)
        if kind == "internal":
            return MockResponse(500, error_body("INTERNAL_ERROR", problem.message), headers)
        return MockResponse(problem.status, error_body(kind.upper(), problem.message), headers)

    def _invalid(self, plan: Plan | None, problem: Problem) -> dict[str, Any]:
        violations = list(problem.extra.get("violations") or [])
        missing: list[str] = []
        for violation in violations:
            if violation.kind == "required":
                name = violation.field.split("/")[-1]
                if name not in missing and name != "(body)":
                    missing.append(name)
            elif violation.instance == "" and plan is not None and violation.field.split("/")[0] in plan.required:
                # "missing or does not have data in it": an empty required flag, integer or enum is missing, not invalid
                if violation.field.split("/")[0] not in missing:
                    missing.append(violation.field.split("/")[0])
            elif violation.kind in ("anyOf", "alternatives") and isinstance(violation.expected, list):
                body = violation.instance if isinstance(violation.instance, dict) else {}
                group = [list((option or {}).get("required") or []) for option in violation.expected if isinstance(option, dict)]
                missing += [n for n in closest_missing([group], lambda n, body=body: body.get(n) not in (None, "")) if n not in missing]
        if not violations and "(body)" in problem.fields and plan is not None:
            missing = list(plan.required) + closest_missing(plan.alternatives, lambda name: False)
        elif missing and plan is not None and isinstance(problem.extra.get("request"), MockRequest):
            # "The error_subtype holds a array of all the missing fields": with the request at hand, also the
            # required fields sent empty and the alternatives (which a GET's query schema cannot express).
            values = _values(problem.extra["request"])
            values.update(basic_values(plan, problem.extra["request"], values))  # a node's uuid and serial_no as basic auth
            present = lambda name: values.get(name) not in (None, "")  # noqa: E731
            every = [n for n in plan.required if not present(n)] + closest_missing(plan.alternatives, present)
            missing = every + [n for n in missing if n not in every]  # in the command's order, as its own check names them
        if missing:
            return error_body(_pick(plan, "MISSING_FIELDS"), [] if self.empty_missing_subtype else missing)
        if not violations:
            return error_body(_pick(plan, "INVALID_FIELD", "INVALID_PARAMETERS"), problem.message)
        violation = violations[0]
        name = violation.field.split("/")[0]
        schema = violation.schema if isinstance(violation.schema, dict) else {}
        if name == "sort_by":
            return _sort_error(plan, violation.instance)
        if is_flag(schema):
            return error_body(_pick(plan, "INVALID_FLAG"), name)
        if schema.get("type") == "integer" or violation.kind in ("minimum", "maximum"):
            return error_body(_pick(plan, "INVALID_INTEGER"), name)
        documented = [t for t in (plan.error_list if plan else ()) if t.startswith("INVALID_")]
        candidates = [f"INVALID_{name.upper()}", "INVALID_VALUE", "INVALID_FIELD", "INVALID_PARAMETERS", "INVALID_TYPE", *documented]
        if plan is not None and not plan.errors & set(candidates) and plan.documents("MISSING_FIELDS"):
            # No type for a bad value is documented: the field "does not have [valid] data in it".
            return error_body("MISSING_FIELDS", [name])
        return error_body(_pick(plan, *candidates), name)


def _values(request: MockRequest) -> dict[str, Any]:
    """The parameters of a request as a command reads them: the query string, then the form body (the body wins)."""
    values: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.form:
        values.update(dict(request.form))
    return values


def _pick(plan: Plan | None, *candidates: str) -> str:
    return plan.pick(*candidates) if plan is not None else candidates[0]


def _sort_error(plan: Plan | None, value: Any) -> dict[str, Any]:
    for item in str(value or "").split(","):
        item = item.strip()
        if _SORT_ITEM.match(item):
            continue
        field, dash, direction = item.rpartition("-")
        if not dash or direction not in ("asc", "desc"):
            return error_body(_pick(plan, "INVALID_SORT_ORDER"), field or item)
        return error_body(_pick(plan, "INVALID_SORT_FIELD"), field)
    return error_body(_pick(plan, "INVALID_SORT_ORDER"), str(value))
