"""/session/login with validate_session: the document's "validate an existing session rather than create a new
one ... It will check if the session is still valid and the credentials are for the session". A live session of
the user validates (the reply names that session); an expired one fails with VALIDATION_FAILED. Expiring a session
now needs medimock's control API; on a target without it the expired half is skipped.

The session validated is a fresh one of a user other than the administrator (the User-role member when the target
names one), logged out afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from medimock.ambra_contract import MAIN, ok, refused
from medimock.verdict import Document, expect

VALIDATE = Document(MAIN, "validate_session • If you would like to validate an existing session rather than create a new one")
VALIDATION_FAILED = Document.of(VALIDATE, Document(MAIN, "VALIDATION_FAILED • The session validation failed"))


def _user(ambra: Any) -> tuple[str, str]:
    """The login and password of a user other than the administrator when the target names one."""
    creds = ambra.credentials
    for login, password in ((creds.get("user_login"), creds.get("user_password")), (creds.get("phr_login"), creds.get("phr_password"))):
        if login and password:
            return str(login), str(password)
    return ambra.login_name, ambra.password


def test_validate_session_accepts_a_live_session_and_refuses_an_expired_one(ambra, target):
    login, password = _user(ambra)
    sid = ambra.login(login, password)
    try:
        form = {"login": login, "password": password, "validate_session": sid}
        live = ok(ambra, "/session/login", form, VALIDATE, f"/session/login validating a live session of {login}", sid=None)
        expect(VALIDATE, not live or live.get("sid") == sid, f"the validated session is the one named, not a new one: {live.get('sid')!r}")
        if not target.control_url:
            pytest.skip("the target has no medimock control API to expire a session now")
        expired = requests.post(target.control("/ambra/sessions/expire"), json={"sid": sid}, timeout=10)
        if expired.status_code != 200:
            pytest.skip(f"the medimock control API did not expire the session: {expired.status_code} {expired.text[:200]}")
        what = f"/session/login validating an expired session of {login}"
        refused(ambra, "/session/login", form, "VALIDATION_FAILED", VALIDATION_FAILED, what, sid=None)
    finally:
        ambra.call("/session/logout", sid=sid)
