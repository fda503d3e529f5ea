"""Users, account memberships and the units that own a namespace (groups, locations).

``/user/add`` keeps only a salted hash of the password; ``/user/delete`` takes the user's
memberships, namespace and sessions with it; ``/account/user/add`` takes a
``user_id`` or an ``email``; a new group or location gets its own namespace, so studies
can be shared into it.
"""

from __future__ import annotations

import secrets

from medimock.fixtures import ambra as fixtures

from ...http import MockResponse, json_response
from .auth import Sessions
from .call import Call, ambra_error
from .engine import check_references, command, conform, do_add, ok
from .shapes import new_uuid


@command("/user/add")
def user_add(call: Call) -> MockResponse:
    call.check()
    check_references(call)
    call.require_permission(str(call.get("account_id")))
    email = str(call.get("email")).strip().lower()
    if call.db.by_key("user", email):
        raise call.error("DUPLICATE_EMAIL", "ALREADY_EXISTS", "INVALID_EMAIL", subtype="email")
    uuid, salt = new_uuid(), secrets.token_hex(8)
    namespace = new_uuid()
    name = f"{call.get('first')} {call.get('last')}"
    call.db.insert("namespace", namespace, {"name": name, "type": "user_id", "type_uuid": uuid}, key=uuid)
    info = call.catalog.resources["user"]
    data = {
        **conform(call, info, call.values),
        "name": name,
        "email": email,
        "namespace_id": namespace,
        "sysadmin": 0,
        "support": 0,
        "_salt": salt,
        "_password_hash": fixtures.hash_password(str(call.get("password")), salt),
    }
    call.db.insert("user", uuid, data, key=email, namespace_id=namespace)
    _member(call, str(call.get("account_id")), uuid, call.get("role_id"))
    return ok({"uuid": uuid, "namespace_id": namespace})


@command("/user/delete")
def user_delete(call: Call) -> MockResponse:
    """Delete yourself from the system (the document): the user, their memberships (accounts, groups,
    locations), their own namespace and every session of theirs."""
    call.check()
    user_id = str(call.user["uuid"])
    for kept in call.db.objects("kind IN ('account_user', 'group_user', 'location_user', 'namespace') AND key = ?", [user_id]):
        call.db.delete(str(kept["uuid"]))
    call.db.delete(user_id)
    Sessions(call.ctx.store).delete_user(user_id)
    return ok()


def _member(call: Call, account_id: str, user_id: str, role_id: object = None) -> str:
    account = call.db.object(account_id, "account") or {}
    role = call.db.object(str(role_id), "role") if role_id else None
    if role is None:
        role = call.db.object(str(account.get("default_role_id") or ""), "role") or {"uuid": None, "name": None}
    user = call.db.object(user_id, "user") or {}
    uuid = new_uuid()
    call.db.insert(
        "account_user",
        uuid,
        {"user_id": user_id, "user_name": user.get("name"), "user_email": user.get("email"), "role_id": role.get("uuid"),
         "role_name": role.get("name"), "account_login": str(user.get("email") or "").split("@")[0], "disabled": 0},
        account_id=account_id, parent_id=account_id, key=user_id,
    )  # fmt: skip
    return uuid


@command("/account/user/add")
def account_user_add(call: Call) -> MockResponse:
    call.check()
    account_id = str(call.get("uuid"))
    if call.db.object(account_id, "account") is None:
        raise ambra_error("NOT_FOUND", "uuid")
    call.require_permission(account_id)
    user_id = call.get("user_id")
    if user_id is None:
        users = call.db.by_key("user", str(call.get("email")).strip().lower())
        if not users:
            raise call.error("NOT_FOUND", "INVALID_EMAIL", subtype="email")
        user_id = users[0]["uuid"]
    elif call.db.object(str(user_id), "user") is None:
        raise ambra_error("NOT_FOUND", "user_id")
    if call.db.child("account_user", account_id, str(user_id)) is not None:
        raise call.error("ALREADY_EXISTS", "DUPLICATE", subtype="user_id")
    _member(call, account_id, str(user_id), call.get("role_id"))
    return ok()


@command("/group/add", "/location/add")
def unit_add(call: Call) -> MockResponse:
    """A group or location, with its namespace."""
    call.check()
    info = call.catalog.resources[call.plan.resource or ""]
    response = do_add(call, info)
    uuid = response.body.get("uuid") if isinstance(response.body, dict) else None
    if uuid:
        kind = info.name
        namespace = new_uuid()
        name = str(call.get("name") or kind)
        call.db.insert(
            "namespace", namespace, {"name": name, "type": f"{kind}_id", "type_uuid": uuid}, account_id=call.get("account_id"), key=uuid
        )
        call.db.update(uuid, {"namespace_id": namespace}, namespace_id=namespace)
    return json_response(response.body)
