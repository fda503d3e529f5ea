"""Property-based contract tests: every tscharts operation, every schemathesis check.

Positive and negative cases are generated from specs/tscharts/openapi.yaml and sent to the
target; each response must be a documented status with a documented content type and a
body that matches the schema, negative data must be rejected with a 4xx, and operations
that need a token must refuse requests without one. Half of the positive cases use ids
that exist on the target (see ``known_values_hook`` in conftest.py), so successful
answers are checked as well as the 404s.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from medimock.suite import SCHEMA_CHECKS, max_examples

schema = schemathesis.pytest.from_fixture("tscharts_schema")

CHECKS = list(SCHEMA_CHECKS)


@schema.parametrize()
@settings(max_examples=max_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_honours_contract(case, tscharts, created_images):
    response = case.call(session=tscharts.session, headers=tscharts.headers, timeout=60)
    if case.method.upper() == "POST" and case.path.endswith("/image/"):
        image_id = tscharts.created_id(response)
        if image_id is not None:
            created_images.append(image_id)
    case.validate_response(response, checks=CHECKS, headers=tscharts.headers)
