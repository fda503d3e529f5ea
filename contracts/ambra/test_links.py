"""A link to a study of the suite's own, with a password: /link/add ("action • Link action (STUDY_LIST|STUDY_VIEW|...)",
"password • Link password"), then what a link's visitor calls without a session of their own.

- "Get the status of a link" (/link/status) answers the link's action and "has_password • Flag if the link has a password
  or not"; an unknown link is NOT_FOUND ("The link was not found").
- "Get a session for the link" (/link/session) without the password is INVALID_CREDENTIALS ("Invalid password ..."); with
  it, it answers "sid • sid" and the link's action, and that sid gets the linked study. The sid is logged out afterwards.

The link and the study are deleted afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, own_object, own_study, refused
from medimock.verdict import Document, expect, json_body

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


def answer(ambra, path: str, params: dict, source: Document, what: str) -> dict:
    """A visitor's call (no session of the suite's): HTTP 200 and status OK, else a failure through ``source``."""
    response = ambra.call(path, params, sid=None)
    expect(source, response.status_code == 200, f"{what} succeeds (HTTP 200), not {response.status_code}", response)
    body = json_body(response, source, what)
    return body if isinstance(body, dict) and response.status_code == 200 else {}


def test_a_link_with_a_password_gives_a_session_for_its_study(ambra):
    with own_study(ambra, "LINK^CONTRACT") as study:
        if not study:
            return
        params = {"study_id": study, "action": "STUDY_VIEW", "password": PASSWORD}
        with own_object(ambra, "/link/add", params, ADD, "a link to the suite's study") as link:
            if not link:
                return
            status = answer(ambra, "/link/status", {"uuid": link}, STATUS, "/link/status of the link")
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
            session = answer(ambra, "/link/session", {"uuid": link, "password": PASSWORD}, SESSION, "/link/session with the password")
            sid = session.get("sid")
            expect(SESSION, bool(sid) and session.get("action") == "STUDY_VIEW", f"/link/session answers a sid and the action: {session}")
            if not sid:
                return
            try:
                got = ambra.call("/study/get", {"uuid": study}, sid=sid)
                expect(SESSION, got.status_code == 200, "the link's session gets the linked study", got)
            finally:
                ambra.call("/session/logout", sid=sid)
    refused(ambra, "/link/status", {"uuid": "00000000-0000-4000-8000-00000000d00d"}, "NOT_FOUND", UNKNOWN, "an unknown link", sid=None)
