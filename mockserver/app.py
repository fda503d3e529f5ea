"""The Flask shell: WSGI in, ``MockRequest`` to the pipeline, ``MockResponse`` out.

Routes of its own: ``GET /`` (the front door, ``frontdoor.py``), ``/__mock__/...`` (control API),
``/specs/<api>.yaml``, ``/docs`` (Swagger UI from the ``swagger-ui-bundle`` package, no CDN). Every
other path goes to ``MockApp.handle``: straight from WSGI (``api_wsgi``), without
Flask's request context, URL map and response finalisation, which the profile showed
as a third of the mock's CPU per request; Flask serves its own routes only.
"""

from __future__ import annotations

import copy
import logging
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from flask import Flask, Response, abort, request
from werkzeug.exceptions import BadRequest, ClientDisconnected, InternalServerError, RequestEntityTooLarge
from werkzeug.wrappers import Request as WerkzeugRequest

from .config import MockConfig
from .control import ControlApi, control_error
from .faults import DropConnection
from .http import MockRequest, MockResponse, Problem, UploadedFile
from .pipeline import MockApp
from .seeded_examples import seeded
from .spec import available_specs, read_document

_YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_FLASK_PREFIXES = ("/__mock__", "/specs/", "/docs")  # Flask's own routes; every other path is an API's
log = logging.getLogger("medimock")


def create_app(config: MockConfig | None = None, mock: MockApp | None = None) -> Flask:
    """Build the WSGI app serving every configured API (see ``MockConfig``)."""
    mock = mock or MockApp(config or MockConfig())
    config = mock.config
    root = Path(__file__).resolve().parent  # explicit: editable installs hide the package path from Flask
    app = Flask("mockserver", static_folder=None, root_path=str(root), instance_path=str(root / "instance"))
    app.config["MAX_CONTENT_LENGTH"] = None  # the pipeline answers 413 in each API's dialect
    app.config["MAX_FORM_PARTS"] = 100_000
    app.extensions["medimock"] = mock
    control = ControlApi(mock)
    spec_cache: dict[tuple[str, str], bytes] = {}

    def serve_api(incoming: WerkzeugRequest) -> Response:
        try:
            mock_request = to_mock_request(incoming)
        except Problem as problem:
            api = mock.api_for_path(incoming.path)
            rendered = api.definition.dialect.render(problem) if api else control_error(problem)
            return to_flask_response(rendered)
        try:
            return to_flask_response(mock.handle(mock_request))
        except DropConnection:
            incoming.environ["medimock.connection_dropped"] = True  # for in-process callers (medimock.intercept), which have no socket
            drop_connection(incoming.environ)
            return Response(b"", status=500)

    def dispatch(path: str = "") -> Response:
        return serve_api(request)

    class ApiRequest(WerkzeugRequest):
        """A request outside Flask, with the limits Flask's request reads from the app's config."""

        max_content_length = app.config["MAX_CONTENT_LENGTH"]
        max_form_parts = app.config["MAX_FORM_PARTS"]
        max_form_memory_size = app.config.get("MAX_FORM_MEMORY_SIZE", WerkzeugRequest.max_form_memory_size)

    flask_wsgi = app.wsgi_app

    def api_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """WSGI entry: an API path goes to the pipeline directly; the control API, specs and docs to Flask."""
        path = environ.get("PATH_INFO", "")
        if path.startswith(_FLASK_PREFIXES) or (path == "/" and environ.get("REQUEST_METHOD") in ("GET", "HEAD")):
            return flask_wsgi(environ, start_response)
        try:
            response = serve_api(ApiRequest(environ))
        except Exception:
            if app.testing or app.config.get("PROPAGATE_EXCEPTIONS"):
                raise
            log.exception("unhandled error serving %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            response = InternalServerError().get_response(environ)  # type: ignore[assignment]
        return response(environ, start_response)

    app.wsgi_app = api_wsgi  # type: ignore[method-assign]

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
    app.add_url_rule("/", "dispatch_root", dispatch, methods=[m for m in methods if m not in ("GET", "HEAD")])  # GET /: the front door
    app.add_url_rule("/<path:path>", "dispatch", dispatch, methods=methods)

    if config.control:

        def control_endpoint(subpath: str = "") -> Response:
            try:
                mock_request = to_mock_request(request)
            except Problem as problem:
                return to_flask_response(control_error(problem))
            return to_flask_response(control.handle(mock_request, subpath))

        app.add_url_rule("/__mock__/", "control_root", control_endpoint, methods=methods)
        app.add_url_rule("/__mock__/<path:subpath>", "control", control_endpoint, methods=methods)

    @app.get("/specs/<name>.yaml")
    def spec_file(name: str) -> Response:
        """A spec as YAML; for an API this mock serves, with the mock listed as the first server and the
        mock's seeded values as examples (so "Try it out" in /docs finds data; ``medimock spec`` gives the file as written)."""
        api = mock.by_name.get(name)
        base = request.host_url.rstrip("/")
        key = (name, base if api else "")
        if key not in spec_cache:
            if api is not None:
                document: dict[str, Any] = dict(api.spec.document)
                servers = [{"url": base + api.definition.mount, "description": "this medimock server"}]
                document["servers"] = servers + list(document.get("servers") or [])
                document["components"] = _local_token_urls(document, base + api.definition.mount)
                if api.definition.docs_examples is not None:
                    document = seeded(document, api.definition.docs_examples(mock))
            elif name in available_specs():
                document = read_document(available_specs()[name])
            else:
                abort(404)
            spec_cache[key] = yaml.dump(document, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True).encode()
        return Response(spec_cache[key], mimetype="application/yaml")

    from .docs import register_docs

    register_docs(app, mock)
    return app


def _local_token_urls(document: dict[str, Any], api_base: str) -> dict[str, Any]:
    """OAuth2 ``tokenUrl``s pointed at this mock, so "Authorize" in /docs gets a token from it."""
    components = copy.deepcopy(document.get("components") or {})
    vendor = urlparse(((document.get("servers") or [{}])[-1]).get("url", "")).path.rstrip("/")
    for scheme in (components.get("securitySchemes") or {}).values():
        for flow in ((scheme or {}).get("flows") or {}).values():
            if isinstance(flow, dict) and flow.get("tokenUrl"):
                path = urlparse(flow["tokenUrl"]).path
                flow["tokenUrl"] = api_base + (path[len(vendor) :] if vendor and path.startswith(vendor) else path)
    return components


def to_mock_request(request: WerkzeugRequest) -> MockRequest:
    content_type = request.headers.get("Content-Type", "")
    base = content_type.split(";", 1)[0].strip().lower()
    try:
        body = request.get_data(cache=True)
        form = None
        files = None
        if base in _FORM_TYPES:
            form = list(request.form.items(multi=True))
            files = {
                key: UploadedFile(f.filename or "", f.mimetype or "application/octet-stream", f.read()) for key, f in request.files.items()
            }
    except RequestEntityTooLarge as exc:
        raise Problem("payload_too_large", 413, "Request body too large.") from exc
    except ClientDisconnected as exc:  # fewer bytes than Content-Length says, then the end of the stream
        raise Problem("malformed_body", 400, "The request body ended before the length its Content-Length gives.") from exc
    except BadRequest as exc:  # anything else Werkzeug cannot read as a request body
        raise Problem("malformed_body", 400, f"Malformed request body: {exc.description}") from exc
    except ValueError as exc:  # a broken multipart body
        raise Problem("malformed_body", 400, f"Malformed request body: {exc}.") from exc
    return MockRequest(
        method=request.method,
        path=request.path,
        query=list(request.args.items(multi=True)),
        headers=request.headers,  # type: ignore[arg-type]  # werkzeug Headers: a case-insensitive mapping
        body=body,
        content_type=content_type,
        base_url=f"{request.scheme}://{request.host}",  # not host_url: its IRI decoding costs ~0.1 ms a request
        form=form,
        files=files,
        remote_addr=request.remote_addr or "",
        query_string=request.query_string.decode("latin-1"),
    )


def to_flask_response(response: MockResponse) -> Response:
    flask_response = Response(response.encoded(), status=response.status, headers=response.headers)
    if response.content_type:
        flask_response.headers["Content-Type"] = response.content_type
    elif "Content-Type" in flask_response.headers and (response.status == 204 or not flask_response.content_length):
        del flask_response.headers["Content-Type"]  # no body, no media type (not Flask's default text/html)
    return flask_response


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client socket without an answer (werkzeug's and gunicorn's sockets)."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
