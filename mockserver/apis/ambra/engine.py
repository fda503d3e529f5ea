"""The generic stateful engine: every command the spec marks ``x-medimock: {resource,
action}`` (add/get/set/delete/list/count) is served from ``ambra_objects``; every other
command without a hand-written handler answers its documented-shape success after the
shared checks (missing fields, flags, integers, JSON, permissions, unknown uuids).

Resources come in three shapes, read from the spec:

* plain objects, addressed by ``uuid`` and scoped by ``account_id`` (groups, webhooks...);
* children of a parent, when ``add`` takes the parent's ``uuid`` and ``delete`` a key
  (``/group/user/add uuid user_id``, ``/dictionary/entry/delete uuid lookup``);
* keyed singletons without ``add`` (``/setting/get key``, ``/study/status/get study_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...api import Context, Handler
from ...http import MockResponse, Problem, json_response
from ...spec import Operation
from . import columns, filters, selection
from .call import Call, ambra_error
from .catalog import CONTROL_FIELDS, Plan, ResourceInfo
from .shapes import conform_value, new_uuid
from .store import public

Command = Callable[[Call], MockResponse]
COMMANDS: dict[str, Command] = {}

# Where an id parameter points: ``study_id`` -> a study, ``account_id`` -> an account...
REFERENCE_KINDS = {
    "account_id": "account", "user_id": "user", "group_id": "group", "location_id": "location", "namespace_id": "namespace",
    "role_id": "role", "node_id": "node", "destination_id": "destination", "route_id": "route", "webhook_id": "webhook",
    "customfield_id": "customfield", "patient_id": "patient", "order_id": "order", "rule_set_id": "rule_set", "site_id": "site",
    "link_id": "link", "filter_id": "filter", "dictionary_id": "dictionary", "meeting_id": "meeting", "radreport_id": "radreport",
    "query_id": "query", "study_id": "study",
}  # fmt: skip
NON_JSON_BODIES = {
    "application/pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    "application/zip": b"PK\x05\x06" + b"\x00" * 18,
    "text/css": b"/* account CSS */\n",
}


def command(*paths: str) -> Callable[[Command], Command]:
    """Serve the command at ``paths`` (its POST and its GET) by hand."""

    def register(function: Command) -> Command:
        for path in paths:
            COMMANDS[path] = function
        return function

    return register


def handler_for(operation: Operation) -> Handler:
    """``ApiDefinition.fallback``: every operation resolves to this dispatcher."""
    path = operation.path

    def handle(ctx: Context) -> MockResponse:
        call = Call(ctx)
        if call.plan.post_only_get:
            raise Problem("method_not_allowed", 405, "The call must be a POST not a GET.")
        special = COMMANDS.get(path)
        response = special(call) if special is not None else generic(call)
        return selection.apply(call, response)  # fields.OBJECT and fields._top, for every command

    return handle


def ok(body: dict[str, Any] | None = None) -> MockResponse:
    """A success reply: ``status`` is always ``OK`` (an object's own ``status`` field cannot shadow it)."""
    return json_response({"status": "OK", **{k: v for k, v in (body or {}).items() if k != "status"}})


def generic(call: Call) -> MockResponse:
    plan = call.plan
    call.check()
    info = call.catalog.resources.get(plan.resource or "")
    if info is not None and plan.action in ACTIONS:
        return ACTIONS[plan.action](call, info)
    return custom(call)


# -- objects ------------------------------------------------------------------------------
def output(call: Call, info: ResourceInfo | None, data: dict[str, Any]) -> dict[str, Any]:
    """An object as the reply shows it, with ``fields`` selection (the schema's required fields are always kept)."""
    shown = public(data)
    wanted = call.values.get("fields") if "fields" in call.plan.kinds else None
    if isinstance(wanted, list):
        keep = set(map(str, wanted)) | set(info.required if info else ()) | {"uuid"}
        shown = {k: v for k, v in shown.items() if k in keep}
    return shown


def conform(call: Call, info: ResourceInfo, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of a request that the resource stores, coerced to its schema (others kept only if the schema is open)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in CONTROL_FIELDS or name.startswith(("filter.", "page.", "customfield-")) or name in ("uuid", "password", "status"):
            continue
        if name == "fields" and call.plan.json_types.get("fields") == "array":  # the selection of returned fields
            continue
        schema = info.properties.get(name)
        if schema is None:
            if value is not None and not isinstance(value, (dict, list)):
                out[name] = value if isinstance(value, (int, float)) else str(value)
            continue
        keep, coerced = conform_value(call.catalog.resolver, schema, value)
        if keep:
            out[name] = coerced
    if info.pointer:
        validator = call.catalog.validator(info.pointer)
        for violation in validator.violations({**{r: _placeholder(info, r) for r in info.required}, **out}):
            out.pop(violation.field.split("/")[0], None)
    return out


def _placeholder(info: ResourceInfo, name: str) -> Any:
    return new_uuid() if name == "uuid" or name.endswith(("_id", "namespace")) else ""


def check_references(call: Call, skip: tuple[str, ...] = ()) -> None:
    """An id parameter naming nothing is NOT_FOUND (error_subtype: the parameter), when the command documents it."""
    if not call.plan.documents("NOT_FOUND"):
        return
    for name, kind in REFERENCE_KINDS.items():
        value = call.get(name)
        if name in skip or not isinstance(value, str) or name not in call.plan.kinds or saved_filter(call, name):
            continue
        exists = call.db.study(value) is not None if kind == "study" else call.db.object(value, kind) is not None
        if not exists:
            raise ambra_error("NOT_FOUND", name)


def saved_filter(call: Call, name: str) -> bool:
    """``filter_id`` of a filterable list is a saved filter to apply (the Filter clauses), not an object to scope by."""
    return name == "filter_id" and call.plan.filterable


def parent_key(call: Call, info: ResourceInfo) -> str | None:
    """For children of a parent (``group_user``...), the parameter that names the child within the parent."""
    plans = [p for p in call.catalog.plans.values() if p.resource == info.name and p.method == "POST"]
    add = next((p for p in plans if p.action == "add"), None)
    if add is None or "uuid" not in add.required:
        return None
    delete = next((p for p in plans if p.action in ("delete", "get")), None)
    if delete is not None:
        others = [n for n in delete.required if n not in ("uuid", "sid")]
        return others[0] if others else None
    others = [n for n in add.required if n not in ("uuid", "sid", "serial_no")]
    return others[0] if others else None


def singleton_key(call: Call, info: ResourceInfo) -> str | None:
    """For resources with neither ``add`` nor ``list`` (settings, study status...), the parameter that names the object."""
    if any(p.resource == info.name and p.action in ("add", "list") for p in call.catalog.plans.values()):
        return None
    names = [n for n in call.plan.required if n != "sid"] or [n for n in call.plan.kinds if n.endswith("_id") or n in ("uuid", "key")]
    return names[0] if names else None


def owner(call: Call) -> str:
    """Whose keyed singletons a call reads and writes: the session user's, or the node's (node calls have no session)."""
    principal = call.principal
    return principal.identity if principal is not None else "node"


def find(call: Call, info: ResourceInfo) -> dict[str, Any] | None:
    kind = info.name
    key = parent_key(call, info)
    if key is not None:
        parent, child = call.get("uuid"), call.get(key)
        if parent and child:
            return call.db.child(kind, str(parent), str(child))
        return None
    single = singleton_key(call, info)
    if single is not None:
        value = call.get(single)
        return call.db.child(kind, owner(call), str(value)) if value is not None else None
    uuid = call.get("uuid")
    if uuid is None and kind == "user":
        uuid = call.user_id
    if uuid is not None:
        return call.db.object(str(uuid), kind)
    for alternative in ("vanity", "key", "name"):
        if call.get(alternative) is not None:
            matches = call.db.by_key(kind, str(call.get(alternative)).lower())
            return matches[0] if matches else None
    return None


def not_found(call: Call, info: ResourceInfo) -> Problem:
    key = parent_key(call, info) or singleton_key(call, info) or "uuid"
    return call.error("NOT_FOUND", subtype=key)


def do_add(call: Call, info: ResourceInfo, uuid: str | None = None) -> MockResponse:
    """Add an object of ``info``'s kind: under a new uuid, or ``uuid`` (a command that lets the caller choose it)."""
    key_name = parent_key(call, info)
    under_uuid = "uuid" in call.plan.required  # a child of the object ``uuid`` names (/group/user/add uuid user_id)
    parent = call.get("uuid") if under_uuid else call.get("study_id")
    check_references(call)
    owner = call.db.object(str(parent)) if parent and under_uuid else None
    if under_uuid and parent and owner is None and call.plan.documents("NOT_FOUND"):
        raise ambra_error("NOT_FOUND", "uuid")
    account_id = call.account_for_values() or (owner or {}).get("__account_id") or call.default_account()
    call.require_permission(account_id)
    data = conform(call, info, call.values)
    key = call.get(key_name) if key_name else call.get("vanity") or call.get("key")
    duplicate = key_name and parent and call.db.child(info.name, str(parent), str(key)) is not None
    if duplicate and key_name and (call.plan.documents("ALREADY_EXISTS") or call.plan.documents("DUP_" + key_name.upper())):
        raise call.error("ALREADY_EXISTS", "DUP_" + key_name.upper(), subtype=key_name)
    uuid = uuid or new_uuid()
    stored = call.db.insert(info.name, uuid, data, account_id=account_id, parent_id=parent, key=str(key).lower() if key else None)
    body = call.catalog.template(call.plan)
    body.update({k: stored[k] for k in body if k in stored and k != "status"})
    if "uuid" in body:
        body["uuid"] = uuid
    return json_response(grounded(call, body))


def do_get(call: Call, info: ResourceInfo) -> MockResponse:
    found = find(call, info)
    if found is None:
        if singleton_key(call, info) is not None:
            return json_response(call.catalog.template(call.plan))
        raise not_found(call, info)
    call.require_permission(found.get("__account_id"))
    return ok(output(call, info, found))


def do_set(call: Call, info: ResourceInfo) -> MockResponse:
    found = find(call, info)
    single = singleton_key(call, info)
    if found is None and single is not None:
        call.require_permission()
        value = call.get(single)
        call.db.insert(info.name, new_uuid(), conform(call, info, call.values), parent_id=owner(call), key=str(value))
        return json_response(call.catalog.template(call.plan))
    if found is None:
        raise not_found(call, info)
    call.require_permission(found.get("__account_id"))
    check_references(call, skip=("account_id",))
    call.db.update(found["uuid"], conform(call, info, call.values))
    body = call.catalog.template(call.plan)
    if "uuid" in body:
        body["uuid"] = found["uuid"]
    return json_response(body)


def do_delete(call: Call, info: ResourceInfo) -> MockResponse:
    found = find(call, info)
    if found is None:
        raise not_found(call, info)
    call.require_permission(found.get("__account_id"))
    call.db.delete(found["uuid"])
    return ok()


# kind -> the SQL clause (and its parameters) of the objects of that kind the caller may see, beyond the account scope
# (a filter: its owner's and those shared with the caller; registered by the kind's own module)
VISIBLE: dict[str, Callable[[Call], tuple[str, list[Any]]]] = {}


def list_scope(call: Call, info: ResourceInfo) -> tuple[list[str], list[Any]]:
    clauses, params = ["kind = ?"], [info.name]
    scoped = False
    if parent_key(call, info) is not None and call.get("uuid"):
        clauses.append("parent_id = ?")
        params.append(call.get("uuid"))
        scoped = True
    for name in REFERENCE_KINDS:
        value = call.get(name)
        if value is None or name not in call.plan.kinds or not isinstance(value, str) or saved_filter(call, name):
            continue
        clauses.append("account_id = ?" if name == "account_id" else f"json_extract(data, '$.{name}') = ?")
        params.append(value)
        scoped = True
    if not scoped and call.principal is not None and call.user.get("sysadmin") != 1:
        accounts = call.account_ids() or [""]
        clauses.append(f"account_id IN ({','.join('?' * len(accounts))})")
        params += accounts
    visible = VISIBLE.get(info.name)
    if visible is not None and call.principal is not None:
        clause, args = visible(call)
        clauses.append(clause)
        params += args
    return clauses, params


def do_list(call: Call, info: ResourceInfo) -> MockResponse:
    check_references(call)
    clauses, params = list_scope(call, info)
    call.require_permission()
    resolve = columns.object_columns(call, info)
    if call.plan.filterable and not call.ctx.defect("ambra.filter_ignored"):
        more, args = columns.where(call, resolve)
        clauses += more
        params += args
    order = (
        "seq DESC"
        if call.ctx.defect("ambra.sort_ignored") or not call.plan.sortable
        else filters.order_by(call.values, resolve, call.error, "seq")
    )
    where = " AND ".join(clauses)
    body: dict[str, Any] = {}
    if call.plan.paged:
        page = filters.page(call.values, call.error, call.plan.page_rows)
        rows = call.db.objects(where, params, order, page.rows + 1, page.offset)
        body["page"] = page.hash(len(rows), call.ctx.defect("ambra.page_more_wrong"))
        rows = rows[: page.rows]
    else:
        rows = call.db.objects(where, params, order)
    body[call.plan.collection or "items"] = [output(call, info, row) for row in rows]
    return ok(body)


def do_count(call: Call, info: ResourceInfo) -> MockResponse:
    clauses, params = list_scope(call, info)
    call.require_permission()
    if call.plan.filterable:
        more, args = columns.where(call, columns.object_columns(call, info))
        clauses += more
        params += args
    body = call.catalog.template(call.plan)
    count = call.db.count("ambra_objects", " AND ".join(clauses), params)
    for key in body:
        if key.startswith("count"):
            body[key] = count
    return json_response(body)


ACTIONS: dict[str, Callable[[Call, ResourceInfo], MockResponse]] = {
    "add": do_add, "get": do_get, "set": do_set, "delete": do_delete, "list": do_list, "count": do_count,
}  # fmt: skip


# -- every other command ----------------------------------------------------------------------
def custom(call: Call) -> MockResponse:
    """A command without its own behaviour: checked like any other, answered in its documented shape."""
    plan = call.plan
    check_references(call)
    target = _custom_target(call, plan)
    if not plan.anonymous or call.principal is not None:
        call.require_permission((target or {}).get("__account_id") or (target or {}).get("account_id"))
    if plan.ok_status == 302:
        location = str(call.get("redirect_uri") or call.get("redirect") or call.get("url") or "/")
        return MockResponse(302, b"", headers={"Location": location}, content_type="", raw=True)
    if plan.ok_media and plan.ok_media != "application/json":
        return MockResponse(200, NON_JSON_BODIES.get(plan.ok_media, b""), content_type=plan.ok_media, raw=True)
    body = call.catalog.template(plan)
    if isinstance(body, dict) and "uuid" in body and isinstance(call.get("uuid"), str):
        body["uuid"] = call.get("uuid")
    return json_response(grounded(call, body))


NAMESPACE_KEYS = ("namespace_id", "phi_namespace", "storage_namespace")


def grounded(call: Call, body: Any) -> Any:
    """A documented-shape reply whose namespaces exist: "namespaces are one truth", so a namespace the
    template drew is replaced by the one the call is about (its own parameter, the study it names, the
    caller's account)."""
    if not isinstance(body, dict):
        return body
    for key in NAMESPACE_KEYS:
        value = body.get(key)
        if not isinstance(value, str) or call.db.object(value, "namespace") is not None:
            continue
        body[key] = namespace_of_call(call, key)
    return body


def namespace_of_call(call: Call, key: str) -> str | None:
    for name in (key, "namespace_id", "phi_namespace"):
        given = call.get(name)
        if isinstance(given, str) and call.db.object(given, "namespace") is not None:
            return given
    for name in ("study_id", "uuid"):
        given = call.get(name)
        study = call.db.study(given) if isinstance(given, str) else None
        if study is not None:
            return str(study.get(key) if key in ("phi_namespace", "storage_namespace") else study.get("phi_namespace"))
    if call.node is not None:  # a node's own call: "The storage namespace the node should harvest to" is its account's
        return (call.db.object(str(call.node.get("__account_id") or ""), "account") or {}).get("namespace_id")
    account = call.db.object(call.default_account() or "", "account") if call.principal is not None else None
    return (account or {}).get("namespace_id")


def _custom_target(call: Call, plan: Plan) -> dict[str, Any] | None:
    """The object a custom command acts on (``/webhook/trigger uuid`` -> the webhook), NOT_FOUND when it is unknown."""
    uuid = call.get("uuid")
    kind = plan.group if plan.group in call.catalog.resource_names else None
    if not isinstance(uuid, str) or kind is None or "serial_no" in plan.kinds:
        return None
    found = call.db.study(uuid) if kind == "study" else call.db.object(uuid, kind)
    if found is None and plan.documents("NOT_FOUND") and "uuid" in plan.required:
        raise ambra_error("NOT_FOUND", "uuid")
    return found
