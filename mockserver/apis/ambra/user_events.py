"""A user's event flags for a namespace: /user/event/set stores them, /user/event answers them.

- The flags are the documented ``event_*`` fields, per user and namespace; one never set is the user's own flag of the
  same name (/user/get's ``event_share``...), else 0.
- NOT_FOUND "The namespace or user can not be found"; NOT_MEMBER "The user is not a member of this namespace" (their
  accounts', groups', locations' and own namespaces).
- "To set your own event flags you must have the user_modify_notifications permission for the namespace"; "To set event
  flags of an other user you must be a sysadmin user, a support user for the namespace or have a role with the
  user_modify_others_notifications permission" (to get them: user_view_others_notifications). Otherwise NOT_PERMITTED.
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .call import Call, ambra_error, member_namespaces
from .engine import command, ok
from .shapes import new_uuid

KIND = "user_event"


def _names(call: Call) -> list[str]:
    """The documented event flags (/user/event's reply, /user/event/set's parameters)."""
    resolver, pointer = call.catalog.resolver, call.plan.ok_pointer
    replied = resolver.flatten(resolver.deref(call.catalog.spec.pointer(pointer)))[0] if pointer else {}
    return [name for name in dict.fromkeys([*replied, *call.plan.kinds]) if name.startswith("event_")]


def _subject(call: Call, others_flag: str, own_flag: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The namespace and the user a call is about, once the caller may read or set that user's flags there."""
    namespace = call.db.object(str(call.get("namespace_id")), "namespace")
    if namespace is None:
        raise ambra_error("NOT_FOUND", "namespace_id")
    uuid = str(call.get("uuid") or call.user_id)
    user = call.user if uuid == call.user_id else call.db.object(uuid, "user")
    if user is None:
        raise ambra_error("NOT_FOUND", "uuid")
    if namespace["uuid"] not in member_namespaces(call.db, user):
        raise ambra_error("NOT_MEMBER", "uuid")
    account = namespace.get("__account_id")
    flag = own_flag if uuid == call.user_id else others_flag
    checked = flag is not None and namespace.get("type") != "user_id"  # one's own namespace is one's own
    if checked and not call.permits((str(flag), "support"), str(account) if account else None):  # sysadmin, support or the flag
        raise ambra_error("NOT_PERMITTED", flag)
    return namespace, user


@command("/user/event")
def user_event(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    namespace, user = _subject(call, "user_view_others_notifications", None)
    stored = call.db.child(KIND, namespace["uuid"], user["uuid"]) or {}
    return ok({name: stored.get(name, user.get(name, 0)) for name in _names(call)})


@command("/user/event/set")
def user_event_set(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    namespace, user = _subject(call, "user_modify_others_notifications", "user_modify_notifications")
    changes = {name: call.values[name] for name in _names(call) if call.values.get(name) is not None}
    found = call.db.child(KIND, namespace["uuid"], user["uuid"])
    if found is not None:
        call.db.update(found["uuid"], changes)
    else:
        call.db.insert(KIND, new_uuid(), changes, parent_id=namespace["uuid"], key=user["uuid"])
    return ok()
