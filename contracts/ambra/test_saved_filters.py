"""A filter of the suite's own, shared with the User-role member the target names (AMBRA_USER_LOGIN; skipped without):
"Share a filter" (/filter/share user_id), "Get the filter shares" (/filter/share/list: "user_id • A list of the user_id's
the filter is shared with"), "Stop sharing a filter".

- /filter/get answers "owner • Flag if the user is the owner of this filter": 1 for the suite's administrator, who added
  it; 0 for the member it is shared with.
- The member may not delete it ("NOT_PERMITTED • You are not the owner of the filter").
- The member's uuid is in the filter's shares until /filter/share/stop.

The filter is deleted afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, member_session, ok, refused
from medimock.verdict import Document, expect, json_body

ADD = Document(MAIN, "uuid • The filter uuid", after="Description Add a filter")
OWNER = Document(MAIN, "owner • Flag if the user is the owner of this filter")
SHARES = Document.of(
    Document(MAIN, "Description Share a filter", lines=4),
    Document(MAIN, "Description Get the filter shares", lines=8),
    Document(MAIN, "Description Stop sharing a filter", lines=4),
)
NOT_OWNER = Document(MAIN, "NOT_PERMITTED • You are not the owner of the filter", after="Description Delete a filter")


def flag(value: object) -> int | None:
    return int(value) if str(value) in ("0", "1") else None


def test_a_shared_filter_is_the_owners_and_listed_until_the_share_stops(ambra, target):
    params = {"name": "medimock contract filter", "type": "study", "configuration": '{"filter.modality.equals": "MR"}'}
    uuid = ok(ambra, "/filter/add", params, ADD, "a filter of the suite's own").get("uuid")
    if not uuid:
        return
    try:
        owner = ok(ambra, "/filter/get", {"uuid": uuid}, OWNER, "/filter/get by the filter's owner").get("owner")
        expect(OWNER, flag(owner) == 1, f"the owner's /filter/get answers owner 1, not {owner!r}")
        with member_session(ambra, target) as member:
            me = json_body(ambra.call("/session/user", sid=member), SHARES, "/session/user of the member")
            member_uuid = me.get("uuid") if isinstance(me, dict) else None
            if not member_uuid:
                return
            ok(ambra, "/filter/share", {"uuid": uuid, "user_id": member_uuid}, SHARES, "/filter/share with the member")
            shared = ok(ambra, "/filter/share/list", {"uuid": uuid}, SHARES, "/filter/share/list after the share").get("user_id")
            expect(SHARES, isinstance(shared, list) and member_uuid in shared, f"the member is among the filter's user shares: {shared!r}")
            theirs = ok(ambra, "/filter/get", {"uuid": uuid}, OWNER, "/filter/get by the member it is shared with", sid=member)
            expect(OWNER, flag(theirs.get("owner")) == 0, f"the member's /filter/get answers owner 0, not {theirs.get('owner')!r}")
            refused(ambra, "/filter/delete", {"uuid": uuid}, "NOT_PERMITTED", NOT_OWNER, "/filter/delete by the member", sid=member)
            ok(ambra, "/filter/share/stop", {"uuid": uuid, "user_id": member_uuid}, SHARES, "/filter/share/stop for the member")
            after = ok(ambra, "/filter/share/list", {"uuid": uuid}, SHARES, "/filter/share/list after the stop").get("user_id")
            expect(SHARES, not after or member_uuid not in after, f"the member is no longer among the user shares: {after!r}")
    finally:
        ambra.call("/filter/delete", {"uuid": uuid})
