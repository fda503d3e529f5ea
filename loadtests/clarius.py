"""Clarius load scenario: poll every page, download each request, fetch its captures.

    make load API=clarius TARGET=http://127.0.0.1:8080 USERS=20 DURATION=1m

The key comes from CLARIUS_API_KEY, or from the target's /__mock__/credentials.
Requests are grouped by name so ids do not explode the statistics.
"""

from __future__ import annotations

import os

import requests
from locust import HttpUser, between, task

_KEYS: dict[str, str] = {}


def clarius_key(host: str) -> str:
    """CLARIUS_API_KEY, or the seeded key of a medimock target (looked up once per host and process).

    Looked up when a user starts, not at import: a distributed worker learns the host
    from the master only when the run begins.
    """
    if os.environ.get("CLARIUS_API_KEY"):
        return os.environ["CLARIUS_API_KEY"]
    if host not in _KEYS:
        try:
            _KEYS[host] = requests.get(host.rstrip("/") + "/__mock__/credentials", timeout=10).json()["clarius"]["api_key"]
        except (requests.RequestException, ValueError, KeyError):
            _KEYS[host] = ""
    return _KEYS[host]


class ClariusIntegrator(HttpUser):
    """An integrator's poller: walks the poll pages, downloads every submission and its media."""

    wait_time = between(0.0, 0.2)
    page_size = int(os.environ.get("CLARIUS_POLL_LIMIT", "100"))
    max_downloads_per_round = int(os.environ.get("CLARIUS_DOWNLOADS_PER_ROUND", "20"))

    def on_start(self) -> None:
        key = clarius_key(self.host or "")
        if not key:
            raise RuntimeError("no Clarius key: set CLARIUS_API_KEY or point the test at a medimock target")
        self.client.headers["Authorization"] = f"Service-API-Key {key}"

    @task
    def poll_and_download(self) -> None:
        url: str | None = f"/api/public/v0/exams/accessible/?limit={self.page_size}"
        downloads: list[str] = []
        while url:
            with self.client.get(url, name="poll /exams/accessible/", catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"poll: {response.status_code}")
                    return
                page = response.json()
                if not isinstance(page.get("results"), list) or "count" not in page:
                    response.failure("poll: not a page")
                    return
            downloads.extend(item["download_url"] for item in page["results"])
            url = page["next"]
        for download_url in downloads[: self.max_downloads_per_round]:
            with self.client.get(download_url, name="download /exams/download-requests/[uuid]/data/", catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"download: {response.status_code}")
                    continue
                captures = response.json().get("captures") or []
            for capture in captures:
                with self.client.get(
                    capture["url"], name="capture /media/clarius/captures/[uuid]/[file]", catch_response=True, headers={"Authorization": ""}
                ) as media:
                    if media.status_code != 200 or not media.content:
                        media.failure(f"capture: {media.status_code}")
