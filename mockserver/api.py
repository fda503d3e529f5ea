"""What one API contributes to the mock: spec, mount point, dialect, auth, handlers.

The core knows APIs only through ``ApiDefinition``; it never hard-codes one
API's error shape or credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medimock.resources import specs_dir

from .http import MockRequest, MockResponse, Problem
from .spec import Operation
from .store import StoreSchema
from .validation import ValidatedRequest

if TYPE_CHECKING:
    from .pipeline import MockApp

SPECS_DIR = specs_dir()


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as."""

    scheme: str
    identity: str
    scopes: frozenset[str] = frozenset()
    data: dict[str, Any] = field(default_factory=dict)


class ErrorDialect(Protocol):
    def render(self, problem: Problem) -> MockResponse: ...


class Authenticator(Protocol):
    def __call__(self, scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: MockApp) -> Principal | None:
        """Return the principal, None when this scheme's credentials are absent, or raise a Problem when they are invalid."""
        ...


@dataclass
class Context:
    """Everything a handler may use for one request."""

    app: MockApp
    api: ApiDefinition
    operation: Operation
    request: MockRequest
    params: ValidatedRequest
    principal: Principal | None

    @property
    def store(self) -> Any:
        return self.app.store

    @property
    def query(self) -> dict[str, Any]:
        return self.params.query

    @property
    def path(self) -> dict[str, Any]:
        return self.params.path

    @property
    def body(self) -> Any:
        return self.params.body

    def api_url(self, path: str) -> str:
        """An absolute URL on this API as the client reached it (for links in bodies)."""
        return self.request.base_url + self.api.mount + path

    def defect(self, name: str) -> bool:
        return name in self.app.config.defects


Handler = Callable[[Context], MockResponse]


@dataclass
class DocsExamples:
    """Seeded values for the examples of a served spec: parameters and form fields by name (``"customer_id"``
    for every operation, ``"session_login.login"`` for one operationId; None removes the document's example,
    for a parameter "Try it out" must leave empty), JSON request bodies by operationId."""

    values: dict[str, Any] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlRoute:
    method: str
    path: str  # below /__mock__, e.g. "/clarius/exams"
    handler: Callable[[MockApp, MockRequest], MockResponse]
    summary: str = ""


@dataclass
class Defect:
    """A deliberate defect, switched on with ``--defect NAME``, that a contract suite must catch."""

    name: str
    description: str
    auth_ignored: bool = False
    operations: tuple[str, ...] = ()  # operationIds whose responses ``transform`` rewrites
    transform: Callable[[Context, MockResponse], MockResponse] | None = None


@dataclass
class ApiDefinition:
    name: str
    title: str
    spec_file: Path
    mount: str  # prefix the spec's paths are served under ("" for the host root)
    dialect: ErrorDialect
    authenticate: Authenticator
    handlers: dict[str, Handler] = field(default_factory=dict)
    store_schemas: list[StoreSchema] = field(default_factory=list)
    control_routes: list[ControlRoute] = field(default_factory=list)
    raw_routes: list[ControlRoute] = field(default_factory=list)  # outside the spec (media downloads); path is a prefix
    defects: dict[str, Defect] = field(default_factory=dict)
    credentials: Callable[[MockApp, str], dict[str, Any]] | None = None
    fallback: Callable[[Operation], Handler | None] | None = None  # e.g. a generic engine
    on_start: Callable[[MockApp], None] | None = None
    # For newcomers (GET / and /docs): shell commands of a first call, formatted with the API's credentials
    # (``{base_url}``, ``{api_key}``, ``{patients[0]}``...), and the seeded values Swagger UI's "Try it out"
    # pre-fills (``mockserver/seeded_examples.py``).
    quickstart: str = ""
    docs_examples: Callable[[MockApp], DocsExamples] | None = None

    def handler(self, operation_id: str) -> Callable[[Handler], Handler]:
        def register(function: Handler) -> Handler:
            if operation_id in self.handlers:
                raise ValueError(f"{self.name}: two handlers for {operation_id}")
            self.handlers[operation_id] = function
            return function

        return register

    def control(self, method: str, path: str, summary: str = "") -> Callable[[Any], Any]:
        def register(function: Any) -> Any:
            self.control_routes.append(ControlRoute(method, path, function, summary))
            return function

        return register

    def raw(self, method: str, prefix: str, summary: str = "") -> Callable[[Any], Any]:
        """Serve paths below ``prefix`` outside the spec (what a real service serves from storage)."""

        def register(function: Any) -> Any:
            self.raw_routes.append(ControlRoute(method, prefix, function, summary))
            return function

        return register

    def defect(self, defect: Defect) -> Defect:
        self.defects[defect.name] = defect
        return defect

    def resolve_handler(self, operation: Operation) -> Handler | None:
        found = self.handlers.get(operation.operation_id)
        if found is None and self.fallback is not None:
            found = self.fallback(operation)
        return found
