"""Radiology report retrieval API: OAuth2 error dialect, Bearer authentication, and the
definition the core mounts at ``/radiology``.

Every error is the OAuth2 error object ``{"error", "error_description"}`` (see
specs/radiology/README.md for the codes). Tokens are opaque random strings; only their
SHA-256 is stored, with the client, its organisation, the granted scopes and the expiry
(``MockConfig.token_ttl``, ``medimock serve --token-ttl``). The core enforces each
operation's scopes from the principal this module returns.
"""

from __future__ import annotations

import re
from typing import Any

from ...api import SPECS_DIR, ApiDefinition, Principal
from ...http import MockRequest, MockResponse, Problem
from ...router import Match
from . import store as radiology_store
from .audit import record_request

REALM = "radiology"
MAX_DESCRIPTION = 500

# Problem kinds that are already OAuth2 error codes, with their status.
_OAUTH_CODES = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "invalid_token": 401,
    "insufficient_scope": 403,
    "access_denied": 403,
    "not_found": 404,
}
_QUOTED = re.compile(r"^'(.{60,})' (does not match|is too long|is not one of)(.*)$", re.DOTALL)


def _clip(text: str) -> str:
    quoted = _QUOTED.match(text)
    if quoted:
        value, verb, rest = quoted.groups()
        text = f"'{value[:40]}...' ({len(value)} characters) {verb}{rest}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."


def _quote(text: str) -> str:
    """A value for a ``WWW-Authenticate`` auth-param (RFC 6750 §3: no '"' or '\\')."""
    return text.replace("\\", "").replace('"', "'")


class OAuthDialect:
    """The OAuth2 error object for every error, RFC 6749 §5.2 and RFC 6750 §3.1 codes."""

    def render(self, problem: Problem) -> MockResponse:
        headers = dict(problem.headers)
        status = problem.status
        code = problem.kind
        description = problem.message
        if problem.kind == "invalid_request" and problem.fields:
            code = _field_code(problem.fields)
            description = "; ".join(f"{name}: {_clip(' '.join(messages))}" for name, messages in sorted(problem.fields.items()))
            status = 400 if problem.status == 400 else problem.status
        elif problem.kind in ("malformed_body", "unsupported_media_type"):
            code, status = "invalid_request", 400
        elif problem.kind == "payload_too_large":
            code = "invalid_request"
        elif problem.kind == "unauthenticated":
            code, status = "invalid_token", 401
            challenge = f'Bearer realm="{REALM}"'
            if problem.extra.get("token_sent"):
                challenge += f', error="invalid_token", error_description="{_quote(problem.message)}"'
            else:
                description = "A Bearer token is required."
            headers.setdefault("WWW-Authenticate", challenge)
        elif problem.kind == "insufficient_scope":
            needed = " ".join(problem.extra.get("required_scopes") or [])
            description = f"scope {needed} is required" if needed else problem.message
            headers.setdefault("WWW-Authenticate", f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"')
        elif problem.kind == "invalid_client":
            if problem.extra.get("basic"):
                headers.setdefault("WWW-Authenticate", f'Basic realm="{REALM}"')
        elif problem.kind == "forbidden":
            code = "access_denied"
        elif problem.kind == "method_not_allowed":
            code = "invalid_request"
        elif problem.kind == "fault":
            code = "temporarily_unavailable" if status == 503 else "server_error" if status >= 500 else "invalid_request"
        elif problem.kind == "internal":
            code = "server_error"
        elif problem.kind in _OAUTH_CODES:
            status = problem.status or _OAUTH_CODES[problem.kind]
        else:
            code = "server_error" if status >= 500 else "invalid_request"
        return MockResponse(status, {"error": code, "error_description": _clip(description)}, headers)


def _is_enum_failure(message: str) -> bool:
    return message.startswith("Must be one of") or " is not one of " in message


def _field_code(fields: dict[str, list[str]]) -> str:
    """RFC 6749 §5.2: a bad grant type or scope has its own code; anything else is invalid_request."""
    names = set(fields)
    if names == {"grant_type"} and all(_is_enum_failure(message) for message in fields["grant_type"]):
        return "unsupported_grant_type"
    if names == {"scope"}:
        return "invalid_scope"
    return "invalid_request"


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1) for the oauth2 scheme.

    The token endpoint's HTTP Basic alternative is read by its handler (that operation
    also allows anonymous requests, so the core never asks for it here).
    """
    if scheme.get("type") != "oauth2":
        return None
    keyword, _, token = request.header("Authorization").strip().partition(" ")
    if keyword.lower() != "bearer":
        # Every secured radiology operation has this one scheme: no Bearer token means a 401.
        record_request(app, request, None, None, None, 401, "invalid_token", {"reason": "no Bearer token"})
        return None
    token = token.strip()
    db = radiology_store.RadiologyStore(app.store)
    if not token:
        raise _invalid_token(app, request, "The access token is missing", None)
    row = db.token(token)
    if row is None:
        raise _invalid_token(app, request, "The access token is invalid", None)
    if row["expires_at"] <= db.now() and "radiology.expired_token_accepted" not in app.config.defects:
        raise _invalid_token(app, request, "The access token expired", row)
    scopes = frozenset(row["scopes"].split())
    if "radiology.scope_not_enforced" in app.config.defects:
        scopes = frozenset(radiology_store.fixtures.SCOPES)
    principal = Principal(scheme=scheme_name, identity=row["client_id"], scopes=scopes, data={"organization_id": row["organization_id"]})
    _audit_scope_refusal(app, request, principal)
    return principal


def _invalid_token(app: Any, request: MockRequest, message: str, row: Any) -> Problem:
    record_request(
        app,
        request,
        None,
        row["client_id"] if row else None,
        row["organization_id"] if row else None,
        401,
        "invalid_token",
        {"reason": message},
    )
    return Problem("unauthenticated", 401, message, extra={"token_sent": True})


def _audit_scope_refusal(app: Any, request: MockRequest, principal: Principal) -> None:
    """The core refuses a token without the operation's scope; the audit log records the refusal too."""
    api = app.by_name.get("radiology")
    if api is None:
        return
    routed = api.router.match(request.method, request.path)
    if routed.match is not Match.FULL or routed.operation is None:
        return
    for requirement in routed.operation.security:
        missing = [scope for scope in requirement.get("oauth2", []) if scope not in principal.scopes]
        if missing:
            record_request(
                app,
                request,
                routed.operation.operation_id,
                principal.identity,
                principal.data.get("organization_id"),
                403,
                "insufficient_scope",
                {"missing_scopes": missing},
            )


def credentials(app: Any, base_url: str) -> dict[str, Any]:
    from .control import credentials as build_credentials

    return build_credentials(app, base_url)


API = ApiDefinition(
    name="radiology",
    title="Radiology report retrieval API",
    spec_file=SPECS_DIR / "radiology" / "openapi.yaml",
    mount="/radiology",
    dialect=OAuthDialect(),
    authenticate=authenticate,
    store_schemas=[radiology_store.SCHEMA, radiology_store.SESSION_SCHEMA],
    credentials=credentials,
)

from . import control, defects, handlers  # noqa: F401,E402 - register handlers, control routes and defects on API
from . import docs as _docs  # noqa: E402,F401 - what GET / and /docs show of this API: a first call, seeded "Try it out" values
