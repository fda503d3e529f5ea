"""What happens to a study after it arrives: shares (a copy in the recipient's namespace,
to be approved when that namespace says so), approval and rejection, stars, tags, and the
audit trail every change writes (``/audit/object``)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...http import MockResponse
from . import filters
from .call import Call, ambra_error
from .engine import command, ok
from .shapes import new_uuid, now_stamp
from .studies import audit, locate, require_study

TARGETS = ("account_id", "location_id", "group_id", "user_id")
TAG_OBJECTS = {"Study": None, "User_account": "account_user", "Group": "group", "Location": "location", "Account": "account",
               "Patient": "patient", "Case": "case", "Order": "order", "Message": "message", "Query": "query"}  # fmt: skip
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@command("/study/share")
def study_share(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    given = [name for name in (*TARGETS, "share_code", "email", "masshiway", "rsna", "npi", "study_request_id") if call.present(name)]
    if len(given) > 1:
        raise call.error("INVALID_PARAMETERS", subtype=given)
    target_type = given[0]
    value = str(call.get(target_type))
    if target_type == "email":
        for address in (a.strip() for a in value.replace(";", ",").split(",")):
            if not _EMAIL.match(address):
                raise call.error("INVALID_EMAIL", subtype=address)
        call.db.share(study["uuid"], "email", value, None)
        audit(call, study, "SHARE", with_=value)
        return ok()
    if target_type not in TARGETS:
        call.db.share(study["uuid"], target_type, value, None)
        audit(call, study, "SHARE", with_=value)
        return ok()
    kind = target_type[: -len("_id")]
    target = call.db.object(value, kind)
    if target is None:
        raise ambra_error("NOT_FOUND", target_type)
    namespace = target.get("namespace_id")
    if namespace == study.get("phi_namespace"):
        raise call.error("SHARE_FAILED", subtype="SAME")
    owner = call.db.object(str(namespace), "namespace") or {}
    settings_of = call.db.object(str(owner.get("type_uuid") or ""), kind) or target
    copy = {
        **{k: v for k, v in study.items() if k not in ("uuid", "created", "updated")},
        "uuid": new_uuid(),
        "phi_namespace": namespace,
        "account_id": owner.get("__account_id") or target.get("__account_id") or study.get("account_id"),
        "source": "share",
        "must_approve": 1 if settings_of.get("must_approve") == 1 else 0,
        "share_message": call.get("message"),
        "created": now_stamp(),
        "updated": now_stamp(),
    }
    call.db.insert_study(copy)
    call.db.share(study["uuid"], target_type, value, copy["uuid"])
    audit(call, study, "SHARE", {"copy_id": copy["uuid"]}, with_=str(target.get("name") or value))
    return ok()


@command("/study/share/list")
def study_share_list(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    out: dict[str, list[Any]] = {name: [] for name in (*TARGETS, "user_invite_share_id")}
    for row in call.db.shares(study["uuid"]):
        if row["target_type"] in out:
            out[row["target_type"]].append(row["target_id"])
    return ok(out)


@command("/study/share/who")
def study_share_who(call: Call) -> MockResponse:
    """The document's "Who can they share a study": the accounts, locations, groups or users (``type``) of the caller's accounts (a system
    administrator's: of the study's account too), each with its uuid and name; a group or location whose ``no_share``
    flag is set ("studies can not be shared with this group") is not offered."""
    call.check()
    study = require_study(call)
    accounts = list(dict.fromkeys([*call.account_ids(), *([study.get("account_id")] if call.user.get("sysadmin") == 1 else [])]))
    accounts = [a for a in accounts if a] or [""]
    marks = ",".join("?" * len(accounts))
    kind = str(call.get("type"))
    if kind == "account":
        found = call.db.objects(f"kind = 'account' AND uuid IN ({marks})", accounts)
    elif kind == "user":
        members = call.db.objects(f"kind = 'account_user' AND parent_id IN ({marks})", accounts)
        ids = list(dict.fromkeys(str(m.get("user_id") or "") for m in members)) or [""]
        found = call.db.objects(f"kind = 'user' AND uuid IN ({','.join('?' * len(ids))})", ids)
    else:
        found = call.db.objects(f"kind = ? AND account_id IN ({marks})", [kind, *accounts])
        found = [unit for unit in found if unit.get("no_share") != 1]
    return ok({"shares": [{"uuid": o["uuid"], "name": o.get("name")} for o in found]})


@command("/study/share/stop")
def study_share_stop(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    target_type = next(name for name in (*TARGETS, "user_invite_share_id") if call.present(name))
    shares = {(r["target_type"], r["target_id"]): r for r in call.db.shares(study["uuid"])}
    found = shares.get((target_type, str(call.get(target_type))))
    if found is None:
        raise ambra_error("NOT_FOUND", target_type)
    call.db.share(study["uuid"], target_type, str(call.get(target_type)), None, add=False)
    if found["copy_id"]:
        call.db.delete_study(found["copy_id"])
    audit(call, study, "SHARE_STOP", with_=str(call.get(target_type)))
    return ok()


@command("/study/approve")
def study_approve(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    if call.present("delay") and call.present("must_match"):
        raise call.error("DELAY_OR_MATCH")
    delay = call.get("delay")
    if delay is not None and not 0 <= int(delay) <= 600:
        raise call.error("INVALID_DELAY", subtype="delay")
    call.db.update_study(study["uuid"], {"must_approve": 0})
    audit(call, study, "APPROVE")
    return ok()


@command("/study/reject")
def study_reject(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    call.db.delete_study(study["uuid"])
    audit(call, study, "REJECT", {"message": call.get("message")})
    return ok()


@command("/study/star")
def study_star(call: Call) -> MockResponse:
    call.check()
    study = require_study(call)
    call.db.update_study(study["uuid"], {"star": 1 if call.values.get("star") == 1 else 0})
    return ok()


@command("/study/audit")
def study_audit(call: Call) -> MockResponse:
    call.check()
    uuid = call.get("uuid") or call.get("study_id")
    if uuid is None:
        raise call.error("MISSING_FIELDS", subtype=["uuid"])
    study = locate(call, "uuid" if call.get("uuid") else "study_id")
    audit(call, study, str(call.get("action")), {"detail": call.get("detail")})
    return ok()


@command("/audit/object")
def audit_object(call: Call) -> MockResponse:
    call.check()
    uuid = str(call.get("uuid"))
    study = call.db.study(uuid)
    target = study or call.db.object(uuid)
    if target is None and not call.db.audit_events("object_id", uuid, 1, 0):
        raise ambra_error("NOT_FOUND", "uuid")
    call.require_permission((study or {}).get("account_id") or (target or {}).get("__account_id"))
    return _audit_page(call, "object_id", uuid)


@command("/audit/account")
def audit_account(call: Call) -> MockResponse:
    """ "Audit all events in an account": every event the account's objects recorded (audit_view in the account)."""
    call.check()
    account = _audited_account(call)
    return _audit_page(call, "account_id", account)


@command("/audit/user")
def audit_user(call: Call) -> MockResponse:
    """ "Audit [...] what a user has done in an account": the events of the account that the user did."""
    call.check()
    account = _audited_account(call)
    user = str(call.get("user_id"))
    if call.db.object(user, "user") is None:
        raise ambra_error("NOT_FOUND", "user_id")
    return _audit_page(call, "account_id", account, user_id=user)


@command("/audit/deleted")
def audit_deleted(call: Call) -> MockResponse:
    """ "Return deleted records" of a type in the account, newest first: each deleted object's uuid ("Use the uuid to
    retrieve the full history from /audit/object"), who deleted it, when, from where and with which sid. The mock audits
    the deletion of studies (type Study); other types answer none."""
    call.check()
    account = _audited_account(call)
    page = filters.page(call.values, call.error)
    rows = call.db.audit_events("account_id", account, page.rows + 1, page.offset, action="DELETED", type=str(call.get("type")))
    objects = [{"uuid": row["object_id"], "who": row["who"], "proxy": None, "when": row["at"], "client_address": row["client_address"],
                "sid": row["sid"]} for row in rows[: page.rows]]  # fmt: skip
    return ok({"page": page.hash(len(rows)), "objects": objects})


def _audited_account(call: Call) -> str:
    account = str(call.get("account_id"))
    if call.db.object(account, "account") is None:
        raise ambra_error("NOT_FOUND", "account_id")
    call.require_permission(account)
    return account


def _audit_page(call: Call, column: str, value: str, **also: str) -> MockResponse:
    """A page of audit events, newest first (``reverse``: oldest first); each as the document lists its fields: "uuid •
    uuid of the object", "with" (the other entity of a share) beside the detail."""
    page = filters.page(call.values, call.error)
    rows = call.db.audit_events(column, value, page.rows + 1, page.offset, newest_first=call.values.get("reverse") != 1, **also)
    events = []
    for row in rows[: page.rows]:
        detail = orjson.loads(row["detail"]) if row["detail"] else {}
        event = {"uuid": row["object_id"], "action": row["action"], "what": row["what"], "who": row["who"], "when": row["at"],
                 "type": row["type"], "detail": detail, "client_address": row["client_address"], "sid": row["sid"]}  # fmt: skip
        if isinstance(detail, dict) and detail.get("with") is not None:
            event["with"] = detail["with"]
        events.append(event)
    return ok({"page": page.hash(len(rows)), "events": events})


# -- tags -----------------------------------------------------------------------------------------
def _tag_target(call: Call) -> tuple[str, str]:
    object_class, object_id = str(call.get("object")), str(call.get("object_id"))
    if object_class not in TAG_OBJECTS:
        raise call.error("INVALID_OBJECT", subtype="object")
    kind = TAG_OBJECTS[object_class]
    if kind is None:
        locate(call, "object_id")
    elif call.db.object(object_id, kind) is None:
        raise ambra_error("NOT_FOUND", "object_id")
    return object_class, object_id


@command("/tag/add")
def tag_add(call: Call) -> MockResponse:
    call.check()
    object_class, object_id = _tag_target(call)
    study = call.db.study(object_id) if object_class == "Study" else None
    call.require_permission((study or {}).get("account_id"))
    call.db.tag(object_class, object_id, str(call.get("tag")), add=True)
    return ok()


@command("/tag/delete")
def tag_delete(call: Call) -> MockResponse:
    call.check()
    object_class, object_id = _tag_target(call)
    call.db.tag(object_class, object_id, str(call.get("tag")), add=False)
    return ok()


@command("/tag/list")
def tag_list(call: Call) -> MockResponse:
    call.check()
    page = filters.page(call.values, call.error)
    clauses, params = filters.where(call.values, lambda f: filters.Column("tag") if f == "tag" else None, call.error)
    order = filters.order_by(call.values, lambda f: filters.Column("tag") if f == "tag" else None, call.error, "tag")
    sql = " AND ".join(["object = ?", *clauses])
    rows = call.db.store.query(
        f"SELECT tag, COUNT(*) AS n FROM ambra_tags WHERE {sql} GROUP BY tag ORDER BY {order} LIMIT ? OFFSET ?",
        (str(call.get("object")), *params, page.rows + 1, page.offset),
    )
    return ok({"page": page.hash(len(rows)), "tags": [{"tag": row["tag"], "count": row["n"]} for row in rows[: page.rows]]})
