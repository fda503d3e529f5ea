"""One pipeline for every request, whichever API:

    route -> authenticate -> validate -> faults -> handler -> (strict) validate response -> journal

``MockApp`` owns the loaded specs, the store, the journal, the fault rules and the
webhook sender. It speaks ``MockRequest``/``MockResponse`` only; the Flask shell
in ``app.py`` adapts it to WSGI.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from . import clock as clock_module
from . import faults as faults_module
from . import journal as journal_module
from .api import ApiDefinition, Context, Handler, Principal
from .clock import MockClock
from .config import MockConfig
from .faults import DropConnection, FaultDecision, Faults
from .http import MockRequest, MockResponse, Problem, redact_query
from .journal import Journal, JournalEntry
from .replay import Replayer
from .router import Match, Router, RouteResult
from .spec import ApiSpec, Operation
from .store import Store
from .validation import validate_request
from .webhooks import Delivery, DeliveryResult, WebhookSender

log = logging.getLogger("medimock")
_NO_ROUTE = RouteResult(Match.NONE)
# fixture profiles of a million rows: a new database file is seeded without the WAL (Store.initialise)
BULK_PROFILES = frozenset({"huge"})

API_MODULES = {
    "clarius": "mockserver.apis.clarius",
    "tscharts": "mockserver.apis.tscharts",
    "radiology": "mockserver.apis.radiology",
    "ambra": "mockserver.apis.ambra",
}


def load_api(name: str) -> ApiDefinition | None:
    """The API's definition, or None when this build does not serve it yet."""
    try:
        module = importlib.import_module(API_MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name == API_MODULES[name]:
            return None
        raise
    api: ApiDefinition = module.API
    return api


@dataclass
class MountedApi:
    definition: ApiDefinition
    spec: ApiSpec
    router: Router
    handlers: dict[str, Handler]

    @property
    def name(self) -> str:
        return self.definition.name


class MockApp:
    def __init__(self, config: MockConfig | None = None, store: Store | None = None) -> None:
        self.config = config or MockConfig()
        self.store = store or Store(self.config.db)
        self.store.register(faults_module.SCHEMA)
        self.store.register(clock_module.SCHEMA)
        self.clock = MockClock(self.store)  # wall clock + an offset the control API moves (/__mock__/clock)
        # The journal has a database file of its own beside the store's: its writes (a batch every 50 ms
        # under load) would otherwise count as changes to the data and empty every ``Store.cached`` page.
        self.journal_store = Store(journal_module.path_beside(self.store.path))
        self.journal_store.register(journal_module.SCHEMA)
        self.journal_store.initialise(self.config.seed, "journal")
        self.journal = Journal(self.journal_store, self.config.journal_size)
        self.faults = Faults(self.store, self.config.seed)
        self.webhooks = WebhookSender(self.config.webhook_timeout, self.config.webhook_workers)
        self.apis: list[MountedApi] = []
        for name in self.config.apis:
            if name not in API_MODULES:
                raise ValueError(f"unknown API {name!r}; known: {', '.join(API_MODULES)}")
            definition = load_api(name)
            if definition is not None:
                self.apis.append(self._mount(definition))
        self.by_name = {api.name: api for api in self.apis}
        self._check_defects()
        # Longest mount first, so /radiology wins over the host root.
        self._by_mount = sorted(self.apis, key=lambda a: len(a.definition.mount), reverse=True)
        self._raw_routes = [(route, api) for api in self.apis for route in api.definition.raw_routes]
        self.replay = (
            Replayer(self.config.replay, strict=self.config.replay_strict, match_body=self.config.replay_match_body)
            if self.config.replay
            else None
        )
        self.store.initialise(
            self.config.seed, self.config.profile, bulk=self.config.profile in BULK_PROFILES, seed_time=self.config.seed_time
        )
        for api in self.apis:
            if api.definition.on_start is not None:
                api.definition.on_start(self)

    def _mount(self, definition: ApiDefinition) -> MountedApi:
        spec = ApiSpec(definition.name, definition.spec_file)
        handlers: dict[str, Handler] = {}
        missing = []
        for operation in spec.operations:
            handler = definition.resolve_handler(operation)
            if handler is None:
                missing.append(operation.operation_id)
            else:
                handlers[operation.operation_id] = handler
        if missing:
            raise RuntimeError(f"{definition.name}: no handler for operations {', '.join(sorted(missing))}")
        unknown = sorted(set(definition.handlers) - set(spec.by_id))
        if unknown:
            raise RuntimeError(f"{definition.name}: handlers for operations not in the spec: {', '.join(unknown)}")
        for schema in definition.store_schemas:
            self.store.register(schema)
        return MountedApi(definition, spec, Router(spec.operations, definition.mount), handlers)

    def _check_defects(self) -> None:
        known = {name for api in self.apis for name in api.definition.defects}
        unknown = sorted(set(self.config.defects) - known)
        if unknown:
            raise ValueError(f"unknown defects: {', '.join(unknown)}; known: {', '.join(sorted(known))}")

    # -- the pipeline -------------------------------------------------------------------
    def api_for_path(self, path: str, method: str = "GET") -> MountedApi | None:
        return self.route(path, method)[0]

    def route(self, path: str, method: str) -> tuple[MountedApi | None, RouteResult]:
        """The API serving ``path`` and its routing result: of the APIs at the longest mount
        owning the path, the one whose router knows it.

        Several APIs can share a mount (Clarius and tscharts both sit at the host
        root), so owning the prefix is not enough: an API whose router knows the path
        (with any method) wins; otherwise the first owner answers (its 404).
        """
        owner: MountedApi | None = None
        for api in self._by_mount:
            if owner is not None and api.definition.mount != owner.definition.mount:
                break  # a longer mount that owns the path keeps it
            if api.router.owns(path):
                routed = api.router.match(method, path)
                if routed.match is not Match.NONE:
                    return api, routed
                owner = owner or api
        return owner, _NO_ROUTE

    def handle(self, request: MockRequest) -> MockResponse:
        with self.store.request():  # the request's cached reads ask SQLite for other connections' commits once
            return self._handle(request)

    def _handle(self, request: MockRequest) -> MockResponse:
        started = time.perf_counter()
        api, routed = self.route(request.path, request.method)
        operation: Operation | None = None
        fault: FaultDecision | None = None
        detail: dict[str, Any] | None = None
        status = 500
        try:
            replayed = self.replay.answer(request) if self.replay is not None else None
            raw = self._raw_route(request) if replayed is None else None
            if replayed is not None:  # a recorded answer (``--replay``), before authentication and the handler
                response, detail = replayed
                operation = routed.operation
            elif raw is not None:
                route, api = raw
                response = self._handle_raw(api, route.handler, request)
            elif api is None:
                response = MockResponse(404, {"detail": f"No API of this mock serves {request.path}."})
            else:
                response, operation, fault = self._handle_api(api, routed, request)
            status = response.status
            return response
        except DropConnection as dropped:
            status, fault = 0, dropped.decision
            raise
        finally:
            entry = JournalEntry(
                api=api.name if api else None,
                operation_id=operation.operation_id if operation else None,
                method=request.method,
                path=request.path,
                query=redact_query(request.query_string),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                fault=fault.describe() if fault else None,
                detail=detail,
            )
            try:
                self.journal.record(entry)
            except Exception:
                log.exception("could not write the request journal")

    def _raw_route(self, request: MockRequest) -> tuple[Any, MountedApi] | None:
        for route, api in self._raw_routes:
            if request.path.startswith(route.path) and request.method in (route.method, "HEAD" if route.method == "GET" else ""):
                return route, api
        return None

    def _handle_raw(self, api: MountedApi, handler: Any, request: MockRequest) -> MockResponse:
        try:
            response: MockResponse = handler(self, request)
            return response
        except Problem as problem:
            return api.definition.dialect.render(problem)

    def _handle_api(
        self, api: MountedApi, routed: RouteResult, request: MockRequest
    ) -> tuple[MockResponse, Operation | None, FaultDecision | None]:
        dialect = api.definition.dialect
        operation: Operation | None = None
        fault: FaultDecision | None = None
        try:
            if routed.match is Match.NONE:
                raise Problem("not_found", 404, "Not found.")
            if routed.match is Match.PARTIAL:
                problem = Problem("method_not_allowed", 405, f'Method "{request.method}" not allowed.')
                problem.headers["Allow"] = ", ".join(routed.allowed)
                raise problem
            operation = routed.operation
            assert operation is not None and routed.path_params is not None
            if len(request.body) > self.config.max_body_bytes:
                raise Problem("payload_too_large", 413, f"Request body exceeds {self.config.max_body_bytes} bytes.")
            principal = self._authenticate(api, operation, request)
            params = validate_request(operation, request, routed.path_params, self.config.max_query_params)
            fault = self.faults.decide(api.name, operation, request)
            if fault is not None:
                self._apply_fault(fault)
            context = Context(self, api.definition, operation, request, params, principal)
            response = api.handlers[operation.operation_id](context)
            response = self._apply_defects(api, context, response)
        except Problem as problem:
            response = _render(dialect, problem, operation, request)
        except DropConnection:
            raise
        except OverflowError as exc:
            # A number from the request beyond what the store keeps (SQLite's 64-bit integers) or a date past
            # year 9999: the client's input, in whichever handler it surfaced, so a 400 in the API's dialect.
            out_of_range = Problem("invalid_request", 400, f"A number or date in the request is out of range ({exc}).")
            response = _render(dialect, out_of_range, operation, request)
        except Exception as exc:
            log.exception("handler failed for %s %s", request.method, request.path)
            response = dialect.render(Problem("internal", 500, f"medimock internal error: {type(exc).__name__}: {exc}"))
        if self.config.strict and operation is not None and (fault is None or not fault.status):
            response = self._strict(api, operation, request, response)
        return response, operation, fault

    def _authenticate(self, api: MountedApi, operation: Operation, request: MockRequest) -> Principal | None:
        if not operation.security:
            return None  # anonymous access
        optional = any(not requirement for requirement in operation.security)
        if not optional and any(defect.auth_ignored for name, defect in api.definition.defects.items() if name in self.config.defects):
            return Principal(scheme="defect", identity="anyone")
        schemes = ((api.spec.document.get("components") or {}).get("securitySchemes")) or {}
        insufficient: Problem | None = None
        for requirement in operation.security:
            principal = None
            for scheme_name, scopes in requirement.items():
                principal = api.definition.authenticate(scheme_name, schemes.get(scheme_name, {}), request, self)
                if principal is None:
                    break
                missing = [scope for scope in scopes if scope not in principal.scopes]
                if missing:
                    insufficient = Problem(
                        "insufficient_scope",
                        403,
                        f"The token lacks the scope(s) this operation requires: {' '.join(missing)}.",
                        extra={"required_scopes": scopes},
                    )
                    principal = None
                    break
            if principal is not None:
                return principal
        if optional:
            return None  # anonymous access is allowed; credentials, when presented, were still checked above
        if insufficient is not None:
            raise insufficient
        raise Problem("unauthenticated", 401, "Authentication credentials were not provided.")

    def _apply_fault(self, fault: FaultDecision) -> None:
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault.stall_ms:
            time.sleep(fault.stall_ms / 1000)
        if fault.drop:
            raise DropConnection(fault)
        if fault.status:
            problem = Problem("fault", fault.status, f"Injected fault: status {fault.status}.")
            problem.headers.update(fault.headers)
            raise problem

    def _apply_defects(self, api: MountedApi, context: Context, response: MockResponse) -> MockResponse:
        for name in self.config.defects:
            defect = api.definition.defects.get(name)
            if defect and defect.transform and (not defect.operations or context.operation.operation_id in defect.operations):
                response = defect.transform(context, response)
        return response

    def _strict(self, api: MountedApi, operation: Operation, request: MockRequest, response: MockResponse) -> MockResponse:
        violations = response_violations(operation, response)
        if not violations:
            return response
        log.error(
            "strict mode: %s %s -> %s violates %s: %s", request.method, request.path, response.status, operation.operation_id, violations
        )
        return MockResponse(
            500,
            {
                "medimock_strict_violation": {
                    "operation": operation.operation_id,
                    "status": response.status,
                    "violations": violations,
                }
            },
        )

    def send_webhook(self, api: str, delivery: Delivery, on_done: Callable[[DeliveryResult], Any]) -> None:
        """Send an API's webhook in the background, through the fault rules marked ``webhooks: true``."""
        target = MockRequest("POST", urlparse(delivery.url).path or "/", [], {}, delivery.body, "application/json", "")
        fault = self.faults.decide(api, None, target, webhooks=True)
        self.webhooks.submit(delivery, on_done, fault)

    # -- lifecycle ----------------------------------------------------------------------
    def reset(self) -> None:
        self.store.reset(self.config.seed, self.config.profile, seed_time=self.config.seed_time)

    def close(self) -> None:
        self.journal.close()
        self.webhooks.shutdown()
        self.journal_store.close()  # before the store, whose temporary directory may hold its file
        self.store.close()

    def credentials(self, base_url: str) -> dict[str, Any]:
        out = {}
        for api in self.apis:
            if api.definition.credentials is not None:
                out[api.name] = {"base_url": base_url + api.definition.mount, **api.definition.credentials(self, base_url)}
        return out


def _render(dialect: Any, problem: Problem, operation: Operation | None, request: MockRequest) -> MockResponse:
    """A problem in the API's dialect, answered as the operation documents (e.g. its error types)."""
    if operation is not None:
        problem.extra.setdefault("operation_id", operation.operation_id)
        problem.extra.setdefault("request", request)  # and as the request reads (e.g. which fields are empty)
    response: MockResponse = dialect.render(problem)
    for key, value in problem.headers.items():
        response.headers.setdefault(key, value)
    return response


@dataclass(frozen=True)
class ResponseViolation:
    """One way a response breaks its operation's contract.

    ``kind`` is ``undocumented_status``, ``undocumented_content_type``, ``unexpected_body`` or
    ``response_schema``; for the last, ``field`` says where and ``rule`` names the JSON Schema keyword.
    """

    kind: str
    message: str
    field: str = ""
    rule: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.kind == "response_schema" else self.message


def check_response(operation: Operation, response: MockResponse) -> list[ResponseViolation]:
    """How a response breaks its operation's contract, one structured violation each (strict mode, the proxy)."""
    spec = operation.response_for(response.status)
    if spec is None:
        documented = ", ".join(sorted(operation.responses))
        return [
            ResponseViolation(
                "undocumented_status", f"status {response.status} is not documented for {operation.operation_id} (documented: {documented})"
            )
        ]
    if not spec.content:
        if response.body not in (None, b"") and not response.raw:
            return [
                ResponseViolation(
                    "unexpected_body", f"status {response.status} of {operation.operation_id} documents no body, but one was sent"
                )
            ]
        return []
    content_type = (response.content_type or "").split(";")[0].strip().lower()
    media = spec.content.get(content_type)
    if media is None:
        wildcard = [m for m in spec.content.values() if m.media_type.endswith("/*") and content_type.startswith(m.media_type[:-1])]
        if wildcard or "*/*" in spec.content:
            return []
        return [
            ResponseViolation(
                "undocumented_content_type",
                f"content type {content_type!r} is not documented for status {response.status} (documented: {', '.join(spec.content)})",
            )
        ]
    if response.raw or media.validator is None:
        return []
    found = [ResponseViolation("response_schema", v.message, v.field, v.kind) for v in media.validator.violations(response.body)]
    if response.partial:  # fields left out on request are not missing
        found = [violation for violation in found if violation.rule != "required"]
    return sorted(found, key=str)


def response_violations(operation: Operation, response: MockResponse) -> list[str]:
    """How a response breaks its operation's contract (strict mode and tests), as sentences."""
    return [str(violation) for violation in check_response(operation, response)]
