"""The mock in the same process as a Python client: ``medimock.intercept()``.

While it is active, every ``requests`` call to one of the APIs' hosts is answered by
the mock, in process, through the ``responses`` library: the same Flask app, pipeline,
store, faults and journal as ``medimock serve``, without a port or a subprocess::

    import medimock
    import requests

    with medimock.intercept() as mock:
        key = mock.credentials["clarius"]["authorization"]
        page = requests.get(
            "https://cloud.clarius.com/api/public/v0/exams/accessible/", headers={"Authorization": key}, timeout=10
        ).json()

Hosts (``hosts=`` overrides any of them; a bare host keeps the vendor's layout, a URL
is the API's base URL exactly as a client is configured with it):

    clarius    https://cloud.clarius.com              the vendor's host
    tscharts   http://tscharts.medimock.local         self-hosted; its document only shows 127.0.0.1:8000
    radiology  https://api.radiology-vendor.example   the spec's placeholder (paths at the root: /status, /oauth2/token)
    ambra      https://access.ambrahealth.com/api/v3  Ambra production (and https://uat.dicomgrid.com/api/v3,
                                                      the UAT host of the document's example)
    control    http://medimock.local                  every API at medimock's mounts, /__mock__, /specs, /docs:
                                                      exactly what ``medimock serve`` answers on its port

Any scheme and any path of those hosts is intercepted; a host bound to APIs answers
only their paths (anything else is a 404 in the API's dialect). A request to any other
host raises ``requests.ConnectionError`` unless ``passthrough`` lets it through to the
network (``True``: everything; or URL prefixes / compiled regexes).

``responses`` patches ``requests`` for the whole process, every thread included: the
mock's own webhooks (Clarius notifications) go through it too, so a
``notification_url`` must be a URL the test can receive in process
(``mock.receive_webhooks(url)``, or a stub added to ``mock.responses``), or be let
through ``passthrough`` (a receiver the test runs on a loopback port); otherwise the
delivery fails and the notification record says "connection refused", as it would
for a closed port. Leaving the context waits for the deliveries under way, then
unpatches ``requests``, then (when it built the mock) closes it and removes its
temporary database.

Only one intercept is active at a time in a process (a second, nested or in another
thread, raises ``InterceptError``), and none while something else patches
``requests`` (another ``responses`` mock or ``requests-mock``): add such stubs to
``mock.responses`` instead.
"""

from __future__ import annotations

import copy
import email.utils
import http.client
import io
import itertools
import json
import re
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

import requests
import responses
from urllib3.exceptions import ProtocolError

if TYPE_CHECKING:
    from flask import Flask

    from mockserver.pipeline import MockApp

__all__ = [
    "CONTROL_HOST",
    "DEFAULT_HOSTS",
    "Control",
    "ControlError",
    "Credentials",
    "HostBinding",
    "Intercept",
    "InterceptError",
    "WebhookDelivery",
    "WebhookInbox",
    "intercept",
    "reset_app",
]

# API -> the hosts intercepted by default; the first is the one credentials name.
DEFAULT_HOSTS: dict[str, tuple[str, ...]] = {
    "clarius": ("https://cloud.clarius.com",),  # the vendor's host (the document, the spec's server)
    "tscharts": ("http://tscharts.medimock.local",),  # self-hosted: the document only shows 127.0.0.1:8000
    "radiology": ("https://api.radiology-vendor.example",),  # the spec's placeholder: the document names no host
    "ambra": (
        "https://access.ambrahealth.com/api/v3",
        "https://uat.dicomgrid.com/api/v3",
    ),  # production; the UAT host of the document's example
}
CONTROL_HOST = "http://medimock.local"

# The base path of a bare host: where the vendor serves the API (medimock's mount may differ: radiology).
VENDOR_BASE_PATHS: dict[str, str] = {"clarius": "", "tscharts": "", "radiology": "", "ambra": "/api/v3"}

_DEFAULT_PORTS = {"http": 80, "https": 443}
# MockConfig fields that intercept() passes on (apis, seed, db and strict are arguments of their own)
_APP_OPTIONS = frozenset(
    {
        "profile",
        "defects",
        "webhook_timeout",
        "webhook_workers",
        "journal_size",
        "max_body_bytes",
        "max_query_params",
        "control",
        "control_token",
        "token_ttl",
        "public_url",
    }
)
_TEXT_TYPES = ("application/json", "text/", "application/problem+json", "application/xml", "application/yaml")


class InterceptError(RuntimeError):
    """``intercept()`` cannot start (already active, requests patched by something else) or is closed."""


class ControlError(RuntimeError):
    """A control API call answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} /__mock__{path} -> {status}: {body}")
        self.status = status
        self.body = body


# -- hosts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostBinding:
    """One host (and base path) answered by the mock: an API's, or the control host (``api`` None)."""

    api: str | None
    scheme: str  # the scheme of the URLs handed out (requests with either scheme are answered)
    hostname: str  # lower case
    port: int | None  # None: the scheme's default port
    base_path: str  # the API's base path on this host ("" or "/api/v3"...)
    mount: str  # where the mock serves the API ("" for the control host)

    @property
    def netloc(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL on this host (what a client is configured with)."""
        return f"{self.scheme}://{self.netloc}{self.base_path}"

    def matches(self, scheme: str, port: int | None) -> bool:
        if self.port is None:
            return port is None or port == _DEFAULT_PORTS.get(scheme)
        return port == self.port or (port is None and _DEFAULT_PORTS.get(scheme) == self.port)

    def to_mock_path(self, path: str) -> str | None:
        """The mock's path for ``path`` on this host, or None when it lies outside the base path."""
        if self.base_path:
            if path != self.base_path and not path.startswith(self.base_path + "/"):
                return None
            path = path[len(self.base_path) :]
        return (self.mount + path) or "/"


def parse_host(api: str | None, spec: str, mount: str) -> HostBinding:
    """``cloud.clarius.com``, ``host:8000`` (the vendor's layout), or a base URL ``https://host/base``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a host is a non-empty string, not {spec!r}")
    text = spec.strip()
    explicit = "://" in text
    parts = urlsplit(text if explicit else "https://" + text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"{spec!r}: only http and https URLs can be intercepted")
    if not parts.hostname or parts.username is not None or parts.query or parts.fragment:
        raise ValueError(f"{spec!r} is not a host or a base URL (scheme://host[:port][/path])")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{spec!r}: {exc}") from exc
    if explicit:
        base_path = parts.path.rstrip("/")
    else:
        if parts.path not in ("", "/"):
            raise ValueError(f"{spec!r}: give a base path as a URL (https://{parts.netloc}{parts.path})")
        base_path = VENDOR_BASE_PATHS.get(api or "", mount)
    return HostBinding(api, scheme, parts.hostname.lower(), port, base_path, mount)


# -- webhooks received in process ------------------------------------------------------------


@dataclass(frozen=True)
class WebhookDelivery:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookInbox:
    """What ``mock.receive_webhooks(url)`` collected: every request to ``url``, answered with ``status``."""

    url: str
    status: int = 200
    body: bytes = b""
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def _receive(self, request: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        delivery = WebhookDelivery(str(request.method), str(request.url), dict(request.headers), _body_bytes(request.body))
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        return self.status, [("Content-Type", "text/plain; charset=utf-8")], self.body

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[WebhookDelivery]:
        """The deliveries, once there are at least ``count`` (webhooks are sent from a background thread)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise TimeoutError(f"{len(self.deliveries)} webhook(s) received at {self.url} within {timeout}s, expected {count}")
            return list(self.deliveries)


# -- the responses registration: any method, a URL pattern -----------------------------------


class _AnyMethod(responses.CallbackResponse):
    """A ``responses`` registration for every method of the URLs ``accepts`` says yes to."""

    def __init__(self, accepts: Callable[[str], bool], callback: Any, label: str) -> None:
        super().__init__("ANY", label, callback, content_type=None)  # the label is what a refused call lists
        self._accepts = accepts
        self._label = label

    def matches(self, request: requests.PreparedRequest) -> tuple[bool, str]:
        if self._accepts(str(request.url)):
            return True, ""
        return False, "URL does not match"

    def __repr__(self) -> str:
        return f"<medimock {self._label}>"


# -- the intercept ---------------------------------------------------------------------------

_active_lock = threading.Lock()
_active: Intercept | None = None


def intercept(
    apis: Iterable[str] | None = None,
    *,
    hosts: Mapping[str, str | Sequence[str]] | None = None,
    seed: int | None = None,
    db: str | None = None,
    strict: bool = False,
    passthrough: bool | Iterable[str | re.Pattern[str]] = (),
    control_host: str | None = CONTROL_HOST,
    app: MockApp | Flask | None = None,
    **options: Any,
) -> Intercept:
    """Route ``requests`` calls to the APIs' hosts into an in-process mock (a context manager).

    ``apis``: the APIs to serve (default: all). ``hosts``: API -> host(s) or base URL(s)
    to intercept instead of the defaults (an empty list: reachable through the control
    host only). ``seed``, ``db`` (SQLite file; default a temporary one, removed on exit),
    ``strict`` (validate every response against its spec) and ``options`` (``profile``,
    ``defects``, ``webhook_timeout``, ``token_ttl``, ``control_token``...) configure the
    mock as ``medimock serve``'s options do. ``passthrough``: what other hosts may reach
    the network (``True``: all; URL prefixes or compiled regexes); everything else
    raises ``requests.ConnectionError``. ``control_host``: where the whole mock is also
    served (None: nowhere; ``mock.control`` always works). ``app``: an existing mock to
    use, a ``MockApp`` or the Flask app of one (not closed on exit; ``apis`` then picks
    which of its APIs' hosts to intercept).
    """
    return Intercept(
        apis=apis,
        hosts=hosts,
        seed=seed,
        db=db,
        strict=strict,
        passthrough=passthrough,
        control_host=control_host,
        app=app,
        **options,
    )


def reset_app(app: MockApp) -> None:
    """Everything back to the state of a mock just started: data reseeded, and the journal,
    fault rules and OAuth sessions (which ``POST /__mock__/reset`` keeps) emptied."""
    app.webhooks.drain(timeout=max(30.0, 3 * app.config.webhook_timeout))
    app.store.reset(app.config.seed, app.config.profile, everything=True)
    app.journal.clear()


@dataclass
class _Host:
    bindings: list[HostBinding]  # longest base path first

    @property
    def is_control(self) -> bool:
        return self.bindings[0].api is None


class Intercept:
    """An active (or ready) in-process mock; see ``intercept()``.

    ``app`` is the ``MockApp`` (store, journal, faults, config), ``wsgi`` the Flask app
    ``medimock serve`` runs, ``responses`` the ``responses.RequestsMock`` (add stubs for
    other hosts to it), ``control`` the control API in process.
    """

    def __init__(
        self,
        *,
        apis: Iterable[str] | None = None,
        hosts: Mapping[str, str | Sequence[str]] | None = None,
        seed: int | None = None,
        db: str | None = None,
        strict: bool = False,
        passthrough: bool | Iterable[str | re.Pattern[str]] = (),
        control_host: str | None = CONTROL_HOST,
        app: MockApp | Flask | None = None,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - _APP_OPTIONS)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(_APP_OPTIONS))}")
        if app is not None and (seed is not None or db is not None or strict or options):
            raise TypeError("seed, db, strict and mock options configure a new mock; they cannot apply to an existing app")
        if isinstance(apis, str):
            raise TypeError("apis is a list of API names, e.g. ['clarius']")
        self._apis = None if apis is None else tuple(apis)
        self._host_specs = dict(hosts or {})
        self._seed = seed
        self._db = db
        self._strict = strict
        self._options = options
        self._passthrough = self._passthrough_prefixes(passthrough)
        self._control_spec = control_host
        self._owns_app = app is None
        self._app: MockApp | None = None
        self._wsgi: Flask | None = None
        if app is not None:
            mock = getattr(app, "extensions", {}).get("medimock", app)  # a Flask app built by create_app, or a MockApp
            if not hasattr(mock, "store") or not hasattr(mock, "handle"):
                raise TypeError(f"app is a MockApp or the Flask app of one, not {type(app).__name__}")
            self._app = mock
            self._wsgi = app if mock is not app else None  # type: ignore[assignment]
        self._credentials: dict[str, tuple[int, dict[str, Any]]] = {}
        self._requests = itertools.count(1)
        self._generation = 0  # requests answered (cached credentials depend on it)
        self._responses: responses.RequestsMock | None = None
        self._hosts: dict[str, _Host] = {}
        self._primary: dict[str, HostBinding] = {}
        self._control_binding: HostBinding | None = None
        self._inboxes: list[WebhookInbox] = []
        self._state = "new"  # new -> active -> closed
        self._started_at = ""
        self.control = Control(self)

    # -- public view ------------------------------------------------------------------------
    @property
    def app(self) -> MockApp:
        if self._app is None:
            raise InterceptError("the intercept has not started (use it as a context manager)")
        return self._app

    @property
    def wsgi(self) -> Flask:
        if self._wsgi is None:
            raise InterceptError("the intercept has not started (use it as a context manager)")
        return self._wsgi

    @property
    def responses(self) -> responses.RequestsMock:
        if self._responses is None or self._state != "active":
            raise InterceptError("the intercept is not active")
        return self._responses

    @property
    def active(self) -> bool:
        return self._state == "active"

    @property
    def hosts(self) -> dict[str, list[HostBinding]]:
        """API -> the bindings intercepted for it."""
        out: dict[str, list[HostBinding]] = {}
        for host in self._hosts.values():
            for binding in host.bindings:
                if binding.api is not None:
                    out.setdefault(binding.api, []).append(binding)
        return out

    @property
    def control_url(self) -> str | None:
        """The root URL of the control host (``http://medimock.local``), when there is one."""
        return self._control_binding.base_url if self._control_binding else None

    def base_url(self, api: str) -> str:
        """The API's base URL as intercepted (its first host)."""
        if api not in self._primary:
            raise KeyError(f"{api} is not served by this intercept; served: {', '.join(self._primary)}")
        return self._primary[api].base_url

    @property
    def credentials(self) -> Credentials:
        """What ``GET /__mock__/credentials`` answers (a mapping API -> credentials), with each
        API's base URL on its intercepted host. Each API's part is computed when first read
        (it regenerates fixture data) and kept until the mock answers another request."""
        self._require_started()
        return Credentials(self)

    def _credentials_of(self, name: str) -> dict[str, Any]:
        cached = self._credentials.get(name)
        if cached is None or cached[0] != self._generation:
            generation = self._generation
            api = self.app.by_name[name]
            binding = self._primary[name]
            placeholder = "http://medimock-intercept.invalid"
            creds = {"base_url": placeholder + api.definition.mount}
            if api.definition.credentials is not None:
                creds.update(api.definition.credentials(self.app, placeholder))
            root = f"{binding.scheme}://{binding.netloc}"
            cached = (generation, _replace_strings(creds, [(placeholder + binding.mount, binding.base_url), (placeholder, root)]))
            self._credentials[name] = cached
        return copy.deepcopy(cached[1])

    def receive_webhooks(self, url: str, status: int = 200, body: bytes | str = b"") -> WebhookInbox:
        """Answer every request to ``url`` (any method; any query) in process and keep it: register
        ``url`` as a ``notification_url`` and ``wait()`` for the mock's webhooks."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        if self._lookup(parts.scheme, parts.hostname.lower(), parts.port) is not None:
            raise ValueError(f"{url} is on a host the mock answers; receive webhooks on another host")
        url = str(requests.Request("POST", url).prepare().url).split("?", 1)[0]  # as requests will send it
        inbox = WebhookInbox(url, status, body.encode() if isinstance(body, str) else body)
        pattern = re.compile(re.escape(url) + r"(?:\?.*)?$")
        self.responses.add(_AnyMethod(lambda sent: pattern.match(sent) is not None, inbox._receive, f"webhook receiver {url}"))
        self._inboxes.append(inbox)
        return inbox

    def reset(self) -> None:
        """Back to the state of a mock just started (data, journal, fault rules, OAuth sessions);
        ``mock.control.reset()`` is ``POST /__mock__/reset``, which keeps the journal and the rules."""
        self._require_active()
        reset_app(self.app)
        self._generation = next(self._requests)

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> Intercept:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> Intercept:
        global _active
        if self._state != "new":
            raise InterceptError("an intercept starts once; make a new one with medimock.intercept()")
        with _active_lock:
            if _active is not None:
                raise InterceptError(
                    "medimock.intercept() is already active in this process (started at "
                    f"{_active._started_at}); responses patches requests process-wide, so one at a time: "
                    "use the active one (hosts= serves several hosts)"
                )
            foreign = _foreign_patch()
            if foreign:
                raise InterceptError(
                    f"requests is already patched ({foreign}); medimock.intercept() would hide those stubs. "
                    "Add them to mock.responses instead (a responses.RequestsMock)."
                )
            _active = self
        try:
            self._started_at = _caller()
            self._build()
            assert self._responses is not None
            self._responses.start()
        except BaseException:
            self._teardown(started=False)
            raise
        self._state = "active"
        return self

    def stop(self) -> None:
        if self._state != "active":
            if self._state == "new":
                raise InterceptError("the intercept was not started")
            return
        self._teardown(started=True)

    def _teardown(self, *, started: bool) -> None:
        global _active
        try:
            if self._app is not None:
                # Deliveries under way still go through the patch (not to the network).
                limit = max(30.0, 3 * self._app.config.webhook_timeout)
                if not self._app.webhooks.drain(timeout=limit):
                    warnings.warn(
                        f"medimock: webhook deliveries still running after {limit:.0f}s as the intercept stops",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                if self._owns_app:
                    self._app.close()
        finally:
            try:
                if started and self._responses is not None:
                    self._responses.stop(allow_assert=False)
            finally:
                self._state = "closed"
                with _active_lock:
                    if _active is self:
                        _active = None

    def _build(self) -> None:
        from mockserver.app import create_app  # heavy imports only when a mock is wanted
        from mockserver.config import MockConfig
        from mockserver.pipeline import MockApp

        if self._app is None:
            overrides: dict[str, Any] = {"strict": self._strict, **self._options}
            if self._apis is not None:
                overrides["apis"] = self._apis
            if self._seed is not None:
                overrides["seed"] = self._seed
            if self._db is not None:
                overrides["db"] = str(self._db)
            if "defects" in overrides:
                overrides["defects"] = frozenset(overrides["defects"])
            self._app = MockApp(MockConfig().with_overrides(**overrides))
        app = self._app
        served = [api.name for api in app.apis]
        wanted = served if self._apis is None or self._owns_app else list(self._apis)
        missing = sorted(set(wanted) - set(served))
        if missing:
            raise ValueError(f"not served by this mock: {', '.join(missing)}; served: {', '.join(served)}")
        unknown_hosts = sorted(set(self._host_specs) - set(wanted))
        if unknown_hosts:
            raise ValueError(f"hosts= names APIs not intercepted: {', '.join(unknown_hosts)}; intercepted: {', '.join(wanted)}")
        bindings: list[HostBinding] = []
        for name in wanted:
            mount = app.by_name[name].definition.mount
            given = self._host_specs.get(name, DEFAULT_HOSTS.get(name, (f"http://{name}.medimock.local",)))
            specs = [given] if isinstance(given, str) else list(given)
            parsed = [parse_host(name, spec, mount) for spec in specs]
            bindings.extend(parsed)
            if parsed:
                self._primary[name] = parsed[0]
        if self._control_spec is not None:
            control = parse_host(None, self._control_spec, "")
            if control.base_path:
                raise ValueError(f"control_host {self._control_spec!r} takes no path: the mock is served at its root")
            self._control_binding = control
            bindings.append(control)
            for name in wanted:  # an API without a host of its own is reached through the control host
                mount = app.by_name[name].definition.mount
                self._primary.setdefault(name, HostBinding(name, control.scheme, control.hostname, control.port, mount, mount))
        unreachable = sorted(set(wanted) - set(self._primary))
        if unreachable:
            raise ValueError(f"{', '.join(unreachable)} would have no host: give one in hosts= or keep a control host")
        for binding in bindings:
            key = f"{binding.hostname}|{binding.port}"
            host = self._hosts.setdefault(key, _Host([]))
            if host.bindings and (host.is_control or binding.api is None):
                raise ValueError(f"{binding.netloc} is both the control host and an API's host")
            if any(b.api == binding.api for b in host.bindings):
                raise ValueError(f"{binding.netloc} is given twice for {binding.api}")
            host.bindings.append(binding)
            host.bindings.sort(key=lambda b: len(b.base_path), reverse=True)
        if self._wsgi is None:
            self._wsgi = create_app(mock=app)
        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        for prefix in self._passthrough:
            mock.add_passthru(prefix)
        label = "medimock: " + ", ".join(sorted({b.netloc for b in bindings}))
        mock.add(_AnyMethod(lambda url: self._host_of(url) is not None, self._on_request, label))
        self._responses = mock

    @staticmethod
    def _passthrough_prefixes(passthrough: bool | Iterable[str | re.Pattern[str]]) -> list[str | re.Pattern[str]]:
        if passthrough is True:
            return [re.compile(r".")]
        if passthrough is False or passthrough is None:
            return []
        if isinstance(passthrough, (str, re.Pattern)):
            passthrough = [passthrough]
        out: list[str | re.Pattern[str]] = []
        for prefix in passthrough:
            if not isinstance(prefix, (str, re.Pattern)):
                raise TypeError(f"passthrough takes URL prefixes or compiled regexes, not {prefix!r}")
            out.append(prefix)
        return out

    def _require_started(self) -> None:
        if self._state == "new":
            raise InterceptError("the intercept has not started (use it as a context manager)")

    def _require_active(self) -> None:
        if self._state != "active":
            raise InterceptError("the intercept is not active" if self._state == "new" else "the intercept is closed")

    def _host_of(self, url: str) -> _Host | None:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            return None
        return self._lookup(parts.scheme.lower(), (parts.hostname or "").lower(), port)

    def _lookup(self, scheme: str, hostname: str, port: int | None) -> _Host | None:
        for host in self._hosts.values():
            first = host.bindings[0]
            if first.hostname == hostname and first.matches(scheme, port):
                return host
        return None

    # -- answering a request ------------------------------------------------------------------
    def _on_request(self, request: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        started = time.monotonic()
        url = urlsplit(str(request.url))
        scheme = url.scheme.lower()
        hostname = (url.hostname or "").lower()
        host = self._lookup(scheme, hostname, url.port)
        assert host is not None, request.url  # matched by _host_of
        method = str(request.method or "GET").upper()
        path = url.path or "/"
        body = _body_bytes(request.body)
        headers = _header_strings(request.headers)
        netloc = url.netloc.rpartition("@")[2]
        if host.is_control:
            result = self._call_wsgi(method, scheme, netloc, path, url.query, headers, body)
        else:
            routed = self._route(host, path, method)
            if isinstance(routed, _Answer):
                result = routed
            else:
                mock_path, binding = routed
                result = self._call_wsgi(method, scheme, netloc, mock_path, url.query, headers, body)
                if binding.base_path != binding.mount:
                    result = _rewrite_links(result, f"{scheme}://{netloc}", binding)
        if result.dropped:
            raise requests.ConnectionError(
                ProtocolError("Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")),
                request=request,
            )
        read_timeout = _read_timeout(getattr(request, "req_kwargs", {}).get("timeout"))
        if read_timeout is not None and time.monotonic() - started > read_timeout:
            port = url.port or _DEFAULT_PORTS.get(scheme)
            pool = "HTTPSConnectionPool" if scheme == "https" else "HTTPConnectionPool"
            raise requests.ReadTimeout(
                f"{pool}(host='{hostname}', port={port}): Read timed out. (read timeout={read_timeout})", request=request
            )
        return result.status, result.headers, result.body

    def _route(self, host: _Host, path: str, method: str) -> tuple[str, HostBinding] | _Answer:
        """The mock path serving ``path`` on an API host, or a 404 in the API's dialect for paths of
        other APIs and of the server's own routes (a vendor's host serves its own API only)."""
        fallback: tuple[str, HostBinding] | None = None
        for binding in host.bindings:
            mock_path = binding.to_mock_path(path)
            if mock_path is None or not self._reaches_pipeline(unquote(mock_path), method):
                continue
            owner, known = self._owner(unquote(mock_path), method)
            if owner == binding.api and known:
                return mock_path, binding
            if fallback is None and owner == binding.api:
                fallback = (mock_path, binding)
        if fallback is not None:
            return fallback  # the API's own 404/405, journalled as the server would
        assert host.bindings[0].api is not None
        return self._not_found(host.bindings[0].api)

    def _reaches_pipeline(self, path: str, method: str) -> bool:
        """False for the Flask shell's own routes (/__mock__, /specs, /docs): the control host's only."""
        from werkzeug.exceptions import HTTPException
        from werkzeug.routing import RequestRedirect

        try:
            endpoint, _ = self.wsgi.url_map.bind("medimock.local").match(path, method)
        except (HTTPException, RequestRedirect):
            return False
        return endpoint in ("dispatch", "dispatch_root")

    def _owner(self, path: str, method: str) -> tuple[str | None, bool]:
        from mockserver.router import Match

        app = self.app
        for api in app.apis:
            for route in api.definition.raw_routes:
                if path.startswith(route.path) and method in (route.method, "HEAD" if route.method == "GET" else ""):
                    return api.name, True
        api_found, routed = app.route(path, method)
        if api_found is None:
            return None, False
        return api_found.name, routed.match is not Match.NONE

    def _not_found(self, api: str) -> _Answer:
        from mockserver.http import Problem

        response = self.app.by_name[api].definition.dialect.render(Problem("not_found", 404, "Not found."))
        content = response.encoded()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")]
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        headers += [("Content-Length", str(len(content))), ("Date", email.utils.formatdate(usegmt=True))]
        return _Answer(response.status, headers, content)

    def _call_wsgi(self, method: str, scheme: str, netloc: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        self._generation = next(self._requests)
        parts = urlsplit(f"{scheme}://{netloc}")
        raw_uri = path + (f"?{query}" if query else "")
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "medimock-intercept",
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _wsgi_str(unquote(path)),
            "QUERY_STRING": _wsgi_str(query),
            "REQUEST_URI": _wsgi_str(raw_uri),
            "RAW_URI": _wsgi_str(raw_uri),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
            "SERVER_NAME": parts.hostname or "localhost",
            "SERVER_PORT": str(parts.port or _DEFAULT_PORTS[scheme]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": netloc,
        }
        for name, value in headers.items():
            if "_" in name:  # as werkzeug's and gunicorn's servers: never let a header pose as another
                continue
            key = name.upper().replace("-", "_")
            if key == "TRANSFER_ENCODING":
                continue  # the body is handed over whole, with its length
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        if body or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(len(body))
        status_line, out_headers, content = _run_wsgi(self.wsgi, environ)
        if not any(k.lower() == "date" for k, _ in out_headers):
            out_headers.append(("Date", email.utils.formatdate(usegmt=True)))
        return _Answer(int(status_line.split(None, 1)[0]), out_headers, content, bool(environ.get("medimock.connection_dropped")))

    def _control_call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        self._require_active()
        app = self.app
        path = "/" + path.strip("/")
        headers = {"Accept": "application/json", "User-Agent": "medimock-intercept-control"}
        content = b""
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if app.config.control_token:
            headers["Authorization"] = f"Bearer {app.config.control_token}"
        # Links an API's control route builds (a Clarius notification's download_url) name that API's host.
        segment = path.strip("/").split("/", 1)[0]
        binding = self._primary.get(segment) or self._control_binding or next(iter(self._primary.values()))
        query = urlencode([(k, v) for k, v in (params or {}).items() if v is not None])
        result = self._call_wsgi(method, binding.scheme, binding.netloc, "/__mock__" + path, query, headers, content)
        if binding.api is not None and binding.base_path != binding.mount:
            result = _rewrite_links(result, f"{binding.scheme}://{binding.netloc}", binding)
        decoded: Any = result.body
        content_type = next((v for k, v in result.headers if k.lower() == "content-type"), "")
        if result.status == 204 or not result.body:
            decoded = None
        elif content_type.split(";")[0].strip() == "application/json":
            decoded = json.loads(result.body)
        if result.status >= 400:
            raise ControlError(method, path, result.status, decoded)
        return decoded


class Credentials(Mapping[str, dict[str, Any]]):
    """API -> its credentials, computed when read (``mock.credentials["clarius"]["api_key"]``)."""

    def __init__(self, owner: Intercept) -> None:
        self._owner = owner

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self._owner._primary:
            raise KeyError(f"{name} is not served by this intercept; served: {', '.join(self._owner._primary)}")
        return self._owner._credentials_of(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._owner._primary)

    def __len__(self) -> int:
        return len(self._owner._primary)

    def __repr__(self) -> str:
        return f"<medimock credentials of {', '.join(self._owner._primary)}>"


@dataclass
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    dropped: bool = False


class Control:
    """The control API (``/__mock__``) called in process: ``request()`` for any route, and helpers.

    Answers are decoded JSON (None for 204); an error status raises ``ControlError``.
    """

    def __init__(self, owner: Intercept) -> None:
        self._owner = owner

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """``method /__mock__<path>``, e.g. ``request("POST", "/radiology/clock", json={"advance_seconds": 3600})``."""
        return self._owner._control_call(method.upper(), path, body=json, params=params)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/health")
        return result

    def reset(self) -> None:
        """``POST /__mock__/reset``: data back to the seeded fixtures (the journal and fault rules are kept)."""
        self.request("POST", "/reset")

    def credentials(self) -> dict[str, Any]:
        """``GET /__mock__/credentials`` (every API's, as a dict)."""
        return dict(self._owner.credentials)

    def journal(self, api: str | None = None, limit: int = 100, since_id: int = 0) -> list[dict[str, Any]]:
        """The request journal, oldest first (``GET /__mock__/requests``)."""
        body = self.request("GET", "/requests", params={"api": api, "limit": limit, "since_id": since_id or None})
        results: list[dict[str, Any]] = body["results"]
        return results

    def clear_journal(self) -> None:
        self.request("DELETE", "/requests")

    def faults(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.request("GET", "/faults")["rules"]
        return rules

    def set_faults(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the fault rules (``PUT /__mock__/faults``)."""
        out: list[dict[str, Any]] = self.request("PUT", "/faults", json=rules)["rules"]
        return out

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add one rule, e.g. ``add_fault(api="clarius", status=503, times=1)``."""
        out: dict[str, Any] = self.request("POST", "/faults", json=rule)
        return out

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    def clarius_upload(self, **options: Any) -> dict[str, Any]:
        """Simulate a scanner upload (``POST /__mock__/clarius/exams``): the exam, its download request,
        and the notification to the registered ``notification_url`` (sent in the background)."""
        out: dict[str, Any] = self.request("POST", "/clarius/exams", json=options)
        return out

    def clarius_reports(self, request_uuid: str | None = None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.request("GET", "/clarius/reports", params={"request_uuid": request_uuid})["results"]
        return results

    def radiology_order(self, **options: Any) -> dict[str, Any]:
        """Simulate a finished study or move an order forward (``POST /__mock__/radiology/orders``)."""
        out: dict[str, Any] = self.request("POST", "/radiology/orders", json=options)
        return out

    def advance_radiology_clock(self, seconds: float) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", "/radiology/clock", json={"advance_seconds": seconds})
        return out

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """``POST /__mock__/clock``: the mock's clock (radiology tokens and statuses, Clarius research links) moves on."""
        out: dict[str, Any] = self.request("POST", "/clock", json={"advance_seconds": seconds})
        return out

    def wait_for_webhooks(self, timeout: float | None = None) -> bool:
        """Wait until the webhooks sent so far are delivered and recorded."""
        self._owner._require_active()
        return self._owner.app.webhooks.drain(timeout)


# -- helpers ---------------------------------------------------------------------------------


def _run_wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app with this very ``environ`` (werkzeug's test helpers copy it; the app marks a
    dropped connection in it)."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, list(headers)]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0], started[1], b"".join(chunks)


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")  # as urllib3 sends a str body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        return _body_bytes(body.read())
    if isinstance(body, Iterable):  # a generator: requests sends it chunked
        return b"".join(_body_bytes(chunk) for chunk in body)
    raise TypeError(f"cannot send a request body of type {type(body).__name__}")


def _header_strings(headers: Mapping[Any, Any]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        out[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return out


def _wsgi_str(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _read_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else timeout[0]
    if hasattr(timeout, "read_timeout"):  # urllib3.Timeout
        timeout = timeout.read_timeout
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _rewrite_links(result: _Answer, root: str, binding: HostBinding) -> _Answer:
    """Absolute links the mock built at its mount, moved to the API's base path on this host."""
    inner, outer = root + binding.mount, root + binding.base_path
    guard = ""
    if outer.startswith(inner):  # a link already under the base path stays
        guard = "(?!" + re.escape(outer[len(inner) :]) + r"(?:[/\"?#]|$))"
    pattern = re.escape(inner) + guard + r"(?=[/\"?#]|$)"
    headers = [(k, re.sub(pattern, lambda _: outer, v) if k.lower() == "location" else v) for k, v in result.headers]
    body = result.body
    content_type = next((v for k, v in result.headers if k.lower() == "content-type"), "").lower()
    if body and content_type.startswith(_TEXT_TYPES):
        body = re.sub(pattern.encode(), lambda _: outer.encode(), body)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
    return _Answer(result.status, headers, body, result.dropped)


def _replace_strings(value: Any, replacements: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in replacements:
            if value.startswith(old):
                return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: _replace_strings(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, replacements) for v in value]
    return value


def _foreign_patch() -> str:
    """What else patches requests' transport right now ("" when nothing does)."""
    from requests.adapters import HTTPAdapter

    send = HTTPAdapter.send
    if getattr(send, "__module__", "") != "requests.adapters" or getattr(send, "__qualname__", "") != "HTTPAdapter.send":
        return f"HTTPAdapter.send is {getattr(send, '__module__', '?')}.{getattr(send, '__qualname__', '?')}"
    get_adapter = requests.Session.get_adapter
    if getattr(get_adapter, "__module__", "") != "requests.sessions":
        return f"Session.get_adapter is {getattr(get_adapter, '__module__', '?')}.{getattr(get_adapter, '__qualname__', '?')}"
    return ""


def _caller() -> str:
    for frame in reversed(traceback.extract_stack(limit=12)[:-1]):
        if not frame.filename.endswith(("inprocess.py", "contextlib.py")):
            return f"{frame.filename}:{frame.lineno}"
    return "?"
