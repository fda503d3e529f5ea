"""The validating proxy: forward every request to a real service, validate both directions against the spec.

``medimock proxy --api NAME --upstream URL`` serves the API at its medimock mount (Clarius and
tscharts at ``/``, Ambra at ``/api/v3``, radiology at ``/radiology``) and forwards each request to
``URL`` + the path below the mount, with its method, query, headers and body as they came (minus
hop-by-hop headers; ``Host`` becomes the upstream's). The answer goes back as the upstream gave it
(minus hop-by-hop headers, ``Content-Length`` recomputed). Nothing is ever blocked: a request that
breaks the spec is forwarded anyway, and what was wrong is recorded.

For every exchange:

1. **route** — the spec operation for the method and path; none is an ``undocumented_operation``.
2. **request** — ``validate_request`` (the mock's own validation, the same compiled validators)
   and whether credentials of a documented security scheme are present.
3. **forward** — the upstream answers; unreachable is a 502, a timeout a 504 (JSON, the proxy's
   own ``{"error": ..., "detail": ...}``, with ``X-Medimock-Proxy: error``).
4. **response** — ``check_response`` (what the mock's strict mode uses): status documented,
   content type documented, body against the schema; plus a documented body that is missing, and
   a 2xx to a request without credentials.
5. **journal, report, recording** — redacted (``mockserver/recording.py``): credential headers,
   cookies, credential query/form/JSON fields, and any secret value echoed in free text.

Steps 4 and 5 run once the answer has been sent (the WSGI ``close``), so validating a large body
adds no latency for the client; reading the journal or the report first waits for the exchanges
already answered (``settle``), so what a client sent is there when it looks.

Bodies are buffered to validate them, up to ``max_body_bytes`` (32 MiB by default). A larger
request is refused (413, not forwarded); a larger response is streamed through as it arrives,
with its status and content type checked but its body neither validated nor recorded.

This module imports no Flask; ``mockserver/proxy_app.py`` is its WSGI shell.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import SKIP_HEADER

from . import journal as journal_module
from .control import control_error, query_int
from .http import MockRequest, MockResponse, Problem, json_response, no_content
from .journal import Journal, JournalEntry
from .pipeline import check_response, load_api
from .proxy_report import ProxyReport
from .recording import RECORDING_VERSION, Redactor, decode_content, encode_body, encode_request_body, hop_by_hop, timestamp
from .router import Match, Router
from .spec import ApiSpec, Operation
from .store import Store
from .validation import validate_request

log = logging.getLogger("medimock.proxy")
_QUERY_IN_TEXT = re.compile(r"\?([^\s\"'<>]+)")


class RedactingLogFilter(logging.Filter):
    """Redacts credential values in the query strings of log messages (urllib3 logs each URL at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = _QUERY_IN_TEXT.sub(lambda match: "?" + Redactor().query(match.group(1)), message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Filter the loggers that see upstream URLs (once per process)."""
    for name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.connection", "urllib3.response", "medimock.proxy"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingLogFilter) for existing in logger.filters):
            logger.addFilter(RedactingLogFilter())


PROXY_HEADER = "X-Medimock-Proxy"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProxyConfig:
    api: str
    upstream: str  # the API's base URL on the real service (what medimock serves at the API's mount)
    host: str = "127.0.0.1"
    port: int = 8090
    record: str | None = None  # JSON lines of the exchanges, redacted
    report: str | None = None  # Markdown (HTML for .html, JSON for .json), written on shutdown and on GET /__mock__/proxy/report
    connect_timeout: float = 10.0
    timeout: float = 60.0  # seconds the upstream gets to answer (between bytes)
    max_body_bytes: int = 32 * 1024 * 1024  # larger requests are refused; larger responses are streamed, not validated
    max_query_params: int = 1000
    journal_size: int = 5000
    ca_bundle: str | None = None  # CA certificates for an https upstream (default: certifi's, else the system's)
    control: bool = True
    control_token: str | None = None


class ProxyConfigError(ValueError):
    """The proxy cannot start with this configuration."""


@dataclass
class ProxyResponse:
    """What the shell sends back: the status line, headers, and a body that may be streamed.

    ``on_close`` runs once the body has been sent, or the client went away (the WSGI ``close``).
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: Iterable[bytes]
    on_close: Callable[[], None] | None = None


class UpstreamFailure(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass
class _StreamProgress:
    sent: int
    done: bool = False
    error: str | None = None


@dataclass
class _Exchange:
    request: MockRequest
    started: float
    redactor: Redactor
    operation: Operation | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_credentials: bool = False


class ValidatingProxy:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        install_log_redaction()
        if config.api not in ("clarius", "tscharts", "radiology", "ambra"):
            raise ProxyConfigError(f"unknown API {config.api!r}")
        definition = load_api(config.api)
        if definition is None:
            raise ProxyConfigError(f"this build of medimock has no definition of {config.api}")
        self.spec = ApiSpec(config.api, definition.spec_file)
        self.mount = definition.mount.rstrip("/")
        self.router = Router(self.spec.operations, self.mount)
        self.schemes: dict[str, Any] = (self.spec.document.get("components") or {}).get("securitySchemes") or {}
        self.upstream_base, self.upstream_host = _parse_upstream(config.upstream)
        self.store = Store(None)
        self.store.register(journal_module.SCHEMA)
        self.store.initialise(0, "proxy")
        self.journal = Journal(self.store, config.journal_size)
        self.report = ProxyReport(self.spec, mount=self.mount, upstream=self.upstream_base)
        self.recorder = Recorder(config.record) if config.record else None
        self.pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=32,
            retries=False,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.timeout),
            **_tls_options(config.ca_bundle),
        )
        self._closing = self._closed = False
        self._lock = threading.Lock()
        self._checking = 0  # exchanges answered whose checks and journal entry are still to come
        self._settled = threading.Condition()

    # -- one exchange ---------------------------------------------------------------------
    def handle(
        self,
        request: MockRequest,
        *,
        raw_path: str | None = None,
        parse_error: str | None = None,
        too_large: bool = False,
        incomplete: bool = False,
    ) -> ProxyResponse:
        """Forward ``request`` and check both directions.

        ``raw_path`` is the path as sent (still percent-encoded); ``parse_error`` says why a form body
        did not parse; ``too_large`` that the body is over ``max_body_bytes`` and was not read;
        ``incomplete`` that the client's body ended before its Content-Length (nothing to forward).
        """
        exchange = _Exchange(request, time.perf_counter(), Redactor())
        exchange.redactor.request_secrets(request)
        if not self.router.owns(request.path):
            where = self.mount or "/"
            return self._local(
                exchange, 404, "outside_mount", f"This proxy serves {self.config.api} at {where}; {request.path} is outside it."
            )
        if too_large or len(request.body) > self.config.max_body_bytes:
            routed = self.router.match(request.method, request.path)
            exchange.operation = routed.operation
            return self._local(exchange, 413, "request_too_large", f"Request body exceeds {self.config.max_body_bytes} bytes (--max-body).")
        if incomplete:
            exchange.operation = self.router.match(request.method, request.path).operation
            return self._local(exchange, 400, "incomplete_request", "The request body ended before the length its Content-Length gives.")
        self._check_request(exchange, parse_error)
        try:
            upstream = self._forward(request, raw_path)
        except UpstreamFailure as failure:
            log.warning("upstream %s: %s %s: %s", self.upstream_host, request.method, request.path, failure.message)
            return self._local(exchange, failure.status, failure.kind, failure.message, upstream_error=True)
        try:
            buffered, complete = self._read_some(upstream)
        except UpstreamFailure as failure:
            upstream.close()  # half read: never back into the pool
            log.warning("upstream %s: %s %s: %s", self.upstream_host, request.method, request.path, failure.message)
            return self._local(exchange, failure.status, failure.kind, failure.message, upstream_error=True)
        status = upstream.status
        reason = upstream.reason or reason_phrase(status)
        upstream_headers = list(upstream.headers.items())
        drop = hop_by_hop(upstream_headers) | {"content-length"}
        headers = [(name, value) for name, value in upstream_headers if name.lower() not in drop]
        upstream_length = upstream.headers.get("Content-Length")
        if complete:
            upstream.release_conn()
            if request.method == "HEAD" or status in (204, 304) or status < 200:
                if upstream_length is not None:
                    headers.append(("Content-Length", upstream_length))
            else:
                headers.append(("Content-Length", str(len(buffered))))
            # The checks run once the answer is sent (the WSGI close), so they add no latency for the client.
            self._begin_checks()

            def finish() -> None:
                try:
                    self._finish(exchange, status, upstream_headers, buffered)
                finally:
                    self._end_checks()

            return ProxyResponse(status, reason, headers, [buffered], on_close=finish)
        # Larger than the buffer: stream the rest through; check what can be checked without the body.
        if upstream_length is not None:
            headers.append(("Content-Length", upstream_length))
        exchange.notes.append(f"response body larger than {self.config.max_body_bytes} bytes: streamed, not validated nor recorded")
        progress = _StreamProgress(len(buffered))
        self._begin_checks()

        def stream() -> Iterator[bytes]:
            yield buffered
            try:
                for chunk in upstream.stream(_CHUNK, decode_content=False):
                    progress.sent += len(chunk)
                    yield chunk
                progress.done = True
            except (HTTPError, OSError) as exc:  # the client sees a truncated body (its connection is closed)
                progress.error = f"the upstream failed mid-body: {_describe(exc)}"
                raise

        def close() -> None:
            try:
                if progress.done:
                    upstream.release_conn()
                else:  # the client went away, or the upstream failed: the connection is half read
                    upstream.close()
                    exchange.notes.append(progress.error or "the client closed the connection before the end of the body")
                self._finish(exchange, status, upstream_headers, None, streamed_bytes=progress.sent)
            finally:
                self._end_checks()

        return ProxyResponse(status, reason, headers, stream(), on_close=close)

    def _check_request(self, exchange: _Exchange, parse_error: str | None) -> None:
        request = exchange.request
        routed = self.router.match(request.method, request.path)
        if routed.match is Match.NONE:
            self._violation(exchange, "request", "undocumented_operation", f"the spec documents no operation at {request.path}")
            return
        if routed.match is Match.PARTIAL:
            allowed = ", ".join(m for m in routed.allowed if m != "OPTIONS")
            self._violation(
                exchange,
                "request",
                "undocumented_operation",
                f"{request.method} is not documented for {request.path} (documented: {allowed})",
            )
            return
        operation = routed.operation
        assert operation is not None and routed.path_params is not None
        exchange.operation = operation
        missing = self._missing_credentials(operation, request)
        if missing:
            exchange.missing_credentials = True
            self._violation(exchange, "request", "missing_credentials", missing)
        if parse_error:
            self._violation(exchange, "request", "malformed_body", parse_error)
            return
        try:
            validate_request(operation, request, routed.path_params, self.config.max_query_params)
        except Problem as problem:
            found = problem.extra.get("violations")
            if found:
                for violation in found:
                    self._violation(exchange, "request", "invalid_request", violation.message, field=violation.field, rule=violation.kind)
            else:
                kind = problem.kind if problem.kind in ("unsupported_media_type", "malformed_body") else "invalid_request"
                self._violation(exchange, "request", kind, problem.message)

    def _missing_credentials(self, operation: Operation, request: MockRequest) -> str | None:
        if not operation.security or any(not requirement for requirement in operation.security):
            return None
        for requirement in operation.security:
            if all(self._presented(self.schemes.get(name) or {}, request) for name in requirement):
                return None
        alternatives = " or ".join(" + ".join(requirement) for requirement in operation.security)
        return f"none of the credentials {operation.operation_id} requires were sent (security: {alternatives})"

    @staticmethod
    def _presented(scheme: dict[str, Any], request: MockRequest) -> bool:
        """Whether the request carries this scheme's credential at all (its validity is the upstream's business)."""
        kind = scheme.get("type")
        authorization = request.header("Authorization").strip().lower()
        if kind == "apiKey":
            name, where = str(scheme.get("name", "")), scheme.get("in")
            if where == "header":
                return bool(request.header(name).strip())
            if where == "query":  # Ambra's sid may come in a POST's form body too
                return any(key == name and value for key, value in [*request.query, *(request.form or [])])
            if where == "cookie":
                cookies = [part.strip().partition("=")[0] for part in request.header("Cookie").split(";")]
                return name in cookies
            return True
        if kind == "http":
            return authorization.startswith(str(scheme.get("scheme", "")).lower() + " ")
        if kind in ("oauth2", "openIdConnect"):
            return authorization.startswith("bearer ")
        return True  # a scheme this check does not know: do not guess

    # -- upstream -------------------------------------------------------------------------
    def upstream_url(self, request: MockRequest, raw_path: str | None = None) -> str:
        path = raw_path
        if not path or not (path == self.mount or path.startswith(self.mount + "/")):
            path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
        relative = path[len(self.mount) :]
        return self.upstream_base + relative + (f"?{request.query_string}" if request.query_string else "")

    def _forward(self, request: MockRequest, raw_path: str | None) -> Any:
        incoming = list(request.headers.items())
        drop = hop_by_hop(incoming) | {"host", "content-length", "expect"}
        headers = urllib3.HTTPHeaderDict()
        for name, value in incoming:
            if name.lower() not in drop:
                headers.add(name, value)
        headers["Host"] = self.upstream_host
        for name in ("User-Agent", "Accept-Encoding"):  # forward as is: do not let the client library add its own
            if name not in headers:
                headers[name] = SKIP_HEADER
        try:
            return self.pool.urlopen(
                request.method,
                self.upstream_url(request, raw_path),
                body=request.body or None,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except (HTTPError, OSError) as exc:
            raise _failure(exc) from exc

    def _read_some(self, upstream: Any) -> tuple[bytes, bool]:
        """Read the body up to the buffer limit: (what was read, whether that is all of it)."""
        limit = self.config.max_body_bytes
        buffered = bytearray()
        try:
            while len(buffered) <= limit:
                chunk = upstream.read(min(_CHUNK, limit + 1 - len(buffered)), decode_content=False)
                if not chunk:
                    return bytes(buffered), True
                buffered += chunk
        except (HTTPError, OSError) as exc:
            raise _failure(exc, mid_body=True) from exc
        return bytes(buffered), False

    # -- bookkeeping ----------------------------------------------------------------------
    def _begin_checks(self) -> None:
        with self._settled:
            self._checking += 1

    def _end_checks(self) -> None:
        with self._settled:
            self._checking -= 1
            if self._checking <= 0:
                self._settled.notify_all()

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every exchange already answered has been checked and journaled (reads of the journal,
        the report and shutdown do, so a client that reads them after its requests sees all of them)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._checking <= 0, timeout)

    def _violation(self, exchange: _Exchange, where: str, kind: str, message: str, *, field: str = "", rule: str = "") -> None:
        entry: dict[str, Any] = {"where": where, "kind": kind, "message": exchange.redactor.text(message)}
        if field:
            entry["field"] = field
        if rule:
            entry["rule"] = rule
        exchange.violations.append(entry)

    def _check_response(self, exchange: _Exchange, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        """The response against its operation: status, content type, body (``body`` None: streamed, not validated)."""
        operation = exchange.operation
        if operation is None:
            return
        request = exchange.request
        if exchange.missing_credentials and 200 <= status < 300:
            self._violation(
                exchange,
                "response",
                "auth_not_enforced",
                f"answered {status} to a request without the credentials {operation.operation_id} requires",
            )
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        spec = operation.response_for(status)
        if spec is None or (spec.content and body is None):  # the status, and for a streamed body the content type
            for violation in check_response(operation, MockResponse(status, None, content_type=content_type, raw=True)):
                self._violation(exchange, "response", violation.kind, violation.message)
            return
        if request.method == "HEAD" or status == 304 or body is None:
            return  # no body to check
        if not spec.content:
            if body:
                self._violation(
                    exchange,
                    "response",
                    "unexpected_body",
                    f"status {status} of {operation.operation_id} documents no body, but one was sent",
                )
            return
        if not body:
            documented = ", ".join(spec.content)
            self._violation(
                exchange,
                "response",
                "missing_body",
                f"status {status} of {operation.operation_id} documents a body ({documented}), but none was sent",
            )
            return
        wrong_type = check_response(operation, MockResponse(status, None, content_type=content_type, raw=True))
        if wrong_type:  # an undocumented content type: validating the body against another type's schema would be noise
            for violation in wrong_type:
                self._violation(exchange, "response", violation.kind, violation.message)
            return
        base = content_type.split(";", 1)[0].strip().lower()
        if not (base == "application/json" or base.endswith("+json")):
            return  # media (images, video, PDF...): the content type is what the spec can say of it
        encoding = next((value for name, value in headers if name.lower() == "content-encoding"), "")
        decoded = decode_content(body, encoding) if encoding else body
        if decoded is None:
            exchange.notes.append(f"Content-Encoding {encoding!r} cannot be decoded here: body not validated")
            return
        try:
            parsed = orjson.loads(decoded)
        except orjson.JSONDecodeError as exc:
            self._violation(exchange, "response", "malformed_response_body", f"the {base} body does not parse: {exc}")
            return
        for violation in check_response(operation, MockResponse(status, parsed, content_type=content_type)):
            self._violation(exchange, "response", violation.kind, violation.message, field=violation.field, rule=violation.rule)

    def _finish(
        self, exchange: _Exchange, status: int, upstream_headers: list[tuple[str, str]], body: bytes | None, *, streamed_bytes: int = 0
    ) -> None:
        """Check the response, then write the journal, the report and the recording (all redacted)."""
        try:
            self._check_response(exchange, status, upstream_headers, body)
        except Exception:  # a checker bug must never cost the client its answer
            log.exception("could not check the response of %s %s", exchange.request.method, exchange.request.path)
            exchange.notes.append("the response could not be checked (see the proxy's log)")
        detail: dict[str, Any] = {"upstream_status": status, "response_bytes": len(body) if body is not None else streamed_bytes}
        self._record_outcome(exchange, status, detail)
        if self.recorder is not None and not self._closed:
            try:
                self.recorder.write(self._recording(exchange, status, upstream_headers, body))
            except Exception:
                log.exception("could not write the recording")

    def _local(self, exchange: _Exchange, status: int, kind: str, message: str, *, upstream_error: bool = False) -> ProxyResponse:
        """An answer of the proxy itself (the upstream was not reached, or not asked)."""
        message = exchange.redactor.text(message)
        body = orjson.dumps({"error": kind, "detail": message, "upstream": self.upstream_base})
        detail: dict[str, Any] = {"proxy_error": kind, "message": message}
        self._record_outcome(exchange, status, detail, upstream_error=message if upstream_error else None)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), (PROXY_HEADER, "error")]
        return ProxyResponse(status, reason_phrase(status), headers, [body])

    def _record_outcome(self, exchange: _Exchange, status: int, detail: dict[str, Any], *, upstream_error: str | None = None) -> None:
        request = exchange.request
        query = exchange.redactor.query(request.query_string)
        detail["violations"] = exchange.violations
        if exchange.notes:
            detail["notes"] = [exchange.redactor.text(note) for note in exchange.notes]
        if self._closed:
            return
        try:
            self.journal.record(
                JournalEntry(
                    api=self.config.api,
                    operation_id=exchange.operation.operation_id if exchange.operation else None,
                    method=request.method,
                    path=request.path,
                    query=query,
                    status=status,
                    duration_ms=(time.perf_counter() - exchange.started) * 1000,
                    detail=detail,
                )
            )
        except Exception:
            log.exception("could not write the request journal")
        self.report.add(
            operation=exchange.operation,
            method=request.method,
            path=request.path,
            query=query,
            status=status,
            violations=exchange.violations,
            upstream_error=upstream_error,
        )

    def _recording(self, exchange: _Exchange, status: int, upstream_headers: list[tuple[str, str]], body: bytes | None) -> dict[str, Any]:
        request, redactor = exchange.request, exchange.redactor
        incoming = list(request.headers.items())
        drop = hop_by_hop(incoming) | {"host", "content-length"}
        request_headers = redactor.headers((name, value) for name, value in incoming if name.lower() not in drop)
        encoding = next((value for name, value in upstream_headers if name.lower() == "content-encoding"), "")
        response_body: dict[str, Any] | None
        if body is None:
            response_body = {"omitted": f"larger than {self.config.max_body_bytes} bytes (streamed)"}
        else:
            decoded = decode_content(body, encoding) if encoding else body
            content_type = next((value for name, value in upstream_headers if name.lower() == "content-type"), "")
            response_body = (
                encode_body(decoded, content_type, redactor)
                if decoded is not None
                else {"omitted": f"Content-Encoding {encoding!r} not decodable"}
            )
        drop_response = hop_by_hop(upstream_headers) | {"content-length", "content-encoding"}
        response_headers = redactor.headers((name, value) for name, value in upstream_headers if name.lower() not in drop_response)
        return {
            "version": RECORDING_VERSION,
            "time": timestamp(),
            "api": self.config.api,
            "operation_id": exchange.operation.operation_id if exchange.operation else None,
            "request": {
                "method": request.method,
                "path": request.path,
                "query": redactor.query(request.query_string),
                "headers": request_headers,
                "body": encode_request_body(request, redactor),
            },
            "response": {"status": status, "headers": response_headers, "body": response_body},
            "violations": exchange.violations,
        }

    # -- control API (/__mock__ on the proxy) ----------------------------------------------
    def control(self, request: MockRequest, subpath: str) -> MockResponse:
        token = self.config.control_token
        if token:
            import hmac

            presented = request.header("Authorization").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(presented.encode(), token.encode()):
                return control_error(Problem("unauthenticated", 401, "The control API needs 'Authorization: Bearer <control token>'."))
        path = "/" + subpath.strip("/")
        routes: dict[tuple[str, str], Callable[[MockRequest], MockResponse]] = {
            ("GET", "/health"): self._health,
            ("GET", "/requests"): self._requests,
            ("DELETE", "/requests"): self._clear_requests,
            ("GET", "/proxy/report"): self._report,
        }
        handler = routes.get((request.method, path))
        if handler is None:
            methods = sorted(m for (m, p) in routes if p == path)
            if methods:
                problem = Problem("method_not_allowed", 405, f"{request.method} is not allowed on /__mock__{path}.")
                problem.headers["Allow"] = ", ".join(methods)
                return control_error(problem)
            known = ", ".join(f"{m} /__mock__{p}" for m, p in routes)
            return control_error(Problem("not_found", 404, f"No control endpoint /__mock__{path} on the proxy; it has {known}."))
        try:
            return handler(request)
        except Problem as problem:
            return control_error(problem)

    def _health(self, request: MockRequest) -> MockResponse:
        self.settle()
        snapshot = self.report.snapshot()["totals"]
        return json_response(
            {
                "status": "ok",
                "mode": "proxy",
                "api": self.config.api,
                "mount": self.mount or "/",
                "upstream": self.upstream_base,
                "record": self.config.record,
                "report": self.config.report,
                "totals": snapshot,
            }
        )

    def _requests(self, request: MockRequest) -> MockResponse:
        self.settle()
        limit = query_int(request, "limit", 100, 1, self.config.journal_size)
        since_id = query_int(request, "since_id", 0, 0, 2**62)
        entries = self.journal.entries(api=dict(request.query).get("api"), limit=limit, since_id=since_id)
        for entry in entries:  # the mock's journal format, plus the violations at the top
            detail = entry.get("detail") or {}
            entry["violations"] = detail.pop("violations", [])
        return json_response({"count": len(entries), "results": entries})

    def _clear_requests(self, request: MockRequest) -> MockResponse:
        self.settle()  # an exchange answered before the clear is journaled before it, so the clear takes it too
        self.journal.clear()
        return no_content()

    def _report(self, request: MockRequest) -> MockResponse:
        fmt = dict(request.query).get("format", "markdown").lower()
        if fmt not in ("markdown", "md", "html", "json"):
            raise Problem("invalid_request", 400, "format must be markdown, html or json.")
        self.settle()
        self.write_report()
        if fmt == "json":
            return json_response(self.report.snapshot())
        text = self.report.render("html" if fmt == "html" else "markdown")
        content_type = "text/html; charset=utf-8" if fmt == "html" else "text/markdown; charset=utf-8"
        return MockResponse(200, text.encode("utf-8"), content_type=content_type, raw=True)

    # -- lifecycle ------------------------------------------------------------------------
    def write_report(self) -> str | None:
        if not self.config.report:
            return None
        try:
            return str(self.report.write(self.config.report))
        except OSError as exc:
            log.error("could not write the report to %s: %s", self.config.report, exc)
            return None

    def close(self) -> str | None:
        """Write the report, then close the recording, the journal and the connections. The report's path, when written."""
        with self._lock:
            if self._closing:
                return None
            self._closing = True
        self.settle(5.0)  # the exchanges already answered get into the report and the recording
        self._closed = True
        written = self.write_report()
        if self.recorder is not None:
            self.recorder.close()
        self.journal.close()
        self.store.close()
        self.pool.clear()
        return written


class Recorder:
    """Appends one JSON line per exchange (created 0600: recordings hold the upstream's data)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ProxyConfigError(f"cannot write the recording {path}: {exc.strerror or exc}") from exc
        self._file = os.fdopen(descriptor, "ab")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _parse_upstream(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProxyConfigError(f"--upstream must be an http:// or https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise ProxyConfigError("--upstream must not hold credentials; the client's requests carry them (and they are redacted)")
    if parts.query or parts.fragment:
        raise ProxyConfigError("--upstream must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ProxyConfigError(f"--upstream has an invalid port: {url!r}") from exc
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", parts.netloc


def _tls_options(ca_bundle: str | None) -> dict[str, Any]:
    if ca_bundle:
        if not os.path.isfile(ca_bundle):
            raise ProxyConfigError(f"--ca-bundle {ca_bundle}: no such file")
        return {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_bundle}
    try:
        import certifi

        return {"cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where()}
    except ImportError:  # pragma: no cover - certifi comes with requests
        return {"cert_reqs": "CERT_REQUIRED"}


def _failure(exc: BaseException, *, mid_body: bool = False) -> UpstreamFailure:
    description = _describe(exc)
    if isinstance(exc, (ReadTimeoutError, TimeoutError)) or (
        isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError)
    ):
        return UpstreamFailure(504, "upstream_timeout", f"The upstream did not answer in time: {description}.")
    prefix = "The upstream failed while sending its body" if mid_body else "The upstream is unreachable"
    return UpstreamFailure(502, "upstream_unreachable", f"{prefix}: {description}.")


def _describe(exc: BaseException) -> str:
    """A short reason that names no URL (URLs may carry credentials in their query)."""
    if isinstance(exc, NameResolutionError):
        return "its host name does not resolve"
    if isinstance(exc, NewConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection refused"
        return "cannot connect (" + str(exc).rsplit(":", 1)[-1].strip() + ")"
    if isinstance(exc, ConnectTimeoutError):
        return "connecting timed out"
    if isinstance(exc, (ReadTimeoutError, TimeoutError)):
        return "reading timed out"
    if isinstance(exc, SSLError):
        return "TLS failed (" + str(exc).rsplit(":", 1)[-1].strip().rstrip(")") + ")"
    if isinstance(exc, ProtocolError):
        return "the connection broke (" + type(exc.args[1] if len(exc.args) > 1 else exc).__name__ + ")"
    return type(exc).__name__


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
