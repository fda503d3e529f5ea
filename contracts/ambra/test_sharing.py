"""/study/share with a group: a study of the suite's own is shared with a group of its own, /study/share/list names
the group (its block: "group_id • A list of the group_ids the study is shared with"), /study/share/stop ends the
share and the list no longer names it; a share with a group that does not exist is NOT_FOUND naming group_id (the
block: "NOT_FOUND • The study or share object can not be found. The error_subtype holds a the name of the key that
can not be found").

The study and the group are added first and deleted afterwards, with any copy the share put in the group's
namespace (also what the target wrongly accepted).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from medimock.ambra_contract import MAIN, ok, refused
from medimock.verdict import Document, expect, json_body

UNKNOWN = "00000000-0000-4000-8000-000000000000"  # a uuid no target holds
SHARE = Document(MAIN, "Returns status • OK", after="Description Share a study")
SHARE_NOT_FOUND = Document(MAIN, "NOT_FOUND • The study or share object can not be found", after="Description Share a study")
SHARE_LIST = Document(MAIN, "group_id • A list of the group_ids the study is shared with")
SHARE_STOP = Document.of(Document(MAIN, "Description Stop sharing a study"), SHARE_LIST)
STUDY_ADD = Document(MAIN, "uuid • The study uuid", after="URL /study/add")
GROUP_ADD = Document(MAIN, "Returns status • OK", after="URL /group/add")


def quiet(response: Any) -> dict[str, Any]:
    """A reply's hash for the test's own bookkeeping (clean-up), which checks nothing."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def shared_groups(ambra: Any, study: str, what: str) -> list[Any]:
    response = ambra.call("/study/share/list", {"uuid": study})
    expect(SHARE_LIST, response.status_code == 200, f"{what}: /study/share/list succeeds; it answered {response.status_code}", response)
    body = json_body(response, SHARE_LIST, what) or {}
    groups = body.get("group_id") if isinstance(body, dict) else None
    expect(SHARE_LIST, isinstance(groups, list), f"{what}: /study/share/list holds the list group_id: {str(body)[:300]}", response)
    return groups if isinstance(groups, list) else []


def test_share_a_study_with_a_group(ambra):
    account, namespace = ambra.account_id(), ambra.namespace_id()
    me = quiet(ambra.call("/session/user"))
    if me.get("sysadmin") != 1:
        permissions = quiet(ambra.call("/session/permissions", {"account_id": account}))
        missing = [flag for flag in ("study_upload", "study_delete", "study_share", "group_edit") if permissions.get(flag) != 1]
        if missing:
            pytest.skip(f"the administrator (AMBRA_LOGIN) lacks {', '.join(missing)} in account {account}: give it a role with them")
    group: str | None = None
    study: str | None = None
    try:
        added = ok(ambra, "/group/add", {"account_id": account, "name": f"contract share {uuid.uuid4().hex[:8]}"}, GROUP_ADD, "a group")
        group = added.get("uuid") if isinstance(added.get("uuid"), str) else None
        params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace,
                  "patient_name": "CONTRACT^SHARE", "modality": "CT", "study_date": "20240607"}  # fmt: skip
        body = ok(ambra, "/study/add", params, STUDY_ADD, "a study of the suite's own")
        study = body.get("uuid") if isinstance(body.get("uuid"), str) else None
        expect(STUDY_ADD, study is not None and group is not None, f"/study/add and /group/add answer uuids: {study!r}, {group!r}")
        if study is None or group is None:
            return
        unknown = refused(
            ambra, "/study/share", {"uuid": study, "group_id": UNKNOWN}, "NOT_FOUND", SHARE_NOT_FOUND, "a share with no group"
        )
        expect(SHARE_NOT_FOUND, not unknown or unknown.get("error_subtype") == "group_id", f"NOT_FOUND names group_id: {unknown}")
        ok(ambra, "/study/share", {"uuid": study, "group_id": group}, SHARE, "a share with a group of the suite's own")
        listed = shared_groups(ambra, study, "the study shared with the group")
        expect(SHARE_LIST, group in listed, f"/study/share/list names the group {group}: {listed}")
        ok(ambra, "/study/share/stop", {"uuid": study, "group_id": group}, SHARE_STOP, "stopping the share")
        after = shared_groups(ambra, study, "the study no longer shared")
        expect(SHARE_STOP, group not in after, f"after /study/share/stop, /study/share/list no longer names the group {group}: {after}")
    finally:
        if study is not None and group is not None:
            ambra.call("/study/share/stop", {"uuid": study, "group_id": group})
        if group is not None:
            group_namespace = quiet(ambra.call("/group/get", {"uuid": group})).get("namespace_id")
            if isinstance(group_namespace, str) and group_namespace:
                copies = quiet(ambra.call("/study/list", {"filter.phi_namespace.equals": group_namespace, "page.rows": 100}))
                for copy in copies.get("studies") or []:
                    if isinstance(copy, dict) and copy.get("uuid"):
                        ambra.call("/study/delete", {"uuid": copy["uuid"]})
            ambra.call("/group/delete", {"uuid": group})
        if study is not None:
            ambra.call("/study/delete", {"uuid": study})
