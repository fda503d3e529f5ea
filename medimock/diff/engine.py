"""Lockstep: one scenario step sent to both targets, identities mapped, the replies compared.

Every step has a *reference* request: the request the scenario holds (what the contract suite sent
to A, a recorded request, a generated case). Each side has a mapping from reference values to its
own values, learned as the scenario runs: an identity (a field named ``id``, ``uuid``, ``*_id``,
``sid``, ``token``... see ``rules.py``, any uuid, a ``Location`` path) at the same place of the
reference reply and of the side's reply pairs the two values, so a later request that names the
reference's image 17 names B's image 4031 on B. Credentials pair the same way (a medimock's
``/__mock__/credentials`` on each side, or ``--a-credentials``/``--b-credentials``), and a recorded
``[redacted]`` credential is filled in with the side's own (``--a-auth``, or learnt from its login reply).

Safety: a request that changes something (DELETE, PUT, PATCH, an Ambra ``/delete`` or ``/set``...)
naming an identity the scenario's reference created is only sent to a side that created its own
counterpart; otherwise it is skipped on that side (noted in the report).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
import requests

from medimock.conformance.curl import curl_for

from .compare import Difference, Reply, compare
from .rules import Cleanup, Rules, string_kind

REDACTED = "[redacted]"
_DESTRUCTIVE_COMMAND = re.compile(r"/(delete|set|update|edit|purge|remove|revoke|share|move)[^/]*/?$", re.IGNORECASE)
_SECRET_FIELDS = ("sid", "access_token", "token", "password", "client_secret", "api_key", "key")
_NOT_FORWARDED = frozenset({"content-length", "host", "connection", "accept-encoding", "transfer-encoding", "keep-alive", "te", "upgrade"})
_READ_COMMANDS = frozenset({"get", "list", "count", "user", "bundle", "login", "logout", "token", "permissions"})  # POSTs that read
_MIN_SUBSTRING = 8  # mapped values at least this long are also replaced inside header values


@dataclass
class StepRequest:
    """A request of the scenario, relative to a target's root (the path carries medimock's mounts)."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return ""

    @classmethod
    def from_url(cls, method: str, url: str, root: str, headers: Mapping[str, str], body: bytes | str | None) -> StepRequest:
        parts = urlsplit(url)
        path = url[len(root.rstrip("/")) :].split("?", 1)[0] if url.startswith(root.rstrip("/")) else parts.path
        if isinstance(body, str):
            body = body.encode("utf-8")
        kept = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
        return cls(method.upper(), path or "/", parse_qsl(parts.query, keep_blank_values=True), kept, body or b"")


@dataclass
class Side:
    name: str  # "A" or "B"
    root: str
    credentials: dict[str, Any] = field(default_factory=dict)
    auth: str | None = None  # an Authorization header value for every request (--a-auth)
    control: str | None = None  # a medimock's root, when the side is one (its /__mock__ API)
    mapping: dict[str, Any] = field(default_factory=dict)  # reference value (as text) -> this side's value
    created: set[str] = field(default_factory=set)  # identities this side created during the diff (as text)
    deleted: set[str] = field(default_factory=set)
    objects: dict[str, Cleanup] = field(default_factory=dict)  # objects this side created (a cleanup rule's create), not deleted yet
    removed_early: list[str] = field(default_factory=list)  # objects only this side created, deleted at once
    link_queries: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = field(default_factory=dict)  # link path ->
    # (the reference's query, the side's) of links the replies pointed to
    unpaired: set[str] = field(default_factory=set)  # the reference's own objects without a counterpart here (roles.py)
    secrets: dict[str, str] = field(default_factory=dict)  # the side's current sid, access_token...
    session: requests.Session = field(default_factory=requests.Session)

    def to_side(self, value: Any) -> Any:
        return self.mapping.get(str(value), value) if value is not None and not isinstance(value, bool) else value


@dataclass
class Exchange:
    request: requests.PreparedRequest | None
    reply: Reply | None
    error: str = ""
    skipped: str = ""


@dataclass
class StepResult:
    index: int
    label: str  # where in the scenario (a test id, a recording line, a generated case)
    method: str
    template: str  # the spec's path template, or the path
    operation_id: str
    a: Exchange
    b: Exchange
    differences: list[Difference] = field(default_factory=list)
    tier: str = ""
    source: str = ""


def identity_values(value: Any, rules: Rules, key: str | None = None) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = []
    if isinstance(value, Mapping):
        for name, item in value.items():
            out += identity_values(item, rules, str(name))
    elif isinstance(value, list):
        for item in value:
            out += identity_values(item, rules, key)
    elif value is not None and not isinstance(value, bool) and (rules.is_identity(key) or string_kind(value) == "uuid"):
        out.append((key, value))
    return out


def pair_values(
    ref: Any,
    side_value: Any,
    rules: Rules,
    side: Side,
    *,
    everything: bool = False,
    key: str | None = None,
    weak: bool = False,
    secrets_only: bool = False,
) -> None:
    """Learn the side's counterparts of the reference's identities found at the same places of two JSON values.

    ``weak``: the reply of a read (the objects of two sides' lists need not correspond): only long
    values (uuids, tokens) not mapped yet are learnt, never small numbers. ``secrets_only``: a read
    between sides holding the same data (their objects are the same: only sessions and tokens differ)."""
    if isinstance(ref, Mapping) and isinstance(side_value, Mapping):
        for name, item in ref.items():
            if name in side_value:
                pair_values(item, side_value[name], rules, side, everything=everything, key=str(name), weak=weak, secrets_only=secrets_only)
        return
    if isinstance(ref, list) and isinstance(side_value, list):
        for x, y in _list_pairs(ref, side_value):
            pair_values(x, y, rules, side, everything=everything, key=key, weak=weak, secrets_only=secrets_only)
        return
    if isinstance(ref, (Mapping, list)) or isinstance(side_value, (Mapping, list)) or ref is None or side_value is None:
        return
    if isinstance(ref, bool) or isinstance(side_value, bool):
        return
    if not everything and key is not None and key.lower() in _SECRET_FIELDS and isinstance(side_value, str):
        side.secrets[key.lower()] = side_value
    elif secrets_only:
        return
    if weak and (len(str(ref)) < _MIN_SUBSTRING or str(ref) in side.mapping or str(ref) in side.unpaired):
        return
    if everything or rules.is_identity(key) or (string_kind(ref) == "uuid" and string_kind(side_value) == "uuid"):
        if str(ref) != REDACTED and (str(ref) != str(side_value) or not weak):  # equal: still the side's counterpart
            side.mapping[str(ref)] = side_value
            if string_kind(ref) == "url" and string_kind(side_value) == "url":  # a URL a reply points to: its path too
                ref_parts, side_parts = urlsplit(str(ref)), urlsplit(str(side_value))
                if ref_parts.path != side_parts.path and ref_parts.path.count("/") > 1:
                    side.mapping.setdefault(ref_parts.path, side_parts.path)
                if ref_parts.query != side_parts.query:  # a signed link: the side's own signature
                    side.link_queries[ref_parts.path] = (_pairs(ref_parts.query), _pairs(side_parts.query))  # the latest: each
                    # reply signs anew (its date)
        elif str(ref) == REDACTED and key is not None:
            side.secrets[key.lower()] = str(side_value)


def _media_kind(value: Any) -> tuple[str, ...]:
    """The kinds of file the URLs of a list item point to (their extensions): a capture's image or clip."""
    if isinstance(value, Mapping):
        return tuple(kind for item in value.values() for kind in _media_kind(item))
    if isinstance(value, str) and string_kind(value) == "url":
        last = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
        return (last.rsplit(".", 1)[-1].lower(),) if "." in last else ()
    return ()


def _list_pairs(ref: list[Any], side_value: list[Any]) -> list[tuple[Any, Any]]:
    """The items of two lists that correspond: by position, or, when the items point to files (URLs with an
    extension), each with the next unused item pointing to the same kind of file (an image with an image)."""
    kinds = [_media_kind(item) for item in ref]
    if not any(kinds):
        return list(zip(ref, side_value, strict=False))
    others = [_media_kind(item) for item in side_value]
    used: set[int] = set()
    pairs = []
    for item, mine in zip(ref, kinds, strict=True):
        match = next((i for i, other in enumerate(others) if i not in used and other == mine), None)
        if match is not None:
            used.add(match)
            pairs.append((item, side_value[match]))
    return pairs


def harvest_secrets(value: Any, side: Side) -> None:
    """A side's own session secrets from its replies (a login's sid, an OAuth access_token)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if str(name).lower() in ("sid", "access_token") and isinstance(item, str) and item and item != REDACTED:
                side.secrets[str(name).lower()] = item
            elif isinstance(item, Mapping):
                harvest_secrets(item, side)


def pair_credentials(reference: Mapping[str, Any], side_credentials: Mapping[str, Any], rules: Rules, side: Side) -> None:
    pair_values(dict(reference), dict(side_credentials), rules, side, everything=True)
    for key, value in side_credentials.items():
        if key.lower() in _SECRET_FIELDS and isinstance(value, str):
            side.secrets[key.lower()] = value


class Lockstep:
    """Runs scenario steps against A and B; ``reference_is_a``: the scenario's requests are A's own (the workflows)."""

    def __init__(self, api: str, a: Side, b: Side, rules: Rules, *, reference_is_a: bool = False, same_data: bool = False) -> None:
        from .tiers import Tiers

        self.api = api
        self.same_data = same_data  # both sides hold the same data (identically seeded): every value is compared
        self.a, self.b = a, b
        self.rules = rules
        self.reference_is_a = reference_is_a
        self.written: set[str] = set()
        self.results: list[StepResult] = []
        self.tiers = Tiers(api)
        self.reference_created: set[str] = set()
        self.pointed: set[str] = set()  # paths of URLs the reference's replies pointed to (at an object: a uuid in it)
        self.written_paths: set[str] = set()  # paths the scenario changed (PUT/PATCH/POST answered 2xx)

    # -- credentials of generated cases ------------------------------------------------------
    def login(self) -> None:
        """The steps that give each side its session or token (radiology's OAuth token, Ambra's sid)."""
        if self.api == "radiology":
            query = [("grant_type", "client_credentials"), ("client_id", REDACTED), ("client_secret", REDACTED)]
            self.step(StepRequest("GET", "/radiology/oauth2/token", query), "login: an OAuth token for each side")
        elif self.api == "ambra":
            body = urlencode([("login", REDACTED), ("password", REDACTED)]).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            self.step(StepRequest("POST", "/api/v3/session/login", [], headers, body), "login: a sid for each side")

    def authenticate(self, request: StepRequest) -> StepRequest:
        """A generated case with each side's own credentials (filled in per side from ``[redacted]``)."""
        scheme = {"tscharts": "Token", "clarius": "Service-API-Key", "radiology": "Bearer"}.get(self.api)
        if scheme and not any(k.lower() == "authorization" for k in request.headers):
            request.headers["Authorization"] = f"{scheme} {REDACTED}"
        if self.api == "ambra" and request.method == "POST":
            pairs = [(k, v) for k, v in parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True) if k != "sid"]
            request.body = urlencode([("sid", REDACTED), *pairs]).encode()
            request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif self.api == "ambra":
            request.query = [("sid", REDACTED), *[(k, v) for k, v in request.query if k != "sid"]]
        return request

    # -- translation ---------------------------------------------------------------------
    def translate(self, request: StepRequest, side: Side) -> StepRequest | str:
        """The side's version of a reference request, or why it is not sent to that side."""
        identity_side = self.reference_is_a and side is self.a
        segments = request.path.split("/")
        if not identity_side and request.path in side.mapping:  # a URL a reply pointed to: the side's own
            segments = str(side.mapping[request.path]).split("/")
        elif not identity_side:
            if not self.same_data and request.path in self.pointed and not any(segment in side.mapping for segment in segments if segment):
                return (
                    f"not sent to {side.name}: the reference's reply pointed to {request.path}, and {side.name}'s "
                    "reply had no counterpart (its object holds fewer such links)"
                )
            segments = [str(side.to_side(unquoted)) if unquoted in side.mapping else unquoted for unquoted in segments]
        path = "/".join(segments)
        query = [(k, self._field(k, v, side, identity_side)) for k, v in request.query]
        link = side.link_queries.get(request.path) if not identity_side else None
        if link is not None and link[0] == request.query:  # the link as the reference's reply gave it: the side's own
            query = list(link[1])
        headers = {k: self._header(k, v, side, identity_side) for k, v in request.headers.items()}
        if side.auth and not any(k.lower() == "authorization" for k in headers) and not self.reference_is_a:
            headers["Authorization"] = side.auth
        body = request.body
        if body and not identity_side:
            if request.content_type == "application/json" or request.content_type.endswith("+json"):
                try:
                    body = orjson.dumps(self._json(orjson.loads(body), side, None))
                except orjson.JSONDecodeError:
                    pass
            elif request.content_type == "application/x-www-form-urlencoded":
                try:
                    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    body = urlencode([(k, self._field(k, v, side, False)) for k, v in pairs]).encode()
                except UnicodeDecodeError:
                    pass
        translated = StepRequest(request.method, path, query, headers, body)
        if not identity_side:
            alone = [value for value in self._named(request) if value in side.unpaired]
            if alone:
                return (
                    f"not sent to {side.name}: it names {', '.join(alone[:3])}, one of the reference's own objects that has no "
                    f"counterpart of the same role on {side.name} (each side's own data; see the pairing note)"
                )
            named = [value for value in self._named(request) if value in self.reference_created]
            missing = [value for value in named if value not in side.mapping]
            if missing:
                # the object was not created on this side (an earlier step differed): the step would only repeat
                # that difference, and a change would address an object the diff did not create
                what = "changes" if self._destructive(request) else "names"
                return (
                    f"not sent to {side.name}: it {what} {', '.join(missing[:3])}, which {side.name} has no counterpart of "
                    "(its creation differed at an earlier step)"
                )
        return translated

    def _about_created(self, request: StepRequest, reply: Reply) -> bool:
        """Whether a step is about objects the scenario created or changed (the same on both sides), not about each
        side's own data: it names one (path, identity fields), its reply holds one, or its path was written."""
        if request.path in self.written_paths:
            return True
        secrets = {str(v) for side in (self.a, self.b) for v in side.secrets.values()}
        created = self.reference_created - secrets - {str(v) for v in self.a.credentials.values() if isinstance(v, (str, int))}
        if not created:
            return False
        if set(self._named(request)) & created:
            return True
        objects = _objects(reply.json(), self.rules)  # each object of the reply: the identities of its own fields
        return bool(objects) and all(own & created for own in objects)

    def _destructive(self, request: StepRequest) -> bool:
        return request.method in ("DELETE", "PUT", "PATCH") or (
            request.method == "POST" and bool(_DESTRUCTIVE_COMMAND.search(request.path))
        )

    def _named(self, request: StepRequest) -> list[str]:
        values = [segment for segment in request.path.split("/") if segment]
        values += [v for k, v in request.query if self.rules.is_identity(k)]
        if request.content_type == "application/x-www-form-urlencoded":
            values += [v for k, v in parse_qsl(request.body.decode("utf-8", "replace")) if self.rules.is_identity(k)]
        elif request.body and "json" in request.content_type:
            try:
                values += [str(v) for _, v in identity_values(orjson.loads(request.body), self.rules)]
            except orjson.JSONDecodeError:
                pass
        return values

    def _field(self, key: str, value: str, side: Side, identity_side: bool) -> str:
        if value == REDACTED:
            secret = side.secrets.get(key.lower()) or _credential(side, key)
            return secret if secret is not None else value
        if identity_side:
            return value
        if value in side.mapping and (self.rules.is_identity(key) or len(value) >= _MIN_SUBSTRING or key.lower() in _SECRET_FIELDS):
            return str(side.mapping[value])
        return value

    def _header(self, name: str, value: str, side: Side, identity_side: bool) -> str:
        if name.lower() in ("authorization", "proxy-authorization") and REDACTED in value:
            if side.auth:
                return side.auth
            scheme = value.split(" ", 1)[0]
            secret = _scheme_secret(side, scheme)
            return f"{scheme} {secret}" if secret else value
        if identity_side:
            return value
        if name.lower() == "authorization" and value.lower().startswith("basic "):
            return _basic(value, side)
        if name.lower() in ("authorization",) and side.auth and not self.reference_is_a:
            return side.auth
        for ref, mine in sorted(side.mapping.items(), key=lambda item: -len(item[0])):
            if len(ref) >= _MIN_SUBSTRING and ref in value:
                value = value.replace(ref, str(mine))
        return value

    def _json(self, value: Any, side: Side, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: self._json(v, side, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json(v, side, key) for v in value]
        if isinstance(value, str) and value == REDACTED and key:
            return side.secrets.get(key.lower()) or _credential(side, key) or value
        if (
            value is not None
            and not isinstance(value, bool)
            and str(value) in side.mapping
            and (self.rules.is_identity(key) or (isinstance(value, str) and len(value) >= _MIN_SUBSTRING))
        ):
            return _same_type(value, side.mapping[str(value)])
        return value

    # -- sending -------------------------------------------------------------------------------
    def send(self, request: StepRequest, side: Side, timeout: float = 60) -> Exchange:
        url = side.root.rstrip("/") + request.path + ("?" + urlencode(request.query) if request.query else "")
        prepared = requests.Request(request.method, url, headers=request.headers, data=request.body or None).prepare()
        try:
            response = side.session.send(prepared, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return Exchange(prepared, None, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Exchange(prepared, Reply(response.status_code, headers, response.content))

    def learn(self, request: StepRequest, reference: Reply | None, exchange: Exchange, side: Side) -> None:
        """Pair the reference reply's identities with the side's; note what the side created and deleted."""
        reply = exchange.reply
        if reply is None:
            return
        body = reply.json()
        harvest_secrets(body, side)
        read_command = _read_command(request)
        created = request.method in ("POST", "PUT") and 200 <= reply.status < 300 and not read_command
        if created and isinstance(body, Mapping):
            for _, value in identity_values({k: v for k, v in body.items() if not isinstance(v, (Mapping, list))}, self.rules):
                side.created.add(str(value))
        self._track_objects(exchange, side)
        if reference is None:
            return
        ref_body = reference.json()
        if not isinstance(ref_body, (Mapping, list)) or not isinstance(body, (Mapping, list)):
            pass
        else:
            read = request.method == "GET" or not 200 <= reply.status < 300
            secrets_only = self.same_data and (read or read_command)
            pair_values(ref_body, body, self.rules, side, weak=read, secrets_only=secrets_only)
        ref_location, location = reference.headers.get("location"), reply.headers.get("location")
        if ref_location and location:
            for x, y in zip(urlsplit(ref_location).path.split("/"), urlsplit(location).path.split("/"), strict=False):
                if x != y and x and y:
                    side.mapping[x] = y

    def _track_objects(self, exchange: Exchange, side: Side) -> None:
        """The objects the side itself created (a cleanup rule's create) and deleted, from what was sent to it."""
        reply, sent = exchange.reply, exchange.request
        if reply is None or sent is None or not 200 <= reply.status < 300:
            return
        root = side.root.rstrip("/")
        url = sent.url or ""
        path = urlsplit(url[len(root) :] if url.startswith(root) else url).path
        method = (sent.method or "GET").upper()
        _, template, _ = self.tiers.locate(method, path)
        rule = self.rules.cleanup_of(method, template)
        body = reply.json()
        if rule is not None and isinstance(body, Mapping) and body.get(rule.field) not in (None, ""):
            side.objects[str(body[rule.field])] = rule
        if self.rules.deletes(method, template) or method == "DELETE":
            raw = sent.body.encode() if isinstance(sent.body, str) else (sent.body or b"")
            named = set(path.split("/"))
            if isinstance(raw, bytes):
                named |= {v for _, v in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)}
            for value in named & set(side.objects):
                del side.objects[value]
                side.deleted.add(value)

    def cleanup(self) -> list[str]:
        """Delete, on each side, the objects it created that the scenario did not delete (the documented delete
        of the cleanup rules, nothing else); returns what could not be deleted."""
        left = []
        for side in (self.a, self.b):
            if side.objects and self.api == "ambra":
                self._fresh_sid(side)
            left += self._delete(side, dict(side.objects))
        return left

    def cleanup_report(self) -> list[str]:
        """Run the cleanup; what it deleted and what it could not, as notes of the report."""
        before = {side.name: dict(side.objects) for side in (self.a, self.b)}
        left = self.cleanup()
        lines = []
        for side in (self.a, self.b):
            if side.removed_early:
                lines.append(
                    f"{side.name}: deleted at once {len(side.removed_early)} object(s) only {side.name} created "
                    f"(the other side refused the create): {', '.join(side.removed_early[:20])}"
                )
            done = [value for value in before[side.name] if value not in side.objects]
            if done:
                lines.append(f"{side.name}: deleted {len(done)} object(s) the scenario created and did not delete: {', '.join(done[:20])}")
        if left:
            lines += [f"NOT DELETED: {line}" for line in left]
        return lines

    def _fresh_sid(self, side: Side) -> None:
        """A session of the side's own for the cleanup (the scenario may have logged its session out)."""
        login, password = _credential(side, "login"), _credential(side, "password")
        if not login or not password:
            return
        body = urlencode([("login", login), ("password", password)]).encode()
        request = StepRequest("POST", "/api/v3/session/login", [], {"Content-Type": "application/x-www-form-urlencoded"}, body)
        reply = self.send(request, side).reply
        sid = reply.json() if reply is not None and reply.status == 200 else None
        if isinstance(sid, Mapping) and isinstance(sid.get("sid"), str):
            side.secrets["sid"] = sid["sid"]

    def _own(self, request: StepRequest, side: Side) -> StepRequest:
        """A request of the side's own (its own identities): only the credentials filled in."""
        query = [(k, self._field(k, v, side, True)) for k, v in request.query]
        headers = {k: self._header(k, v, side, True) for k, v in request.headers.items()}
        if side.auth and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = side.auth
        body = request.body
        if body and request.content_type == "application/x-www-form-urlencoded":
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            body = urlencode([(k, self._field(k, v, side, True)) for k, v in pairs]).encode()
        return StepRequest(request.method, request.path, query, headers, body)

    def note_written(self, request: StepRequest) -> None:
        """Scalars the scenario sends in a body are values it can read back (compared by value)."""
        if not request.body or request.method == "GET":
            return
        if "json" in request.content_type:
            try:
                self._collect(orjson.loads(request.body), None)
            except orjson.JSONDecodeError:
                return
        elif request.content_type == "application/x-www-form-urlencoded":
            for key, value in parse_qsl(request.body.decode("utf-8", "replace")):
                if not self.rules.is_identity(key) and key.lower() not in _SECRET_FIELDS and len(value) >= 2:
                    self.written.add(value)

    def _collect(self, value: Any, key: str | None) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                self._collect(item, str(name))
        elif isinstance(value, list):
            for item in value:
                self._collect(item, key)
        elif value is not None and not isinstance(value, bool) and (key is None or key.lower() not in _SECRET_FIELDS):
            text = str(value)
            if len(text) >= 2:
                self.written.add(text)

    def step(
        self,
        request: StepRequest,
        label: str,
        *,
        recorded: Reply | None = None,
        a_exchange: Exchange | None = None,
        compared: bool = True,
    ) -> StepResult:
        """One step: send (A's exchange may be given: the suite already sent it), learn, compare."""
        objects_before = (set(self.a.objects), set(self.b.objects))
        if a_exchange is None:
            target_a = self.translate(request, self.a)
            a_exchange = Exchange(None, None, skipped=target_a) if isinstance(target_a, str) else self.send(target_a, self.a)
        target_b = self.translate(request, self.b)
        b_exchange = Exchange(None, None, skipped=target_b) if isinstance(target_b, str) else self.send(target_b, self.b)
        reference = a_exchange.reply if self.reference_is_a else recorded
        if self.reference_is_a and a_exchange.reply is not None:
            self.learn(request, None, a_exchange, self.a)
            if request.method in ("POST", "PUT") and 200 <= a_exchange.reply.status < 300:
                self.reference_created |= self.a.created
        else:
            self.learn(request, reference, a_exchange, self.a)
            if recorded is not None and request.method in ("POST", "PUT") and 200 <= recorded.status < 300 and not _read_command(request):
                body = recorded.json()
                if isinstance(body, Mapping):
                    flat = {k: v for k, v in body.items() if not isinstance(v, (Mapping, list))}
                    self.reference_created |= {str(v) for _, v in identity_values(flat, self.rules)}
        if not self.reference_is_a and recorded is None and a_exchange.reply is not None:
            # no recorded reply (a generated case): A is the reference of B's identities
            reference = a_exchange.reply
        self.learn(request, reference, b_exchange, self.b)
        _, template, operation_id = self.tiers.locate(request.method, request.path)
        result = StepResult(len(self.results) + 1, label, request.method, template, operation_id, a_exchange, b_exchange)
        if reference is not None:
            self.pointed |= _pointed(reference.json())
        if compared and a_exchange.reply is not None and b_exchange.reply is not None:
            about_created = self.same_data or self._about_created(request, a_exchange.reply)
            query = dict(request.query)
            ordered = self.rules.ordered(request.method, template, query)
            result.differences = compare(
                a_exchange.reply,
                b_exchange.reply,
                rules=self.rules,
                to_b=self._a_to_b,
                written=self.written if about_created else set(),
                ordered=(ordered.source or ordered.operation) if ordered else None,
                same_data=self.same_data,
                text_to_b=self._a_text_to_b,
            )
            if not about_created:  # each side's own objects: what their data explain is no difference
                result.differences = [
                    d
                    for d in result.differences
                    if not self.tiers.seeded_data(request.method, request.path, a_exchange.reply.status, d.kind, d.where, d.detail)
                ]
            result.tier, result.source = self.tiers.judge(request.method, request.path, a_exchange.reply.status, b_exchange.reply.status)
            for difference in result.differences:
                difference.tier, difference.source = self.tiers.judge_difference(
                    request.method,
                    request.path,
                    a_exchange.reply.status,
                    b_exchange.reply.status,
                    difference.kind,
                    difference.where,
                    difference.detail,
                    len(request.body),
                )
        self._one_sided(a_exchange, b_exchange, objects_before)
        self.note_written(request)
        changed = request.method in ("PUT", "PATCH") or (request.method == "POST" and not _read_command(request))
        changed = changed and not request.path.startswith("/__mock__")
        if changed and a_exchange.reply is not None and 200 <= a_exchange.reply.status < 300:
            self.written_paths.add(request.path)
        self.results.append(result)
        return result

    def _one_sided(self, a: Exchange, b: Exchange, before: tuple[set[str], set[str]]) -> None:
        """An object only one side created (the other refused the create) is deleted at once on that side, so that the
        two sides' states stay comparable (a later list would only repeat the create's difference). A's objects in the
        workflows are the suite's own: it deletes them."""

        def ok(exchange: Exchange) -> bool:
            return exchange.reply is not None and 200 <= exchange.reply.status < 300

        for side, exchange, other, known in ((self.b, b, a, before[1]), (self.a, a, b, before[0])):
            if side is self.a and self.reference_is_a:
                continue
            if ok(exchange) and not ok(other) and not other.skipped:
                fresh = {value: rule for value, rule in side.objects.items() if value not in known}
                if fresh:
                    self._delete(side, fresh)

    def _delete(self, side: Side, objects: Mapping[str, Cleanup]) -> list[str]:
        left = []
        for value, rule in objects.items():
            method, _, path = rule.delete.partition(" ")
            request = StepRequest(method.upper(), path.replace("{id}", value))
            if rule.form:
                request.body = urlencode([(k, v.replace("{id}", value)) for k, v in rule.form]).encode()
                request.headers["Content-Type"] = "application/x-www-form-urlencoded"
            exchange = self.send(self._own(self.authenticate(request), side), side)
            if exchange.reply is not None and (200 <= exchange.reply.status < 300 or exchange.reply.status in (404, 410)):
                side.objects.pop(value, None)
                side.deleted.add(value)
                side.removed_early.append(value)
            else:
                why = exchange.error or f"{exchange.reply.status if exchange.reply else '?'}"
                left.append(f"{side.name}: {rule.create.split(' ', 1)[1]} {value}: {rule.delete} answered {why}")
        return left

    def _a_text_to_b(self, text: str) -> str:
        """A's text as B would say it: A's root replaced by B's, and A's identities (long enough to be told apart) by B's."""
        text = text.replace(self.a.root.rstrip("/"), self.b.root.rstrip("/"))
        origin_a, origin_b = urlsplit(self.a.root).netloc, urlsplit(self.b.root).netloc
        if origin_a and origin_b:
            text = text.replace(origin_a, origin_b)
        for ref, mine in sorted(self.b.mapping.items(), key=lambda item: -len(item[0])):
            value_a = ref if self.reference_is_a else self.a.mapping.get(ref, ref)
            if len(str(value_a)) >= _MIN_SUBSTRING and str(value_a) in text:
                text = text.replace(str(value_a), str(mine))
        return text

    def _a_to_b(self, value: Any) -> Any:
        """A's identity as B's: through the reference (A's value -> reference value -> B's value)."""
        if self.reference_is_a:
            return self.b.to_side(value)
        for ref, mine in self.a.mapping.items():
            if str(mine) == str(value):
                return self.b.to_side(ref)
        return self.b.to_side(value)


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def _read_command(request: StepRequest) -> bool:
    """A POST that reads (an Ambra ``/study/list``, a login): what its reply names, it did not create."""
    return request.method == "POST" and request.path.rstrip("/").rsplit("/", 1)[-1] in _READ_COMMANDS


def _objects(value: Any, rules: Rules) -> list[set[str]]:
    """The objects of a reply that carry identities of their own (scalar fields that are identities), as those sets."""
    found: list[set[str]] = []
    if isinstance(value, Mapping):
        own = {str(v) for k, v in value.items() if not isinstance(v, (Mapping, list)) and v is not None and rules.is_identity(str(k))}
        if own:
            found.append(own)
        for item in value.values():
            if isinstance(item, (Mapping, list)):
                found += _objects(item, rules)
    elif isinstance(value, list):
        for item in value:
            found += _objects(item, rules)
    return found


def _pointed(value: Any) -> set[str]:
    """Paths of the URLs in a reply that point at an object (a uuid among their segments): media, downloads."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for item in value.values():
            found |= _pointed(item)
    elif isinstance(value, list):
        for item in value:
            found |= _pointed(item)
    elif isinstance(value, str) and string_kind(value) == "url":
        path = urlsplit(value).path
        if any(string_kind(segment) == "uuid" for segment in path.split("/")):
            found.add(path)
    return found


def _basic(value: str, side: Side) -> str:
    """HTTP Basic credentials (``client_id:client_secret`` in base64) with the side's counterparts of both halves."""
    import base64
    import binascii

    try:
        user, sep, password = base64.b64decode(value.split(" ", 1)[1].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, IndexError):
        return value
    pair = f"{side.to_side(user)}{sep}{side.to_side(password)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _same_type(reference: Any, mapped: Any) -> Any:
    """The side's counterpart in the JSON type the reference used (a patient sent as "12" stays a string)."""
    if isinstance(reference, str) and not isinstance(mapped, str):
        return str(mapped)
    if isinstance(reference, int) and isinstance(mapped, str) and mapped.isdigit():
        return int(mapped)
    return mapped


def _credential(side: Side, key: str) -> str | None:
    value = side.credentials.get(key) or side.credentials.get(key.lower())
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _scheme_secret(side: Side, scheme: str) -> str | None:
    lower = scheme.lower()
    if lower == "bearer":
        return side.secrets.get("access_token") or _credential(side, "access_token")
    if lower == "token":
        return side.secrets.get("token") or _credential(side, "token")
    if lower == "service-api-key":
        return _credential(side, "api_key")
    return None


def curl(exchange: Exchange) -> str:
    return curl_for(exchange.request) if exchange.request is not None else ""  # type: ignore[arg-type]
