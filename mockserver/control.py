"""The control API under ``/__mock__`` — never part of a vendor spec.

    POST   /__mock__/reset          back to the seeded fixtures
    GET    /__mock__/credentials    the seeded credentials of every API
    GET    /__mock__/requests       the request journal (?api=, ?limit=, ?since_id=)
    DELETE /__mock__/requests       clear the journal
    GET    /__mock__/faults         the fault rules
    PUT    /__mock__/faults         replace them (a JSON list of rules, or {"rules": [...]})
    POST   /__mock__/faults         add one rule
    DELETE /__mock__/faults         clear them
    GET    /__mock__/health         liveness, with the APIs served
    GET    /__mock__/clock          the mock's clock (wall clock + offset)
    POST   /__mock__/clock          move it forward: {"advance_seconds": N} (what expires with time expires)
    PUT    /__mock__/clock          set its offset: {"offset_seconds": N} (a test putting the clock back as it found it)
    POST   /__mock__/webhooks/drain wait until the webhooks queued so far are sent and recorded ({"timeout_seconds": N})
    ...and what each API adds (``/__mock__/clarius/exams``...).

Errors are ``{"error": "<kind>", "detail": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .http import MockRequest, MockResponse, Problem, json_response, no_content
from .pipeline import MockApp

ControlHandler = Callable[[MockApp, MockRequest], MockResponse]


def control_error(problem: Problem) -> MockResponse:
    body: dict[str, Any] = {"error": problem.kind, "detail": problem.message}
    if problem.fields:
        body["fields"] = problem.fields
    return MockResponse(problem.status, body, headers=dict(problem.headers))


def json_body(request: MockRequest, *, required: bool = True) -> Any:
    if not request.body:
        if required:
            raise Problem("invalid_request", 400, "A JSON body is required.")
        return None
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem("invalid_request", 400, f"The body is not valid JSON: {exc}.") from exc


def query_int(request: MockRequest, name: str, default: int, low: int, high: int) -> int:
    raw = dict(request.query).get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Problem("invalid_request", 400, f"{name} must be an integer.") from exc
    if not low <= value <= high:
        raise Problem("invalid_request", 400, f"{name} must be between {low} and {high}.")
    return value


# What each core route does (the APIs' own routes carry their summary: ``ControlRoute.summary``).
CORE_SUMMARIES = {
    ("POST", "/reset"): "back to the seeded fixtures (fault rules and the journal are kept)",
    ("GET", "/credentials"): "the seeded credentials of every API",
    ("GET", "/requests"): "the request journal (?api=, ?limit=, ?since_id=)",
    ("DELETE", "/requests"): "clear the journal",
    ("GET", "/faults"): "the fault rules",
    ("PUT", "/faults"): 'replace the fault rules (a JSON list, or {"rules": [...]})',
    ("POST", "/faults"): "add one fault rule (latency, status, drop, stall...)",
    ("DELETE", "/faults"): "clear the fault rules",
    ("GET", "/health"): "the APIs served, seed, profile, strict mode, control routes",
    ("GET", "/clock"): "the mock's clock (wall clock + offset)",
    ("POST", "/clock"): 'move the clock forward: {"advance_seconds": N} (what expires with time expires)',
    ("PUT", "/clock"): 'set its offset: {"offset_seconds": N}',
    ("POST", "/webhooks/drain"): 'wait until every webhook queued so far is sent and recorded ({"timeout_seconds": N}, default 30)',
}


class ControlApi:
    def __init__(self, app: MockApp) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], ControlHandler] = {
            ("POST", "/reset"): _reset,
            ("GET", "/credentials"): _credentials,
            ("GET", "/requests"): _requests,
            ("DELETE", "/requests"): _clear_requests,
            ("GET", "/faults"): _faults,
            ("PUT", "/faults"): _replace_faults,
            ("POST", "/faults"): _add_fault,
            ("DELETE", "/faults"): _clear_faults,
            ("GET", "/health"): _health,
            ("GET", "/clock"): _clock,
            ("POST", "/clock"): _advance_clock,
            ("PUT", "/clock"): _set_clock,
            ("POST", "/webhooks/drain"): _drain_webhooks,
        }
        self.summaries = dict(CORE_SUMMARIES)
        for api in app.apis:
            for route in api.definition.control_routes:
                self.routes[(route.method, route.path)] = route.handler
                self.summaries[(route.method, route.path)] = route.summary

    def describe(self) -> list[dict[str, str]]:
        """Every route, ``{"method", "path", "summary"}``, sorted by path."""
        return [
            {"method": method, "path": f"/__mock__{path}", "summary": self.summaries.get((method, path), "")}
            for method, path in sorted(self.routes, key=lambda route: (route[1], route[0]))
        ]

    def handle(self, request: MockRequest, subpath: str) -> MockResponse:
        token = self.app.config.control_token
        if token:
            presented = request.header("Authorization").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(presented.encode(), token.encode()):
                return control_error(Problem("unauthenticated", 401, "The control API needs 'Authorization: Bearer <control token>'."))
        path = "/" + subpath.strip("/")
        handler = self.routes.get((request.method, path))
        if handler is None:
            methods = sorted(m for (m, p) in self.routes if p == path)
            if methods:
                problem = Problem("method_not_allowed", 405, f"{request.method} is not allowed on /__mock__{path}.")
                problem.headers["Allow"] = ", ".join(methods)
                return control_error(problem)
            return control_error(Problem("not_found", 404, f"No control endpoint /__mock__{path}; see GET /__mock__/health."))
        try:
            return handler(self.app, request)
        except Problem as problem:
            return control_error(problem)


def _reset(app: MockApp, request: MockRequest) -> MockResponse:
    app.reset()
    return json_response({"reset": True, "seed": app.config.seed, "profile": app.config.profile})


def _credentials(app: MockApp, request: MockRequest) -> MockResponse:
    return json_response(app.credentials(request.base_url))


def _requests(app: MockApp, request: MockRequest) -> MockResponse:
    api = dict(request.query).get("api")
    limit = query_int(request, "limit", 100, 1, app.config.journal_size)
    since_id = query_int(request, "since_id", 0, 0, 2**62)
    entries = app.journal.entries(api=api, limit=limit, since_id=since_id)
    return json_response({"count": len(entries), "results": entries})


def _clear_requests(app: MockApp, request: MockRequest) -> MockResponse:
    app.journal.clear()
    return no_content()


def _faults(app: MockApp, request: MockRequest) -> MockResponse:
    return json_response({"rules": app.faults.rules()})


def _replace_faults(app: MockApp, request: MockRequest) -> MockResponse:
    body = json_body(request)
    rules = body.get("rules") if isinstance(body, dict) else body
    if not isinstance(rules, list):
        raise Problem("invalid_request", 400, 'PUT /__mock__/faults takes a JSON list of rules or {"rules": [...]}.')
    return json_response({"rules": app.faults.replace(rules)})


def _add_fault(app: MockApp, request: MockRequest) -> MockResponse:
    return json_response(app.faults.add(json_body(request)), status=201)


def _clear_faults(app: MockApp, request: MockRequest) -> MockResponse:
    app.faults.clear()
    return no_content()


def clock_state(app: MockApp) -> dict[str, Any]:
    """``{"now": ISO 8601 UTC, "offset_seconds": N}``: the mock's clock as the control API shows it."""
    now = app.clock.now()
    return {"now": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "offset_seconds": app.clock.offset()}


def _advance_clock(app: MockApp, request: MockRequest) -> MockResponse:
    """``{"advance_seconds": N}`` moves the mock's clock forward (0 to 10 years; never back)."""
    options = json_body(request)
    seconds = options.get("advance_seconds") if isinstance(options, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 10 * 365 * 86400:
        raise Problem("invalid_request", 400, 'The body is {"advance_seconds": N} with 0 <= N <= 10 years: the clock only moves forward.')
    app.clock.advance(float(seconds))
    return json_response(clock_state(app))


def _set_clock(app: MockApp, request: MockRequest) -> MockResponse:
    """``{"offset_seconds": N}`` sets the offset (0 to 10 years): for a test that moved the clock to put it back."""
    options = json_body(request)
    seconds = options.get("offset_seconds") if isinstance(options, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 10 * 365 * 86400:
        raise Problem("invalid_request", 400, 'The body is {"offset_seconds": N} with 0 <= N <= 10 years.')
    app.clock.set_offset(float(seconds))
    return json_response(clock_state(app))


def _clock(app: MockApp, request: MockRequest) -> MockResponse:
    return json_response(clock_state(app))


def _drain_webhooks(app: MockApp, request: MockRequest) -> MockResponse:
    """Wait for the webhooks queued so far (a client that must see their records, or ``medimock diff`` keeping a
    mirrored B in step with A: B's notification sent while the suite's receiver still listens)."""
    options = json_body(request, required=False)
    seconds = options.get("timeout_seconds", 30) if isinstance(options, dict) else 30 if options is None else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 300:
        raise Problem("invalid_request", 400, 'The body is empty or {"timeout_seconds": N} with 0 <= N <= 300.')
    return json_response({"drained": app.webhooks.drain(timeout=float(seconds))})


def _health(app: MockApp, request: MockRequest) -> MockResponse:
    return json_response(
        {
            "status": "ok",
            "apis": {api.name: {"mount": api.definition.mount or "/", "operations": len(api.spec.operations)} for api in app.apis},
            "seed": app.config.seed,
            "seed_time": app.config.seed_time,
            "profile": app.config.profile,
            "strict": app.config.strict,
            "max_body_bytes": app.config.max_body_bytes,
            "defects": sorted(app.config.defects),
            "control": sorted(f"{m} /__mock__{p}" for (m, p) in ControlApi(app).routes),
        }
    )
