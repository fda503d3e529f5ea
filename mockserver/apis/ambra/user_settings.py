"""A user's settings: /setting/set, /setting/get and /setting/get/all, as the document's "Setting commands" describe them.

- "If the key name begins with temp_ it is only available for the session": such a key is kept per sid.
- "Use the value __DELETE__ to delete a setting".
- "account_id • Account id to set user_account's settings instead of user's"; /setting/get with it answers "(user_account's
  || user's) setting", /setting/get/all "merged hash of (user_account's || user's) settings"; an account that does not
  exist is NOT_FOUND ("The error_subtype holds the type of the not found item").
- "user_id • A sysadmin user can set the value for a specific user" (and get it); another caller naming a user other
  than themselves is NOT_PERMITTED (NOT_FOUND where the command documents no NOT_PERMITTED).
- "role_id • Role uuid to update that key's value for each user having that role", with "Permission user_setting_set if
  role_id is provided" (in the role's account); an unknown role is NOT_FOUND.
- /setting/get/all: "The hash of all non-temporary user settings".

The settings are objects of kind ``setting`` whose parent is their scope: the user's uuid, ``<user>@<account>`` for a
user_account's, ``session:<sid>`` for a temporary one (what /session/user and /study/viewer3/settings read too).
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .call import Call, ambra_error
from .engine import command, ok
from .shapes import new_uuid

TEMPORARY = "temp_"
DELETE = "__DELETE__"


def _account(call: Call) -> str | None:
    """The account_id a call names (NOT_FOUND, subtype "account", when it names none that exists)."""
    account_id = call.get("account_id")
    if account_id is None:
        return None
    if call.db.object(str(account_id), "account") is None:
        raise ambra_error("NOT_FOUND", "account")
    return str(account_id)


def _user(call: Call) -> str:
    """Whose settings: the caller's, or the ``user_id`` a sysadmin names."""
    user_id = call.get("user_id")
    if user_id is None or str(user_id) == call.user_id:
        return call.user_id
    if call.user.get("sysadmin") != 1:  # /setting/get documents no NOT_PERMITTED: the user is not found for the caller
        raise call.error("NOT_PERMITTED", "NOT_FOUND", subtype="user_id")
    if call.db.object(str(user_id), "user") is None:
        raise ambra_error("NOT_FOUND", "user")
    return str(user_id)


def _scopes(call: Call, user: str, key: str, account: str | None) -> list[str]:
    """Where a key is read, the first scope that holds it winning: the session's for a temporary key, else the
    user_account's (with account_id) then the user's."""
    if key.startswith(TEMPORARY):
        sid = str((call.principal.data if call.principal is not None else {}).get("sid") or "")
        return [f"session:{sid}"] if sid else []
    return ([f"{user}@{account}"] if account else []) + [user]


def _role_users(call: Call, role_id: str) -> list[str]:
    """The users holding a role in its account, once the caller may set settings there (user_setting_set)."""
    role = call.db.object(role_id, "role")
    if role is None:
        raise ambra_error("NOT_FOUND", "role")
    account = role.get("__account_id") or role.get("account_id")
    call.require_permission(str(account) if account else None, ("user_setting_set",))
    members = call.db.objects("kind = 'account_user' AND parent_id = ?", [account]) if account else []
    return [str(m["user_id"]) for m in members if m.get("role_id") == role_id and m.get("user_id")]


def _put(call: Call, scope: str, key: str, value: Any) -> None:
    found = call.db.child("setting", scope, key)
    if value == DELETE:
        if found is not None:
            call.db.delete(found["uuid"])
    elif found is not None:
        call.db.update(found["uuid"], {"value": value})
    else:
        call.db.insert("setting", new_uuid(), {"key": key, "value": value}, parent_id=scope, key=key)


def setting_value(call: Call, key: str, user: str | None = None, account: str | None = None) -> Any:
    """A value set via /setting/set (a temp_ key: this session's), None when never set: the caller's, or ``user``'s; with
    ``account``, the user_account's || the user's."""
    for scope in _scopes(call, user or call.user_id, key, account):
        found = call.db.child("setting", scope, key)
        if found is not None:
            return found.get("value")
    return None


@command("/setting/set")
def setting_set(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    key, value = str(call.get("key")), call.get("value")
    account = _account(call)
    role_id = call.get("role_id")
    users = _role_users(call, str(role_id)) if role_id is not None else [_user(call)]
    for user in users:
        scopes = _scopes(call, user, key, account)
        if scopes:
            _put(call, scopes[0], key, value)
    return ok()


@command("/setting/get")
def setting_get(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    account = _account(call)
    return ok({"value": setting_value(call, str(call.get("key")), _user(call), account)})


@command("/setting/get/all")
def setting_get_all(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    user = _user(call)
    account = _account(call)
    merged: dict[str, Any] = {}
    for scope in [user, *([f"{user}@{account}"] if account else [])]:  # the user_account's win
        for found in call.db.objects("kind = 'setting' AND parent_id = ?", [scope]):
            key = str(found.get("key") or "")
            if key and not key.startswith(TEMPORARY):
                merged[key] = found.get("value")
    return ok({"settings": merged})
