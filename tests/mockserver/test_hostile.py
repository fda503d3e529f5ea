"""Hostile input against every operation of every API: always a documented error, never a 500.

Strict mode is on, so an answer whose status (or body) the spec does not document is
itself a 500 here: "below 500" means "documented". After the battery the server still
serves, and the data is intact.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

APIS = ("clarius", "tscharts", "radiology", "ambra")
SQL = "' OR '1'='1'; DROP TABLE clarius_exams; --"
TRAVERSAL = ["..%2F..%2Fetc%2Fpasswd", "....//....//etc", "%2e%2e%2f%2e%2e%2f", "..\\..\\windows"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from mockserver.app import create_app
    from mockserver.config import MockConfig
    from mockserver.pipeline import MockApp

    mock = MockApp(MockConfig(apis=APIS, strict=True, db=str(tmp_path_factory.mktemp("hostile") / "db.sqlite3"), max_body_bytes=64_000))
    app = create_app(mock=mock)
    yield app
    mock.close()


@pytest.fixture(scope="module")
def client(server):
    return server.test_client()


@pytest.fixture(scope="module")
def auth(client) -> dict[str, dict[str, str]]:
    creds = client.get("/__mock__/credentials").get_json()
    radiology = creds["radiology"]
    token = client.post(
        "/radiology/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": radiology["client_id"], "client_secret": radiology["client_secret"]},
    ).get_json()["access_token"]
    ambra = base64.b64encode(f"{creds['ambra']['login']}:{creds['ambra']['password']}".encode()).decode()
    return {
        "ambra": {"Authorization": f"Basic {ambra}"},
        "clarius": {"Authorization": creds["clarius"]["authorization"]},
        "tscharts": {"Authorization": creds["tscharts"]["authorization"]},
        "radiology": {"Authorization": f"Bearer {token}"},
    }


def operations(server) -> list[tuple[str, Any]]:
    mock = server.extensions["medimock"]
    return [(api.name, operation) for api in mock.apis for operation in api.spec.operations]


def sample(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    if schema.get("enum"):
        return str(schema["enum"][0])
    if kinds == "integer":
        return "1"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "x"


def url_for(server, api: str, operation: Any, override: dict[str, str] | None = None) -> str:
    mock = server.extensions["medimock"]
    path = mock.by_name[api].definition.mount + operation.path
    for param in operation.parameters:
        if param.location == "path":
            value = (override or {}).get(param.name, quote(sample(param.schema), safe=""))
            path = path.replace("{" + param.name + "}", value)
    return path


def all_operations():
    from mockserver.config import MockConfig
    from mockserver.pipeline import MockApp

    mock = MockApp(MockConfig(apis=APIS))
    try:
        return [
            pytest.param(api.name, op.operation_id, id=f"{api.name}:{op.operation_id}") for api in mock.apis for op in api.spec.operations
        ]
    finally:
        mock.close()


OPERATIONS = all_operations()


def operation(server, api: str, operation_id: str) -> Any:
    return server.extensions["medimock"].by_name[api].spec.by_id[operation_id]


def keep_credentials(client, auth, api: str) -> None:
    """Ambra commands may legitimately change the admin's password to a hostile string (it is a valid
    password); the battery then restores the fixtures, so later cases still run authenticated."""
    if api == "ambra" and client.post("/api/v3/session/user", headers=auth["ambra"]).status_code != 200:
        assert client.post("/__mock__/reset").status_code == 200


def check(response, what: str, op: Any = None) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:400]}"
    if response.status_code >= 400:
        documented = op.responses.get(str(response.status_code)) if op is not None else None
        if documented is not None and not documented.content and not response.get_data():
            return  # a reply the spec documents without a body (Ambra's malformed /bundle: a bare 400)
        assert response.is_json, f"{what}: an error is JSON in the API's dialect"


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_missing_and_forged_credentials(server, client, api, operation_id):
    op = operation(server, api, operation_id)
    if not op.security or any(not requirement for requirement in op.security):
        pytest.skip("anonymous operation")
    if op.extensions.get("x-ambra-post-only"):
        pytest.skip("POST-only Ambra command: its GET is 405 whoever asks")
    url = url_for(server, api, op)
    for headers in (
        {},
        {"Authorization": "Bearer forged"},
        {"Authorization": "Token 0000"},
        {"Authorization": "Service-API-Key AAAAAAAA.forged"},
        {"Authorization": "Basic " + base64.b64encode(b"nobody@example.org:forged").decode()},
    ):
        response = client.open(url, method=op.method, headers=headers)
        check(response, f"{op.method} {url} with {headers}")
        assert response.status_code == 401, f"{op.method} {url} with {headers}: {response.status_code}"
    if api == "ambra":  # Ambra's own credential: a session id, in the query or (POST) the form
        for where in ("query", "form"):
            if where == "form" and op.method != "POST":
                continue
            response = (
                client.open(f"{url}?sid=forged-{uuid.uuid4()}", method=op.method)
                if where == "query"
                else client.open(url, method=op.method, data={"sid": f"forged-{uuid.uuid4()}"})
            )
            check(response, f"{op.method} {url} with a forged sid in the {where}")
            assert response.status_code == 401, f"{op.method} {url} forged sid in the {where}: {response.status_code}"
            assert response.get_json()["status"] == "ERROR", response.get_json()


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_bodies(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    if op.body is None:
        pytest.skip("no request body")
    keep_credentials(client, auth, api)
    url = url_for(server, api, op)
    headers = auth[api]
    cases = [
        ("malformed JSON", b'{"a": [1, 2', "application/json"),
        ("invalid UTF-8", b'{"name": "\xff\xfe\xfa"}', "application/json"),
        ("wrong content type", b"<xml/>", "application/xml"),
        ("no content type", b"name=x", ""),
        ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("huge body", b"{" + b'"x": "' + b"a" * 200_000 + b'"}', "application/json"),
        ("broken multipart", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=xyz"),
        ("form with invalid UTF-8", b"name=%ff%fe&file=%00", "application/x-www-form-urlencoded"),
    ]
    for what, body, content_type in cases:
        response = client.open(
            url, method=op.method, data=body, headers={**headers, **({"Content-Type": content_type} if content_type else {})}
        )
        check(response, f"{what}: {op.method} {url}", op)
    assert (
        client.open(url, method=op.method, data=b"x" * 70_000, headers={**headers, "Content-Type": "application/json"}).status_code == 413
    )


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_parameters(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    if op.extensions.get("x-medimock-form-from-query"):
        pytest.skip("an Ambra POST reads its query as its GET twin does, which this battery covers")
    keep_credentials(client, auth, api)
    headers = auth[api]
    for value in TRAVERSAL:
        overrides = {p.name: value for p in op.parameters if p.location == "path"}
        if overrides:
            url = url_for(server, api, op, overrides)
            check(client.open(url, method=op.method, headers=headers), f"traversal {url}", op)
    url = url_for(server, api, op)
    query_params = [p for p in op.parameters if p.location == "query"]
    hostile_values = [SQL, "%", "_", "\x00", "\U0001d518\U0001d52b\u202e\u0301", "9" * 400, "-1e309", "[]", "{}", "null"]
    for value in hostile_values:
        query = "&".join(f"{p.name}={quote(value)}" for p in query_params) or f"x={quote(value)}"
        check(client.open(f"{url}?{query}", method=op.method, headers=headers), f"{value!r} in the query of {url}", op)
    many = "&".join(f"p{i}=1" for i in range(10_000))
    check(client.open(f"{url}?{many}", method=op.method, headers=headers), f"10,000 query parameters on {url}", op)
    check(client.open(f"{url}?a=%ff%fe%fd", method=op.method, headers=headers), f"invalid UTF-8 in the query of {url}", op)


def test_still_serving_and_data_intact(client, auth):
    page = client.get("/api/public/v0/exams/accessible/", headers=auth["clarius"])
    assert page.status_code == 200 and page.get_json()["count"] >= 120, "the SQL in the battery changed nothing"
    studies = client.post("/api/v3/study/count", headers=auth["ambra"])
    assert studies.status_code == 200, studies.get_json()
    assert client.post("/api/v3/study/list", data={"page.rows": 1}, headers=auth["ambra"]).get_json()["page"]["more"] == 1
    assert client.get("/__mock__/health").status_code == 200


# -- the same hostile input against every server the project ships ---------------------------------
#
# The tests above go through Flask's test client. Those below speak HTTP (raw bytes on a socket) to
# each server a user runs - `make serve` (Werkzeug's threaded server), `--workers 2` (gunicorn), the
# validating proxy (`medimock proxy`, in front of a mock) - and through `requests` to
# `medimock.intercept()`. One server per parameter, started once for this module. For every case:
# an HTTP answer (never a dropped connection), never a 5xx, and the server answers afterwards.

SERVERS = ("serve", "gunicorn", "proxy", "intercept")
BIG = 2**70  # an integer beyond 64 bits
LINE_TOO_LONG = "&".join(f"p{i}=1" for i in range(10_000))  # a request line of ~88 KB: past every server's limit


@dataclass
class LiveServer:
    kind: str
    roots: dict[str, str]  # API -> the server's root URL serving it at medimock's mount
    auth: dict[str, dict[str, str]]
    control: dict[str, str]  # API -> the root whose /__mock__ journals that API's traffic
    session: Any = None  # intercept: the requests module, patched

    @property
    def sockets(self) -> bool:
        return self.kind != "intercept"

    def address(self, api: str) -> tuple[str, int]:
        parts = urlsplit(self.roots[api])
        return parts.hostname or "127.0.0.1", parts.port or 80


def _read_line(process: subprocess.Popen[str], what: str, timeout: float = 60) -> str:
    holder: list[str] = []
    reader = threading.Thread(target=lambda: holder.append(process.stdout.readline() if process.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    line = holder[0] if holder else ""
    assert "listening on http://" in line, f"{what} did not start: {line!r}"
    return line.split("listening on ", 1)[1].split()[0]


def _spawn(args: list[str], what: str, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    log = open(tmp / f"{what}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "mockserver", *args], stdout=subprocess.PIPE, stderr=log, text=True)
    return process, _read_line(process, what)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _live_auth(credentials: dict[str, Any], token_url: str) -> dict[str, dict[str, str]]:
    radiology = credentials["radiology"]
    grant = {"grant_type": "client_credentials", "client_id": radiology["client_id"], "client_secret": radiology["client_secret"]}
    body = urllib.parse.urlencode(grant).encode()
    with urllib.request.urlopen(urllib.request.Request(token_url, data=body), timeout=30) as answer:
        token = json.loads(answer.read())["access_token"]
    ambra = base64.b64encode(f"{credentials['ambra']['login']}:{credentials['ambra']['password']}".encode()).decode()
    return {
        "ambra": {"Authorization": f"Basic {ambra}"},
        "clarius": {"Authorization": credentials["clarius"]["authorization"]},
        "tscharts": {"Authorization": credentials["tscharts"]["authorization"]},
        "radiology": {"Authorization": f"Bearer {token}"},
    }


def _credentials(root: str) -> dict[str, Any]:
    with urllib.request.urlopen(root + "/__mock__/credentials", timeout=30) as answer:
        return dict(json.loads(answer.read()))


@pytest.fixture(scope="module", params=SERVERS)
def live(request, tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    processes: list[subprocess.Popen[str]] = []
    try:
        if request.param == "intercept":
            import requests

            import medimock

            with medimock.intercept(db=str(tmp / "db.sqlite3"), max_body_bytes=64_000) as mock:
                root = mock.control_url or "http://medimock.local"
                creds = requests.get(root + "/__mock__/credentials", timeout=10).json()
                radiology = creds["radiology"]
                grant = {
                    "grant_type": "client_credentials",
                    "client_id": radiology["client_id"],
                    "client_secret": radiology["client_secret"],
                }
                token = requests.post(root + "/radiology/oauth2/token", data=grant, timeout=10).json()["access_token"]
                ambra = base64.b64encode(f"{creds['ambra']['login']}:{creds['ambra']['password']}".encode()).decode()
                auth = {
                    "ambra": {"Authorization": f"Basic {ambra}"},
                    "clarius": {"Authorization": creds["clarius"]["authorization"]},
                    "tscharts": {"Authorization": creds["tscharts"]["authorization"]},
                    "radiology": {"Authorization": f"Bearer {token}"},
                }
                roots = dict.fromkeys(APIS, root)
                yield LiveServer("intercept", roots, auth, roots, session=requests)
            return
        common = ["--host", "127.0.0.1", "--port", "0", "--max-body", "64000", "--webhook-timeout", "2"]
        if request.param in ("serve", "gunicorn"):
            workers = ["--workers", "2"] if request.param == "gunicorn" else []
            process, root = _spawn([*common, "--db", str(tmp / "db.sqlite3"), *workers], request.param, tmp)
            processes.append(process)
            yield LiveServer(
                request.param,
                dict.fromkeys(APIS, root),
                _live_auth(_credentials(root), root + "/radiology/oauth2/token"),
                dict.fromkeys(APIS, root),
            )
            return
        upstream, upstream_root = _spawn([*common, "--db", str(tmp / "db.sqlite3")], "upstream", tmp)
        processes.append(upstream)
        roots, control = {}, {}
        for api in ("clarius", "ambra"):  # JSON bodies are Clarius's, forms Ambra's: a proxy in front of each
            mount = "/api/v3" if api == "ambra" else ""
            proxy, proxy_root = _spawn(
                ["proxy", "--api", api, "--upstream", upstream_root + mount, "--port", "0", "--max-body", "64000"], f"proxy-{api}", tmp
            )
            processes.append(proxy)
            roots[api] = control[api] = proxy_root
        auth = _live_auth(_credentials(upstream_root), upstream_root + "/radiology/oauth2/token")
        yield LiveServer("proxy", roots, auth, control)
    finally:
        for process in reversed(processes):
            _stop(process)


@dataclass
class Answer:
    status: int
    body: bytes


def send_raw(live: LiveServer, api: str, data: bytes, half_close: bool = False, timeout: float = 20) -> Answer:
    """Raw bytes to the server of ``api``; the HTTP answer (a dropped connection fails the test)."""
    with socket.create_connection(live.address(api), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            body = response.read()
        except (http.client.HTTPException, OSError) as exc:
            raise AssertionError(f"{live.kind}: no HTTP answer to {data[:120]!r}...: {exc!r} (a dropped connection)") from exc
        return Answer(response.status, body)


def request_bytes(
    live: LiveServer, api: str, method: str, target: bytes, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    host, port = live.address(api)
    lines = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: {host}:{port}".encode(), b"Connection: close"]
    lines += [f"{name}: {value}".encode() for name, value in {**live.auth[api], **(headers or {})}.items()]
    if body and not any(name.lower() == "content-length" for name in headers or {}):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send(live: LiveServer, api: str, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    """One request, through the socket (servers) or ``requests`` (intercept); the answer must not be a 5xx."""
    if live.sockets:
        answer = send_raw(live, api, request_bytes(live, api, method, target.encode("latin-1"), headers, body))
    else:
        response = live.session.request(
            method, live.roots[api] + target, headers={**live.auth[api], **(headers or {})}, data=body or None, timeout=30
        )
        answer = Answer(response.status_code, response.content)
    assert answer.status < 500, f"{live.kind}: {method} {target[:120]} -> {answer.status} {answer.body[:300]!r}"
    return answer


def journaled(live: LiveServer, api: str, status: int) -> bool:
    """Whether the server's journal shows a request refused with ``status`` (gunicorn's workers flush every 50 ms)."""
    for _ in range(40):
        with urllib.request.urlopen(live.control[api] + "/__mock__/requests?limit=200", timeout=10) as answer:
            if any(entry["status"] == status for entry in json.loads(answer.read())["results"]):
                return True
        time.sleep(0.05)
    return False


POLL = "/api/public/v0/exams/accessible/"


def test_request_line_past_the_limit(live):
    answer = send(live, "clarius", "GET", f"{POLL}?{LINE_TOO_LONG}")
    if live.sockets:
        assert answer.status == 414, f"{live.kind}: {answer.status} {answer.body[:200]!r}"
        assert journaled(live, "clarius", 414), f"{live.kind}: the 414 is not in the journal"
    send(live, "ambra", "GET", f"/api/v3/study/list?{LINE_TOO_LONG}")


def test_headers_past_the_limits(live):
    for what, headers, status in (
        ("a 70 KB header", {"X-Big": "a" * 70_000}, 431),
        ("150 headers", {f"X-H{i}": "1" for i in range(150)}, 431),
    ):
        answer = send(live, "clarius", "GET", POLL, headers)
        if live.sockets:
            assert answer.status == status, f"{live.kind}: {what}: {answer.status} {answer.body[:200]!r}"
    if live.sockets:
        assert journaled(live, "clarius", 431), f"{live.kind}: the 431 is not in the journal"


def test_slow_loris(live):
    """Clients that send half a request and stall (more of them than gunicorn has threads) cost nobody else an
    answer; when they finish, within a bounded wait, each is answered."""
    if not live.sockets:
        pytest.skip("intercept() has no socket: a request reaches it whole")
    stalled = []
    try:
        for i in range(40):
            sock = socket.create_connection(live.address("clarius"), timeout=20)
            sock.sendall(request_bytes(live, "clarius", "GET", POLL.encode())[: 20 + i])  # somewhere in the request line or head
            stalled.append((sock, i))
        silent = [socket.create_connection(live.address("clarius"), timeout=20) for _ in range(10)]  # connected, nothing sent
        stalled += [(sock, -1) for sock in silent]
        time.sleep(0.3)
        started = time.monotonic()
        assert send(live, "clarius", "GET", POLL).status == 200
        assert time.monotonic() - started < 5, f"{live.kind}: an ordinary request waited {time.monotonic() - started:.1f} s"
        full = request_bytes(live, "clarius", "GET", POLL.encode())
        for sock, sent in stalled:
            sock.sendall(full[sent + 20 :] if sent >= 0 else full)
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
            except (http.client.HTTPException, OSError) as exc:
                raise AssertionError(f"{live.kind}: a slow client was dropped: {exc!r}") from exc
            assert response.status == 200, f"{live.kind}: {response.status}"
    finally:
        for sock, _ in stalled:
            sock.close()


def test_bodies_that_lie_about_their_length(live):
    uuid_ = _application(live)
    target = f"/api/public/v0/services/applications/{uuid_}/"
    body = b'{"annotations": []}'
    if not live.sockets:
        send(live, "clarius", "PUT", target, {"Content-Type": "application/json", "Content-Length": "1000"}, body)
        pytest.skip("intercept(): requests sends the length of the body it has; the socket cases do not apply")
    cases = [
        ("longer than sent, then the client closes its side", {"Content-Length": "1000"}, body, True),
        ("shorter than sent", {"Content-Length": "5"}, body, False),
        ("negative", {"Content-Length": "-1"}, body, False),
        ("not a number", {"Content-Length": "many"}, body, False),
        ("two different lengths", {"Content-Length": f"{len(body)}\r\nContent-Length: 3"}, body, False),
    ]
    for what, headers, payload, half_close in cases:
        headers = {"Content-Type": "application/json", **headers}
        answer = send_raw(live, "clarius", request_bytes(live, "clarius", "PUT", target.encode(), headers, payload), half_close=half_close)
        assert answer.status < 500, f"{live.kind}: a length {what}: {answer.status} {answer.body[:300]!r}"


def test_invalid_utf8(live):
    uuid_ = _application(live)
    percent = [
        ("GET", "/api/public/v0/exams/%ff%fe/data/", {}, b""),
        ("GET", f"{POLL}?customer_id=%ff%fe%fd&limit=%c3%28", {}, b""),
        ("PATCH", "/api/public/v0/services/settings/", {"Content-Type": "application/json"}, b'{"notification_url": "\xff\xfe"}'),
        ("PUT", f"/api/public/v0/services/applications/{uuid_}/", {"Content-Type": "application/json"}, b'{"annotations": "\xc3\x28"}'),
    ]
    for method, target, headers, body in percent:
        send(live, "clarius", method, target, headers, body)
    send(
        live,
        "ambra",
        "POST",
        "/api/v3/study/list",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"filter.patient_name.like=%ff%fe&page.rows=%c3",
    )
    if not live.sockets:
        live.session.get(
            live.roots["clarius"] + POLL, headers={**live.auth["clarius"], "X-Bytes": b"\xff\xfe".decode("latin-1")}, timeout=30
        )
        return
    for raw in (
        request_bytes(live, "clarius", "GET", b"/api/public/v0/exams/\xff\xfe/data/"),
        request_bytes(live, "clarius", "GET", POLL.encode() + b"?customer_id=\xff\xfe"),
        request_bytes(live, "clarius", "GET", POLL.encode(), {"X-Bytes": "\xff\xfe", "Accept": "\xc3\x28"}),
    ):
        answer = send_raw(live, "clarius", raw)
        assert answer.status < 500, f"{live.kind}: {raw[:80]!r}: {answer.status} {answer.body[:300]!r}"


def test_numbers_beyond_64_bits(live):
    """In JSON they are stored and echoed exactly; in forms and queries they are answered as the API answers a bad number."""
    uuid_ = _application(live)
    annotations = [{"title": "big", "labels": ["a"], "linked": False, "count": BIG, "negative": -BIG}]
    body = json.dumps({"annotations": annotations}).encode()
    put = send(live, "clarius", "PUT", f"/api/public/v0/services/applications/{uuid_}/", {"Content-Type": "application/json"}, body)
    assert put.status == 200, put.body[:300]
    assert json.loads(put.body)["annotations"] == annotations, "integers beyond 64 bits come back exactly"
    got = send(live, "clarius", "GET", f"/api/public/v0/services/applications/{uuid_}/")
    assert json.loads(got.body)["annotations"] == annotations
    send(live, "clarius", "GET", f"{POLL}?limit={BIG}&offset={BIG}")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for fields in (f"page.rows={BIG}", f"page.number={BIG}", f"filter.image_count.gt={BIG}", f"filter.image_count.in=[{BIG}]"):
        assert send(live, "ambra", "POST", "/api/v3/study/list", form, fields.encode()).status in (200, 412)
        send(live, "ambra", "GET", f"/api/v3/study/list?{fields.replace('[', '%5B').replace(']', '%5D')}")
    if "tscharts" in live.roots and live.kind != "proxy":
        send(live, "tscharts", "GET", f"/tscharts/v1/image/?patient={BIG}")


def test_the_server_still_answers(live):
    assert send(live, "clarius", "GET", POLL).status == 200
    assert send(live, "ambra", "POST", "/api/v3/study/count", {"Content-Length": "0"}).status == 200


def _application(live: LiveServer) -> str:
    answer = send(live, "clarius", "GET", "/api/public/v0/exams/applications/")
    assert answer.status == 200, answer.body[:300]
    return str(json.loads(answer.body)[0]["uuid"])
