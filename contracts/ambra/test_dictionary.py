"""A dictionary of the suite's own, its entries and an attachment: /dictionary/add, then "Add or update an entry to the
dictionary" (/dictionary/entry/add), "List all the entries in a dictionary" (/dictionary/entries), "Delete an entry form
the dictionary" (/dictionary/entry/delete), "Attach a dictionary to an account or namespace" (/dictionary/attach, whose
"uuid • Id of the attachment" /dictionary/get lists among its "attachments") and "Detach a dictionary".

- An entry added is listed with its lookup and replacement values; adding the same lookup values again updates that
  entry (one entry, the new replacement), and lookup values of the wrong number are INVALID_LOOKUP. The suite's
  dictionary is case sensitive ("case_sensitive • Flag if the dictionary lookup is case sensitive or not"), so the same
  values in lower case are an entry of their own; /dictionary/entries with ``lookup`` ("Only return the entry for the
  optional lookup entry") answers the one entry. A regular expression that does not compile is INVALID_REGEXP.
- The entry deleted is gone, and deleting it again is NOT_FOUND ("The dictionary or entry can not be found").
- The attachment is found in /dictionary/get's attachments under the id /dictionary/attach answered, and is gone
  after /dictionary/detach.

The dictionary is deleted afterwards (with its entries and attachments), so the target keeps what it had.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from medimock.ambra_contract import MAIN, ok, own_object, refused
from medimock.verdict import Document, expect

ADD = Document(MAIN, "uuid • The dictionary uuid", after="Description Add a dictionary")
ENTRY_ADD = "Description Add or update an entry to the dictionary"
ENTRIES = Document.of(
    Document(MAIN, ENTRY_ADD, lines=5),
    Document(MAIN, "Description List all the entries in a dictionary", lines=9),
)
WRONG_COUNT = Document(MAIN, "INVALID_LOOKUP • The lookup does not have the required number of fields")
CASE = Document.of(
    Document(MAIN, "case_sensitive • Flag if the dictionary lookup is case sensitive or not"),
    Document(MAIN, "lookup • Only return the entry for the optional lookup entry"),
)
BAD_REGEXP = Document.of(
    Document(MAIN, "regexp • An integer value that indicates that this entry is a regular expression (optional)"),
    Document(MAIN, "INVALID_REGEXP • Invalid regular expression", after=ENTRY_ADD),
)
DELETE = Document.of(
    Document(MAIN, "Description Delete an entry form the dictionary", lines=4),
    Document(MAIN, "NOT_FOUND • The dictionary or entry can not be found", after="Description Delete an entry form the dictionary"),
)
ATTACH = Document.of(
    Document(MAIN, "uuid • Id of the attachment", after="Description Attach a dictionary to an account or namespace"),
    Document(MAIN, "attachments • An array of the attachments the dictionary has", lines=2),
    Document(MAIN, "Description Detach a dictionary", lines=3),
)


@contextmanager
def own_dictionary(ambra: Any) -> Iterator[str | None]:
    """A Study dictionary of the suite's own (lookup: patient name and ID; replace: sex) in the suite's account, deleted
    afterwards; None when the reply named no uuid (the check above said so)."""
    params = {"account_id": ambra.account_id(), "name": f"medimock contract {uuid.uuid4().hex[:8]}", "object": "Study",
              "lookup": json.dumps(["patient_name", "patientid"]), "replace": json.dumps(["patient_sex"]), "case_sensitive": 1}  # fmt: skip
    with own_object(ambra, "/dictionary/add", params, ADD, "a dictionary of the suite's own") as dictionary:
        yield dictionary


def listed(ambra: Any, dictionary: str, what: str) -> list[dict[str, Any]]:
    entries = ok(ambra, "/dictionary/entries", {"uuid": dictionary}, ENTRIES, what).get("entries")
    expect(ENTRIES, isinstance(entries, list), f"{what}: entries is an array: {entries!r}")
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def test_an_entry_added_is_listed_updated_and_deleted(ambra):
    with own_dictionary(ambra) as dictionary:
        if not dictionary:
            return
        lookup = json.dumps(["MEDIMOCK^CONTRACT", "MC-1"])
        ok(ambra, "/dictionary/entry/add", {"uuid": dictionary, "lookup": lookup, "replace": '["M"]'}, ENTRIES, "an entry")
        ok(ambra, "/dictionary/entry/add", {"uuid": dictionary, "lookup": lookup, "replace": '["F"]'}, ENTRIES, "the same lookup")
        entries = listed(ambra, dictionary, "/dictionary/entries after adding one entry twice")
        expect(
            ENTRIES,
            [(e.get("lookup"), e.get("replace")) for e in entries] == [(["MEDIMOCK^CONTRACT", "MC-1"], ["F"])],
            f"the one entry added, updated by the second add, is listed with its lookup and replacement values: {entries}",
        )
        refused(ambra, "/dictionary/entry/add", {"uuid": dictionary, "lookup": '["ONE VALUE"]', "replace": '["M"]'},
                "INVALID_LOOKUP", WRONG_COUNT, "an entry of one lookup value in a dictionary of two lookup fields")  # fmt: skip
        refused(ambra, "/dictionary/entry/add", {"uuid": dictionary, "lookup": "([", "replace": '["M"]', "regexp": 1},
                "INVALID_REGEXP", BAD_REGEXP, "an entry whose regular expression does not compile")  # fmt: skip
        lower = json.dumps(["medimock^contract", "mc-1"])
        ok(ambra, "/dictionary/entry/add", {"uuid": dictionary, "lookup": lower, "replace": '["O"]'}, CASE, "the lookup in lower case")
        both = listed(ambra, dictionary, "/dictionary/entries of a case-sensitive dictionary")
        expect(CASE, len(both) == 2, f"the lookup values in lower case are an entry of their own in a case-sensitive dictionary: {both}")
        one = ok(ambra, "/dictionary/entries", {"uuid": dictionary, "lookup": lower}, CASE, "/dictionary/entries lookup=...").get("entries")
        expect(CASE, isinstance(one, list) and [e.get("replace") for e in one if isinstance(e, dict)] == [["O"]],
               f"/dictionary/entries with lookup answers that entry alone: {one!r}")  # fmt: skip
        ok(ambra, "/dictionary/entry/delete", {"uuid": dictionary, "lookup": lower}, DELETE, "/dictionary/entry/delete of the lower case")
        ok(ambra, "/dictionary/entry/delete", {"uuid": dictionary, "lookup": lookup}, DELETE, "/dictionary/entry/delete")
        left = listed(ambra, dictionary, "/dictionary/entries after the delete")
        expect(DELETE, not left, f"the entry deleted is no longer listed: {left}")
        refused(ambra, "/dictionary/entry/delete", {"uuid": dictionary, "lookup": lookup}, "NOT_FOUND", DELETE, "deleting the entry again")


def test_an_attachment_is_listed_by_its_id_until_detached(ambra):
    with own_dictionary(ambra) as dictionary:
        if not dictionary:
            return
        params = {"uuid": dictionary, "namespace_id": ambra.namespace_id(), "sequence": 5}
        attachment = ok(ambra, "/dictionary/attach", params, ATTACH, "/dictionary/attach to the suite's namespace").get("uuid")
        expect(ATTACH, bool(attachment) and attachment != dictionary, f"/dictionary/attach answers the attachment's own id: {attachment!r}")
        attachments = ok(ambra, "/dictionary/get", {"uuid": dictionary}, ATTACH, "/dictionary/get after the attach").get("attachments")
        ids = [a.get("uuid") for a in attachments if isinstance(a, dict)] if isinstance(attachments, list) else attachments
        expect(ATTACH, ids == [attachment], f"/dictionary/get lists the one attachment, {attachment}: {attachments!r}")
        ok(ambra, "/dictionary/detach", {"uuid": attachment}, ATTACH, "/dictionary/detach of the attachment")
        after = ok(ambra, "/dictionary/get", {"uuid": dictionary}, ATTACH, "/dictionary/get after the detach").get("attachments")
        expect(ATTACH, not after, f"the attachment detached is no longer listed: {after!r}")
