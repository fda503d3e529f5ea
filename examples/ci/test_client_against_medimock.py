"""An integrator's client tests against a served medimock: what the CI recipes run as ``pytest tests``.

The recipes start ``medimock serve`` and export its seeded credentials and base URLs
(``medimock credentials --format env``); the client under test is ``examples/clarius_client.py``,
unchanged, pointed at the mock instead of https://cloud.clarius.com.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from clarius_client import ClariusClient, ClariusError

MOCK = os.environ.get("MEDIMOCK_URL", "http://127.0.0.1:8080")


@pytest.fixture
def client() -> Iterator[ClariusClient]:
    requests.post(f"{MOCK}/__mock__/reset", timeout=30).raise_for_status()  # every test starts from the seeded data
    with ClariusClient(os.environ["CLARIUS_API_KEY"], base_url=os.environ["MEDIMOCK_CLARIUS_URL"]) as client:
        yield client


def test_poll_and_download(client: ClariusClient) -> None:
    first = next(client.poll(page_size=5))
    exam = client.download(first)
    assert exam.captures and all(capture.data for capture in exam.captures)


def test_a_503_is_retried(client: ClariusClient) -> None:
    fault = {"api": "clarius", "operation_id": "pollExams", "status": 503, "times": 1}
    requests.post(f"{MOCK}/__mock__/faults", json=fault, timeout=10).raise_for_status()
    assert next(client.poll(page_size=1))  # the client's Retry took the 503


def test_an_unknown_key_is_refused() -> None:
    stranger = ClariusClient("AAAAAAAA.not-a-key-of-this-service", base_url=os.environ["MEDIMOCK_CLARIUS_URL"])
    with stranger, pytest.raises(ClariusError) as refused:
        next(stranger.poll())
    assert refused.value.status == 401
