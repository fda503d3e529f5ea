"""Property-based contract tests: every radiology operation, every schemathesis check.

Positive and negative cases are generated from specs/radiology/openapi.yaml and sent to
the target with a Bearer token of a client holding both scopes (the token endpoint itself
needs none: generated client credentials there are answered with a 400/401). Each response
must be a documented status with a documented content type and a body that matches the
schema, negative data must be rejected with a 4xx, and operations that need a token must
refuse requests without one. Half of the positive cases use identifiers that exist on the
target, and positive /status and /results cases name exactly one of order_id and study_uid
(see conftest.py).

The checks are tiered from the spec's tags: the document gives endpoints, their purpose and
Bearer tokens, but no payload and no error, so a body or an error status that differs from
medimock's is a convention (a warning unless the run is strict); a 500 on a valid request,
an undocumented status on a valid request or a request without a token that succeeds is the
document's.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, settings

from medimock.checks import tiered, with_source
from medimock.suite import SCHEMA_CHECKS, max_examples
from medimock.verdict import Convention, Document, reply_summary

schema = schemathesis.pytest.from_fixture("radiology_schema")
SOURCE = "radiology-report-retrieval-api.txt"

BEARER_REQUIRED = Document(
    SOURCE,
    "Include Authorization: Bearer <token> header on all API calls.",
    also=Document(SOURCE, "All endpoints require scoped OAuth2 Bearer tokens").anchors,
)
BEARER_401 = Convention(
    "bearer-401",
    "the document says every call needs a Bearer token, not how a request without a valid one is refused; "
    "RFC 6750 answers 401 invalid_token, and so does medimock",
)

_last_probes: list[tuple[Any, list[tuple[str, requests.Response]]]] = []


def probes(case: Any) -> list[tuple[str, requests.Response]]:
    """The same request without a token and with an unknown one (sent once per case, shared by both checks)."""
    if not _last_probes or _last_probes[0][0] is not case:
        kwargs = case.as_transport_kwargs()
        base = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
        sent = []
        for what, authorization in (("without a token", None), ("with an unknown token", f"Bearer unknown-{uuid.uuid4().hex}")):
            headers = dict(base, **({"Authorization": authorization} if authorization else {}))
            sent.append((what, requests.request(**{**kwargs, "headers": headers, "timeout": 30})))
        _last_probes[:] = [(case, sent)]
    return _last_probes[0][1]


def needs_bearer(case: Any, response: Any) -> bool:
    """Whether the check applies: an operation that declares the oauth2 scheme answered the token-bearing request with success."""
    security = case.operation.definition.raw.get("security") or []
    return any("oauth2" in requirement for requirement in security) and 200 <= response.status_code < 300


@tiered
@with_source(BEARER_REQUIRED)
def bearer_token_required(ctx, response, case):
    """schemathesis's ``ignored_auth`` skips OAuth2 schemes, so this does its job for them: when an operation
    that declares ``oauth2`` succeeds, the same request without a token, and with an unknown one, is refused."""
    if not needs_bearer(case, response):
        return True  # not applicable: schemathesis (and the conformance report) count it as skipped, not passed
    for what, probe in probes(case):
        if 200 <= probe.status_code < 300:
            raise AssertionError(
                f"{case.operation.label} needs a Bearer token: the same request {what} must be refused, got {reply_summary(probe)}"
            )
    return None


@tiered
@with_source(BEARER_401)
def bearer_refusal_is_401(ctx, response, case):
    """The refusal of a request without a (known) token is RFC 6750's 401 (medimock's convention)."""
    if not needs_bearer(case, response):
        return True
    for what, probe in probes(case):
        if 200 <= probe.status_code < 300:
            continue  # bearer_token_required reports it
        if probe.status_code != 401:
            raise AssertionError(f"{case.operation.label}: the same request {what} is a 401 invalid_token, got {reply_summary(probe)}")
    return None


CHECKS = [*SCHEMA_CHECKS, bearer_token_required, bearer_refusal_is_401]


@schema.parametrize()
@settings(max_examples=max_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, radiology, radiology_bearer):
    response = case.call(session=radiology.session, headers=radiology_bearer, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=radiology_bearer)
