"""Per-operation plans derived once from the Ambra spec: what each command takes, what it
may answer, which resource it serves, and the documented-shape reply of each.

The spec says it all: ``x-ambra`` (group, command, permission flags), ``x-medimock``
(resource, action, collection), ``x-ambra-alternatives``, the form body's property
types (flags are ``integer`` with ``enum [0, 1]``, JSON fields carry
``contentMediaType``), the 412 ``error_type`` enum and the success response schema.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ...spec import ApiSpec, Operation
from .shapes import Resolver, is_flag, new_uuid, sample

FORM = "application/x-www-form-urlencoded"
CONTROL_FIELDS = frozenset({"sid", "page.rows", "page.number", "sort_by", "filter.tz", "serial_no"})  # never stored


@dataclass
class Plan:
    operation_id: str
    method: str
    path: str
    group: str
    command: str
    action: str  # add | get | set | delete | list | count | custom
    resource: str | None
    collection: str | None
    kinds: dict[str, str]  # parameter -> flag | integer | json | enum | string
    json_types: dict[str, str]  # JSON parameter -> object | array
    enums: dict[str, list[Any]]
    required: tuple[str, ...]
    alternatives: list[list[list[str]]]
    errors: frozenset[str]
    error_list: tuple[str, ...]
    permission_flags: tuple[str, ...]
    post_only_get: bool
    paged: bool
    filterable: bool
    sortable: bool
    anonymous: bool  # the security allows no credentials
    ok_status: int
    ok_media: str | None
    ok_pointer: str | None
    documents_401: bool
    page_rows: int = 100  # the default of page.rows (the Pagination section: 100 or 1000 by object type)
    field_objects: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fields.OBJECT -> where in the reply
    conditions: tuple[dict[str, Any], ...] = ()  # x-ambra-alternative-conditions: sets that count only if ...
    json_error_fields: frozenset[str] = frozenset()  # fields whose INVALID_JSON is ["INVALID_JSON", field]
    undocumented: bool = False  # beyond the public document (x-medimock-undocumented)
    # x-ambra-basic-credentials: the parameters HTTP basic auth's username and password stand for (a node's uuid and
    # serial_no on /node/ping, /node/configuration...); still required, but the schemas cannot say so
    basic_credentials: tuple[str, str] | None = None
    _template: Any = field(default=None, repr=False)

    def pick(self, *candidates: str) -> str:
        """The first candidate error type this command documents (else the first candidate)."""
        for candidate in candidates:
            if candidate in self.errors:
                return candidate
        return candidates[0]

    def documents(self, error_type: str) -> bool:
        return error_type in self.errors

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(self.kinds)


@dataclass
class ResourceInfo:
    name: str
    schema: dict[str, Any]  # the (resolved) item schema
    pointer: str | None  # where the item schema is, for a compiled validator
    properties: dict[str, Any]
    required: list[str]


class Catalog:
    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self.resolver = Resolver(spec.document)
        self.plans: dict[str, Plan] = {}
        self.by_command: dict[str, dict[str, Plan]] = {}  # "/study/list" -> {"GET": plan, "POST": plan}
        for operation in spec.operations:
            plan = self._plan(operation)
            self.plans[operation.operation_id] = plan
            self.by_command.setdefault(operation.path, {})[operation.method] = plan
        self.resource_names = frozenset(plan.resource for plan in self.plans.values() if plan.resource)
        self.resources: dict[str, ResourceInfo] = {}
        for plan in self.plans.values():
            if plan.resource and plan.method == "POST" and plan.resource not in self.resources:
                info = self._resource(plan.resource)
                if info is not None:
                    self.resources[plan.resource] = info
        self.validators: dict[str, Any] = {}

    # -- building ---------------------------------------------------------------------------
    def _plan(self, operation: Operation) -> Plan:
        x_ambra = operation.extensions.get("x-ambra") or {}
        x_mock = operation.extensions.get("x-medimock") or {}
        post_path = f"/paths/{operation.path.replace('~', '~0').replace('/', '~1')}/post"
        raw_post = self.spec.pointer(post_path) if operation.path in (self.spec.document.get("paths") or {}) else {}
        body = ((raw_post.get("requestBody") or {}).get("content") or {}).get(FORM, {}).get("schema") or {}
        kinds: dict[str, str] = {}
        json_types: dict[str, str] = {}
        enums: dict[str, list[Any]] = {}
        for name, raw in (body.get("properties") or {}).items():
            schema = self.resolver.deref(raw)
            declared = raw.get("type") or schema.get("type")
            if schema.get("contentMediaType") == "application/json":
                kinds[name] = "json"
                json_types[name] = (schema.get("contentSchema") or {}).get("type", "any")
            elif is_flag(schema):
                kinds[name] = "flag"
            elif declared == "integer":
                kinds[name] = "integer"
            elif schema.get("enum"):
                kinds[name] = "enum"
                enums[name] = list(schema["enum"])
            else:
                kinds[name] = "string"
        patterns = " ".join((body.get("patternProperties") or {}).keys())
        enum = self._errors(operation)
        error_list = [e for e in enum if isinstance(e, str)]
        rows = self.resolver.deref((body.get("properties") or {}).get("page.rows") or {}).get("default", 100)
        ok_status, ok_media, ok_pointer = self._ok(operation, post_path if operation.method == "POST" else post_path[:-4] + "get")
        basic = operation.extensions.get("x-ambra-basic-credentials") or {}
        credentials = (str(basic["username"]), str(basic["password"])) if basic else None
        required = tuple(body.get("required") or ())
        if credentials is not None:
            required = tuple(name for name in credentials if name not in required) + required
        return Plan(
            operation_id=operation.operation_id,
            method=operation.method,
            path=operation.path,
            group=str(x_ambra.get("group") or operation.path.strip("/").split("/")[0]),
            command=str(x_ambra.get("command") or ""),
            action=str(x_mock.get("action") or "custom"),
            resource=x_mock.get("resource"),
            collection=x_mock.get("collection"),
            kinds=kinds,
            json_types=json_types,
            enums=enums,
            required=required,
            alternatives=list(operation.extensions.get("x-ambra-alternatives") or []),
            errors=frozenset(error_list),
            error_list=tuple(error_list),
            permission_flags=tuple(x_ambra.get("permission_flags") or ()),
            post_only_get=operation.method == "GET" and set(operation.responses) == {"405"},
            paged="page.rows" in kinds,
            filterable="filter\\." in patterns,
            sortable="sort_by" in kinds,
            anonymous=not operation.security or any(not requirement for requirement in operation.security),
            ok_status=ok_status,
            ok_media=ok_media,
            ok_pointer=ok_pointer,
            documents_401="401" in operation.responses,
            page_rows=int(rows),
            field_objects={k: tuple(v) for k, v in (operation.extensions.get("x-ambra-field-objects") or {}).items()},
            conditions=tuple(operation.extensions.get("x-ambra-alternative-conditions") or ()),
            json_error_fields=frozenset(e[1] for e in enum if isinstance(e, list) and len(e) == 2 and e[0] == "INVALID_JSON"),
            undocumented=bool(operation.extensions.get("x-medimock-undocumented")),
            basic_credentials=credentials,
        )

    def _errors(self, operation: Operation) -> list[Any]:
        raw = ((self.spec.document.get("paths") or {}).get(operation.path) or {}).get(operation.method.lower()) or {}
        response = self.resolver.deref((raw.get("responses") or {}).get("412") or {})
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
        found: list[Any] = []
        for part in schema.get("allOf") or ():
            enum = (((part.get("properties") or {}).get("error_type")) or {}).get("enum")
            if enum:
                found = list(enum)
        return found

    def _ok(self, operation: Operation, raw_pointer: str) -> tuple[int, str | None, str | None]:
        for status in ("200", "302"):
            response = operation.responses.get(status)
            if response is None:
                continue
            raw = self.spec.pointer(f"{raw_pointer}/responses/{status}")
            base = raw["$ref"][1:] if "$ref" in raw else f"{raw_pointer}/responses/{status}"
            media = next(iter(response.content), None)
            pointer = f"{base}/content/{media.replace('/', '~1')}/schema" if media else None
            return int(status), media, pointer
        return 405, None, None

    def _resource(self, resource: str) -> ResourceInfo | None:
        for action in ("get", "list"):
            for plan in self.plans.values():
                if plan.resource != resource or plan.action != action or plan.method != "POST" or not plan.ok_pointer:
                    continue
                ok = self.resolver.deref(self.spec.pointer(plan.ok_pointer))
                if action == "get":
                    parts = ok.get("allOf") or []
                    for index, part in enumerate(parts):
                        if "$ref" in part and not part["$ref"].endswith("/OkReply"):
                            return self._info(resource, part, part["$ref"][1:])
                        if "$ref" not in part and index:
                            return self._info(resource, part, f"{plan.ok_pointer}/allOf/{index}")
                    if ok.get("properties"):
                        return self._info(resource, ok, plan.ok_pointer)
                elif plan.collection:
                    items = ((ok.get("properties") or {}).get(plan.collection) or {}).get("items")
                    if isinstance(items, dict):
                        pointer = items["$ref"][1:] if "$ref" in items else f"{plan.ok_pointer}/properties/{plan.collection}/items"
                        return self._info(resource, items, pointer)
        return None

    def _info(self, resource: str, schema: Any, pointer: str | None) -> ResourceInfo:
        properties, required, _ = self.resolver.flatten(schema)
        properties = {k: v for k, v in properties.items() if k != "status"}
        return ResourceInfo(resource, self.resolver.deref(schema), pointer, properties, [r for r in required if r != "status"])

    # -- use --------------------------------------------------------------------------------
    def template(self, plan: Plan) -> Any:
        """A fresh documented-shape success body of the plan (uuid-like fields newly drawn)."""
        if plan._template is None:
            schema = self.spec.pointer(plan.ok_pointer) if plan.ok_pointer else {}
            plan._template = sample(self.resolver, schema)
        body = copy.deepcopy(plan._template)
        if isinstance(body, dict):
            for key, value in body.items():
                if isinstance(value, str) and (key == "uuid" or key.endswith("_id")) and len(value) == 36:
                    body[key] = new_uuid()
        return body

    def validator(self, pointer: str) -> Any:
        found = self.validators.get(pointer)
        if found is None:
            found = self.validators[pointer] = self.spec.compile(pointer)
        return found


_CATALOG: Catalog | None = None


def catalog() -> Catalog:
    if _CATALOG is None:
        raise RuntimeError("the Ambra catalog is built when the app starts")
    return _CATALOG


def install(spec: ApiSpec) -> Catalog:
    global _CATALOG
    if _CATALOG is None or _CATALOG.spec.path != spec.path:
        _CATALOG = Catalog(spec)
    return _CATALOG


def plan_for(operation_id: str | None) -> Plan | None:
    return _CATALOG.plans.get(operation_id) if (_CATALOG is not None and operation_id) else None
