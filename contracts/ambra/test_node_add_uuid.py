"""/node/add with a uuid of the caller's choosing that is no uuid at all: its block's "INVALID_UUID • Invalid uuid
format or this uuid is already in use". Whatever the target wrongly added is deleted afterwards.
"""

from __future__ import annotations

import uuid

import pytest

from medimock.ambra_contract import MAIN, error_type
from medimock.verdict import Document, expect, json_body

INVALID_UUID = Document.of(
    Document(MAIN, "uuid • uuid of the node (optional, you can use this to explicitly set the UUID)"),
    Document(MAIN, "INVALID_UUID • Invalid uuid format or this uuid is already in use"),
)


def test_node_add_with_a_malformed_uuid_is_invalid_uuid(ambra):
    bad = f"not-a-uuid-{uuid.uuid4().hex[:8]}"
    params = {"name": f"contract node {bad}", "account_id": ambra.account_id(), "type": "HARVESTER", "uuid": bad}
    response = ambra.call("/node/add", params)
    try:
        if response.status_code == 412 and error_type(json_body(response, INVALID_UUID, "/node/add")) == "NOT_PERMITTED":
            pytest.skip("the suite's administrator may not add a node here (NOT_PERMITTED)")
        what = f"/node/add with uuid={bad}"
        expect(INVALID_UUID, response.status_code == 412, f"{what} is refused (HTTP 412), not {response.status_code}", response)
        found = error_type(json_body(response, INVALID_UUID, what))
        expect(INVALID_UUID, found == "INVALID_UUID", f"{what}: error_type INVALID_UUID, not {found!r}", response)
    finally:
        if response.status_code == 200:
            added = json_body(response, INVALID_UUID, "/node/add")
            if isinstance(added, dict) and added.get("uuid"):
                ambra.call("/node/delete", {"uuid": added["uuid"]})
