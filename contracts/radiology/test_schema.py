"""Property-based contract tests: every radiology operation, every schemathesis check.

Positive and negative cases are generated from specs/radiology/openapi.yaml and sent to
the target with a Bearer token of a client holding both scopes (the token endpoint itself
needs none: generated client credentials there are answered with the documented 400/401).
Each response must be a documented status with a documented content type and a body that
matches the schema, negative data must be rejected with a 4xx, and operations that need a
token must refuse requests without one. Half of the positive cases use identifiers that
exist on the target, and positive /status and /results cases name exactly one of
order_id and study_uid (see conftest.py).
"""

from __future__ import annotations

import uuid

import requests
import schemathesis
from hypothesis import HealthCheck, settings

from medimock.suite import SCHEMA_CHECKS, max_examples

schema = schemathesis.pytest.from_fixture("radiology_schema")

CHECKS = list(SCHEMA_CHECKS)


def bearer_token_enforced(ctx, response, case):
    """schemathesis's ``ignored_auth`` skips OAuth2 schemes, so this does its job for them.

    When an operation that declares the ``oauth2`` scheme succeeds, the same request without a
    token, and with an unknown one, must be a 401 (RFC 6750; the spec's ``Unauthorized``).
    """
    security = case.operation.definition.raw.get("security") or []
    if not any("oauth2" in requirement for requirement in security) or not 200 <= response.status_code < 300:
        return True  # not applicable: schemathesis (and the conformance report) count it as skipped, not passed
    kwargs = case.as_transport_kwargs()
    base = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
    for what, authorization in (("without a token", None), ("with an unknown token", f"Bearer unknown-{uuid.uuid4().hex}")):
        headers = dict(base, **({"Authorization": authorization} if authorization else {}))
        probe = requests.request(**{**kwargs, "headers": headers, "timeout": 30})
        assert probe.status_code == 401, (
            f"{case.operation.label} declares oauth2: the same request {what} must be a 401 invalid_token, "
            f"got {probe.status_code} {probe.text[:200]}"
        )
    return None


CHECKS.append(bearer_token_enforced)


@schema.parametrize()
@settings(max_examples=max_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, radiology, radiology_bearer):
    response = case.call(session=radiology.session, headers=radiology_bearer, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=radiology_bearer)
