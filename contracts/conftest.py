"""Contract-suite fixtures: the target under test and its credentials.

The suites speak HTTP to base URLs only, so they run the same against the embedded
mock (the default: started here on a free loopback port) and against any other
implementation (``make contract API=clarius TARGET=https://...``, see medimock.target).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from medimock.target import MOUNTS, Target, TargetError, discover


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    try:
        found, embedded = discover(list(MOUNTS))
    except TargetError as exc:
        pytest.exit(f"medimock contracts: {exc}", returncode=2)
    try:
        yield found
    finally:
        if embedded is not None:
            embedded.stop()


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
