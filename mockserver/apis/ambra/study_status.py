"""A study's status: /study/status/get, /study/status/set, /study/status/history and /study/status/locks.

The status tags are the account's settings (/account/set ``settings``, else the document's Account settings defaults):
``study_status_tags`` ("Comma separated list of study status tags"), ``study_status_tags_default``,
``study_status_role_tags`` ("A JSON hash. The keys are study status tags and the values are a list of the role uuids
that can change to the status"), ``study_status_mutex_tags`` ("tags that lock the study to the user when set") and
``study_status_singleton_tags`` ("tags that allow the user to have only one locked study in the stage").

- /study/status/get: ``study_status`` ("Is null for just created study"), ``study_status_tags_default`` ("calculated as
  (account.settings.study_status_tags_default || account.settings.study_status_tags[0])") and, for a caller with
  study_status_edit whom no other user's lock keeps out, ``study_status_tags``: the account's tags, less those
  study_status_role_tags keeps from the caller's role.
- /study/status/set: ``old`` must be the study's status (STALE "The study status you have is stale"), ``new`` one of the
  tags the caller may set (INVALID_TAG), the study not locked by another user (LOCKED), and a singleton stage not already
  holding another study of the caller's (SINGLETON). A mutex tag locks the study to the caller; any other releases it.
  Each change is recorded.
- /study/status/history: each change's ``date``, ``old``, ``new`` and ``seconds`` ("The number of seconds the study was
  in the old status").
- /study/status/locks: "the studies the user has locked in the order they were locked", as /study/get shows them, paged.

medimock conventions, where the document is silent: an account without status tags takes any ``new`` value; ``old`` may
be left out (or empty) while the study has no status (it "Is null for just created study", so a first set has no old
value to give). study_status_tags_rules (the rules' "next values") are not modelled.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ...http import MockResponse
from . import filters
from .account_settings import StudySettings
from .call import Call, ambra_error
from .engine import command, ok
from .shapes import new_uuid, now_stamp, stamp_seconds
from .studies import require_study, shown

CHANGE = "study_status_change"
LOCK = "study_status_lock"


def _tags(settings: StudySettings, name: str = "study_status_tags") -> list[str]:
    return [tag.strip() for tag in str(settings.flag(name) or "").split(",") if tag.strip()]


def _allowed(call: Call, settings: StudySettings) -> list[str]:
    """The account's tags the caller's role may change a status to (study_status_role_tags)."""
    tags = _tags(settings)
    raw = settings.flag("study_status_role_tags")
    try:
        by_tag = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else raw
    except orjson.JSONDecodeError:
        by_tag = None
    if not isinstance(by_tag, dict) or not by_tag:
        return tags
    role = call.permissions(settings.account_id).get("role_id")
    return [tag for tag in tags if tag not in by_tag or (isinstance(by_tag[tag], list) and role in by_tag[tag])]


def _lock(call: Call, study: dict[str, Any]) -> dict[str, Any] | None:
    found = call.db.objects("kind = ? AND parent_id = ?", [LOCK, study["uuid"]])
    return found[0] if found else None


@command("/study/status/get")
def status_get(call: Call) -> MockResponse:
    call.check()
    study = require_study(call, "study_id")
    account, settings = study.get("account_id"), StudySettings(call, study)
    tags = _tags(settings)
    body: dict[str, Any] = {
        "study_status": study.get("study_status"),
        "study_status_tags_default": settings.flag("study_status_tags_default") or (tags[0] if tags else None),
    }
    lock = _lock(call, study)
    if call.permits(("study_status_edit",), str(account) if account else None) and (lock is None or lock.get("user_id") == call.user_id):
        body["study_status_tags"] = ",".join(_allowed(call, settings))
    return ok(body)


@command("/study/status/set")
def status_set(call: Call) -> MockResponse:
    call.check()
    study = require_study(call, "study_id")
    settings = StudySettings(call, study)
    current, old, new = study.get("study_status"), call.get("old"), str(call.get("new"))
    if (old or None) != (current or None):
        raise ambra_error("STALE", "old")
    tags = _tags(settings)
    if tags and new not in _allowed(call, settings):
        raise ambra_error("INVALID_TAG", "new")
    lock = _lock(call, study)
    if lock is not None and lock.get("user_id") != call.user_id:
        raise ambra_error("LOCKED")
    locking = new in _tags(settings, "study_status_mutex_tags")
    if locking and new in _tags(settings, "study_status_singleton_tags"):
        others = call.db.objects("kind = ? AND key = ? AND parent_id != ?", [LOCK, call.user_id, study["uuid"]])
        if any(other.get("tag") == new for other in others):
            raise ambra_error("SINGLETON")
    previous = call.db.objects("kind = ? AND parent_id = ?", [CHANGE, study["uuid"]], order="seq DESC", limit=1)
    since = float(previous[0]["at"]) if previous else _created_seconds(study)
    now = time.time()
    call.db.insert(CHANGE, new_uuid(), {"date": now_stamp(), "old": current, "new": new, "seconds": max(0, round(now - since)), "at": now},
                   parent_id=study["uuid"])  # fmt: skip
    call.db.update_study(study["uuid"], {"study_status": new})
    if lock is not None and not locking:
        call.db.delete(lock["uuid"])
    elif lock is None and locking:
        call.db.insert(LOCK, new_uuid(), {"user_id": call.user_id, "tag": new}, parent_id=study["uuid"], key=call.user_id)
    return ok()


def _created_seconds(study: dict[str, Any]) -> float:
    try:
        return stamp_seconds(study.get("created"))
    except ValueError:
        return time.time()


@command("/study/status/history")
def status_history(call: Call) -> MockResponse:
    call.check()
    study = require_study(call, "study_id")
    changes = call.db.objects("kind = ? AND parent_id = ?", [CHANGE, study["uuid"]])
    return ok({"history": [{name: change.get(name) for name in ("date", "old", "new", "seconds")} for change in changes]})


@command("/study/status/locks")
def status_locks(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    page = filters.page(call.values, call.error, call.plan.page_rows)
    locks = call.db.objects("kind = ? AND key = ?", [LOCK, call.user_id], "seq", page.rows + 1, page.offset)
    studies = [study for study in (call.db.study(str(lock["__parent_id"])) for lock in locks[: page.rows]) if study is not None]
    return ok({"page": page.hash(len(locks), call.ctx.defect("ambra.page_more_wrong")), "studies": shown(call, studies)})
