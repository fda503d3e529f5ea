"""Property-based contract tests: every Clarius operation, every schemathesis check.

Positive and negative cases are generated from specs/clarius/openapi.yaml and sent to
the target; each response must be a documented status with a documented content type
and a body that matches the schema, negative data must be rejected with a 4xx, and
operations that need a key must refuse requests without one.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from medimock.suite import SCHEMA_CHECKS, max_examples

schema = schemathesis.pytest.from_fixture("clarius_schema")

CHECKS = list(SCHEMA_CHECKS)


@schema.parametrize()
@settings(max_examples=max_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, clarius):
    response = case.call(session=clarius.session, headers=clarius.headers, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=clarius.headers)
