"""tscharts image API: dialect, authentication and the definition the core mounts.

Paths already start with ``/tscharts/v1`` (mounted at the host root). Errors speak
Django REST framework's ``{"detail": "..."}`` with the statuses the spec documents
(see specs/tscharts/README.md): a body the view cannot parse, whatever the reason, is a
400 (the spec documents no 415), unknown patient/clinic/station a 404. Auth is DRF
``TokenAuthentication``: ``Authorization: Token <40 hex>``; a missing or bad token is a
401 with ``WWW-Authenticate: Token``.
"""

from __future__ import annotations

import re
from typing import Any

from ...api import SPECS_DIR, ApiDefinition, Principal
from ...http import MockRequest, MockResponse, Problem
from . import store as tscharts_store

KEYWORD = "Token"
MAX_DETAIL = 500  # a message quoting a multi-megabyte value is cut short

_DETAIL = {
    "not_found": "Not found.",
    "unauthenticated": "Authentication credentials were not provided.",
}


_QUOTED = re.compile(r"^'(.{60,})' (does not match|is too long|is not one of)(.*)$", re.DOTALL)


def _clip(text: str) -> str:
    """Keep messages short: quote a long offending value by its start and length only."""
    quoted = _QUOTED.match(text)
    if quoted:
        value, verb, rest = quoted.groups()
        text = f"'{value[:40]}...' ({len(value)} characters) {verb}{rest}"
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


class DrfDialect:
    """DRF error bodies, ``{"detail": "..."}`` for every error (the spec's ``Error`` schema)."""

    def render(self, problem: Problem) -> MockResponse:
        headers = dict(problem.headers)
        status = problem.status
        if problem.kind == "invalid_request" and problem.fields:
            detail = "; ".join(f"{name}: {_clip(' '.join(messages))}" for name, messages in sorted(problem.fields.items()))
        elif problem.kind in _DETAIL and not (problem.kind == "unauthenticated" and problem.extra.get("token_sent")):
            detail = _DETAIL[problem.kind]
        else:
            detail = problem.message
        if problem.kind in ("unsupported_media_type", "malformed_body"):
            status = 400  # the spec: "a body that is not a JSON object" is a 400
        if problem.kind == "insufficient_scope":
            status = 403
        if status == 401:
            headers.setdefault("WWW-Authenticate", KEYWORD)
        return MockResponse(status, {"detail": _clip(detail)}, headers)


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    """DRF ``TokenAuthentication``, with its messages."""
    header = request.header("Authorization").strip()
    parts = header.split()
    if not parts or parts[0].lower() != KEYWORD.lower():
        return None  # no token credentials: "Authentication credentials were not provided."
    if len(parts) == 1:
        raise _invalid("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise _invalid("Invalid token header. Token string should not contain spaces.")
    user = tscharts_store.TschartsStore(app.store).user_by_token(parts[1])
    if user is None:
        raise _invalid("Invalid token.")
    if not user["active"]:
        raise _invalid("User inactive or deleted.")
    return Principal(scheme=scheme_name, identity=str(user["id"]), data={"username": user["username"]})


def _invalid(message: str) -> Problem:
    return Problem("unauthenticated", 401, message, extra={"token_sent": True})


def credentials(app: Any, base_url: str) -> dict[str, Any]:
    from medimock.fixtures import tscharts as fixtures

    data = fixtures.build(app.config.seed, app.config.profile)
    db = tscharts_store.TschartsStore(app.store)
    user = data.user
    return {
        "token": user.token,
        "username": user.username,
        "password": user.password,
        "authorization": f"{KEYWORD} {user.token}",
        "user_id": str(user.id),
        "patients": db.ids("patient"),
        "clinics": db.ids("clinic"),
        "stations": db.ids("station"),
        "users": [{"username": u.username, "password": u.password, "token": u.token, "active": u.active} for u in data.users],
        "note": "The last user is inactive: its login is a 403 and its token a 401.",
    }


API = ApiDefinition(
    name="tscharts",
    title="tscharts image API",
    spec_file=SPECS_DIR / "tscharts" / "openapi.yaml",
    mount="",
    dialect=DrfDialect(),
    authenticate=authenticate,
    store_schemas=[tscharts_store.SCHEMA],
    credentials=credentials,
)

from . import defects, handlers  # noqa: E402,F401 - register handlers and defects on API
from . import docs as _docs  # noqa: E402,F401 - what GET / and /docs show of this API: a first call, seeded "Try it out" values
