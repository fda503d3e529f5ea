"""Ambra sessions and authentication.

A call authenticates with a ``sid`` (form field, query parameter, or the
``X-AmbraHealth-SID`` header that bundled calls inherit), an OAuth ``Bearer`` token
from ``/session/oauth/token``, or HTTP basic authentication (email or login and
password). A sid or token that is unknown or expired is a 401. On the five node commands whose Notes say
"The uuid and serial_no can also be passed using basic auth" (``x-ambra-basic-credentials``),
HTTP basic is the node's uuid and serial_no, never a user's login (``Call.read_basic_credentials``).

Sessions live in the shared SQLite store. A login session expires after the account's
``session_expire`` minutes without use (the highest of the user's accounts, 180 by
default); each use slides the expiry (written at most once a minute). A user has at most
10 active login sessions: the oldest are dropped. Tokens expire ``duration`` seconds
after they are issued.

The session a token or basic credentials stand for is added to a form POST (and to a
GET's query) as its ``sid`` when the call did not send one: the spec documents the
``sid`` field as required or as an alternative (``sid || uuid && serial_no``) in many
commands, and a caller authenticated otherwise has satisfied it.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
import uuid
from typing import Any

from medimock.fixtures import ambra as fixtures

from ...api import Principal
from ...http import MockRequest, Problem
from .store import AmbraStore

SESSION_HEADER = "X-AmbraHealth-SID"
DEFAULT_EXPIRE_MINUTES = 180
MAX_SESSIONS = 10
BASIC_STAND_IN = "basic-authentication"


def unauthenticated(message: str = "The sid is missing, invalid or expired.") -> Problem:
    return Problem("unauthenticated", 401, message)


class Sessions:
    def __init__(self, store: Any) -> None:
        self.store = store

    def create(self, user_id: str, kind: str, ttl: float) -> dict[str, Any]:
        sid = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)) if kind == "session" else secrets.token_urlsafe(32)
        now = time.time()
        with self.store.write() as conn:
            conn.execute("INSERT INTO ambra_sessions VALUES (?, ?, ?, ?, ?, ?)", (sid, user_id, kind, now, now + ttl, ttl))
            if kind == "session":  # at most MAX_SESSIONS, the oldest dropped first
                conn.execute(
                    "DELETE FROM ambra_sessions WHERE sid IN (SELECT sid FROM ambra_sessions WHERE user_id = ? AND kind = 'session'"
                    " ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (user_id, MAX_SESSIONS),
                )
        return {"sid": sid, "user_id": user_id, "kind": kind, "created": now, "expires": now + ttl, "ttl": ttl}

    def lookup(self, sid: str, kind: str, *, accept_expired: bool = False) -> dict[str, Any] | None:
        row = self.store.cached(
            ("ambra.session", sid, kind),
            lambda: self.store.query_one("SELECT * FROM ambra_sessions WHERE sid = ? AND kind = ?", (sid, kind)),
        )
        if row is None:
            return None
        found = dict(row)
        now = time.time()
        if found["expires"] <= now and not accept_expired:
            return None
        if kind == "session" and now > found["expires"] - found["ttl"] + 60:
            found["expires"] = now + found["ttl"]
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE ambra_sessions SET expires = ? WHERE sid = ? AND expires < ?", (found["expires"], sid, found["expires"])
                )
        return found

    def delete(self, sid: str) -> bool:
        with self.store.write() as conn:
            return conn.execute("DELETE FROM ambra_sessions WHERE sid = ?", (sid,)).rowcount == 1

    def delete_user(self, user_id: str) -> int:
        """Every sid and token of a user (a deleted user's sessions end with it)."""
        with self.store.write() as conn:
            return int(conn.execute("DELETE FROM ambra_sessions WHERE user_id = ?", (user_id,)).rowcount)

    def expire(self, sid: str) -> bool:
        with self.store.write() as conn:
            return conn.execute("UPDATE ambra_sessions SET expires = ? WHERE sid = ?", (time.time() - 1, sid)).rowcount == 1

    def count(self, user_id: str) -> int:
        row = self.store.query_one(
            "SELECT COUNT(*) FROM ambra_sessions WHERE user_id = ? AND kind = 'session' AND expires > ?", (user_id, time.time())
        )
        return int(row[0]) if row else 0


def session_minutes(db: AmbraStore, user_id: str) -> int:
    """The highest session_expire of the user's accounts (minutes), 180 when none sets one."""
    memberships = db.objects("kind = 'account_user' AND key = ?", [user_id])
    values = [m.get("session_expire") for m in memberships]
    for membership in memberships:
        account = db.object(membership["__parent_id"], "account")
        values.append((account or {}).get("session_expire"))
    numbers = [v for v in values if isinstance(v, int) and v > 0]
    return max(numbers) if numbers else DEFAULT_EXPIRE_MINUTES


def find_user(db: AmbraStore, login: str, vanity: str | None = None) -> dict[str, Any] | None:
    """The document's rules: with a vanity, the account_login in that account; else (or failing that) the email."""
    login = login.strip()
    if vanity:
        for account in db.by_key("account", vanity.strip().lower()):
            for membership in db.objects("kind = 'account_user' AND parent_id = ?", [account["uuid"]]):
                if str(membership.get("account_login") or "").lower() == login.lower():
                    return db.object(str(membership.get("user_id") or ""), "user")
    users = db.by_key("user", login.lower())
    return users[0] if users else None


def password_ok(user: dict[str, Any], password: str) -> bool:
    expected = str(user.get("_password_hash") or "")
    return bool(expected) and hmac.compare_digest(expected, fixtures.hash_password(password, str(user.get("_salt") or "")))


def request_sid(request: MockRequest) -> str | None:
    for key, value in reversed(request.form or []):
        if key == "sid" and value:
            return value
    for key, value in reversed(request.query):
        if key == "sid" and value:
            return value
    return request.header(SESSION_HEADER) or None


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    """The core's authenticator hook: one security scheme at a time (sid, then bearer, then basic)."""
    db = AmbraStore(app.store)
    accept_expired = "ambra.expired_session_accepted" in app.config.defects
    if scheme_name == "sid":
        sid = request_sid(request)
        if sid is None or sid == BASIC_STAND_IN:
            return None
        sessions = Sessions(app.store)
        found = sessions.lookup(sid, "session", accept_expired=accept_expired)
        if found is None:  # a link's session (/link/session), the only other kind a sid names
            found = sessions.lookup(sid, "link", accept_expired=accept_expired)
        if found is None:
            raise unauthenticated()
        return _principal(request, "sid", found)
    keyword, _, credentials = request.header("Authorization").strip().partition(" ")
    if scheme_name == "bearer" and keyword.lower() == "bearer":
        found = Sessions(app.store).lookup(credentials.strip(), "oauth", accept_expired=accept_expired)
        if found is None:
            raise unauthenticated("The access token is invalid or expired.")
        return _principal(request, "bearer", found)
    if scheme_name == "basic":
        try:
            decoded = basic_header(request)
        except ValueError as exc:
            raise unauthenticated("Malformed basic authentication.") from exc
        if decoded is None:
            return None
        login, _, password = decoded.partition(":")
        user = find_user(db, login)
        if user is None or not password_ok(user, password):
            raise unauthenticated("Invalid basic authentication credentials.")
        return _principal(request, "basic", {"sid": None, "user_id": user["uuid"], "kind": "basic"})
    return None


def basic_header(request: MockRequest) -> str | None:
    """The decoded text of an ``Authorization: Basic`` header (``user:password``), None without one. ValueError when it is
    not base64 (binascii.Error), not ASCII (a latin-1 header) or not UTF-8 (UnicodeDecodeError)."""
    keyword, _, credentials = request.header("Authorization").strip().partition(" ")
    if keyword.lower() != "basic":
        return None
    return base64.b64decode(credentials.strip(), validate=True).decode("utf-8")


def basic_credentials(request: MockRequest) -> tuple[str, str] | None:
    """The username and password of an ``Authorization: Basic`` header, None without one; ``("", "")`` when it holds no
    user-pass (not base64, not UTF-8, no colon): nothing read from it."""
    try:
        decoded = basic_header(request)
    except ValueError:
        return "", ""
    if decoded is None:
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else ("", "")


def session_principal(request: MockRequest, app: Any) -> Principal | None:
    """Credentials of a command where HTTP basic auth is a node's uuid and serial_no (x-ambra-basic-credentials), never a
    user's login: a sid or a Bearer token only."""
    return _first_principal(request, app, ("sid", "bearer"))


def optional_principal(request: MockRequest, app: Any) -> Principal | None:
    """Credentials of a command whose sid is optional: the first scheme present; invalid ones are still a 401."""
    return _first_principal(request, app, ("sid", "bearer", "basic"))


def _first_principal(request: MockRequest, app: Any, schemes: tuple[str, ...]) -> Principal | None:
    for name in schemes:
        found = authenticate(name, {}, request, app)
        if found is not None:
            return found
    return None


def _principal(request: MockRequest, scheme: str, found: dict[str, Any]) -> Principal:
    sid = found.get("sid")
    stand_in = sid or BASIC_STAND_IN
    if request.method == "POST" and request.form is not None and not any(k == "sid" and v for k, v in request.form):
        request.form.append(("sid", stand_in))
    elif (request.method == "GET" or (request.form is None and not request.body)) and not any(k == "sid" and v for k, v in request.query):
        request.query.append(("sid", stand_in))  # a GET, or a POST without a body: its parameters are its query's
    return Principal(scheme=scheme, identity=found["user_id"], data={"sid": sid, "kind": found["kind"], "expires": found.get("expires")})
