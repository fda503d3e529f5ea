"""Two mocks with one seed, profile and seed time hold the very same data, and the control API's simulated objects are
the same on both when both are sent the same calls (what ``medimock diff --data same`` relies on)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

SEED_TIME = "2026-11-30T12:00:00+00:00"


def _login(client: Any) -> str:
    credentials = client.get("/__mock__/credentials").get_json()["ambra"]
    reply = client.post("/api/v3/session/login", data={"login": credentials["login"], "password": credentials["password"]})
    return str(reply.get_json()["sid"])


def _studies(client: Any) -> list[dict[str, Any]]:
    body = client.post("/api/v3/study/list", data={"sid": _login(client), "page.rows": "50"}).get_json()
    return list(body["studies"])


def test_one_seed_time_gives_the_same_times(make_app: Any) -> None:
    first = make_app(apis=("ambra",), seed_time=SEED_TIME).test_client()
    second = make_app(apis=("ambra",), seed_time=SEED_TIME).test_client()
    later = make_app(apis=("ambra",), seed_time="2026-11-30T12:00:05+00:00").test_client()
    studies = _studies(first)
    assert studies == _studies(second)
    assert [s["uuid"] for s in studies] == [s["uuid"] for s in _studies(later)]  # the same objects, 5 s later
    assert [s["created"] for s in studies] != [s["created"] for s in _studies(later)]
    assert first.get("/__mock__/health").get_json()["seed_time"] == SEED_TIME
    assert first.post("/__mock__/reset").status_code == 200
    assert _studies(first) == studies  # a reset seeds relative to the same moment


def test_without_a_seed_time_the_data_is_relative_to_seeding(make_app: Any) -> None:
    client = make_app(apis=("ambra",)).test_client()
    assert client.get("/__mock__/health").get_json()["seed_time"] is None
    assert _studies(client)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", ""])
def test_a_bad_seed_time_is_a_usage_error(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--seed-time", value, "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--seed-time: not an ISO 8601 moment" in result.stderr


def test_simulated_clarius_uploads_are_the_same_on_two_mocks(make_app: Any) -> None:
    first = make_app(seed_time=SEED_TIME, strict=False).test_client()
    second = make_app(seed_time=SEED_TIME, strict=False).test_client()
    one = [first.post("/__mock__/clarius/exams", json={"captures": 3}).get_json() for _ in range(2)]
    two = [second.post("/__mock__/clarius/exams", json={"captures": 3}).get_json() for _ in range(2)]
    assert [u["exam_uuid"] for u in one] == [u["exam_uuid"] for u in two]
    assert one[0]["exam_uuid"] != one[1]["exam_uuid"]  # still a new exam per upload
    assert [u["request_uuid"] for u in one] == [u["request_uuid"] for u in two]


def test_simulated_radiology_orders_are_the_same_on_two_mocks(make_app: Any) -> None:
    first = make_app(apis=("radiology",), seed_time=SEED_TIME, strict=False).test_client()
    second = make_app(apis=("radiology",), seed_time=SEED_TIME, strict=False).test_client()
    calls = [{"status": "FINAL"}, {"report_type": "PRELIMINARY"}, {}]
    one = [first.post("/__mock__/radiology/orders", json=options).get_json() for options in calls]
    two = [second.post("/__mock__/radiology/orders", json=options).get_json() for options in calls]
    assert [o["orderId"] for o in one] == [o["orderId"] for o in two]
    assert len({o["orderId"] for o in one}) == 3
    texts = [[r["reportText"] for r in o["reports"]] for o in one]
    assert texts == [[r["reportText"] for r in o["reports"]] for o in two] and all(texts)


def test_simultaneous_simulated_objects_get_identifiers_of_their_own(make_app: Any) -> None:
    """Two calls that count the same objects so far draw the same identifiers; the one that loses the race draws again."""
    from concurrent.futures import ThreadPoolExecutor

    app = make_app(apis=("clarius", "radiology"), seed_time=SEED_TIME, strict=False)

    def upload(_: int) -> tuple[int, str]:
        reply = app.test_client().post("/__mock__/clarius/exams", json={"captures": 1})
        return reply.status_code, str((reply.get_json() or {}).get("exam_uuid"))

    def order(_: int) -> tuple[int, str]:
        reply = app.test_client().post("/__mock__/radiology/orders", json={})
        return reply.status_code, str((reply.get_json() or {}).get("orderId"))

    with ThreadPoolExecutor(8) as pool:
        uploads, orders = list(pool.map(upload, range(24))), list(pool.map(order, range(24)))
    for made in (uploads, orders):
        assert {status for status, _ in made} <= {200, 201}, made
        assert len({name for _, name in made}) == 24
