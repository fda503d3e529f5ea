"""Users, account memberships and the units that own a namespace (groups, locations).

``/user/add`` keeps only a salted hash of the password; ``/user/delete`` takes the user's
memberships, namespace and sessions with it; ``/account/user/add`` takes a
``user_id`` or an ``email``; a new group or location gets its own namespace, so studies
can be shared into it.
"""

from __future__ import annotations

import re
import secrets

from medimock.fixtures import ambra as fixtures

from ...http import MockResponse, json_response
from .auth import Sessions
from .call import Call, ambra_error
from .engine import check_references, command, conform, do_add, ok
from .shapes import new_uuid
from .store import permission_defaults


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
    """A group or location, with its namespace: the ``namespace_id`` of the reply is the one /group/get and
    /group/list show, and it works wherever a namespace is taken (/study/add, /session/permissions...)."""
    call.check()
    info = call.catalog.resources[call.plan.resource or ""]
    response = do_add(call, info)
    uuid = response.body.get("uuid") if isinstance(response.body, dict) else None
    if uuid:
        kind = info.name
        unit = call.db.object(str(uuid), kind) or {}
        namespace = new_uuid()
        name = str(call.get("name") or kind)
        account_id = unit.get("__account_id") or call.get("account_id")
        call.db.insert("namespace", namespace, {"name": name, "type": f"{kind}_id", "type_uuid": uuid}, account_id=account_id, key=uuid)
        call.db.update(uuid, {"namespace_id": namespace}, namespace_id=namespace)
        if isinstance(response.body, dict) and "namespace_id" in response.body:
            response.body["namespace_id"] = namespace
    return json_response(response.body)


# -- accounts (system administrators; /account/add and /account/delete are not in the public document) ----
def create_account(call: Call, name: str, vanity: str) -> dict[str, str]:
    """An account with its namespace and default roles (the document's Permissions defaults); the caller
    joins it with the Administrator role."""
    account_id, namespace = new_uuid(), new_uuid()
    call.db.insert(
        "namespace", namespace, {"name": name, "type": "account_id", "type_uuid": account_id}, account_id=account_id, key=account_id
    )
    defaults = permission_defaults()
    roles = {}
    for role_type, role_name in fixtures.ROLE_NAMES.items():
        roles[role_type] = new_uuid()
        call.db.insert(
            "role",
            roles[role_type],
            {"name": role_name, "description": f"Default {role_name} role", "type": role_type, "for_account": 1, "for_group": 1,
             "for_location": 1, "permissions": dict(defaults.get(role_type, {})), "settings": {}},
            account_id=account_id, key=role_type,
        )  # fmt: skip
    data = {"name": name, "vanity": vanity, "namespace_id": namespace, "session_expire": 180, "must_approve": 0,
            "role_id": roles["user"], "role_name": fixtures.ROLE_NAMES["user"], "default_role_id": roles["user"],
            "default_role_name": fixtures.ROLE_NAMES["user"], "settings": {}}  # fmt: skip
    call.db.insert("account", account_id, data, account_id=account_id, namespace_id=namespace, key=vanity)
    _member(call, account_id, call.user_id, roles["admin"])
    return {"uuid": account_id, "namespace_id": namespace}


def _sysadmin_only(call: Call) -> None:
    if call.user.get("sysadmin") != 1:
        raise ambra_error("NOT_PERMITTED", "sysadmin")


@command("/account/add")
def account_add(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    _sysadmin_only(call)
    name = str(call.get("name")).strip()
    if call.db.objects("kind = 'account' AND json_extract(data, '$.name') = ?", [name]):
        raise ambra_error("DUPLICATE_NAME", "name")
    vanity = str(call.get("vanity") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "account").lower()
    if call.db.by_key("account", vanity):
        vanity = f"{vanity}-{new_uuid()[:8]}"
    return ok(create_account(call, name, vanity))


@command("/account/delete")
def account_delete(call: Call) -> MockResponse:
    """The account and everything in it: its objects, memberships, roles, units and namespaces."""
    call.check()
    call.require_session()
    _sysadmin_only(call)
    account_id = str(call.get("uuid"))
    if call.db.object(account_id, "account") is None:
        raise ambra_error("NOT_FOUND", "uuid")
    if call.db.count("ambra_studies", "account_id = ?", [account_id]):
        raise ambra_error("NOT_EMPTY", "uuid")
    for owned in call.db.objects("account_id = ? AND uuid != ?", [account_id, account_id]):
        call.db.delete(str(owned["uuid"]))
    call.db.delete(account_id)
    return ok()
