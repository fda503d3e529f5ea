"""Serve a recording back: the replay stage of the mock's pipeline (``medimock serve --replay FILE``).

A request matches a recorded exchange with the same method, path and query (compared
after redaction and regardless of parameter order, so a recorded ``sid=[redacted]``
matches any sid) and, unless ``--replay-ignore-body``, the same body (JSON and forms
compared by value, multipart by fields and file digests). When several recorded exchanges
match (the same call made several times, e.g. a list before and after a create), they are
served in recorded order, and the last one keeps answering once they are used up.

A request that matches nothing goes on through the normal mock pipeline, or, with
``--replay-strict``, is answered 404 ``{"error": "not_recorded", ...}``. Every replayed
answer carries ``X-Medimock-Replay: hit`` (a strict miss ``miss``), and the journal marks it.

The order of answers is kept per process: with ``--workers N`` each worker has its own
cursors, so serve a recording of a stateful sequence with one worker.

This module imports no Flask.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .http import MockRequest, MockResponse
from .recording import HOP_BY_HOP, RECORDING_VERSION, Redactor, body_bytes, body_key, encode_request_body, query_key

REPLAY_HEADER = "X-Medimock-Replay"
# Headers the replaying server sets itself.
_NOT_REPLAYED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server", "content-type"}


class ReplayError(ValueError):
    """The recording cannot be served (unreadable, not JSON lines, not a medimock recording)."""


@dataclass(frozen=True)
class RecordedExchange:
    line: int
    method: str
    path: str
    query: str  # canonical (see recording.query_key)
    body: str  # canonical (see recording.body_key)
    status: int
    headers: tuple[tuple[str, str], ...]
    content_type: str
    data: bytes

    def response(self) -> MockResponse:
        headers = {name: value for name, value in self.headers if name.lower() not in _NOT_REPLAYED}
        headers[REPLAY_HEADER] = "hit"
        return MockResponse(self.status, self.data, headers=headers, content_type=self.content_type, raw=True)


class Replayer:
    def __init__(self, path: str | Path, *, strict: bool = False, match_body: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.match_body = match_body
        self.skipped: list[str] = []  # exchanges that cannot be served, with why
        self._by_request: dict[tuple[str, str, str], list[RecordedExchange]] = {}
        self._served: dict[tuple[int, ...], int] = {}
        self._lock = threading.Lock()
        self.exchanges = 0
        for exchange in self._load():
            self._by_request.setdefault((exchange.method, exchange.path, exchange.query), []).append(exchange)
            self.exchanges += 1

    def _load(self) -> list[RecordedExchange]:
        try:
            lines = self.path.read_bytes().splitlines()
        except OSError as exc:
            raise ReplayError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        out = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
                exchange = self._exchange(number, record)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ReplayError(f"{self.path}, line {number}: not a medimock recording line ({type(exc).__name__}: {exc})") from exc
            if exchange is not None:
                out.append(exchange)
        return out

    def _exchange(self, number: int, record: Any) -> RecordedExchange | None:
        if not isinstance(record, dict) or not isinstance(record.get("request"), dict) or not isinstance(record.get("response"), dict):
            raise ValueError("expected an object with 'request' and 'response'")
        if int(record.get("version", 0)) > RECORDING_VERSION:
            raise ValueError(f"recording version {record['version']} is newer than this medimock reads ({RECORDING_VERSION})")
        request, response = record["request"], record["response"]
        request_headers = [(str(k), str(v)) for k, v in request.get("headers") or []]
        response_headers = tuple((str(k), str(v)) for k, v in response.get("headers") or [])
        request_type = next((v for k, v in request_headers if k.lower() == "content-type"), "")
        data = body_bytes(response.get("body"))
        if data is None:
            self.skipped.append(
                f"line {number}: {request['method']} {request['path']}: response body not recorded ({response['body'].get('omitted', '')})"
            )
            return None
        return RecordedExchange(
            line=number,
            method=str(request["method"]).upper(),
            path=str(request["path"]),
            query=query_key(str(request.get("query") or "")),
            body=body_key(request.get("body"), request_type),
            status=int(response["status"]),
            headers=response_headers,
            content_type=next((v for k, v in response_headers if k.lower() == "content-type"), ""),
            data=data,
        )

    def answer(self, request: MockRequest) -> tuple[MockResponse, dict[str, Any]] | None:
        """The recorded answer to ``request`` and a journal note; None to let the mock answer."""
        redactor = Redactor()
        key = (request.method.upper(), request.path, query_key(redactor.query(request.query_string)))
        candidates = self._by_request.get(key, [])
        if candidates and self.match_body:
            wanted = body_key(encode_request_body(request, redactor), request.content_type)
            candidates = [exchange for exchange in candidates if exchange.body == wanted]
        if not candidates:
            if not self.strict:
                return None
            compared = "method, path, query and body" if self.match_body else "method, path and query"
            detail = f"No recorded exchange matches {request.method} {request.path} ({compared} compared; replay strict mode)."
            return (
                MockResponse(404, {"error": "not_recorded", "detail": detail}, headers={REPLAY_HEADER: "miss"}),
                {"replay": "miss"},
            )
        with self._lock:
            group = tuple(exchange.line for exchange in candidates)
            index = self._served.get(group, 0)
            self._served[group] = index + 1
        exchange = candidates[min(index, len(candidates) - 1)]
        return exchange.response(), {"replay": "hit", "recording_line": exchange.line}
