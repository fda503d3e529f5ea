"""/user/event/set then /user/event for the suite's own user in the suite's namespace: "Set the users event flags for a
namespace", "Get the users event flags for a namespace" ("event_upload • Notify the user on an upload into the
namespace"). The suite flips its user's event_upload flag there, reads the new value back, and sets the flag back to
what it was, so the target keeps its user's notifications as it found them.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

GET = "Description Get the users event flags for a namespace"
SET = "Description Set the users event flags for a namespace"
EVENTS = Document.of(
    Document(MAIN, SET, lines=2),
    Document(MAIN, GET, lines=2),
    Document(MAIN, "event_upload • Notify the user on an upload into the namespace (optional)", after=GET),
)


def flag(value: object) -> int | None:
    return int(value) if str(value) in ("0", "1") else None


def test_event_flags_set_are_the_event_flags_got(ambra):
    namespace = ambra.namespace_id()
    before = flag(ok(ambra, "/user/event", {"namespace_id": namespace}, EVENTS, "/user/event of the suite's namespace").get("event_upload"))
    if before is None:
        before = 0  # not answered: the check below says so; the flag is put back to 0 afterwards
    wanted = 1 - before
    try:
        ok(ambra, "/user/event/set", {"namespace_id": namespace, "event_upload": wanted}, EVENTS, f"/user/event/set event_upload={wanted}")
        got = ok(ambra, "/user/event", {"namespace_id": namespace}, EVENTS, "/user/event after the set").get("event_upload")
        expect(EVENTS, flag(got) == wanted, f"/user/event answers the event_upload flag /user/event/set stored ({wanted}), not {got!r}")
    finally:
        ambra.call("/user/event/set", {"namespace_id": namespace, "event_upload": before})
