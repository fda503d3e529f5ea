"""A study in the namespace of a user who deleted themselves ("Delete yourself from the system", /user/delete) is
still listed as /study/get shows it: /study/list's "studies • An array of the studies the user has. Each object holds
the following same fields as the /study/get call", so the listed study's fields (phi_namespace_name, "PHI namespace
description", among them) are /study/get's. The suite creates the user (/user/add), adds a study in the user's own
namespace (the namespace_id /user/add answers), lets the user delete themselves, then compares; the study is deleted
afterwards. Skipped where the target refuses a step (a new user, a study in a user's namespace) or no longer lists or
gets the study once the user is gone.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

SAME_FIELDS = Document.of(
    Document(MAIN, "studies • An array of the studies the user has. Each object holds the following same fields as the /study/get call",
             after="URL /study/list"),
    Document(MAIN, "phi_namespace_name • PHI namespace description", after="URL /study/get"),
    Document(MAIN, "Description Delete yourself from the system"),
)  # fmt: skip


def parsed(response: Any) -> Any:
    """The JSON of a reply whose failure only skips the check (None when it is not JSON)."""
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def test_a_study_in_a_deleted_users_namespace_lists_as_study_get_shows_it(ambra):
    email = f"contract-ns-{uuid.uuid4().hex[:12]}@example.org"
    password = f"Contract-{uuid.uuid4().hex[:10]}-1"
    params = {"account_id": ambra.account_id(), "first": "Contract", "last": "Namespace", "email": email, "password": password}
    created = ambra.call("/user/add", {**params, "mobile_phone": "+15550100000"})
    body = parsed(created) if created.status_code == 200 else None
    if not isinstance(body, dict) or not body.get("namespace_id"):
        pytest.skip(f"the target created no user with a namespace (/user/add: HTTP {created.status_code})")
    ambra.throwaway_users.append((email, password))
    namespace = str(body["namespace_id"])
    study_uid = f"2.25.{uuid.uuid4().int}"
    added = ambra.call(
        "/study/add",
        {"study_uid": study_uid, "phi_namespace": namespace, "storage_namespace": namespace, "patient_name": "DELETED^OWNER",
         "modality": "CT", "study_date": "20240102"},
    )  # fmt: skip
    added_body = parsed(added) if added.status_code == 200 else None
    study = added_body.get("uuid") if isinstance(added_body, dict) else None
    if not study:
        pytest.skip(f"the target added no study in a new user's namespace (HTTP {added.status_code})")
    try:
        login = ambra.session.post(ambra.url("/session/login"), data={"login": email, "password": password}, timeout=60)
        sid = (parsed(login) or {}).get("sid") if login.status_code == 200 else None
        if not isinstance(sid, str):
            pytest.skip("the new user could not log in")
        ambra.register_sid(sid, email)
        deleted = ambra.call("/user/delete", sid=sid)
        if deleted.status_code != 200:
            pytest.skip(f"the new user could not delete themselves (HTTP {deleted.status_code})")
        listed = ok(ambra, "/study/list", {"filter.study_uid.equals": study_uid}, SAME_FIELDS, "/study/list of the study")
        items = [s for s in listed.get("studies") or [] if isinstance(s, dict)]
        got_response = ambra.call("/study/get", {"uuid": study})
        got = parsed(got_response) if got_response.status_code == 200 else None
        if len(items) != 1 or not isinstance(got, dict) or got.get("status") != "OK":
            pytest.skip("the target no longer lists or gets a study whose namespace's user is gone")
        differing = {k: (v, got.get(k)) for k, v in items[0].items() if k in got and got[k] != v}
        expect(
            SAME_FIELDS,
            not differing,
            f"once its namespace's user deleted themselves, the listed study holds /study/get's fields: {differing}",
        )
    finally:
        ambra.call("/study/delete", {"uuid": study})
