"""Outgoing webhooks, sent from a background thread with a bounded timeout.

The request that triggers a webhook returns at once; the delivery happens on a
small thread pool, and its outcome (response or error, and the times) is handed
to a callback that writes it to the shared store, so any worker can list it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

log = logging.getLogger("medimock.webhooks")


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


@dataclass(frozen=True)
class DeliveryResult:
    delivery: Delivery
    sent_at: datetime
    finished_at: datetime
    status_code: int | None
    response_body: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def utcnow() -> datetime:
    return datetime.now(UTC)


class InjectedFault(Exception):
    """A fault rule for webhooks failed this delivery on purpose."""


def describe_error(exc: BaseException) -> str:
    """The short error texts a webhook record shows ("timed out", "connection refused")."""
    if isinstance(exc, InjectedFault):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection refused"
        if "name or service not known" in text or "nodename nor servname" in text or "failed to resolve" in text:
            return "name resolution failed"
        return "connection error"
    return f"{type(exc).__name__}: {exc}"


class WebhookSender:
    def __init__(self, timeout: float, workers: int = 4) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="medimock-webhook")
        self._session = requests.Session()
        self._pending: set[Future[DeliveryResult]] = set()
        self._pending_lock = threading.Lock()

    def submit(self, delivery: Delivery, on_done: Callable[[DeliveryResult], Any], fault: Any = None) -> Future[DeliveryResult]:
        """Send in the background. ``fault`` (a ``FaultDecision``) delays the call, or fails it without sending."""
        future = self._pool.submit(self._deliver, delivery, on_done, fault)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[DeliveryResult]) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every delivery submitted so far (queued or under way) is finished and recorded.
        False when some are still running after ``timeout`` seconds."""
        with self._pending_lock:
            pending = list(self._pending)
        return not wait(pending, timeout).not_done

    def _deliver(self, delivery: Delivery, on_done: Callable[[DeliveryResult], Any], fault: Any = None) -> DeliveryResult:
        if fault is not None and fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        sent_at = utcnow()
        status_code = None
        response_body = None
        error = None
        started = time.monotonic()
        try:
            if fault is not None and (fault.status or fault.drop or fault.stall_ms):
                if fault.stall_ms:
                    time.sleep(min(fault.stall_ms / 1000, self.timeout))
                raise InjectedFault(f"injected fault ({fault.describe()}): not sent")
            response = requests.request(
                delivery.method,
                delivery.url,
                data=delivery.body,
                headers=delivery.headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
            status_code = response.status_code
            response_body = response.text[:10_000]
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes the thread
            error = describe_error(exc)
        result = DeliveryResult(delivery, sent_at, utcnow(), status_code, response_body, error)
        log.info("webhook %s %s -> %s (%.0f ms)", delivery.method, delivery.url, status_code or error, (time.monotonic() - started) * 1000)
        try:
            on_done(result)
        except Exception:
            log.exception("recording a webhook delivery failed")
        return result

    def shutdown(self) -> None:
        """Cancel queued deliveries and wait for those under way (bounded by the timeout), so none
        writes its record into a store that is closing."""
        self._pool.shutdown(wait=True, cancel_futures=True)
