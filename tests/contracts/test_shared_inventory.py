"""One API's tests on several pytest-xdist workers share one inventory: taken by the first before any of them changes
the target, compared by the last when none of them still does (medimock.suite.Inventory, shared_key)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from medimock.suite import Inventory, LeftoverError, shared_key


@pytest.fixture
def key() -> str:
    return f"{uuid.uuid4().hex} http://127.0.0.1:1/api/v3"


def test_the_last_worker_compares_with_the_first_workers_inventory(key: str) -> None:
    target = {"image 1", "image 2"}
    first = Inventory("tiny", lambda: set(target), shared=key)
    target.add("image 3 (the first worker's, under way)")
    second = Inventory("tiny", lambda: set(target), shared=key)  # takes the first's inventory, not its own
    assert second.before == {"image 1", "image 2"}
    first.check()  # the second still runs: no comparison while it may be changing the target
    target.discard("image 3 (the first worker's, under way)")
    second.check()


def test_the_last_worker_reports_what_the_workers_left(key: str) -> None:
    target = {"image 1"}
    first = Inventory("tiny", lambda: set(target), shared=key)
    second = Inventory("tiny", lambda: set(target), shared=key)
    target.add("image 9")
    first.check()
    with pytest.raises(LeftoverError, match="image 9"):
        second.check()


def test_another_target_or_run_has_an_inventory_of_its_own(key: str) -> None:
    target = {"image 1"}
    Inventory("tiny", lambda: set(target), shared=key)
    target.add("image 2")
    other = Inventory("tiny", lambda: set(target), shared=key + "-other")
    assert other.before == {"image 1", "image 2"}


def test_only_an_xdist_worker_shares() -> None:
    assert shared_key(SimpleNamespace(), "http://t") is None  # type: ignore[arg-type]
    worker = SimpleNamespace(workerinput={"testrunuid": "abc", "workerid": "gw1"})
    assert shared_key(worker, "http://t") == "abc http://t"  # type: ignore[arg-type]
