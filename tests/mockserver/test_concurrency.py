"""Four gunicorn workers sharing one SQLite store, under concurrent writes, reads and resets.

- 500 concurrent creates across the APIs lose nothing and duplicate nothing;
- reads during the writes never see half-written state;
- a reset during the load leaves a consistent store;
- a dropped connection (fault) really drops it, and the server keeps serving.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CLARIUS = "/api/public/v0"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("concurrency") / "shared.sqlite3"
    # port 0: the server binds a free port itself and prints its URL (a port chosen here could be taken by another
    # test's server before the server binds it)
    command = [sys.executable, "-m", "mockserver", "--workers", "4", "--port", "0", "--db", str(db), "--strict"]
    command += ["--api", "clarius", "--api", "tscharts", "--api", "radiology", "--api", "ambra"]
    log = db.with_name("server.log")  # a file, not a pipe nobody reads while the server runs
    with log.open("wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, cwd=ROOT, text=True)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline() if process.stdout else ""), daemon=True)
    reader.start()
    reader.join(120)  # generous: a loaded 2-core CI machine, four workers each loading four APIs
    url = first[0].split("listening on ", 1)[1].split()[0] if first and "listening on " in first[0] else ""
    deadline = time.monotonic() + 120
    while url and time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url + "/__mock__/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        process.kill()
        process.wait(20)
        pytest.fail(f"the 4-worker server did not start (exit {process.returncode}, {first}):\n{log.read_text(errors='replace')[-3000:]}")
    yield url
    process.terminate()
    process.wait(20)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(scope="module")
def creds(server):
    return requests.get(server + "/__mock__/credentials", timeout=10).json()


def test_500_concurrent_creates_lose_and_duplicate_nothing(server, creds):
    clarius = {"Authorization": creds["clarius"]["authorization"]}
    tscharts = {"Authorization": creds["tscharts"]["authorization"]}
    patient, clinic, station = creds["tscharts"]["patients"][0], creds["tscharts"]["clinics"][0], creds["tscharts"]["stations"][0]
    study_uid = "1.2.826.0.1.3680043.10.543." + str(int(time.time()))
    image = base64.b64encode(b"\xff\xd8\xff" + bytes(range(256)) * 4).decode()
    ambra = (creds["ambra"]["login"], creds["ambra"]["password"])
    ambra_account = creds["ambra"]["account_id"]
    seen_keys: list[int] = []
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        """Reads during the writes: every listed key is whole, and one reader's counts never go down."""
        mine: list[int] = []
        with requests.Session() as http:
            while not stop.is_set():
                response = http.get(server + CLARIUS + "/services/api-keys/", headers=clarius, timeout=30)
                if response.status_code != 200:
                    problems.append(f"read: {response.status_code}")
                    continue
                keys = response.json()
                if any(set(key) != {"prefix", "name", "created"} or not key["name"] for key in keys):
                    problems.append(f"half-written key in {keys}")
                if mine and len(keys) < mine[-1]:
                    problems.append(f"the key count went down: {mine[-1]} -> {len(keys)}")
                mine.append(len(keys))
                seen_keys.append(len(keys))

    def create(index: int) -> tuple[str, int, str]:
        with requests.Session() as http:
            if index % 10 == 9:
                form = {"name": f"concurrent-{index}", "account_id": ambra_account}
                response = http.post(server + "/api/v3/group/add", data=form, auth=ambra, timeout=60)
                return "ambra", response.status_code, response.json().get("uuid", "")
            if index % 10 in (0, 1, 2, 3):
                response = http.post(
                    server + CLARIUS + "/services/api-keys/", json={"name": f"concurrent-{index}"}, headers=clarius, timeout=60
                )
                return "clarius", response.status_code, response.json().get("prefix", "")
            if index % 10 in (4, 5, 6):
                body = {"type": "Xray", "patient": patient, "clinic": clinic, "station": station, "data": image}
                response = http.post(server + "/tscharts/v1/image/", json=body, headers=tscharts, timeout=60)
                return "tscharts", response.status_code, str(response.json().get("id", ""))
            response = http.post(server + "/__mock__/radiology/orders", json={"study_uid": study_uid}, timeout=60)
            return "radiology", response.status_code, response.json().get("orderId", "")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        with ThreadPoolExecutor(48) as pool:
            results = list(pool.map(create, range(500)))
    finally:
        stop.set()
        for thread in readers:
            thread.join(30)
    failed = [r for r in results if r[1] not in (200, 201)]
    assert not failed, f"{len(failed)} creates failed, e.g. {failed[:5]}"
    assert not problems, problems[:5]
    assert len(seen_keys) > 3, "the readers ran during the writes"

    by_api: dict[str, list[str]] = {}
    for api, _, ident in results:
        by_api.setdefault(api, []).append(ident)
    assert all(len(ids) == len(set(ids)) for ids in by_api.values()), "no identifier was handed out twice"

    keys = requests.get(server + CLARIUS + "/services/api-keys/", headers=clarius, timeout=30).json()
    names = [key["name"] for key in keys if key["name"].startswith("concurrent-")]
    assert len(names) == 200 == len(set(names)), "every Clarius key is there, once"
    ids = requests.get(server + "/tscharts/v1/image/", params={"patient": patient}, headers=tscharts, timeout=30).json()
    assert set(by_api["tscharts"]) <= {str(i) for i in ids}, "every tscharts image is listed"
    token = requests.post(
        server + "/radiology/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["radiology"]["client_id"],
            "client_secret": creds["radiology"]["client_secret"],
        },
        timeout=30,
    ).json()["access_token"]
    orders = requests.get(
        server + "/radiology/orderId", params={"study_uid": study_uid}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert orders.status_code == 200, orders.text
    listed = str(orders.json())
    assert all(order_id in listed for order_id in by_api["radiology"]), "every radiology order is listed"
    groups = requests.post(
        server + "/api/v3/group/list",
        data={"account_id": ambra_account, "filter.name.like": "concurrent-*", "page.rows": 5000},
        auth=ambra,
        timeout=30,
    ).json()
    assert groups["status"] == "OK", groups
    listed_groups = {group["uuid"]: group["name"] for group in groups["groups"]}
    assert set(by_api["ambra"]) == set(listed_groups), "every Ambra group is listed, and nothing else"
    assert len(set(listed_groups.values())) == 50, "fifty distinct Ambra groups"


def test_reset_during_load_leaves_a_consistent_store(server, creds):
    clarius = {"Authorization": creds["clarius"]["authorization"]}
    statuses: list[int] = []

    def write(index: int) -> None:
        with requests.Session() as http:
            statuses.append(
                http.post(
                    server + CLARIUS + "/services/api-keys/", json={"name": f"during-reset-{index}"}, headers=clarius, timeout=60
                ).status_code
            )
            statuses.append(http.get(server + CLARIUS + "/exams/accessible/?limit=50", headers=clarius, timeout=60).status_code)

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(write, i) for i in range(120)]
        time.sleep(0.3)
        for _ in range(3):
            assert requests.post(server + "/__mock__/reset", timeout=60).status_code == 200
        for future in futures:
            future.result()
    assert set(statuses) <= {200, 201}, f"no request failed during the resets: {sorted(set(statuses))}"
    keys = requests.get(server + CLARIUS + "/services/api-keys/", headers=clarius, timeout=30).json()
    assert all(set(key) == {"prefix", "name", "created"} for key in keys), "every key is whole"
    poll = requests.get(server + CLARIUS + "/exams/accessible/?limit=1000", headers=clarius, timeout=30).json()
    assert poll["count"] == len(poll["results"]) and len({r["request_uuid"] for r in poll["results"]}) == poll["count"]
    assert requests.post(server + "/__mock__/reset", timeout=60).status_code == 200
    fresh = requests.get(server + CLARIUS + "/services/api-keys/", headers=clarius, timeout=30).json()
    assert [key["name"] for key in fresh] == ["Initial key (provided by Clarius)"], "a final reset restores the seeded state exactly"
    assert requests.get(server + CLARIUS + "/exams/accessible/", headers=clarius, timeout=30).json()["count"] == 135


def test_dropped_connection_fault(server, creds):
    clarius = {"Authorization": creds["clarius"]["authorization"], "Prefer": "drop"}
    with pytest.raises(requests.ConnectionError):
        requests.get(server + CLARIUS + "/services/settings/", headers=clarius, timeout=10)
    plain = {"Authorization": creds["clarius"]["authorization"]}
    assert requests.get(server + CLARIUS + "/services/settings/", headers=plain, timeout=10).status_code == 200, "still serving"
    time.sleep(0.2)  # the journal is written in batches
    journal = requests.get(server + "/__mock__/requests", params={"api": "clarius", "limit": 20}, timeout=10).json()["results"]
    assert any(entry["fault"] and "drop" in entry["fault"] for entry in journal), "the journal marks the dropped request"
