"""Clarius Cloud public API v0: dialect, authentication and the definition the core mounts.

Errors speak Django REST framework's dialect (``{"detail": ...}``, or a field ->
messages object for 400s). Keys are ``Service-API-Key <prefix>.<secret>``; only a
hash of the secret is stored, a revoked key fails at once.
"""

from __future__ import annotations

import hmac
from typing import Any

from medimock.fixtures import clarius as fixtures

from ...api import SPECS_DIR, ApiDefinition, Principal
from ...http import MockRequest, MockResponse, Problem
from . import store as clarius_store

KEYWORD = "Service-API-Key"

_DETAIL = {
    "not_found": "Not found.",
    "fault": "Service temporarily unavailable, try again later.",
    "internal": "A server error occurred.",
}


class DrfDialect:
    """Django REST framework error bodies."""

    def render(self, problem: Problem) -> MockResponse:
        headers = dict(problem.headers)
        if problem.status == 400 and problem.fields:
            return MockResponse(400, {name: list(messages) for name, messages in problem.fields.items()}, headers)
        detail = problem.message if problem.kind not in _DETAIL or problem.kind == "internal" else _DETAIL[problem.kind]
        if problem.kind == "fault" and problem.status < 500:
            detail = "Request was throttled." if problem.status == 429 else problem.message
        if problem.status == 401:
            headers.setdefault("WWW-Authenticate", KEYWORD)
        return MockResponse(problem.status, {"detail": detail}, headers)


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    header = request.header("Authorization")
    if not header:
        return None
    keyword, _, credentials = header.strip().partition(" ")
    if keyword != KEYWORD:
        return None
    prefix, dot, secret = credentials.strip().partition(".")
    if not dot or not prefix or not secret:
        raise Problem("unauthenticated", 401, "Invalid API key header. Expected 'Service-API-Key <prefix>.<secret>'.")
    row = clarius_store.ClariusStore(app.store).key(prefix)
    if row is None or row["revoked"] is not None or not hmac.compare_digest(row["secret_hash"], fixtures.hash_secret(secret)):
        raise Problem("unauthenticated", 401, "Invalid API key.")
    return Principal(scheme=scheme_name, identity=prefix)


def credentials(app: Any, base_url: str) -> dict[str, Any]:
    data = fixtures.build(app.config.seed, app.config.profile)
    tokens = clarius_store.ClariusStore(app.store).customers()
    return {
        "api_key": data.api_key.key,
        "authorization": f"{KEYWORD} {data.api_key.key}",
        "customer_tokens": [row["token"] for row in tokens],
        "confirmed_customer_tokens": [row["token"] for row in tokens if row["confirmed_at"]],
        "unconfirmed_customer_tokens": [row["token"] for row in tokens if not row["confirmed_at"]],
        "note": "The seeded key is the one Clarius hands over at onboarding; create and revoke others through the API.",
    }


API = ApiDefinition(
    name="clarius",
    title="Clarius Cloud public API v0",
    spec_file=SPECS_DIR / "clarius" / "openapi.yaml",
    mount="",
    dialect=DrfDialect(),
    authenticate=authenticate,
    store_schemas=[clarius_store.SCHEMA],
    credentials=credentials,
)

from . import control, defects, handlers  # noqa: E402,F401 - register handlers, control routes and defects on API
from . import docs as _docs  # noqa: E402,F401 - what GET / and /docs show of this API: a first call, seeded "Try it out" values
