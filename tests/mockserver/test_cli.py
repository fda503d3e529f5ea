"""The server as users run it: `python -m mockserver`, one process or gunicorn workers sharing SQLite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(*args: str, port: int | None = None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "mockserver", "--api", "clarius", "--port", str(port if port is not None else 0), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    url = line.split("listening on ", 1)[1].split()[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/__mock__/health", timeout=1).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not come up")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_port_zero_prints_the_url_and_serves():
    process, url = start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/__mock__/health", timeout=5).json()["apis"]["clarius"]["operations"] == 20
    finally:
        stop(process)


def test_workers_share_one_store(tmp_path):
    port = free_port()
    process, url = start("--workers", "2", "--db", str(tmp_path / "shared.sqlite3"), port=port)
    try:
        creds = requests.get(url + "/__mock__/credentials", timeout=5).json()["clarius"]
        headers = {"Authorization": creds["authorization"]}
        api = url + "/api/public/v0/services/api-keys/"

        def create(i: int) -> dict:
            response = requests.post(api, json={"name": f"k{i}"}, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
            return response.json()

        with ThreadPoolExecutor(16) as pool:
            created = list(pool.map(create, range(60)))
        listed = requests.get(api, headers=headers, timeout=10).json()
        assert {k["prefix"] for k in created} <= {k["prefix"] for k in listed}, "nothing lost across workers"
        assert len([k for k in listed if k["name"].startswith("k")]) == 60, "nothing duplicated"
        # A key revoked through one worker fails on every worker at once.
        victim = created[0]
        assert requests.delete(api + victim["prefix"] + "/", headers=headers, timeout=10).status_code == 204
        victim_headers = {"Authorization": f"Service-API-Key {victim['key']}"}
        assert all(requests.get(api, headers=victim_headers, timeout=10).status_code == 401 for _ in range(10))
        pids = {requests.get(url + "/__mock__/health", timeout=5).status_code for _ in range(10)}
        assert pids == {200}
    finally:
        stop(process)


def test_workers_with_port_zero_announce_the_real_port(tmp_path):
    process, url = start("--workers", "2", "--db", str(tmp_path / "db.sqlite3"))
    try:
        assert not url.endswith(":0") and requests.get(url + "/__mock__/health", timeout=5).ok
    finally:
        stop(process)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_huge_profile_is_seeded_apart_then_served(tmp_path, monkeypatch, workers):
    # seeded by a process of its own (its memory never in the servers'), with or without --db
    monkeypatch.setenv("MEDIMOCK_HUGE_STUDIES", "3000")
    db = ["--db", str(tmp_path / "huge.sqlite3")] if workers == "2" else []
    process, url = start("--api", "ambra", "--profile", "huge", "--workers", workers, *db)
    try:
        assert requests.get(url + "/__mock__/health", timeout=5).json()["profile"] == "huge"
        creds = requests.get(url + "/__mock__/credentials", timeout=5).json()["ambra"]
        sid = requests.post(url + "/api/v3/session/login", data={"login": creds["login"], "password": creds["password"]}, timeout=5).json()
        assert requests.post(url + "/api/v3/study/count", data={"sid": sid["sid"]}, timeout=5).json()["count"] == 3000
    finally:
        stop(process)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the seeder through /proc")
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_a_server_stopped_while_it_seeds_apart_leaves_no_seeder_behind(tmp_path, monkeypatch, stop_with):
    # a million studies take most of a minute: stopping the server then must not leave the seeder (and the
    # processes it forks) writing the file for nobody
    monkeypatch.setenv("MEDIMOCK_HUGE_STUDIES", "1000000")
    command = [
        sys.executable,
        "-m",
        "mockserver",
        "--api",
        "ambra",
        "--profile",
        "huge",
        "--port",
        "0",
        "--db",
        str(tmp_path / "h.sqlite3"),
    ]
    # SIGINT as a terminal delivers it: a shell's background job (make test run with &) inherits it ignored
    restore = (lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if stop_with == signal.SIGINT else None
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    seeder = 0
    try:
        deadline = time.monotonic() + 60
        while not (seeders := _children(process.pid)) or not (tmp_path / "h.sqlite3").exists():
            assert process.poll() is None and time.monotonic() < deadline, "the seeder never started"
            time.sleep(0.05)
        seeder = seeders[0]
        assert os.getpgid(seeder) == seeder  # a group of its own, with the chunk renderers it forks
        process.send_signal(stop_with)
        _, err = process.communicate(timeout=30)
        assert process.returncode != 0 and "stopped while seeding" in err, err
        deadline = time.monotonic() + 10
        while _group_alive(seeder):
            assert time.monotonic() < deadline, "the seeder outlived the server"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for pid in [seeder] if seeder and _group_alive(seeder) else []:  # a failed run leaves nothing behind either
            os.killpg(pid, signal.SIGKILL)
