"""Clarius Cloud public API v0: dialect, authentication and the definition the core mounts.

Errors speak Django REST framework's dialect (``{"detail": ...}``, or a field ->
messages object for 400s). Keys are ``Service-API-Key <prefix>.<secret>``; only a
hash of the secret is stored, a revoked key fails at once. The Research API
(``research.py``) authenticates research users with ``Token <token>``.
"""

from __future__ import annotations

import hmac
from typing import Any

from medimock.fixtures import clarius as fixtures

from ...api import SPECS_DIR, ApiDefinition, Principal
from ...http import MockRequest, MockResponse, Problem
from . import research_store
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
            research = problem.extra.get("operation_id") in RESEARCH_OPERATIONS
            headers.setdefault("WWW-Authenticate", "Token" if research else KEYWORD)
        return MockResponse(problem.status, {"detail": detail}, headers)


RESEARCH_OPERATIONS = frozenset({"obtainResearchToken", "getExamRawData", "createExamDicom"})


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    if scheme_name == "ResearchToken":
        from .research import authenticate as research_authenticate

        return research_authenticate(scheme_name, scheme, request, app)
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
        **research_credentials(app, data),
    }


def research_credentials(app: Any, data: fixtures.ClariusDataset) -> dict[str, Any]:
    """The research users (with passwords, as seeded) and the exam ids a research workflow can use
    (``research_*``: the names medimock.target.CREDENTIAL_ENV maps to CLARIUS_RESEARCH_* variables)."""
    db = research_store.ResearchStore(app.store)
    users = []
    for user in data.research_users:
        row = db.user(user.username)
        bundle = bool(row["research_bundle"]) if row is not None else user.research_bundle
        # a small exam with a cine capture first: the research workflows then see stills and a multi-frame file
        exams = sorted(db.exams(user.institution), key=lambda e: (not e["cines"], e["captures"], e["id"]))
        users.append(
            {
                "username": user.username,
                "password": user.password,
                "institution": user.institution,
                "research_bundle": bundle,
                "exam_ids": [e["id"] for e in exams if not e["processing"]],
                "processing_exam_ids": [e["id"] for e in exams if e["processing"]],
            }
        )
    main = next((u for u in users if u["research_bundle"] and u["exam_ids"] and u["processing_exam_ids"]), None)
    no_bundle = next((u for u in users if not u["research_bundle"]), None)
    every = db.exams()
    other = [e["id"] for e in every if main is not None and e["institution"] != main["institution"] and not e["processing"]]
    last = every[-1]["id"] if every else 0
    found: dict[str, Any] = {"research_users": users, "research_unknown_exam_id": str(last + 100000)}
    if main is not None:
        found.update(
            research_username=main["username"],
            research_password=main["password"],
            research_exam_id=str(main["exam_ids"][0]),
            research_processing_exam_id=str(main["processing_exam_ids"][0]),
            research_other_exam_id=str(other[0]) if other else "",
        )
    if no_bundle is not None:
        found.update(research_no_bundle_username=no_bundle["username"], research_no_bundle_password=no_bundle["password"])
    return found


API = ApiDefinition(
    name="clarius",
    title="Clarius Cloud public API v0",
    spec_file=SPECS_DIR / "clarius" / "openapi.yaml",
    mount="",
    dialect=DrfDialect(),
    authenticate=authenticate,
    store_schemas=[clarius_store.SCHEMA, research_store.SCHEMA, research_store.TOKENS],
    credentials=credentials,
)

from . import control, defects, handlers, research  # noqa: E402,F401 - register handlers, control routes and defects on API
from . import docs as _docs  # noqa: E402,F401 - what GET / and /docs show of this API: a first call, seeded "Try it out" values
