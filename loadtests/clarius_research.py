"""Clarius Research API load scenario: a token once, then raw data and DICOM downloads of a set of exams.

    make load API=clarius-research TARGET=http://127.0.0.1:8080 USERS=10 DURATION=1m

A research user (CLARIUS_RESEARCH_USERNAME/CLARIUS_RESEARCH_PASSWORD, or the seeded researcher
of a medimock target's /__mock__/credentials) gets a token once per Locust process
(``token-auth``); the exams are CLARIUS_RESEARCH_EXAM_IDS (comma-separated), or those the
seeded researcher may read. Each round of a user, for up to CLARIUS_RESEARCH_EXAMS_PER_ROUND
(default 3) exams of the set, in turn:

* ``rawdata /exams/rawdata/[id]`` — the raw data: a JSON list of captures, each with
  ``capture_uuid``, ``blob`` (a JSON document in a string) and ``raw_image``;
* ``raw_image [link]`` — the first capture's raw image (a non-empty download);
* ``dicom /exams/dicom/[id]`` — a DICOM request (CLARIUS_RESEARCH_RESOLUTION, default 640x480;
  CLARIUS_RESEARCH_SYNTAX, default the document's; demographics and scan parameters shown);
* ``dicom download [link]`` — its ``download_url``: a DICOM Part 10 file or a ZIP of them, one
  per capture of the raw data (checked without decoding the pixels).

Any other status, a reply of another shape, or a download that holds no DICOM is a failure.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any

import gevent.lock
import requests
from locust import HttpUser, between, task

API = "/api/public/v0"
PREAMBLE = 128

_LOCK = gevent.lock.Semaphore()
_TOKENS: dict[str, str] = {}  # host -> the research token of this process
_EXAMS: dict[str, list[str]] = {}


def research_account(host: str) -> tuple[str, str, list[str]]:
    """(username, password, exam ids): from the environment, or a medimock target's seeded researcher."""
    exams = [part for part in os.environ.get("CLARIUS_RESEARCH_EXAM_IDS", "").replace(" ", "").split(",") if part]
    if os.environ.get("CLARIUS_RESEARCH_USERNAME"):
        return os.environ["CLARIUS_RESEARCH_USERNAME"], os.environ.get("CLARIUS_RESEARCH_PASSWORD", ""), exams
    try:
        found = requests.get(host.rstrip("/") + "/__mock__/credentials", timeout=30).json()["clarius"]
        user = next(u for u in found["research_users"] if u["username"] == found["research_username"])
        return str(found["research_username"]), str(found["research_password"]), exams or [str(i) for i in user["exam_ids"]]
    except (requests.RequestException, ValueError, KeyError, TypeError, StopIteration):
        return "", "", exams


def reply(response: Any) -> Any:
    """The JSON of a 200 reply (None otherwise, or when it is not JSON)."""
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def holds_dicom(data: bytes) -> int:
    """How many DICOM Part 10 files a download holds (itself, or the members of a ZIP)."""
    if data[PREAMBLE : PREAMBLE + 4] == b"DICM":
        return 1
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(archive.open(name).read(PREAMBLE + 4)[PREAMBLE:] == b"DICM" for name in archive.namelist())
    except zipfile.BadZipFile:
        return 0


class ClariusResearcher(HttpUser):
    """A researcher's tool: raw data and DICOM of each exam of a study, over and over."""

    wait_time = between(0.0, 0.2)
    per_round = int(os.environ.get("CLARIUS_RESEARCH_EXAMS_PER_ROUND", "3"))
    dicom_options: dict[str, Any] = {
        "resolution": os.environ.get("CLARIUS_RESEARCH_RESOLUTION", "640x480"),
        "include_demographics": True,
        "include_scan_parameters": True,
        **({"syntax": os.environ["CLARIUS_RESEARCH_SYNTAX"]} if os.environ.get("CLARIUS_RESEARCH_SYNTAX") else {}),
    }

    def on_start(self) -> None:
        host = self.host or ""
        with _LOCK:  # one login per process: the token is the user's, whoever asks
            if host not in _TOKENS:
                username, password, exams = research_account(host)
                if not username or not exams:
                    raise RuntimeError("no research user or exams: set CLARIUS_RESEARCH_USERNAME/PASSWORD/EXAM_IDS or target a medimock")
                with self.client.post(
                    f"{API}/token-auth/", json={"username": username, "password": password}, name="token-auth", catch_response=True
                ) as response:
                    found = reply(response)
                    token = found.get("token") if isinstance(found, dict) else None
                    if not isinstance(token, str) or not token:
                        response.failure(f"token-auth: {response.status_code}")
                        raise RuntimeError(f"token-auth answered {response.status_code}")
                _TOKENS[host], _EXAMS[host] = token, exams
        self.client.headers["Authorization"] = f"Token {_TOKENS[host]}"
        self.exams = _EXAMS[host]
        self.next = 0

    @task
    def research_round(self) -> None:
        for _ in range(min(self.per_round, len(self.exams))):
            exam_id = self.exams[self.next % len(self.exams)]
            self.next += 1
            captures = self.raw_data(exam_id)
            if captures is not None:
                self.dicom(exam_id, captures)

    def raw_data(self, exam_id: str) -> list[str] | None:
        with self.client.get(f"{API}/exams/rawdata/{exam_id}", name="rawdata /exams/rawdata/[id]", catch_response=True) as response:
            body = reply(response)
            fields = {"capture_uuid", "blob", "raw_image"}
            if not isinstance(body, list) or not body or not all(isinstance(i, dict) and fields <= set(i) for i in body):
                response.failure(f"rawdata {exam_id}: {response.status_code}, not a list of captures")
                return None
        with self.client.get(body[0]["raw_image"], name="raw_image [link]", catch_response=True, headers={"Authorization": ""}) as image:
            if image.status_code != 200 or not image.content:
                image.failure(f"raw_image: {image.status_code}")
        return [str(item["capture_uuid"]) for item in body]

    def dicom(self, exam_id: str, captures: list[str]) -> None:
        with self.client.post(
            f"{API}/exams/dicom/{exam_id}", json=self.dicom_options, name="dicom /exams/dicom/[id]", catch_response=True
        ) as response:
            found = reply(response)
            url = found.get("download_url") if isinstance(found, dict) else None
            if not isinstance(url, str):
                response.failure(f"dicom {exam_id}: {response.status_code}, no download_url")
                return
        with self.client.get(url, name="dicom download [link]", catch_response=True, headers={"Authorization": ""}) as download:
            files = holds_dicom(download.content) if download.status_code == 200 else 0
            if files != len(captures):
                download.failure(
                    f"dicom download of exam {exam_id}: {download.status_code}, {files} DICOM file(s) for {len(captures)} captures"
                )
