"""pytest plugin of ``medimock diff --scenario workflows``: every request the suite sends to A goes to B too.

Loaded in the child pytest (``-p medimock.diff.mirror``) with ``MEDIMOCK_DIFF_CONFIG`` naming the
diff's configuration. It wraps ``requests.adapters.HTTPAdapter.send``: a request to A's root is
sent to A as the suite asked (the suite sees A's reply only), then translated and sent to B by the
lockstep engine, and the pair compared (to each B, with several ``--b``). Calls of A's control API (``/__mock__/...``: simulated
uploads, credentials) are mirrored to B's when B is a medimock, for the identities only, not compared.
The step records are written as JSON when the session ends.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import requests.adapters

from .compare import Reply
from .engine import Exchange, Lockstep, StepRequest
from .report import result_record
from .setup import build_lockstep

_state: dict[str, Any] = {}
_local = threading.local()


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get("MEDIMOCK_DIFF_CONFIG")
    if not path:
        return
    with open(path) as handle:
        settings = json.load(handle)
    # one lockstep per B (several Bs: each with its own pairing), all fed A's very exchanges
    locksteps = [build_lockstep(each, reference_is_a=True) for each in settings.get("bs") or [settings]]
    _state.update(
        settings=settings,
        locksteps=locksteps,
        test="(set-up)",
        lock=threading.Lock(),
        original=requests.adapters.HTTPAdapter.send,
        pool=ThreadPoolExecutor(max_workers=min(16, len(locksteps)), thread_name_prefix="mirror"),
    )
    requests.adapters.HTTPAdapter.send = _send  # type: ignore[method-assign,assignment]


def pytest_runtest_setup(item: pytest.Item) -> None:
    _state["test"] = item.nodeid


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "locksteps" not in _state:
        return
    requests.adapters.HTTPAdapter.send = _state["original"]  # type: ignore[method-assign]
    _state["pool"].shutdown()
    runs = []
    for lockstep in _state["locksteps"]:
        records = [result_record(result) for result in lockstep.results]
        runs.append({"steps": records, "notes": [f"workflows: cleanup: {line}" for line in lockstep.cleanup_report()]})
    with open(_state["settings"]["out"], "w") as handle:
        json.dump({"runs": runs}, handle)


def _drain(side: Any) -> None:
    try:
        requests.post(side.control.rstrip("/") + "/__mock__/webhooks/drain", json={"timeout_seconds": 30}, timeout=40)
    except requests.RequestException:
        pass  # an older medimock B without the route: the race stays possible, nothing else changes


def _send(adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
    original = _state["original"]
    locksteps: list[Lockstep] = _state["locksteps"]
    root = locksteps[0].a.root.rstrip("/")
    url = request.url or ""
    if getattr(_local, "busy", False) or not (url == root or url.startswith(root + "/")):
        return original(adapter, request, *args, **kwargs)
    response = original(adapter, request, *args, **kwargs)
    _local.busy = True
    try:
        reply = Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)
        body = request.body.encode("utf-8") if isinstance(request.body, str) else (request.body or b"")
        if not isinstance(body, bytes):  # a streamed body: not mirrored
            return response
        step = StepRequest.from_url(request.method or "GET", url, root, dict(request.headers), body)
        control = step.path.startswith("/__mock__")
        exchange, test = Exchange(request, reply), _state["test"]

        def mirror(lockstep: Lockstep) -> None:
            _local.busy = True  # a worker's own requests (to A too, a fresh session) are not mirrored again
            if not (control and not lockstep.b.control):
                lockstep.step(copy.deepcopy(step), test, a_exchange=exchange, compared=not control)
            if control and lockstep.b.control and step.method != "GET":
                # A control call may queue a webhook (a simulated upload): B's is sent now, before the suite goes on
                # and closes its receiver once A's has come (else B's lands on a closed port: a race, not a difference)
                _drain(lockstep.b)

        with _state["lock"]:
            if len(locksteps) == 1:
                mirror(locksteps[0])
            else:  # the Bs are independent servers: each B's step at once
                list(_state["pool"].map(mirror, locksteps))
    finally:
        _local.busy = False
    return response
