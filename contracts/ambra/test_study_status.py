"""A status change of a study of the suite's own, through the tags its account offers: "Gets the status and next
available tags for a study" (/study/status/get: "study_status_tags • The available study status tags"), "Set the status
of a study" (/study/status/set, old and new), "Returns the history of the study status changes for the study".

- The study set to the first available tag answers it in /study/status/get, and /study/status/history records the change
  ("new • The new study status value").
- An ``old`` value that is not the study's status is STALE ("The study status you have is stale"); a ``new`` value that
  is no tag is INVALID_TAG ("The study status new value is not a valid value").

An account that offers the suite no tags is not a case for the check (skipped); the study is deleted afterwards.
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, ok, own_study, refused
from medimock.verdict import Document, expect

GET = "Description Gets the status and next available tags for a study"
STATUS = Document.of(
    Document(MAIN, "study_status • The study status. Is null for just created study.", after=GET),
    Document(MAIN, "study_status_tags • The available study status tags.", after=GET),
    Document(MAIN, "Description Set the status of a study", lines=5),
)
HISTORY = Document(MAIN, "Description Returns the history of the study status changes for the study", lines=9)
STALE = Document(MAIN, "STALE • The study status you have is stale")
INVALID_TAG = Document(MAIN, "INVALID_TAG • The study status new value is not a valid value")


def tags_of(value: object) -> list[str]:
    """The tags of /study/status/get: a list, or the account setting's comma separated text."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(tag).strip() for tag in items if str(tag).strip()]


def test_a_status_set_is_got_and_recorded(ambra):
    with own_study(ambra, "STATUS^CONTRACT") as study:
        if not study:
            return
        before = ok(ambra, "/study/status/get", {"study_id": study}, STATUS, "/study/status/get of the suite's study")
        tags = tags_of(before.get("study_status_tags"))
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
        refused(
            ambra, "/study/status/set", {"study_id": study, "old": "medimock-stale", "new": wanted}, "STALE", STALE, "a stale old value"
        )
        refused(ambra, "/study/status/set", {"study_id": study, "old": wanted, "new": "medimock-no-such-tag"}, "INVALID_TAG", INVALID_TAG,
                "a new value that is no tag")  # fmt: skip
