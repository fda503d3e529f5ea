"""A small client of the Clarius Cloud public API v0, written as an integrator would.

It polls the exams its customers uploaded, downloads each new one (the exam data, then
every capture: JPEG, PNG or MP4 bytes), confirms customers and uploads a report. It
speaks plain ``requests`` to ``https://cloud.clarius.com`` and knows nothing of
medimock: ``test_clarius_client.py`` tests it against the in-process mock (the
``medimock`` pytest fixture), with no server and no change to this code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_BASE_URL = "https://cloud.clarius.com"
API = "/api/public/v0"


class ClariusError(Exception):
    """An error answer of the API, with its Django REST framework detail."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"Clarius answered {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass
class Capture:
    url: str
    content_type: str
    data: bytes

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Exam:
    request_uuid: str
    exam_uuid: str
    customer_id: str
    submitted_at: str
    patient: dict[str, Any] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)


class ClariusClient:
    """``ClariusClient("<prefix>.<secret>")``; a 429 or 503 is retried (honouring ``Retry-After``)."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *, timeout: float = 10.0, retries: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Service-API-Key {api_key}"
        retry = Retry(total=retries, status_forcelist=(429, 503), backoff_factor=0.2, raise_on_status=False)  # idempotent methods only
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ClariusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------
    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if url.startswith("/"):
            url = self.base_url + url
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json()
            except ValueError:
                detail = response.text
            raise ClariusError(response.status_code, detail.get("detail", detail) if isinstance(detail, dict) else detail)
        return response

    # -- exams ----------------------------------------------------------------------------------
    def poll(self, customer_id: str | None = None, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every accessible exam download, newest first, following the ``next`` links."""
        params: dict[str, Any] | None = {"limit": page_size, **({"customer_id": customer_id} if customer_id else {})}
        url: str | None = f"{API}/exams/accessible/"
        while url:
            page = self._call("GET", url, params=params).json()
            yield from page["results"]
            url, params = page["next"], None  # the next link carries the query

    def download(self, item: dict[str, Any]) -> Exam:
        """An exam with its captures' bytes, from a poll result or a notification payload."""
        data = self._call("GET", item["download_url"]).json()
        exam = Exam(item["request_uuid"], item["exam_uuid"], item["customer_id"], item["submitted_at"], data.get("patient") or {})
        for capture in data["captures"]:
            reply = self._call("GET", capture["url"])
            exam.captures.append(Capture(capture["url"], reply.headers.get("Content-Type", ""), reply.content))
        return exam

    def upload_report(self, request_uuid: str, name: str, file_name: str, content: bytes, content_type: str = "application/pdf") -> Any:
        files = {"file": (file_name, content, content_type)}
        return self._call("POST", f"{API}/services/requests/{request_uuid}/reports/", data={"name": name}, files=files).json()

    # -- customers and settings -----------------------------------------------------------------
    def confirm_customer(self, token: str) -> None:
        self._call("POST", f"{API}/services/customer-confirmations/", json={"token": token})

    def confirmed_tokens(self) -> list[str]:
        tokens: list[str] = []
        url: str | None = f"{API}/services/confirmed-tokens/"
        while url:
            page = self._call("GET", url).json()
            tokens += page["results"]
            url = page["next"]
        return tokens

    def set_notification_url(self, url: str) -> dict[str, Any]:
        settings: dict[str, Any] = self._call("PATCH", f"{API}/services/settings/", json={"notification_url": url}).json()
        return settings


def sync(client: ClariusClient, seen: set[str], out_dir: Path, customer_id: str | None = None) -> list[Exam]:
    """Download every exam not seen yet into ``out_dir/<request_uuid>/`` and acknowledge it with a report."""
    new = []
    for item in client.poll(customer_id):
        if item["request_uuid"] in seen:
            continue
        exam = client.download(item)
        folder = out_dir / exam.request_uuid
        folder.mkdir(parents=True, exist_ok=True)
        for index, capture in enumerate(exam.captures, 1):
            (folder / f"{index:02d}-{capture.file_name}").write_bytes(capture.data)
        (folder / "patient.json").write_text(json.dumps(exam.patient, indent=2))
        summary = f"{len(exam.captures)} capture(s) received".encode()
        client.upload_report(exam.request_uuid, "Received", "receipt.txt", summary, "text/plain")
        seen.add(exam.request_uuid)
        new.append(exam)
    return new
