"""A filter of the suite's own, shared with the User-role member the target names (AMBRA_USER_LOGIN; skipped without):
"Share a filter" (/filter/share user_id), "Get the filter shares" (/filter/share/list: "user_id • A list of the user_id's
the filter is shared with"), "Stop sharing a filter".

- /filter/get answers "owner • Flag if the user is the owner of this filter": 1 for the suite's administrator, who added
  it; 0 for the member it is shared with.
- The member may neither change nor delete it ("NOT_PERMITTED • You are not the owner of the filter").
- The member's /filter/list ("filters • An array of the filters the user has. Each object holds the following same fields
  as the /filter/get call") holds it, with owner 0.
- The member's uuid is in the filter's shares until /filter/share/stop.
- Shared with the suite's account, and then with a group of the suite's own that the member is added to, instead of the
  member, the filter is still the member's to get ("uuid of the account, location, group, user, or role to share this
  filter with"). The group is deleted afterwards.

The filter is deleted afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, flag, member_session, ok, own_object, refused
from medimock.verdict import Document, expect, json_body

ADD = Document(MAIN, "uuid • The filter uuid", after="Description Add a filter")
OWNER = Document(MAIN, "owner • Flag if the user is the owner of this filter")
SHARES = Document.of(
    Document(MAIN, "Description Share a filter", lines=4),
    Document(MAIN, "Description Get the filter shares", lines=8),
    Document(MAIN, "Description Stop sharing a filter", lines=4),
)
NOT_OWNER = Document.of(
    Document(MAIN, "NOT_PERMITTED • You are not the owner of the filter", after="Description Edit a filter"),
    Document(MAIN, "NOT_PERMITTED • You are not the owner of the filter", after="Description Delete a filter"),
)
LISTED = Document(
    MAIN, "filters • An array of the filters the user has. Each object holds the following same fields as the /filter/get call"
)
DESTINATION = Document(MAIN, "uuid of the account, location, group, user, or role to share this filter with")
GROUP = Document.of(
    Document(MAIN, "Returns status • OK", after="URL /group/add"),
    Document(MAIN, "Description Add or update a user to a group", lines=4),
)


def test_a_shared_filter_is_the_owners_and_listed_until_the_share_stops(ambra, target):
    params = {"name": "medimock contract filter", "type": "study", "configuration": '{"filter.modality.equals": "MR"}'}
    with own_object(ambra, "/filter/add", params, ADD, "a filter of the suite's own") as uuid:
        if not uuid:
            return
        owner = ok(ambra, "/filter/get", {"uuid": uuid}, OWNER, "/filter/get by the filter's owner").get("owner")
        expect(OWNER, flag(owner) == 1, f"the owner's /filter/get answers owner 1, not {owner!r}")
        with member_session(ambra, target) as member:
            me = json_body(ambra.call("/session/user", sid=member), SHARES, "/session/user of the member")
            member_uuid = me.get("uuid") if isinstance(me, dict) else None
            if not member_uuid:
                return
            shared_with_the_member(ambra, uuid, member, member_uuid)
            shared_with_units(ambra, uuid, member, member_uuid)


def shared_with_the_member(ambra, uuid: str, member: str, member_uuid: str) -> None:
    """Shared with the member: listed among the shares, the member's with owner 0 (get and list) but not theirs to change
    or delete; no longer listed among the shares once stopped."""
    ok(ambra, "/filter/share", {"uuid": uuid, "user_id": member_uuid}, SHARES, "/filter/share with the member")
    shared = ok(ambra, "/filter/share/list", {"uuid": uuid}, SHARES, "/filter/share/list after the share").get("user_id")
    expect(SHARES, isinstance(shared, list) and member_uuid in shared, f"the member is among the filter's user shares: {shared!r}")
    theirs = ok(ambra, "/filter/get", {"uuid": uuid}, OWNER, "/filter/get by the member it is shared with", sid=member)
    expect(OWNER, flag(theirs.get("owner")) == 0, f"the member's /filter/get answers owner 0, not {theirs.get('owner')!r}")
    refused(ambra, "/filter/set", {"uuid": uuid, "name": "renamed"}, "NOT_PERMITTED", NOT_OWNER, "/filter/set by the member", sid=member)
    refused(ambra, "/filter/delete", {"uuid": uuid}, "NOT_PERMITTED", NOT_OWNER, "/filter/delete by the member", sid=member)
    listing = {"type": "study", "account_id": ambra.account_id()}
    rows = ok(ambra, "/filter/list", listing, LISTED, "the member's /filter/list", sid=member).get("filters")
    mine = [row for row in rows if isinstance(row, dict) and row.get("uuid") == uuid] if isinstance(rows, list) else []
    expect(LISTED, [flag(row.get("owner")) for row in mine] == [0], f"the member's /filter/list holds the filter, owner 0: {mine}")
    ok(ambra, "/filter/share/stop", {"uuid": uuid, "user_id": member_uuid}, SHARES, "/filter/share/stop for the member")
    after = ok(ambra, "/filter/share/list", {"uuid": uuid}, SHARES, "/filter/share/list after the stop").get("user_id")
    expect(SHARES, not after or member_uuid not in after, f"the member is no longer among the user shares: {after!r}")


def shared_with_units(ambra, uuid: str, member: str, member_uuid: str) -> None:
    """The filter shared with the suite's account, then with a new group holding the member, is the member's to get."""
    account = ambra.account_id()
    ok(ambra, "/filter/share", {"uuid": uuid, "account_id": account}, DESTINATION, "/filter/share with the suite's account")
    got = ambra.call("/filter/get", {"uuid": uuid}, sid=member)
    expect(DESTINATION, got.status_code == 200, "a member of the account gets the filter shared with the account", got)
    ambra.call("/filter/share/stop", {"uuid": uuid, "account_id": account})
    with own_object(ambra, "/group/add", {"account_id": account, "name": f"medimock filter {uuid[:8]}"}, GROUP, "a group") as group:
        if not group:
            return
        ok(ambra, "/group/user/add", {"uuid": group, "user_id": member_uuid}, GROUP, "the member added to the group")
        ok(ambra, "/filter/share", {"uuid": uuid, "group_id": group}, DESTINATION, "/filter/share with the group")
        got = ambra.call("/filter/get", {"uuid": uuid}, sid=member)
        expect(DESTINATION, got.status_code == 200, "a member of the group gets the filter shared with the group", got)
