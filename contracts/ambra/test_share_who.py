"""/study/share/who ("Who can they share a study"; "type • Type of objects you want (account|location|group|user)") of a
study of the suite's own offers a group of the suite's own, added to the suite's account, with its uuid and name ("shares
• An array of the objects they can share this study with. Each object in the array will have the following fields",
uuid and name), and not one whose "no_share • Flag if studies can not be shared with this group" is set. The groups
and the study are deleted afterwards.
"""

from __future__ import annotations

import uuid as uuids

from medimock.ambra_contract import MAIN, ok, own_object, own_study
from medimock.verdict import Document, expect

NO_SHARE = Document(MAIN, "no_share • Flag if studies can not be shared with this group (optional)", after="URL /group/add")
WHO = Document.of(
    Document(MAIN, "Description Who can they share a study", lines=9),
    Document(MAIN, "Returns status • OK", after="URL /group/add"),
)


def test_share_who_offers_a_group_of_the_account(ambra):
    name = f"medimock share-who {uuids.uuid4().hex[:8]}"
    with own_study(ambra, "SHARE^WHO") as study, own_object(ambra, "/group/add", {"account_id": ambra.account_id(), "name": name}, WHO,
                                                             "a group of the suite's own") as group:  # fmt: skip
        if not study or not group:
            return
        shares = ok(ambra, "/study/share/who", {"uuid": study, "type": "group"}, WHO, "/study/share/who type=group").get("shares")
        offered = {s.get("uuid"): s.get("name") for s in shares if isinstance(s, dict)} if isinstance(shares, list) else {}
        expect(WHO, offered.get(group) == name, f"/study/share/who offers the account's new group {group} ({name}): {shares!r}")
        closed = {"account_id": ambra.account_id(), "name": f"{name} closed", "no_share": 1}
        with own_object(ambra, "/group/add", closed, NO_SHARE, "a group studies can not be shared with") as shut:
            if not shut:
                return
            again = ok(ambra, "/study/share/who", {"uuid": study, "type": "group"}, NO_SHARE, "/study/share/who type=group").get("shares")
            ids = [s.get("uuid") for s in again if isinstance(s, dict)] if isinstance(again, list) else []
            expect(NO_SHARE, shut not in ids, f"/study/share/who does not offer a group with no_share 1 ({shut}): {again!r}")
