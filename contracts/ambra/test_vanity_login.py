"""/session/login with login and vanity: the document's "login • The user account_login or email address", "vanity •
The account vanity name" and its rule "If there is a vanity the account_login is used for searching". The User-role
member the target names logs in with its account_login in the suite's account (as /account/user/get names it) and
that account's vanity (as /account/get names it), and the session is that user's.

Skipped when the member has no account_login, or one equal to its login (an email search would find it as well), and
when /account/get names no single vanity name (a host name, or several, is not the name the login takes).
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, member_session, ok
from medimock.suite import require
from medimock.verdict import Document, expect

VANITY_LOGIN = Document.of(
    Document(MAIN, "login • The user account_login or email address"),
    Document(MAIN, "If there is a vanity the account_login is used for searching."),
)


def test_login_with_a_vanity_finds_the_account_login(ambra, target):
    creds = require(target, "ambra", "user_login", "user_password")
    account = str(ambra.account_id())
    with member_session(ambra, target) as sid:
        me = ok(ambra, "/session/user", sid=sid).get("uuid")
    member = ok(ambra, "/account/user/get", {"uuid": account, "user_id": me})
    account_login = str(member.get("account_login") or "")
    vanity = str(ok(ambra, "/account/get", {"uuid": account}).get("vanity") or "")
    if not account_login or account_login.lower() == str(creds["user_login"]).lower():
        pytest.skip(f"the member's account_login {account_login!r} does not tell a vanity search from an email search")
    if not vanity or any(c in vanity for c in "., "):
        pytest.skip(f"/account/get names no single vanity name: {vanity!r}")
    form = {"login": account_login, "vanity": vanity, "password": creds["user_password"]}
    what = f"/session/login with the account_login {account_login} and the vanity {vanity}"
    body = ok(ambra, "/session/login", form, VANITY_LOGIN, what, sid=None)
    new = body.get("sid")
    try:
        if isinstance(new, str) and new:
            user = ok(ambra, "/session/user", None, VANITY_LOGIN, f"/session/user of the session of {what}", sid=new)
            expect(VANITY_LOGIN, user.get("uuid") == me, f"{what}: the session is the member's ({me}), not {user.get('uuid')!r}")
    finally:
        if isinstance(new, str) and new:
            ambra.call("/session/logout", sid=new)
