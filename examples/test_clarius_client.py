"""Tests of ``clarius_client.py`` against medimock in process: the ``medimock`` fixture.

With medimock installed, the fixture is there (a pytest plugin): each test gets the
Clarius API on ``https://cloud.clarius.com`` as just started — 135 seeded exam downloads,
12 customers, the real media files — and whatever the test does stays within it.
``medimock.credentials`` holds the seeded key; ``medimock.control`` drives the mock
(simulate an upload, inject faults, read the journal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from clarius_client import ClariusClient, ClariusError, sync

MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


@pytest.fixture
def client(medimock) -> Iterator[ClariusClient]:
    with ClariusClient(medimock.credentials["clarius"]["api_key"]) as client:
        yield client


def test_poll_walks_every_page(client):
    downloads = list(client.poll(page_size=40))
    assert len(downloads) == 135  # the seeded fixtures
    assert len({d["request_uuid"] for d in downloads}) == 135
    assert [d["submitted_at"] for d in downloads] == sorted((d["submitted_at"] for d in downloads), reverse=True)


def test_download_fetches_real_media(client):
    exam = client.download(next(client.poll()))
    assert exam.captures
    for capture in exam.captures:
        if capture.content_type in MAGIC:
            assert capture.data.startswith(MAGIC[capture.content_type])
        else:
            assert capture.content_type == "video/mp4" and capture.data[4:8] == b"ftyp"


def test_notified_upload_is_downloaded_and_acknowledged(client, medimock, tmp_path):
    inbox = medimock.receive_webhooks("https://integrator.example/clarius/notify")
    client.set_notification_url(inbox.url)
    customer = medimock.credentials["clarius"]["confirmed_customer_tokens"][0]
    medimock.control.clarius_upload(customer_id=customer, captures=3)

    notification = inbox.wait()[0].json()  # sent from a background thread
    assert notification["customer_id"] == customer
    new = sync(client, {d["request_uuid"] for d in client.poll() if d["request_uuid"] != notification["request_uuid"]}, tmp_path)

    assert [exam.request_uuid for exam in new] == [notification["request_uuid"]]
    saved = sorted(path.name for path in (tmp_path / notification["request_uuid"]).iterdir())
    assert saved == ["01-capture.jpg", "02-capture.png", "03-clip.mp4", "patient.json"]
    (report,) = medimock.control.clarius_reports(notification["request_uuid"])
    assert report["sha256"] == hashlib.sha256(b"3 capture(s) received").hexdigest()


def test_sync_is_incremental(client, tmp_path: Path, medimock):
    customer = medimock.credentials["clarius"]["confirmed_customer_tokens"][1]
    seen: set[str] = set()
    first = sync(client, seen, tmp_path, customer_id=customer)
    assert first and {e.customer_id for e in first} == {customer}
    assert sync(client, seen, tmp_path, customer_id=customer) == []  # state persists within the test


def test_confirming_a_customer(client, medimock):
    token = medimock.credentials["clarius"]["unconfirmed_customer_tokens"][0]
    assert token not in client.confirmed_tokens()
    client.confirm_customer(token)
    assert token in client.confirmed_tokens()


def test_each_test_starts_from_the_seeded_state(client, medimock):
    token = medimock.credentials["clarius"]["unconfirmed_customer_tokens"][0]
    assert token not in client.confirmed_tokens()  # confirmed by the previous test, not here


def test_errors_come_back_in_the_api_dialect(client, medimock):
    with pytest.raises(ClariusError) as unknown:
        client.confirm_customer("no-such-customer")
    assert (unknown.value.status, unknown.value.detail) == (404, "Not found.")
    with ClariusClient("abcd1234.wrong") as stranger, pytest.raises(ClariusError) as refused:
        next(stranger.poll())
    assert (refused.value.status, refused.value.detail) == (401, "Invalid API key.")


def test_a_503_is_retried(client, medimock):
    medimock.control.add_fault(api="clarius", operation_id="pollExams", status=503, times=1)
    assert len(list(client.poll(page_size=100))) == 135
    statuses = [entry["status"] for entry in medimock.control.journal(api="clarius")]
    assert statuses == [503, 200, 200]
