"""Contract-suite fixtures: the target under test and its credentials.

The suites speak HTTP to base URLs only, so they run the same against the embedded
mock (the default: started here on a free loopback port) and against any other
implementation (``make contract API=clarius TARGET=https://...``, see medimock.target).

Every run writes a conformance report beside its JUnit XML (``medimock.conformance``):
it sees the requests made through the ``http`` session below and every schemathesis
``Case.call``/``validate_response``, so a suite is reported as long as it sends its
requests through ``http`` (or ``case.call``) and takes ``target`` for its base URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from medimock import verdict
from medimock.conformance import attach, note_target
from medimock.conformance.specs import Locator
from medimock.suite import Session, note_target_limits, register_credentials
from medimock.target import MOUNTS, Target, TargetError, discover
from medimock.verdict_plugin import watch

pytest_plugins = ["medimock.conformance.plugin", "medimock.verdict_plugin", "medimock.subtest_progress", "medimock.gc_plugin"]


# Under pytest-xdist (`medimock contract` with several APIs, `make test`: --dist loadgroup) the suites run in two
# lanes, each a worker of its own: Ambra alone (the longest suite), and the others one after another. Each API's
# tests stay on one worker: its session fixtures (the target, the account's inventory before and after) and its
# order (the property run, then the check that it left the fixtures intact, then the workflows). Clarius and
# radiology share a lane because both move a medimock target's one clock (and put it back).
LANES = {"ambra": "contracts: ambra"}
OTHER_LANE = "contracts: clarius, tscharts, radiology"
# A quarter of Ambra's commands' property tests (contracts/ambra/test_schema.py: beside) run in the other lane, first:
# the two lanes then take about as long (with its own login and inventory, as every worker).
BESIDE = {"contracts/ambra/test_schema.py::test_operation_honours_contract_beside": OTHER_LANE}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        parts = item.nodeid.split("::", 1)[0].split("/")
        if parts[0] == "contracts" and len(parts) > 2 and item.get_closest_marker("xdist_group") is None:
            lane = BESIDE.get(item.nodeid.split("[", 1)[0]) or LANES.get(parts[1], OTHER_LANE)
            item.add_marker(pytest.mark.xdist_group(lane))


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    try:
        found, embedded = discover(list(MOUNTS))
    except TargetError as exc:
        note_target(request.config, error=str(exc))
        pytest.exit(f"medimock contracts: {exc}", returncode=2)
    note_target(request.config, found)
    register_credentials(found)
    note_target_limits(found)
    locator = Locator({name: api.base_url for name, api in found.apis.items()})

    def locate(method: str, url: str) -> tuple[str, str] | None:
        info = locator.locate(method, url)
        return (info.api, info.label) if info is not None else None

    verdict.set_locator(locate)
    try:
        yield found
    finally:
        verdict.set_locator(None)
        if embedded is not None:
            embedded.stop()


@pytest.fixture(scope="session")
def http(request: pytest.FixtureRequest) -> Iterator[requests.Session]:
    """The one session every suite sends its requests through (the conformance report listens to it)."""
    with Session() as session:
        attach(request.config, session)
        watch(session)
        yield session
