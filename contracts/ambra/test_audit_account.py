"""The audit of the suite's account and of the suite's own user: "Audit all events in an account" (/audit/account) and
"Audit a user's public key edits and what a user has done in an account" (/audit/user). Once the suite has added a
study of its own, both list an event whose "uuid • uuid of the object" is that study. A target where the suite's
administrator lacks audit_view ("Permission audit_view") is not a case for the check (skipped).

The events of /audit/account are /audit/object's ("detail • Details - see the notes in /audit/object"):
- the study's patient name set anew is an EDIT whose detail maps the field to "a list of the original and new values";
- its share with a group of the suite's own carries ``with`` ("If this event involves another entity (e.g. a share)
  this field will exist").

A page of one row holds one event, and says there is more. A study of the suite's own, deleted, is among the account's
"Return deleted records" of type Study (/audit/deleted: "uuid • uuid of the deleted object"). The share is stopped, and the study and the group are deleted
afterwards.
"""

from __future__ import annotations

import uuid as uuids

from medimock.ambra_contract import MAIN, ok, own_object, own_study, skip_if_not_permitted, succeeded
from medimock.verdict import Document, expect

ACCOUNT = "Description Audit all events in an account"
USER = "Description Audit a user's public key edits and what a user has done in an account"
EVENTS = Document.of(
    Document(MAIN, "EDIT - A hash, each key is the name of the changed field and the value is a list of the original and new values"),
    Document(MAIN, "with • If this event involves another entity (e.g. a share) this field will exist", after=ACCOUNT),
    Document(MAIN, "page • The pagination status hash", after=ACCOUNT),
)
DELETED = Document.of(
    Document(MAIN, "Description Return deleted records", lines=5),
    Document(MAIN, "* uuid • uuid of the deleted object"),
)
AUDITED = Document.of(
    Document(MAIN, ACCOUNT, lines=10),
    Document(MAIN, "* uuid • uuid of the object", after=ACCOUNT),
    Document(MAIN, USER, lines=13),
)


def events_of(ambra, path: str, params: dict, what: str, rows: int = 100) -> dict:
    response = ambra.call(path, {**params, "page.rows": rows})
    skip_if_not_permitted(response, AUDITED, what, f"the suite's administrator may not audit ({path})")
    return succeeded(response, AUDITED, what)


def objects_of(ambra, path: str, params: dict, what: str) -> list:
    events = events_of(ambra, path, params, what).get("events")
    return [event.get("uuid") for event in events if isinstance(event, dict)] if isinstance(events, list) else []


def test_the_suites_study_is_in_the_audit_of_its_account_and_user(ambra):
    with own_study(ambra, "AUDIT^CONTRACT") as study:
        if not study:
            return
        account = ambra.account_id()
        listed = objects_of(ambra, "/audit/account", {"account_id": account}, "/audit/account of the suite's account")
        expect(AUDITED, study in listed, f"/audit/account lists an event of the suite's new study {study} (newest first): {listed[:5]}")
        me = ok(ambra, "/session/user", {}, AUDITED, "/session/user of the suite's administrator").get("uuid")
        if not me:
            return
        mine = objects_of(ambra, "/audit/user", {"account_id": account, "user_id": me}, "/audit/user of the suite's administrator")
        expect(AUDITED, study in mine, f"/audit/user lists the administrator's event of the new study {study}: {mine[:5]}")


def test_an_edit_and_a_share_of_the_suites_study_in_the_account_audit(ambra):
    account = ambra.account_id()
    group_params = {"account_id": account, "name": f"medimock audit {uuids.uuid4().hex[:8]}"}
    with own_study(ambra, "AUDIT^BEFORE") as study, own_object(ambra, "/group/add", group_params, AUDITED, "a group") as group:
        if not study or not group:
            return
        ok(ambra, "/study/set", {"study_id": study, "patient_name": "AUDIT^AFTER"}, EVENTS, "/study/set of the patient name")
        ok(ambra, "/study/share", {"uuid": study, "group_id": group}, EVENTS, "/study/share with the suite's group")
        try:
            page = events_of(ambra, "/audit/account", {"account_id": account}, "/audit/account of the suite's account")
        finally:  # the share's copy in the group's namespace goes with the share
            ambra.call("/study/share/stop", {"uuid": study, "group_id": group})
        events = [e for e in page.get("events") or [] if isinstance(e, dict) and e.get("uuid") == study]
        edits = [e.get("detail") for e in events if e.get("action") == "EDIT" and isinstance(e.get("detail"), dict)]
        changed = [d.get("patient_name") for d in edits if "patient_name" in d]
        expect(EVENTS, ["AUDIT^BEFORE", "AUDIT^AFTER"] in changed, f"an EDIT event maps patient_name to its old and new values: {edits}")
        expect(EVENTS, any(e.get("with") for e in events), f"an event of the share names the other entity in with: {events}")
        one = events_of(ambra, "/audit/account", {"account_id": account}, "/audit/account, a page of one row", rows=1)
        shown, more = one.get("events"), (one.get("page") or {}).get("more")
        expect(EVENTS, isinstance(shown, list) and len(shown) == 1 and str(more) == "1", f"a page of one row: one event, more 1: {one}")


def test_a_deleted_study_is_among_the_deleted_records(ambra):
    account = ambra.account_id()
    with own_study(ambra, "AUDIT^DELETED") as study:
        if not study:
            return
        ok(ambra, "/study/delete", {"uuid": study}, DELETED, "/study/delete of the suite's study")
        found = events_of(ambra, "/audit/deleted", {"account_id": account, "type": "Study"}, "/audit/deleted of type Study").get("objects")
        ids = [o.get("uuid") for o in found if isinstance(o, dict)] if isinstance(found, list) else []
        expect(DELETED, study in ids, f"/audit/deleted lists the study the suite deleted ({study}): {ids[:5]}")
