"""Record through the proxy (the real CLI), replay with ``medimock serve --replay``; the replay layer's matching rules."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from medimock.target import EmbeddedMock
from mockserver.app import create_app
from mockserver.cli import main
from mockserver.config import MockConfig
from mockserver.pipeline import MockApp
from mockserver.replay import Replayer, ReplayError

CLARIUS = "/api/public/v0"


def start_cli_proxy(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "proxy", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    holder: list[str] = []
    reader = threading.Thread(target=lambda: holder.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(30)
    line = holder[0] if holder else ""
    if "listening on " not in line:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"the proxy did not start: {line!r} {err}")
    return process, line.split("listening on ", 1)[1].split()[0]


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=5)
    return err


def answer(response: requests.Response) -> tuple[int, str, Any]:
    return response.status_code, response.headers.get("Content-Type", ""), response.json() if response.content else None


def test_record_through_the_proxy_then_replay(upstream, tmp_path):
    recording, report = tmp_path / "clarius.jsonl", tmp_path / "report.md"
    process, url = start_cli_proxy(
        "--api", "clarius", "--upstream", upstream.base("clarius"), "--record", str(recording), "--report", str(report)
    )
    headers = {"Authorization": upstream.credentials["clarius"]["authorization"]}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{CLARIUS}/exams/accessible/?limit=2", {}),
        ("GET", f"{CLARIUS}/exams/accessible/?offset=2&limit=2", {}),
        ("GET", f"{CLARIUS}/services/settings/", {}),
        ("POST", f"{CLARIUS}/services/api-keys/", {"json": {"name": "recorded"}}),
        ("GET", f"{CLARIUS}/services/api-keys/", {}),
        ("DELETE", f"{CLARIUS}/services/api-keys/zzzzzzzz/", {}),
        ("GET", f"{CLARIUS}/exams/accessible/?limit=2", {}),
    ]
    try:
        recorded = [answer(requests.request(method, url + path, headers=headers, timeout=10, **extra)) for method, path, extra in calls]
    finally:
        err = stop(process)
    assert "report written" in err
    assert [status for status, _, _ in recorded] == [200, 200, 200, 201, 200, 404, 200]
    assert len(recording.read_text().splitlines()) == len(calls)
    assert "`createApiKey`" in report.read_text() and "7 requests" in report.read_text()
    assert oct(recording.stat().st_mode & 0o777) == "0o600"

    replay = EmbeddedMock(["--api", "clarius", "--replay", str(recording), "--replay-strict"], strict=False)
    replay_url = replay.start()
    try:
        replayed = []
        for method, path, extra in calls:  # no credentials: the replay answers as recorded
            response = requests.request(method, replay_url + path, timeout=10, **extra)
            assert response.headers["X-Medimock-Replay"] == "hit", (method, path, response.text)
            replayed.append(answer(response))
        missing = requests.get(replay_url + f"{CLARIUS}/exams/accessible/?limit=3", timeout=10)
        other_body = requests.post(replay_url + f"{CLARIUS}/services/api-keys/", json={"name": "other"}, timeout=10)
        journal = requests.get(replay_url + "/__mock__/requests", timeout=10).json()["results"]
    finally:
        replay.stop()
    created_key = recorded[3][2]["key"]
    recorded[3][2]["key"] = "[redacted]"  # the new key's secret never went into the recording
    assert replayed == recorded
    assert created_key != "[redacted]"
    assert (missing.status_code, missing.json()["error"], missing.headers["X-Medimock-Replay"]) == (404, "not_recorded", "miss")
    assert other_body.status_code == 404  # the body is part of the match
    assert [entry["detail"]["replay"] for entry in journal] == ["hit"] * len(calls) + ["miss", "miss"]
    assert journal[0]["operation_id"] == "pollExams"


def exchange(method: str, path: str, status: int, body: Any, *, query: str = "", request_body: Any = None) -> dict[str, Any]:
    return {
        "version": 1,
        "request": {
            "method": method,
            "path": path,
            "query": query,
            "headers": [["Content-Type", "application/json"]] if request_body is not None else [],
            "body": {"text": json.dumps(request_body)} if request_body is not None else None,
        },
        "response": {
            "status": status,
            "headers": [["Content-Type", "application/json"], ["X-Upstream", "yes"]],
            "body": {"text": json.dumps(body)},
        },
    }


def write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_replay_falls_back_to_the_mock_and_serves_repeats_in_order(tmp_path):
    recording = write(
        tmp_path / "r.jsonl",
        exchange("GET", f"{CLARIUS}/services/api-keys/", 200, ["first"]),
        exchange("GET", f"{CLARIUS}/services/api-keys/", 200, ["second"]),
        exchange("GET", f"{CLARIUS}/exams/accessible/", 200, {"page": "b=2"}, query="a=1&b=2&sid=%5Bredacted%5D"),
        exchange("POST", f"{CLARIUS}/services/api-keys/", 201, {"made": 1}, request_body={"name": "x", "tags": [1, 2]}),
    )
    mock = MockApp(MockConfig(apis=("clarius",), db=str(tmp_path / "m.sqlite3"), replay=str(recording), strict=True))
    try:
        client = create_app(mock=mock).test_client()
        bodies = [client.get(f"{CLARIUS}/services/api-keys/").get_json() for _ in range(3)]
        assert bodies == [["first"], ["second"], ["second"]]  # in recorded order; the last repeats
        # Query order does not matter, and a recorded redacted sid matches any sid.
        hit = client.get(f"{CLARIUS}/exams/accessible/?sid=whatever&b=2&a=1")
        assert hit.get_json() == {"page": "b=2"} and hit.headers["X-Medimock-Replay"] == "hit" and hit.headers["X-Upstream"] == "yes"
        # JSON bodies compare by value, not by bytes.
        assert (
            client.post(f"{CLARIUS}/services/api-keys/", data='{"tags": [1,2],  "name": "x"}', content_type="application/json").status_code
            == 201
        )
        # Anything else is the mock's: here a 401, as the mock wants credentials.
        fallback = client.post(f"{CLARIUS}/services/api-keys/", json={"name": "y"})
        assert fallback.status_code == 401 and "X-Medimock-Replay" not in fallback.headers
        assert client.get(f"{CLARIUS}/exams/applications/").status_code == 401
    finally:
        mock.close()
    ignoring = Replayer(recording, match_body=False)
    assert ignoring.exchanges == 4


def test_broken_recordings_are_refused_with_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(exchange("GET", "/a", 200, {})) + "\n\n{not json\n")
    with pytest.raises(ReplayError, match="line 3"):
        Replayer(bad)
    with pytest.raises(ReplayError, match="cannot read"):
        Replayer(tmp_path / "absent.jsonl")
    assert main(["serve", "--api", "clarius", "--port", "0", "--replay", str(bad)]) == 2
    assert "cannot replay" in capsys.readouterr().err


def test_proxy_command_line_errors(capsys):
    assert main(["proxy", "--api", "clarius", "--upstream", "ftp://example.org"]) == 2
    assert "http:// or https://" in capsys.readouterr().err
    assert main(["proxy", "--api", "clarius", "--upstream", "http://user:pw@example.org"]) == 2
    assert "must not hold credentials" in capsys.readouterr().err
    assert main(["proxy", "--api", "clarius", "--upstream", "http://127.0.0.1:9", "--workers", "2"]) == 2
    assert "--workers must be 1" in capsys.readouterr().err
