"""Clarius contract fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import OperationConfig, OperationsConfig

from medimock.suite import SPECS, require
from medimock.target import ApiTarget, Target

SPEC = SPECS / "clarius" / "openapi.yaml"


class Clarius:
    """The Clarius API of the target, with an authenticated session."""

    def __init__(self, api: ApiTarget, session: requests.Session, key: str) -> None:
        self.api = api
        self.base_url = api.base_url
        self.key = key
        self.headers = {"Authorization": f"Service-API-Key {key}"}
        self.session = session

    def url(self, path: str) -> str:
        return self.api.url("/api/public/v0" + path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), headers=kwargs.pop("headers", self.headers), timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url(path), headers=kwargs.pop("headers", self.headers), timeout=30, **kwargs)


@pytest.fixture(scope="session")
def clarius(target: Target, http: requests.Session) -> Clarius:
    creds = require(target, "clarius", "api_key")
    return Clarius(target.api("clarius"), http, creds["api_key"])


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
def restore_settings(clarius: Clarius) -> Iterator[None]:
    """Property tests PATCH the settings with generated URLs: put the target's settings back."""
    before = clarius.get("/services/settings/")
    yield
    if before.status_code == 200:
        clarius.request("PATCH", "/services/settings/", json=before.json())
