"""The validating proxy's WSGI shell: WSGI in, ``MockRequest`` to ``ValidatingProxy``, its answer out as is.

A plain WSGI callable rather than a Flask app: the proxy must send the upstream's status
line, headers and body untouched (Flask would add a default content type), and stream a
body too large to buffer. ``/__mock__/...`` is the proxy's own control API; every other
path goes to ``ValidatingProxy.handle``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Request

from .http import MockRequest, MockResponse, UploadedFile
from .proxy import ProxyResponse, ValidatingProxy, reason_phrase

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

StartResponse = Callable[..., Any]


class _Body:
    """The response body, with the WSGI ``close`` that finishes the exchange's bookkeeping."""

    def __init__(self, chunks: Iterable[bytes], on_close: Callable[[], None] | None) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


class ProxyWsgiApp:
    def __init__(self, proxy: ValidatingProxy) -> None:
        self.proxy = proxy
        limit = proxy.config.max_body_bytes

        class ProxyRequest(Request):
            max_content_length = limit
            max_form_memory_size = limit
            max_form_parts = 100_000

        self._request_class = ProxyRequest

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = self._request_class(environ)
        if request.path == "/__mock__" or request.path.startswith("/__mock__/"):
            if not self.proxy.config.control:
                return self._send(
                    start_response, MockResponse(404, {"error": "not_found", "detail": "The control API is off (--no-control)."})
                )
            mock_request, _, _, _ = self._mock_request(request)
            return self._send(start_response, self.proxy.control(mock_request, request.path[len("/__mock__") :]))
        mock_request, parse_error, too_large, incomplete = self._mock_request(request)
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        raw_path = urlsplit(raw_uri).path if raw_uri.startswith(("http://", "https://")) else raw_uri.partition("?")[0]
        answer: ProxyResponse = self.proxy.handle(
            mock_request, raw_path=raw_path or None, parse_error=parse_error, too_large=too_large, incomplete=incomplete
        )
        headers = answer.headers
        if not any(name.lower() == "date" for name, _ in headers):
            headers = [*headers, ("Date", formatdate(usegmt=True))]
        start_response(f"{answer.status} {answer.reason}".rstrip(), headers)
        return _Body(answer.body, answer.on_close)

    def _mock_request(self, request: Request) -> tuple[MockRequest, str | None, bool, bool]:
        """The request as the pipeline's type, why its form body does not parse (reported, not refused),
        whether the body is over the limit (then it is not read), and whether it ended before its length."""
        content_type = request.headers.get("Content-Type", "")
        base = content_type.split(";", 1)[0].strip().lower()
        parse_error = None
        form = None
        files = None
        incomplete = False
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            body, too_large = b"", True
        except BadRequest:  # ClientDisconnected: the body ended before its Content-Length
            body, too_large, incomplete = b"", False, True
        else:
            too_large = False
            if base in _FORM_TYPES:
                try:
                    form = list(request.form.items(multi=True))
                    files = {
                        key: UploadedFile(upload.filename or "", upload.mimetype or "application/octet-stream", upload.read())
                        for key, upload in request.files.items()
                    }
                except (ValueError, RequestEntityTooLarge) as exc:
                    parse_error = f"the {base} body does not parse: {exc}"
                    form, files = None, None
        mock_request = MockRequest(
            method=request.method,
            path=request.path,
            query=list(request.args.items(multi=True)),
            headers=request.headers,  # type: ignore[arg-type]  # werkzeug Headers: a case-insensitive mapping
            body=body,
            content_type=content_type,
            base_url=f"{request.scheme}://{request.host}",
            form=form,
            files=files,
            remote_addr=request.remote_addr or "",
            query_string=request.query_string.decode("latin-1"),
        )
        return mock_request, parse_error, too_large, incomplete

    @staticmethod
    def _send(start_response: StartResponse, response: MockResponse) -> Iterable[bytes]:
        body = response.encoded()
        headers = list(response.headers.items())
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        headers.append(("Content-Length", str(len(body))))
        headers.append(("Date", formatdate(usegmt=True)))
        start_response(f"{response.status} {reason_phrase(response.status)}".rstrip(), headers)
        return [body]
