"""A status change of a study of the suite's own, through the tags its account offers: "Gets the status and next
available tags for a study" (/study/status/get: "study_status_tags • The available study status tags"), "Set the status
of a study" (/study/status/set, old and new), "Returns the history of the study status changes for the study".

- The study set to the first available tag answers it in /study/status/get, and /study/status/history records the change
  ("new • The new study status value").
- An ``old`` value that is not the study's status is STALE ("The study status you have is stale"); a ``new`` value that
  is no tag is INVALID_TAG ("The study status new value is not a valid value").

- The tags and the default agree with the account's settings (/account/settings: "study_status_tags ... Comma separated
  list of study status tags"; the default "is calculated as (account.settings.study_status_tags_default ||
  account.settings.study_status_tags[0])"): an account that lists tags has them offered (for a caller who may edit).
- The recorded change's ``seconds`` ("The number of seconds the study was in the old status") is no more than the study's
  age (an hour at most here).
- Set by the User-role member (AMBRA_USER_LOGIN) to a tag of ``study_status_mutex_tags`` ("tags that lock the study to
  the user when set"), the study is locked to them: the administrator is offered no tags ("only returned if they have
  study_status_edit permission on the study and the study is not locked by another user") and its set is LOCKED
  ("Another user has locked this study"). Skipped where the account names no mutex tag or the member may not set it.

An account that offers the suite no tags is not a case for the check (skipped); the study is deleted afterwards.
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, member_session, ok, own_study, refused
from medimock.verdict import Document, expect

GET = "Description Gets the status and next available tags for a study"
STATUS = Document.of(
    Document(MAIN, "study_status • The study status. Is null for just created study.", after=GET),
    Document(MAIN, "study_status_tags • The available study status tags.", after=GET),
    Document(MAIN, "Description Set the status of a study", lines=5),
)
HISTORY = Document(MAIN, "Description Returns the history of the study status changes for the study", lines=9)
STALE = Document(MAIN, "STALE • The study status you have is stale")
SETTINGS = Document.of(
    Document(MAIN, "study_status_tags Text 0 0 0 0 0 Comma separated list of study status tags"),
    Document(MAIN, 'study_status_tags_default • The "default" value for study_status. It is calculated as', after=GET),
)
SECONDS = Document(MAIN, "seconds • The number of seconds the study was in the old status")
LOCKED = Document.of(
    Document(MAIN, "study_status_mutex_tags Text"),
    Document(
        MAIN, "(This is only returned if they have study_status_editi> permission on the study and the study is not locked by another user)"
    ),
    Document(MAIN, "LOCKED • Another user has locked this study"),
)
INVALID_TAG = Document(MAIN, "INVALID_TAG • The study status new value is not a valid value")


def tags_of(value: object) -> list[str]:
    """The tags of /study/status/get: a list, or the account setting's comma separated text."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(tag).strip() for tag in items if str(tag).strip()]


def account_settings(ambra) -> dict:
    wanted = {"account_id": ambra.account_id(), "settings": "study_status_tags,study_status_tags_default,study_status_mutex_tags"}
    found = ok(ambra, "/account/settings", wanted, SETTINGS, "/account/settings of the status tags").get("settings")
    return found if isinstance(found, dict) else {}


def test_a_status_set_is_got_and_recorded(ambra):
    with own_study(ambra, "STATUS^CONTRACT") as study:
        if not study:
            return
        before = ok(ambra, "/study/status/get", {"study_id": study}, STATUS, "/study/status/get of the suite's study")
        tags = tags_of(before.get("study_status_tags"))
        settings = account_settings(ambra)
        listed = tags_of(settings.get("study_status_tags"))
        if listed and "study_status_tags" in before:
            expect(SETTINGS, bool(tags) and set(tags) <= set(listed), f"the tags offered {tags} are the account's {listed}")
            default = settings.get("study_status_tags_default") or listed[0]
            got_default = before.get("study_status_tags_default")
            expect(
                SETTINGS,
                got_default == default,
                f"the default status is the account's default or first tag ({default}), not {got_default!r}",
            )
        if not tags:
            pytest.skip("the account offers the suite no study status tags (study_status_tags)")
        current, wanted = before.get("study_status"), tags[0] if tags[0] != before.get("study_status") else tags[-1]
        was = {"old": current} if current else {}
        ok(ambra, "/study/status/set", {"study_id": study, "new": wanted, **was}, STATUS, f"/study/status/set new={wanted}")
        got = ok(ambra, "/study/status/get", {"study_id": study}, STATUS, "/study/status/get after the set").get("study_status")
        expect(STATUS, got == wanted, f"/study/status/get answers the status set ({wanted}), not {got!r}")
        history = ok(ambra, "/study/status/history", {"study_id": study}, HISTORY, "/study/status/history").get("history")
        changes = [(h.get("old"), h.get("new")) for h in history if isinstance(h, dict)] if isinstance(history, list) else []
        expect(HISTORY, (current or None, wanted) in [(old or None, new) for old, new in changes], f"the change is recorded: {history!r}")
        seconds = [h.get("seconds") for h in history if isinstance(h, dict) and h.get("new") == wanted] if isinstance(history, list) else []
        expect(SECONDS, all(isinstance(n, int) and 0 <= n <= 3600 for n in seconds),
               f"the seconds in the old status are no more than the new study's age: {seconds}")  # fmt: skip
        refused(
            ambra, "/study/status/set", {"study_id": study, "old": "medimock-stale", "new": wanted}, "STALE", STALE, "a stale old value"
        )
        refused(ambra, "/study/status/set", {"study_id": study, "old": wanted, "new": "medimock-no-such-tag"}, "INVALID_TAG", INVALID_TAG,
                "a new value that is no tag")  # fmt: skip


def test_a_status_locked_by_the_member_keeps_the_administrator_out(ambra, target):
    mutex = tags_of(account_settings(ambra).get("study_status_mutex_tags"))
    if not mutex:
        pytest.skip("the account names no study_status_mutex_tags")
    with own_study(ambra, "STATUS^LOCK") as study, member_session(ambra, target) as member:
        if not study:
            return
        current = ok(ambra, "/study/status/get", {"study_id": study}, LOCKED, "/study/status/get of the suite's study").get("study_status")
        locked = ambra.call("/study/status/set", {"study_id": study, "new": mutex[0], **({"old": current} if current else {})}, sid=member)
        if locked.status_code != 200:
            pytest.skip(f"the member may not set the study's status ({locked.status_code})")
        mine = ok(ambra, "/study/status/get", {"study_id": study}, LOCKED, "/study/status/get of a study the member locked")
        expect(LOCKED, "study_status_tags" not in mine, f"no tags are offered for a study another user locked: {mine}")
        refused(ambra, "/study/status/set", {"study_id": study, "old": mutex[0], "new": mutex[0]}, "LOCKED", LOCKED,
                "/study/status/set of a study the member locked")  # fmt: skip
