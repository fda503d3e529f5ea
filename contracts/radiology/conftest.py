"""Radiology contract fixtures: the report retrieval API of the target, with OAuth2 tokens.

Credentials come from the environment (``RADIOLOGY_CLIENT_ID``, ``RADIOLOGY_CLIENT_SECRET``,
``RADIOLOGY_ORGANIZATION_ID``: a client allowed both scopes) or from a medimock target's
``/__mock__/credentials``. Tokens are always obtained from the target's own token endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis

from medimock.suite import SPECS, coin, is_negative, require
from medimock.target import ApiTarget, Target

SPEC = SPECS / "radiology" / "openapi.yaml"
ONE_OF = {("GET", "/status"), ("GET", "/results")}  # x-medimock-one-of-params: [[order_id], [study_uid]]


class Radiology:
    """The radiology API of the target and the client credentials to use it."""

    def __init__(self, api: ApiTarget, session: requests.Session, client_id: str, client_secret: str, organization_id: str) -> None:
        self.api = api
        self.base_url = api.base_url
        self.session = session
        self.client_id = client_id
        self.client_secret = client_secret
        self.organization_id = organization_id

    @property
    def credentials(self) -> dict[str, Any]:
        return self.api.credentials

    def example(self, name: str) -> Any:
        """An identifier the target names: from the environment, or its credentials' ``examples``."""
        return self.credentials.get(name) or (self.credentials.get("examples") or {}).get(name)

    def url(self, path: str) -> str:
        return self.api.url(path)

    def token_response(self, client_id: str | None = None, client_secret: str | None = None, scope: str | None = None) -> requests.Response:
        """``POST /oauth2/token`` with the credentials in the form body (client_secret_post)."""
        form = {"grant_type": "client_credentials", "client_id": client_id or self.client_id}
        form["client_secret"] = client_secret or self.client_secret
        if scope is not None:
            form["scope"] = scope
        return self.session.post(self.url("/oauth2/token"), data=form, timeout=30)

    def token(self, client_id: str | None = None, client_secret: str | None = None, scope: str | None = None) -> str:
        response = self.token_response(client_id, client_secret, scope)
        assert response.status_code == 200, f"POST /oauth2/token for {client_id or self.client_id} ({scope}): {response.text[:300]}"
        return str(response.json()["access_token"])

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", self.bearer(token) if token else {})
        return self.session.get(self.url(path), headers=headers, timeout=30, **kwargs)

    def post(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", self.bearer(token) if token else {})
        return self.session.post(self.url(path), headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def radiology(target: Target, http: requests.Session) -> Radiology:
    creds = require(target, "radiology", "client_id", "client_secret", "organization_id")
    return Radiology(target.api("radiology"), http, creds["client_id"], creds["client_secret"], creds["organization_id"])


@pytest.fixture
def token(radiology: Radiology) -> str:
    """A fresh token with both scopes (per test: a workflow may move the target's clock past the expiry of older ones)."""
    return radiology.token()


def one_of_hook() -> Any:
    """Keep *positive* ``/status`` and ``/results`` cases within ``x-medimock-one-of-params``.

    OpenAPI cannot say "exactly one of order_id and study_uid" for parameters, so schemathesis's
    positive generation sends both or neither about half the time; the answer is a documented
    400, so no check fails, but those cases would test the one-of rule (covered by a workflow)
    instead of the lookups. Negative cases are left as generated.
    """

    def filter_case(context: Any, case: Any) -> bool:
        if (case.operation.method.upper(), case.operation.path) not in ONE_OF or is_negative(case, "query"):
            return True
        query = case.query or {}
        return ("order_id" in query) != ("study_uid" in query)

    return filter_case


def known_values_hook(radiology: Radiology) -> Any:
    """Steer half of the *positive* cases to identifiers that exist on the target.

    Random client credentials, organisation ids and order ids never exist, so without this
    the property tests would see only 401s, 403s and 404s: no token response and no report
    would ever be checked against its schema. Negative parts of a case are never touched
    (that would make them valid).
    """
    query_values = {
        "organizationId": radiology.organization_id,
        "order_id": radiology.example("order_id"),
        "study_uid": radiology.example("study_uid"),
        "study_group": radiology.example("study_group"),
    }
    client = {"client_id": radiology.client_id, "client_secret": radiology.client_secret}

    def map_case(context: Any, case: Any) -> Any:
        method, path = case.operation.method.upper(), case.operation.path
        if isinstance(case.query, dict) and not is_negative(case, "query"):
            query = dict(case.query)
            for name, value in query_values.items():
                if name in query and value and coin((name, query[name])):
                    query[name] = value
            if method == "POST" and path == "/reports" and not (isinstance(case.body, dict) and case.body.get("orderIds")):
                # Without orderIds an acknowledgement marks every delivered report received: the
                # property tests must not consume the organisation's reports (the workflows need them),
                # so only acknowledgements of (generated, unknown) orders reach the real organisation.
                query["organizationId"] = case.query.get("organizationId")
                if query["organizationId"] == radiology.organization_id:
                    query["organizationId"] = "org-" + radiology.organization_id
            if path == "/oauth2/token" and method == "GET" and coin(query):
                query.update(client)
            case.query = query
        token_form = path == "/oauth2/token" and method == "POST" and isinstance(case.body, dict)
        if token_form and not is_negative(case, "body") and coin(case.body):
            case.body = {**case.body, **client}
        return case

    return map_case


@pytest.fixture(scope="module")
def radiology_bearer(radiology: Radiology) -> dict[str, str]:
    """The Authorization header of the property tests: a token of the client with both scopes."""
    return radiology.bearer(radiology.token())


@pytest.fixture(scope="module")
def radiology_schema(radiology: Radiology, radiology_bearer: dict[str, str]) -> Any:
    schema = schemathesis.openapi.from_path(SPEC)
    schema.config.update(base_url=radiology.base_url, headers=radiology_bearer)
    schema.hook("filter_case")(one_of_hook())
    schema.hook("map_case")(known_values_hook(radiology))
    return schema
