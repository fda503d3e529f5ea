"""The audit of the suite's account and of the suite's own user: "Audit all events in an account" (/audit/account) and
"Audit a user's public key edits and what a user has done in an account" (/audit/user). Once the suite has added a
study of its own, both list an event whose "uuid • uuid of the object" is that study. A target where the suite's
administrator lacks audit_view ("Permission audit_view") is not a case for the check (skipped). The study is deleted
afterwards.
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, error_type, ok, own_study
from medimock.verdict import Document, expect, json_body

ACCOUNT = "Description Audit all events in an account"
USER = "Description Audit a user's public key edits and what a user has done in an account"
AUDITED = Document.of(
    Document(MAIN, ACCOUNT, lines=10),
    Document(MAIN, "* uuid • uuid of the object", after=ACCOUNT),
    Document(MAIN, USER, lines=13),
)


def objects_of(ambra, path: str, params: dict, what: str) -> list:
    response = ambra.call(path, {**params, "page.rows": 100})
    if response.status_code == 412 and error_type(json_body(response, AUDITED, what)) == "NOT_PERMITTED":
        pytest.skip(f"the suite's administrator may not audit ({path}: NOT_PERMITTED)")
    events = ok(ambra, path, {**params, "page.rows": 100}, AUDITED, what).get("events")
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
