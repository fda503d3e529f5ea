"""The suites' HTTP session (``medimock.suite.Session``) and the garbage-collector plugin's end-of-run setting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from medimock.suite import Session


class _Proxy(BaseHTTPRequestHandler):
    """A loopback "proxy": answers every request itself and remembers the request line it was sent."""

    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        body = b"via the proxy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _Proxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_environment_s_proxy_is_still_used(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    with Session() as session:
        for _ in range(2):  # the second answer comes from the kept settings
            response = session.get("http://medimock.invalid/some/path", timeout=10)
            assert response.text == "via the proxy"
    assert _Proxy.seen == ["http://medimock.invalid/some/path"] * 2


def test_settings_are_requests_own_and_kept_per_origin(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    plain = requests.Session()
    with Session() as session:
        for url in ("http://medimock.invalid/a", "http://bypassed.invalid/b", "https://medimock.invalid/c"):
            assert session.merge_environment_settings(url, {}, None, None, None) == plain.merge_environment_settings(
                url, {}, None, None, None
            )
        kept = session.merge_environment_settings("http://medimock.invalid/other", {}, None, None, None)
        kept["proxies"]["http"] = "changed by a caller"  # a caller's change does not reach the kept answer
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the environment is read once per origin
        again = session.merge_environment_settings("http://medimock.invalid/again", {}, None, None, None)
        assert again["proxies"]["http"] == proxy
        assert again["verify"] == "/etc/ssl/certs/ca-certificates.crt"
        # another origin, and a request's own proxies, are asked of the environment afresh
        assert session.merge_environment_settings("http://other.invalid/", {}, None, None, None)["proxies"]["http"] == "http://127.0.0.1:9"
        own = session.merge_environment_settings("http://medimock.invalid/", {"http": "http://own:1"}, None, None, None)
        assert own["proxies"]["http"] == "http://own:1"
        session.trust_env = False
        assert session.merge_environment_settings("http://medimock.invalid/", {}, None, None, None)["proxies"] == {}


CHECK_ITERATIONS = """
import pytest
from _pytest.unraisableexception import gc_collect_iterations_key

def test_end_of_run_collections(request):
    print("iterations", request.config.stash.get(gc_collect_iterations_key, 5))
"""


@pytest.mark.parametrize(("gc_setting", "expected"), [("", "iterations 1"), ("default", "iterations 5")])
def test_one_collection_at_the_end_of_a_suite_run(tmp_path, monkeypatch, gc_setting: str, expected: str) -> None:
    (tmp_path / "test_it.py").write_text(CHECK_ITERATIONS)
    monkeypatch.setenv("MEDIMOCK_GC", gc_setting)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "medimock.gc_plugin", "-p", "no:xdist", "-p", "no:cacheprovider", "-s", "-q", "test_it.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert expected in done.stdout


def test_the_suites_keep_bytecode_in_medimock_s_cache_not_beside_the_suites(tmp_path) -> None:
    from medimock.contract import child_environment

    home = {"HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    child = child_environment(home)
    assert child["PYTHONPYCACHEPREFIX"] == str(tmp_path / ".cache" / "medimock" / "pycache")
    assert "PYTHONDONTWRITEBYTECODE" not in child, "the prefix keeps source folders clean, so bytecode may be written"
    assert child_environment({**home, "XDG_CACHE_HOME": str(tmp_path / "xdg")})["PYTHONPYCACHEPREFIX"] == str(
        tmp_path / "xdg" / "medimock" / "pycache"
    )
    assert child_environment({**home, "PYTHONPYCACHEPREFIX": "/elsewhere"})["PYTHONPYCACHEPREFIX"] == "/elsewhere"
    assert child_environment({**home, "MEDIMOCK_PYCACHE": str(tmp_path / "mine")})["PYTHONPYCACHEPREFIX"] == str(tmp_path / "mine")
    off = child_environment({**home, "MEDIMOCK_PYCACHE": "off"})
    assert off["PYTHONDONTWRITEBYTECODE"] == "1" and "PYTHONPYCACHEPREFIX" not in off
    assert child_environment({})["PYTHONDONTWRITEBYTECODE"] == "1", "no home: no cache, nothing written"


def test_a_suite_run_writes_no_bytecode_beside_the_suites(tmp_path) -> None:
    """Collecting a suite the way ``medimock contract`` runs pytest keeps its bytecode in the cache only (a pytest
    of the checkout itself may have left some beside the suites before: none is added)."""
    from medimock.contract import child_environment, pytest_command, suites_root

    suites = suites_root() / "contracts" / "tscharts"
    before = set(suites.rglob("*.pyc"))
    cache = tmp_path / "pycache"
    command = pytest_command(["tscharts"], extra=["--collect-only", "-q"])
    env = child_environment({**os.environ, "MEDIMOCK_PYCACHE": str(cache), "MEDIMOCK_TSCHARTS_URL": "http://127.0.0.1:9"})
    done = subprocess.run(command, cwd=suites_root(), env=env, capture_output=True, text=True, timeout=300)
    assert "collected" in done.stdout, done.stdout + done.stderr
    assert set(suites.rglob("*.pyc")) == before, "bytecode written beside the suites"
    assert list(cache.rglob("test_schema*pytest*.pyc")), "the suites' rewritten modules are kept in the cache"
