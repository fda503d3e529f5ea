"""A link to a study of the suite's own, with a password: /link/add ("action • Link action (STUDY_LIST|STUDY_VIEW|...)",
"password • Link password"), then what a link's visitor calls without a session of their own.

- "Get the status of a link" (/link/status) answers the link's action and "has_password • Flag if the link has a password
  or not"; an unknown link is NOT_FOUND ("The link was not found").
- "Get a session for the link" (/link/session) without the password is INVALID_CREDENTIALS ("Invalid password ..."); with
  it, it answers "sid • sid" and the link's action, and that sid gets the linked study. The sid is logged out afterwards.

- "Try a link and get a redirect to the study" (/link/redirect, as a browser follows the link's URL) with the password:
  "This call returns a 302 redirect to either the study list or study viewer or uploader page".
- A link with "max_hits • The maximum number of times the link can be used" 1 and "minutes_alive • The maximum number of
  minutes the link will be alive for" 60 gives one session, and refuses a second (a 412 error hash; the command names no
  error of its own for it).
- /link/session of a short Id that names no link is NOT_FOUND.

The links and the study are deleted afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, ok, own_object, own_study, refused
from medimock.verdict import Document, expect

STATUS_OF = "Description Get the status of a link"
SESSION_OF = "Description Get a session for the link"
ADD = Document.of(
    Document(MAIN, "uuid • The link uuid"),
    Document(MAIN, "action • Link action (STUDY_LIST|STUDY_VIEW|STUDY_UPLOAD|LOGIN)"),
    Document(MAIN, "password • Link password (optional)"),
)
STATUS = Document.of(
    Document(MAIN, STATUS_OF, lines=6),
    Document(MAIN, "has_password • Flag if the link has a password or not", after=STATUS_OF),
)
UNKNOWN = Document(MAIN, "NOT_FOUND • The link was not found", after=STATUS_OF)
WRONG_PASSWORD = Document(MAIN, "INVALID_CREDENTIALS • Invalid password or email if pin_auth is required.")
SESSION = Document(MAIN, SESSION_OF, lines=8)
PASSWORD = "medimock-link-secret"
REDIRECT = Document(MAIN, "Returns This call returns a 302 redirect to either the study list or study viewer")
ONCE = Document.of(
    Document(MAIN, "max_hits • The maximum number of times the link can be used (optional)"),
    Document(MAIN, "minutes_alive • The maximum number of minutes the link will be alive for (optional)"),
)
SHORT_ID = Document.of(
    Document(MAIN, "(uuid || pin || short_id) • Id, short Id or PIN of the link", after=SESSION_OF),
    Document(MAIN, "NOT_FOUND • The link was not found", after=SESSION_OF),
)


def test_a_link_with_a_password_gives_a_session_for_its_study(ambra):
    with own_study(ambra, "LINK^CONTRACT") as study:
        if not study:
            return
        params = {"study_id": study, "action": "STUDY_VIEW", "password": PASSWORD}
        with own_object(ambra, "/link/add", params, ADD, "a link to the suite's study") as link:
            if not link:
                return
            status = ok(ambra, "/link/status", {"uuid": link}, STATUS, "/link/status of the link", sid=None)
            expect(STATUS, status.get("action") == "STUDY_VIEW", f"/link/status answers the link's action: {status}")
            expect(STATUS, str(status.get("has_password")) == "1", f"/link/status says the link has a password: {status}")
            refused(
                ambra,
                "/link/session",
                {"uuid": link},
                "INVALID_CREDENTIALS",
                WRONG_PASSWORD,
                "/link/session without the password",
                sid=None,
            )
            session = ok(ambra, "/link/session", {"uuid": link, "password": PASSWORD}, SESSION, "/link/session with the password", sid=None)
            sid = session.get("sid")
            expect(SESSION, bool(sid) and session.get("action") == "STUDY_VIEW", f"/link/session answers a sid and the action: {session}")
            if not sid:
                return
            try:
                got = ambra.call("/study/get", {"uuid": study}, sid=sid)
                expect(SESSION, got.status_code == 200, "the link's session gets the linked study", got)
            finally:
                ambra.call("/session/logout", sid=sid)
            moved = ambra.call("/link/redirect", {"uuid": link, "password": PASSWORD}, method="GET", sid=None, allow_redirects=False)
            expect(
                REDIRECT, moved.status_code == 302 and bool(moved.headers.get("Location")), "/link/redirect is a 302 with a Location", moved
            )
        used_once(ambra, study)
    refused(ambra, "/link/status", {"uuid": "00000000-0000-4000-8000-00000000d00d"}, "NOT_FOUND", UNKNOWN, "an unknown link", sid=None)
    refused(ambra, "/link/session", {"short_id": "medimock-no-such-link"}, "NOT_FOUND", SHORT_ID, "a short Id of no link", sid=None)


def used_once(ambra, study: str) -> None:
    """A link of one use (alive an hour) gives one session and refuses the next."""
    params = {"study_id": study, "action": "STUDY_VIEW", "max_hits": 1, "minutes_alive": 60}
    with own_object(ambra, "/link/add", params, ONCE, "a link of one use") as link:
        if not link:
            return
        first = ok(ambra, "/link/session", {"uuid": link}, ONCE, "the first /link/session of a link of one use", sid=None)
        if first.get("sid"):
            ambra.call("/session/logout", sid=first["sid"])
        second = ambra.call("/link/session", {"uuid": link}, sid=None)
        expect(ONCE, second.status_code == 412, f"a second /link/session of a link of one use is refused, not {second.status_code}", second)
