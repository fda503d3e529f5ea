"""Session commands: login (email or login, password, vanity), user, permissions, logout,
ttl, uuid, and OAuth client-credentials tokens. See ``auth`` for how sessions live."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any

from ...http import MockResponse
from .auth import Sessions, find_user, password_ok, session_minutes
from .call import Call, ambra_error
from .engine import command, ok
from .shapes import new_uuid
from .store import public
from .user_settings import setting_value

TOKEN_DEFAULT_SECONDS = 3600
TOKEN_MAX_SECONDS = 86400


@command("/session/login")
def login(call: Call) -> MockResponse:
    call.check()
    if call.present("password") and call.present("use_pkey"):
        raise call.error("ONLY_ONE", "INVALID_CREDENTIALS")
    if call.present("use_pkey"):
        raise call.error("INVALID_CREDENTIALS")
    name = call.get("login") or call.get("email")
    vanity = call.get("vanity")
    if name is None and call.present("account_name"):
        name, vanity = call.get("account_login"), _vanity_of(call, str(call.get("account_name")))
    user = find_user(call.db, str(name), str(vanity) if vanity else None)
    if user is None or not password_ok(user, str(call.get("password"))):
        raise ambra_error("INVALID_CREDENTIALS")
    if call.present("validate_session"):
        found = Sessions(call.ctx.store).lookup(str(call.get("validate_session")), "session")
        if found is None or found["user_id"] != user["uuid"]:
            raise call.error("VALIDATION_FAILED", "INVALID_CREDENTIALS")
        session = found
    else:
        session = Sessions(call.ctx.store).create(user["uuid"], "session", session_minutes(call.db, user["uuid"]) * 60)
    return ok(
        {
            "sid": session["sid"],
            "uuid": user["uuid"],
            "name": user.get("name"),
            "training_todo": 0,
            "pin_required": 0,
            "pin_via": None,
            "sign_required": 0,
            "terms_md5": None,
            "privacy_md5": None,
            "indicator_md5": None,
            "is_proxy": 0,
        }
    )


def _vanity_of(call: Call, account_name: str) -> str | None:
    for account in call.db.objects("kind = 'account' AND json_extract(data, '$.name') = ?", [account_name]):
        return str(account.get("vanity") or "") or None
    return None


@command("/session/oauth/token")
def oauth_token(call: Call) -> MockResponse:
    call.check()
    user = find_user(call.db, str(call.get("client_id")))
    if user is None or not password_ok(user, str(call.get("client_secret"))):
        raise call.error("AUTH_FAILED")
    duration = call.get("duration", TOKEN_DEFAULT_SECONDS)
    duration = int(duration) if isinstance(duration, (int, str)) and str(duration).isdigit() else TOKEN_DEFAULT_SECONDS
    duration = max(1, min(duration, TOKEN_MAX_SECONDS))
    token = Sessions(call.ctx.store).create(user["uuid"], "oauth", duration)
    created = datetime.fromtimestamp(token["created"], UTC).replace(tzinfo=None).isoformat(" ", "seconds")
    return ok({"access_token": token["sid"], "created_at": created, "expires_in": duration, "token_type": "bearer"})


@command("/session/logout")
def logout(call: Call) -> MockResponse:
    call.check()
    principal = call.require_session()
    sid = principal.data.get("sid")
    if sid and not call.ctx.defect("ambra.logout_keeps_sid"):
        Sessions(call.ctx.store).delete(str(sid))
    return ok()


@command("/session/ttl")
def ttl(call: Call) -> MockResponse:
    call.check()
    principal = call.require_session()
    expires = principal.data.get("expires") or time.time()
    return ok({"ttl": max(0, math.ceil((float(expires) - time.time()) / 60))})


@command("/session/uuid")
def session_uuid(call: Call) -> MockResponse:
    return ok({"uuid": new_uuid()})


def namespace_list(call: Call) -> list[dict[str, Any]]:
    out = []
    for ns in call.namespaces():
        found = call.db.object(ns, "namespace")
        if found is not None:
            out.append({"uuid": ns, "name": found.get("name") or "", "type": found.get("type"), "type_uuid": found.get("type_uuid")})
    return out


@command("/session/user")
def session_user(call: Call) -> MockResponse:
    call.check()
    principal = call.require_session()
    user = public(call.user)
    settings = call.json("settings")
    sid = str(principal.data.get("sid") or "")
    body: dict[str, Any] = {
        **user,
        "namespaces": namespace_list(call),
        "sid_md5": hashlib.md5(sid.encode()).hexdigest(),  # noqa: S324 - the document's field is an MD5
        "accelerator_used": 0,
        "session_expire": session_minutes(call.db, call.user_id),
    }
    if isinstance(settings, list):
        body["settings"] = requested_settings(call, settings)
    return ok(body)


def requested_settings(call: Call, names: list[Any]) -> dict[str, Any]:
    """The user settings a call asks for ("A JSON list of user settings set via /setting/set to return"): the caller's
    values, null for one never set."""
    return {str(name): setting_value(call, str(name)) for name in names}


@command("/user/namespace/list")
def user_namespaces(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    return ok({"namespaces": namespace_list(call)})


@command("/session/permissions")
def session_permissions(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    account_id = call.get("account_id")
    if account_id is None:
        namespace = call.db.object(str(call.get("namespace_id")), "namespace")
        if namespace is None:
            raise ambra_error("NOT_FOUND", "namespace_id")
        personal = namespace.get("type") == "user_id"  # only its owner's, who holds their account role in it
        if personal and namespace.get("type_uuid") != call.user_id:
            raise ambra_error("NOT_FOUND", "namespace_id")
        account_id = call.namespace_account(namespace)
        if personal and account_id is None:
            return ok({"role_id": None})
    account = call.db.object(str(account_id), "account")
    if account is None:
        raise ambra_error("NOT_FOUND", "account_id")
    perms = call.permissions(account["uuid"])
    if not perms.get("role_id"):
        anonymous = call.db.objects("kind = 'role' AND account_id = ? AND key = 'anonymous'", [account["uuid"]])
        role: dict[str, Any] = anonymous[0] if anonymous else {"uuid": new_uuid(), "permissions": {}}
        perms = {**dict(role.get("permissions") or {}), "role_id": role["uuid"]}
    return ok(perms)


@command("/user/get")
def user_get(call: Call) -> MockResponse:
    call.check()
    uuid = call.get("uuid") or call.user_id
    user = call.db.object(str(uuid), "user")
    if user is None:
        raise call.error("NOT_FOUND", subtype="uuid")
    if user["uuid"] != call.user_id:
        shared = set(call.account_ids()) & {m["__parent_id"] for m in call.db.objects("kind = 'account_user' AND key = ?", [user["uuid"]])}
        if not shared and call.user.get("sysadmin") != 1:
            raise call.error("NOT_FOUND", "NOT_PERMITTED", subtype="uuid")
    return ok(public(user))
