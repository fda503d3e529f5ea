"""Links: /link/add, /link/status, /link/session, /link/redirect and /link/pin follow the link that was added.

- /link/add keeps the link's password (hashed, never answered) and answers a ``redirect_url`` that works on the mock
  ("URL for the /link/redirect API which will take you directly to the study viewer or uploader"); the link records
  ``has_password`` and ``is_meeting`` for /link/get.
- /link/status answers the link's own ``action``, ``has_password``, ``is_meeting``, ``skip_email_prompt``, ``pin_auth``,
  ``acceptance_required``, ``charge_*`` and ``upload_match``; an unknown link is NOT_FOUND ("The link was not found").
- /link/session checks the password ("INVALID_CREDENTIALS • Invalid password") and a charge ("CHARGE_REQUIRED • A charge is
  required to access this link", unless ``link_charge_id`` is passed), and answers a ``sid`` with the link's ``action``
  and ``study_count``; each session is a use of the link ("max_hits • The maximum number of times the link can be used").
- /link/redirect checks the same and answers its 302 ("with the session setup [...] in the URL"): LINK_NOT_FOUND,
  INVALID_CREDENTIALS, and EXPIRED once the link has been used ``max_hits`` times or is older than ``minutes_alive``.
- /link/pin answers a one-time ``pin`` and its ``duration``; "The PIN can we used in place of the UUID in the link
  session or redirect calls" (and /link/status), once.
- ONLY_ONE: "You can pass either uuid or short_id, not both".

medimock conventions, where the document is silent: a link's session is its creator's (the user who added it), as
``inherit_permissions`` describes, not one limited to the linked studies; it lives an hour. /link/session of a link used up
or expired is NOT_FOUND (the command lists no EXPIRED). ``url`` (the link UI's entry point, which the mock does not
have) is the redirect URL too. The redirect goes to the API's root with the sid and the study in its query. A PIN lives
five minutes. ``password_max_attempts`` and ``pin_auth`` PINs are not modelled.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from ...http import MockResponse
from .auth import Sessions
from .call import Call, ambra_error
from .engine import command, do_add, ok
from .shapes import stamp_seconds

KIND = "link"
LINK_SESSION_SECONDS = 3600
PIN_SECONDS = 300
STATUS_FIELDS = ("action", "skip_email_prompt", "pin_auth", "acceptance_required", "charge_amount", "charge_currency",
                 "charge_description", "upload_match")  # fmt: skip


def _hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


@command("/link/add")
def link_add(call: Call) -> MockResponse:
    call.check()
    password = call.get("password")
    response = do_add(call, call.catalog.resources[KIND])
    uuid = response.body.get("uuid") if isinstance(response.body, dict) else None
    if uuid:
        redirect = call.ctx.api_url("/link/redirect?" + urlencode({"uuid": uuid}))
        private = {"_password": _hash(str(password)) if password else None, "_creator": call.user_id, "_hits": 0}
        call.db.update(str(uuid), {**private, "has_password": int(bool(password)), "is_meeting": int(bool(call.get("meeting_id")))})
        response.body.update({"url": redirect, "redirect_url": redirect})
    return response


def _find(call: Call, missing: str = "NOT_FOUND") -> dict[str, Any]:
    """The link the call names by uuid, short_id or a PIN of /link/pin (which it uses up)."""
    if call.get("uuid") and call.get("short_id"):
        raise ambra_error("ONLY_ONE")
    uuid, pin = call.get("uuid"), call.get("pin")
    link = None
    if uuid:
        link = call.db.object(str(uuid), KIND)
    elif call.get("short_id"):
        found = call.db.objects("kind = ? AND json_extract(data, '$.short_id') = ?", [KIND, str(call.get("short_id"))])
        link = found[0] if found else None
    elif pin:
        found = call.db.objects("kind = ? AND json_extract(data, '$._pin') = ?", [KIND, str(pin)])
        link = found[0] if found and float(found[0].get("_pin_expires") or 0) > time.time() else None
    if link is None:
        raise ambra_error(missing, "pin" if pin and not uuid else "uuid")
    return link


def _used_up(link: dict[str, Any]) -> bool:
    hits, most = int(link.get("_hits") or 0), link.get("max_hits")
    if isinstance(most, int) and most > 0 and hits >= most:
        return True
    minutes = link.get("minutes_alive")
    if isinstance(minutes, int) and minutes > 0:
        return stamp_seconds(link.get("created")) + minutes * 60 < time.time()
    return False


def _open(call: Call, link: dict[str, Any]) -> None:
    """The checks of a use of the link: its password and its charge."""
    expected = link.get("_password")
    if expected and _hash(str(call.get("password") or "")) != expected:
        raise ambra_error("INVALID_CREDENTIALS", "password")
    if link.get("charge_amount") and not call.get("link_charge_id"):
        raise ambra_error("CHARGE_REQUIRED")


def _use(call: Call, link: dict[str, Any]) -> str:
    """A session of the link (its creator's), counted as a use; a PIN that named the link is spent."""
    changes: dict[str, Any] = {"_hits": int(link.get("_hits") or 0) + 1}
    if call.get("pin") and not call.get("uuid"):
        changes |= {"_pin": None, "_pin_expires": None}
    call.db.update(link["uuid"], changes)
    creator = str(link.get("_creator") or link.get("user_id") or "")
    return str(Sessions(call.ctx.store).create(creator, "link", LINK_SESSION_SECONDS)["sid"])


@command("/link/status")
def link_status(call: Call) -> MockResponse:
    call.check()
    link = _find(call)
    body = {name: link.get(name) for name in STATUS_FIELDS if link.get(name) is not None}
    body |= {"has_password": int(bool(link.get("_password"))), "is_meeting": int(bool(link.get("meeting_id")))}
    for flag in ("skip_email_prompt", "acceptance_required", "pin_auth"):
        body.setdefault(flag, 0)
    return ok(body)


@command("/link/session")
def link_session(call: Call) -> MockResponse:
    call.check()
    link = _find(call)
    if _used_up(link):
        raise ambra_error("NOT_FOUND", "uuid")
    _open(call, link)
    sid = _use(call, link)
    namespace = call.db.object(str(link.get("namespace_id") or ""), "namespace") or {}
    return ok(
        {
            "sid": sid,
            "action": link.get("action"),
            "study_count": 1 if link.get("study_id") else 0,
            "share_code": namespace.get("share_code"),
            "pin_required": 0,
            "pin_via": None,
            "acceptance_required": int(bool(link.get("acceptance_required"))),
        }
    )


@command("/link/redirect")
def link_redirect(call: Call) -> MockResponse:
    call.check()
    link = _find(call, "LINK_NOT_FOUND")
    if _used_up(link):
        raise ambra_error("EXPIRED")
    _open(call, link)
    sid = str(call.get("sid") or "") or _use(call, link)
    query = {"sid": sid, **({"study_id": link["study_id"]} if link.get("study_id") else {}), "action": link.get("action") or ""}
    return MockResponse(302, b"", headers={"Location": call.ctx.api_url("/?" + urlencode(query))}, content_type="", raw=True)


@command("/link/pin")
def link_pin(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    link = call.db.object(str(call.get("uuid")), KIND)
    if link is None:
        raise ambra_error("NOT_FOUND", "uuid")
    call.require_permission(link.get("__account_id"))
    pin = f"{secrets.randbelow(10**8):08d}"
    call.db.update(link["uuid"], {"_pin": pin, "_pin_expires": time.time() + PIN_SECONDS})
    return ok({"pin": pin, "duration": PIN_SECONDS})
