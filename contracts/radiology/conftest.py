"""Radiology contract fixtures: the report retrieval API of the target, with OAuth2 tokens.

Credentials come from the environment (``RADIOLOGY_CLIENT_ID``, ``RADIOLOGY_CLIENT_SECRET``,
``RADIOLOGY_ORGANIZATION_ID``: a client allowed both kinds of scope) or from a medimock target's
``/__mock__/credentials``. Tokens are always obtained from the target's own token endpoint, by
``GET <base>/oauth2/token`` as the document shows (by ``POST``, RFC 6749's way, when the GET gives
none), and registered, so that a failure's curl shows ``Bearer ${RADIOLOGY_TOKEN}`` with the token
request that gets one.

Acknowledging reports (``POST /reports``) cannot be undone through the API, so the suite is careful
with the target's own reports:

- it acknowledges the reports of orders it made appear itself through a medimock control API
  (``POST /__mock__/radiology/orders``), naming those orders (``{"orderIds": [...]}``), and
  acknowledges them all by the end of each test that made them;
- it acknowledges reports it did not make (the documented acknowledgement without a body marks
  *every* retrieved report received) only when allowed: ``RADIOLOGY_ACKNOWLEDGE=1`` (a test
  organisation on a real server), or on the embedded mock, which the run starts and deletes;
- without either (a real server, no opt-in), it sends no acknowledgement for its organisation at
  all: a server that ignores the ``orderIds`` body would take any of them for "everything".

The run ends by comparing the organisation's batch poll (its reports not yet acknowledged) before
and after (``Inventory``): a report of an order the suite made that is still pending was left
behind; a report that was pending before and is gone was acknowledged by the suite without leave.
Reports that arrive during the run from orders the suite did not make (the target's own work, or
the mock's clock moved forward) are not the suite's and are not compared.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from medimock.conformance.curl import register_secret
from medimock.suite import SPECS, Inventory, SetupStep, check_base_url, coin, is_negative, require
from medimock.target import ApiTarget, Target
from medimock.verdict import TRUE, Document, expect

SPEC = SPECS / "radiology" / "openapi.yaml"
SOURCE = "radiology-report-retrieval-api.txt"
ONE_OF = {("GET", "/status"), ("GET", "/results")}  # x-medimock-one-of-params: [[order_id], [study_uid]]

TOKEN_ISSUED = Document(
    SOURCE,
    "Endpoint: GET <oauth2_endpoint>/token",
    lines=2,
    also=Document(SOURCE, "applying client credentials or supported grant types").anchors,
)


def access_token_of(response: requests.Response) -> str | None:
    """The ``access_token`` of a token reply, or None (read quietly: callers decide what a missing one means)."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


class Radiology:
    """The radiology API of the target, the client credentials to use it, and what the suite made on it."""

    def __init__(self, target: Target, api: ApiTarget, session: requests.Session, client_id: str, client_secret: str, organization_id: str):
        self.target = target
        self.api = api
        self.base_url = api.base_url
        self.session = session
        self.client_id = client_id
        self.client_secret = client_secret
        self.organization_id = organization_id
        self.medimock = target.control_url is not None
        # may the suite acknowledge reports it did not make? (see the module's docstring)
        self.may_consume = os.environ.get("RADIOLOGY_ACKNOWLEDGE", "").strip().lower() in TRUE or target.embedded
        # may it acknowledge by naming orders? (a medimock honours orderIds; elsewhere only with leave to consume)
        self.safe_acks = self.medimock or self.may_consume
        self.made: dict[str, str] = {}  # order id -> organisation, of orders made through the control API
        self.consumed: set[str] = set()  # orders of the target's own whose reports the suite acknowledged with leave
        self._methods = ["GET", "POST"]  # how tokens are obtained: the document's GET first
        register_secret(client_id, "RADIOLOGY_CLIENT_ID", "export RADIOLOGY_CLIENT_ID=... (the client id; README: Credentials)")

    @property
    def credentials(self) -> dict[str, Any]:
        return self.api.credentials

    def example(self, name: str) -> Any:
        """An identifier the target names: from the environment, or its credentials' ``examples``."""
        return self.credentials.get(name) or (self.credentials.get("examples") or {}).get(name)

    def url(self, path: str) -> str:
        return self.api.url(path)

    # -- tokens ---------------------------------------------------------------------------------

    def token_request(
        self, method: str = "GET", client_id: str | None = None, client_secret: str | None = None, scope: str | None = None
    ) -> requests.Response:
        """A client-credentials token request: the fields in the query (GET, the document's) or the form body (POST)."""
        fields = {"grant_type": "client_credentials", "client_id": client_id or self.client_id}
        fields["client_secret"] = client_secret or self.client_secret
        if scope is not None:
            fields["scope"] = scope
        if method == "GET":
            return self.session.get(self.url("/oauth2/token"), params=fields, timeout=30)
        return self.session.post(self.url("/oauth2/token"), data=fields, timeout=30)

    def token(self, scope: str | None = None, client_id: str | None = None, client_secret: str | None = None) -> str | None:
        """A token from the target's token endpoint (GET, else POST), registered as ``${RADIOLOGY_TOKEN}``.

        Without ``scope`` a failure is the document's (a client with its credentials gets a token); with a
        ``scope`` the caller names a convention (medimock's scope names), so it gets None and decides.
        """
        last = None
        for method in list(self._methods):
            last = self.token_request(method, client_id, client_secret, scope)
            token = access_token_of(last)
            if token is not None:
                if method != self._methods[0]:
                    self._methods.remove(method)
                    self._methods.insert(0, method)
                self.register_token(token, method, scope, client_id)
                return token
        if scope is None:
            expect(
                TOKEN_ISSUED,
                False,
                f"the client {client_id or self.client_id} gets a token from {self.url('/oauth2/token')} (client credentials, by GET "
                "with grant_type, client_id and client_secret in the query as the document shows, nor by POST as RFC 6749 does); "
                "is the token endpoint elsewhere, or are the credentials wrong?",
                last,
            )
        return None

    def register_token(self, token: str, method: str, scope: str | None, client_id: str | None) -> None:
        """Show ``token`` as ``${RADIOLOGY_TOKEN}`` in curls, with the request that gets one like it."""
        ids = ("RADIOLOGY_CLIENT_ID", "RADIOLOGY_CLIENT_SECRET")
        if client_id and client_id != self.client_id:
            ids = ("RADIOLOGY_SINGLE_SCOPE_CLIENT_ID", "RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET")
        fields = f"grant_type=client_credentials&client_id=${{{ids[0]}}}&client_secret=${{{ids[1]}}}"
        if scope:
            fields += "&scope=" + scope.replace(" ", "%20")
        url = self.url("/oauth2/token")
        request = f'curl -s "{url}?{fields}"' if method == "GET" else f'curl -s -d "{fields}" {url}'
        register_secret(
            token,
            "RADIOLOGY_TOKEN",
            f"a token ({scope or 'every scope of the client'}; it lives an hour), with {ids[0]} and {ids[1]} set: "
            f"export RADIOLOGY_TOKEN=$({request} | jq -r .access_token)",
        )

    @staticmethod
    def bearer(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", self.bearer(token))
        return self.session.get(self.url(path), headers=headers, timeout=30, **kwargs)

    def post(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", self.bearer(token))
        return self.session.post(self.url(path), headers=headers, timeout=30, **kwargs)

    # -- what the suite makes appear (medimock's control API), and what it leaves --------------------

    def simulate(self, **options: Any) -> dict[str, Any]:
        """``POST /__mock__/radiology/orders``: an order (with the reports its status implies) the suite then owns."""
        response = requests.post(self.target.control("/radiology/orders"), json=options, timeout=10)
        try:
            body = response.json() if response.status_code == 201 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("orderId"), str):
            pytest.fail(f"POST /__mock__/radiology/orders {options}: {response.status_code} {response.text[:300]}", pytrace=False)
        self.made[body["orderId"]] = str(options.get("organizationId") or body.get("organizationId") or self.organization_id)
        return body

    def client_of(self, organization: str) -> tuple[str, str] | None:
        """A client of ``organization`` allowed to poll (from a medimock's credentials), to clean up after its orders."""
        if organization == self.organization_id:
            return self.client_id, self.client_secret
        for org in self.credentials.get("organizations") or []:
            if org.get("organization_id") != organization:
                continue
            for client in org.get("clients") or []:
                if "reports:read" in (client.get("scopes") or []) and "client_credentials" in (client.get("grant_types") or []):
                    return str(client["client_id"]), str(client["client_secret"])
        return None

    def release(self, orders: list[str]) -> None:
        """Acknowledge the reports of orders the suite made, per organisation (poll, then name the orders).

        Quiet on purpose (it runs in ``finally``): what it could not acknowledge, the inventory reports.
        """
        by_org: dict[str, list[str]] = {}
        for order in orders:
            by_org.setdefault(self.made.get(order, self.organization_id), []).append(order)
        for organization, ids in by_org.items():
            client = self.client_of(organization)
            if client is None:
                continue
            token = access_token_of(self.token_request("GET", *client)) or access_token_of(self.token_request("POST", *client))
            if token is None:
                continue
            params = {"organizationId": organization}
            self.get("/reports", token, params=params)  # delivers them: only retrieved reports are acknowledged
            self.post("/reports", token, params=params, json={"orderIds": sorted(ids)})

    def pending(self) -> dict[str, str] | None:
        """The organisation's reports not yet acknowledged (its batch poll): ``{label: order id}``, or None."""
        token = access_token_of(self.token_request("GET")) or access_token_of(self.token_request("POST"))
        if token is None:
            return None
        response = self.get("/reports", token, params={"organizationId": self.organization_id})
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            return None
        if not isinstance(body, list) or not all(isinstance(r, dict) and r.get("reportId") and r.get("orderId") for r in body):
            return None
        return {f"report {r['reportId']} ({r['orderId']} {r.get('reportType')})": str(r["orderId"]) for r in body}


class PendingReports:
    """The listing the inventory compares: the organisation's pending reports, as the module's docstring says."""

    def __init__(self, radiology: Radiology) -> None:
        self.radiology = radiology
        self.first: dict[str, str] | None = None

    def __call__(self) -> set[str] | None:
        now = self.radiology.pending()
        if now is None:
            return None
        if self.first is None:
            self.first = now
            return set(now)
        made, consumed = self.radiology.made, self.radiology.consumed
        kept = {label for label, order in now.items() if label in self.first or order in made}
        excused = {label for label, order in self.first.items() if order in consumed and label not in now}
        return kept | excused


@pytest.fixture(scope="session")
def radiology(target: Target, http: requests.Session) -> Iterator[Radiology]:
    """The target's radiology API; the run ends by checking it holds the same pending reports as before."""
    creds = require(target, "radiology", "client_id", "client_secret", "organization_id")
    api = Radiology(target, target.api("radiology"), http, creds["client_id"], creds["client_secret"], creds["organization_id"])
    # without a token every resource endpoint refuses the request (document: "All endpoints require ... Bearer tokens"): never a 404
    probe = api.get("/reports", None, params={"organizationId": api.organization_id})
    check_base_url(target, "radiology", probe, "GET /reports without a token (refused)")
    inventory = Inventory("radiology", PendingReports(api))
    yield api
    inventory.check()


@pytest.fixture(scope="session")
def _first_token(radiology: Radiology) -> SetupStep:
    return SetupStep("a token from the target's token endpoint (GET <base>/oauth2/token)", radiology.token)


@pytest.fixture
def token(radiology: Radiology, _first_token: SetupStep, request: pytest.FixtureRequest) -> str | None:
    """A fresh token with every scope of the client (per test: a workflow may move a mock's clock past older ones' expiry).

    When the target gives none, the first test that needs one fails with the reason and the others are skipped.
    """
    _first_token.get(request)
    return radiology.token()


def one_of_hook() -> Any:
    """Keep *positive* ``/status`` and ``/results`` cases within ``x-medimock-one-of-params``.

    OpenAPI cannot say "exactly one of order_id and study_uid" for parameters, so schemathesis's
    positive generation sends both or neither about half the time; the answer is a 400 (medimock's
    convention ``one-of-ids``, checked by a workflow), so those cases would test that rule instead of
    the lookups. Negative cases are left as generated.
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
            acknowledges_some = isinstance(case.body, dict) and case.body.get("orderIds")
            if method == "POST" and path == "/reports" and not (acknowledges_some and radiology.safe_acks):
                # Without orderIds an acknowledgement marks every retrieved report received, and a server that
                # ignores the body takes any acknowledgement for that: the property tests never consume the
                # organisation's reports, so only acknowledgements of (generated, unknown) orders reach it, and
                # only where orderIds is known to be honoured (a medimock, or with RADIOLOGY_ACKNOWLEDGE=1).
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
def radiology_bearer(radiology: Radiology, _first_token: SetupStep, request: pytest.FixtureRequest) -> dict[str, str]:
    """The Authorization header of the property tests: a token of the client with both scopes."""
    _first_token.get(request)
    return radiology.bearer(radiology.token())


@pytest.fixture(scope="module")
def radiology_schema(radiology: Radiology, radiology_bearer: dict[str, str]) -> Any:
    schema = schemathesis.openapi.from_path(SPEC)
    schema.config.update(base_url=radiology.base_url, headers=radiology_bearer)
    schema.hook("filter_case")(one_of_hook())
    schema.hook("map_case")(known_values_hook(radiology))
    return schema
