"""Clarius contract fixtures: the Service API of the target, with an API key.

Credentials come from the environment (``CLARIUS_API_KEY``, and for the confirmation workflow
``CLARIUS_UNCONFIRMED_TOKEN``) or from a medimock target's ``/__mock__/credentials``; failures show
the key as ``$CLARIUS_API_KEY`` in their curl.

What the run may change on the target, and how it is left: API keys the suite creates are revoked;
an application it customises had no customisation before and has none after; the settings are put
back. The run ends by comparing what the target lists (active keys, customised applications and
their annotations, settings, confirmed customer tokens) before and after (``Inventory``): anything
else is a failure of the suite. Two things the document gives no way to undo are named here: a
confirmed customer token stays confirmed (only the token the target names for that purpose is
confirmed, and it is left out of the comparison), and an uploaded report stays (``test_report_upload``
runs only against a medimock target or with ``CLARIUS_REPORT_UPLOADS=1``). Exams cannot be made
through the API at all (scanners upload them): workflows that need one skip, once, on a target
without any.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import OperationConfig, OperationsConfig

from medimock.suite import SPECS, Inventory, check_base_url, require
from medimock.target import ApiTarget, Target

SPEC = SPECS / "clarius" / "openapi.yaml"
PREFIX = "/api/public/v0"


def _json(response: requests.Response) -> Any:
    """A reply's JSON, or None (for the fixtures' own bookkeeping; the tests read replies through ``json_body``)."""
    if response.status_code != 200:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class Clarius:
    """The Clarius API of the target, with an authenticated session."""

    def __init__(self, api: ApiTarget, session: requests.Session, key: str) -> None:
        self.api = api
        self.base_url = api.base_url
        self.key = key
        self.headers = {"Authorization": f"Service-API-Key {key}"}
        self.session = session
        token = os.environ.get("CLARIUS_UNCONFIRMED_TOKEN")
        named = [token] if token else list(api.credentials.get("unconfirmed_customer_tokens") or [])
        self.unconfirmed: list[str] = [str(item) for item in named]

    def url(self, path: str) -> str:
        return self.api.url(PREFIX + path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), headers=kwargs.pop("headers", self.headers), timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url(path), headers=kwargs.pop("headers", self.headers), timeout=30, **kwargs)

    # -- the inventory: what the target lists ---------------------------------------------------------

    def _pages(self, path: str) -> list[Any] | None:
        body = _json(self.get(path, params={"limit": 1000}))
        items: list[Any] = []
        for _ in range(200):
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                return None
            items += body["results"]
            following = body.get("next")
            if not following:
                return items
            body = _json(self.session.get(str(following), headers=self.headers, timeout=30))
        return None

    def inventory(self) -> set[str] | None:
        keys = _json(self.get("/services/api-keys/"))
        customised = _json(self.get("/services/applications/"))
        settings = _json(self.get("/services/settings/"))
        tokens = self._pages("/services/confirmed-tokens/")
        if not isinstance(keys, list) or not isinstance(customised, list) or not isinstance(settings, dict) or tokens is None:
            return None
        found = {f"API key {k.get('prefix')} ({k.get('name')!r})" for k in keys if isinstance(k, dict)}
        found |= {
            f"customisation of application {a.get('uuid')}: {json.dumps(a.get('annotations'), sort_keys=True)}"
            for a in customised
            if isinstance(a, dict)
        }
        found.add(f"settings {json.dumps(settings, sort_keys=True)}")
        found |= {f"confirmed customer token {t}" for t in tokens if t not in self.unconfirmed}
        return found


@pytest.fixture(scope="session")
def clarius(target: Target, http: requests.Session) -> Iterator[Clarius]:
    """The target's Clarius API; the run ends by checking it lists the same things as before."""
    creds = require(target, "clarius", "api_key")
    api = Clarius(target.api("clarius"), http, creds["api_key"])
    # without a key every Service API route is refused (401 or 403): never a 404 where the API is
    check_base_url(target, "clarius", api.get("/exams/accessible/", headers={}), "GET /api/public/v0/exams/accessible/ without a key")
    inventory = Inventory("clarius", api.inventory)
    yield api
    inventory.check()


@pytest.fixture(scope="session")
def clarius_schema(clarius: Clarius) -> Any:
    schema = schemathesis.openapi.from_path(SPEC)
    schema.config.update(base_url=clarius.base_url, headers=clarius.headers)
    # the Research API takes a research user's token, not the key: test_research.py property-tests it
    schema.config.operations = OperationsConfig(
        operations=[*schema.config.operations.operations, OperationConfig.from_dict({"include-tag": "research", "enabled": False})]
    )
    return schema


@pytest.fixture(scope="module", autouse=True)
def leave_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put back what a module's tests change with generated or chosen values: the settings (PATCHed with generated
    URLs), the API keys the property tests created, the customisations they made or changed.

    The Research API's module needs none of it (nor an API key: a research user may have none).
    """
    if request.module.__name__.rsplit(".", 1)[-1].startswith("test_research"):
        yield
        return
    clarius: Clarius = request.getfixturevalue("clarius")
    settings = _json(clarius.get("/services/settings/"))
    keys = _json(clarius.get("/services/api-keys/"))
    customised = _json(clarius.get("/services/applications/"))
    yield
    if isinstance(settings, dict):
        clarius.request("PATCH", "/services/settings/", json=settings)
    after = _json(clarius.get("/services/api-keys/"))
    if isinstance(keys, list) and isinstance(after, list):
        known = {k.get("prefix") for k in keys if isinstance(k, dict)}
        for key in after:
            if isinstance(key, dict) and key.get("prefix") not in known:
                clarius.request("DELETE", f"/services/api-keys/{key.get('prefix')}/")
    now = _json(clarius.get("/services/applications/"))
    if not isinstance(customised, list) or not isinstance(now, list):
        return
    old = {a.get("uuid"): a.get("annotations") for a in customised if isinstance(a, dict)}
    new = {a.get("uuid"): a.get("annotations") for a in now if isinstance(a, dict)}
    for app in new:
        if app not in old:
            clarius.request("DELETE", f"/services/applications/{app}/")
    for app, kept in old.items():
        if new.get(app) != kept:
            clarius.request("PUT", f"/services/applications/{app}/", json={"annotations": kept})
