"""The ``medimock`` command: one CLI for every job, each mirroring a make target.

    medimock serve        run the mock server (the default command; ``python -m mockserver``)   make serve
    medimock contract     the contract suites against a server (medimock.contract)             make contract / make test TARGET=
    medimock load         a Locust load test with thresholds (medimock.loadtests.run)           make load
    medimock mutation     does each suite catch each deliberate defect? (medimock.mutation)    make mutation
    medimock mutation-score  cosmic-ray's mutants of the mock against the suites (medimock.mutation_score)  make mutation-score
    medimock diff         one scenario against two targets, every difference (medimock.diff)  make diff
    medimock proxy        a validating proxy in front of a real service
    medimock spec         print or write a spec (medimock.info)
    medimock credentials  the seeded credentials of a served mock (medimock.info)
    medimock defects      the deliberate defects --defect switches on

This module keeps the server's shell (Werkzeug, gunicorn) and hands every other command to the
module named above, which defines its arguments (``add_arguments``) and runs it (``run``).

One process serves with Werkzeug's threaded server; ``--workers N`` (N > 1) runs
gunicorn with N worker processes sharing one SQLite file. With ``--port 0`` the
server picks a free port and prints the URL it listens on.

``medimock proxy --api NAME --upstream URL`` forwards to a real service and checks every
request and response against the spec (``mockserver/proxy.py``); it runs in one process.
``medimock serve --replay FILE`` answers from a recording the proxy made (``mockserver/replay.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler

from .config import ALL_APIS, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SEED, MockConfig
from .http import redact_query
from .serving import KeptAlive

EXIT_CODES = """\
exit codes (every command): 0 success (the checks passed), 1 violations (a contract check, a
load threshold or a mutation escaped), 2 usage error or a target that cannot be reached"""


def build_parser() -> argparse.ArgumentParser:
    from medimock import __version__, contract, diff, info, mutation, mutation_score
    from medimock.loadtests import run as load

    parser = argparse.ArgumentParser(
        prog="medimock",
        description="medimock: a stateful mock server, contract suites and load tests for medical-imaging cloud APIs "
        "(Clarius Cloud, tscharts, radiology report retrieval, Ambra v3). Without a command: `medimock serve`.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"medimock {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the mock server, every API on one port (the default command)",
        description="Serve every API (or --api ones) statefully from its spec on http://HOST:PORT; GET / lists where everything is.",
        epilog="exit codes: 0 stopped (Ctrl-C, SIGTERM), 2 a usage error or a recording that cannot be replayed",
    )
    add_serve_arguments(serve)
    contract.add_arguments(sub.add_parser("contract", help="run the contract suites against a server (or the mock)"))
    load.add_arguments(sub.add_parser("load", help="load-test a server with a Locust scenario and thresholds"))
    mutation.add_arguments(sub.add_parser("mutation", help="check that each contract suite catches each deliberate defect of the mock"))
    mutation_score.add_arguments(
        sub.add_parser("mutation-score", help="an independent mutation score: cosmic-ray mutates the mock, each API's suite judges")
    )
    diff.add_arguments(sub.add_parser("diff", help="one scenario against two targets in lockstep; every difference explained"))
    info.add_spec_arguments(sub.add_parser("spec", help="print or write an API's OpenAPI spec"))
    info.add_credentials_arguments(sub.add_parser("credentials", help="the seeded credentials of a running mock"))
    defects = sub.add_parser(
        "defects",
        help="list the deliberate defects (JSON) that --defect switches on",
        description="The deliberate defects of the mock (mutation testing: `medimock serve --defect NAME`), as JSON.",
        epilog="exit codes: 0 listed, 2 a usage error",
    )
    defects.add_argument("--api", action="append", choices=ALL_APIS, help="only this API's defects")
    proxy = sub.add_parser(
        "proxy",
        help="forward to a real service, validating every request and response against the spec",
        description="Serve one API at its medimock mount, forward every request to --upstream, and record where the "
        "traffic and the spec disagree: in the journal (GET /__mock__/requests), the report (GET /__mock__/proxy/report, "
        "--report) and, with --record, a recording that `medimock serve --replay` serves back. Credentials are redacted "
        "everywhere.",
        epilog="exit codes: 0 stopped (Ctrl-C, SIGTERM; the report is written), 2 a usage error, a bad upstream or a port "
        "that cannot be bound",
    )
    add_proxy_arguments(proxy)
    add_serve_arguments(parser)  # `medimock --port 9000` works too
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--host", default=env("MEDIMOCK_HOST", DEFAULT_HOST), help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(env("PORT", env("MEDIMOCK_PORT", str(DEFAULT_PORT)))),
        help="port (default 8080, $PORT; 0 picks a free one)",
    )
    parser.add_argument("--seed", type=int, default=int(env("MEDIMOCK_SEED", str(DEFAULT_SEED))), help="fixture seed")
    parser.add_argument(
        "--seed-time",
        type=_seed_time,
        default=env("MEDIMOCK_SEED_TIME"),
        metavar="ISO",
        help="the moment the seeded data is relative to (ISO 8601, e.g. 2026-12-01T00:00:00Z; default: when it is seeded); "
        "two mocks with one seed, profile and seed time hold the very same data (medimock diff compares every value)",
    )
    parser.add_argument("--db", default=env("MEDIMOCK_DB"), help="SQLite file (default: a temporary file removed at exit)")
    parser.add_argument("--workers", type=int, default=int(env("MEDIMOCK_WORKERS", "1")), help="worker processes (>1 runs gunicorn)")
    parser.add_argument("--profile", choices=("default", "large", "huge"), default=env("MEDIMOCK_PROFILE", "default"), help="fixture size")
    parser.add_argument("--api", action="append", choices=ALL_APIS, help="serve only this API (repeatable; default all)")
    parser.add_argument(
        "--strict",
        action="store_true",
        default=env("MEDIMOCK_STRICT", "") in ("1", "true"),
        help="validate every response against the spec",
    )
    parser.add_argument("--defect", action="append", default=[], help="switch on a deliberate defect (mutation testing)")
    parser.add_argument(
        "--webhook-timeout", type=float, default=float(env("MEDIMOCK_WEBHOOK_TIMEOUT", "10")), help="seconds a webhook receiver gets"
    )
    parser.add_argument(
        "--token-ttl", type=int, default=int(env("MEDIMOCK_TOKEN_TTL", "3600")), help="lifetime of issued OAuth tokens, seconds"
    )
    parser.add_argument(
        "--max-body", type=int, default=int(env("MEDIMOCK_MAX_BODY_BYTES", str(32 * 1024 * 1024))), help="largest request body, bytes"
    )
    parser.add_argument("--no-control", action="store_true", help="do not serve the /__mock__ control API")
    parser.add_argument("--control-token", default=env("MEDIMOCK_CONTROL_TOKEN"), help="require 'Authorization: Bearer TOKEN' on /__mock__")
    parser.add_argument("--log-level", default=env("MEDIMOCK_LOG_LEVEL", "WARNING"))
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="answer requests that match an exchange of this recording (from `medimock proxy --record`) with the recorded response",
    )
    parser.add_argument(
        "--replay-strict",
        action="store_true",
        help="with --replay: a request the recording does not hold is a 404 (default: the mock answers)",
    )
    parser.add_argument(
        "--replay-ignore-body", action="store_true", help="with --replay: match on method, path and query only, not on the request body"
    )


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", required=True, choices=ALL_APIS, help="the API to proxy (its spec and mount)")
    parser.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the API's base URL on the real service (what medimock serves at the API's mount), e.g. https://host/api/v3 for ambra",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port (default 8090; 0 picks a free one)")
    parser.add_argument("--record", metavar="FILE", help="append every exchange (redacted) to this JSON-lines recording")
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write the report here on shutdown and on GET /__mock__/proxy/report (.html: HTML, .json: JSON, else Markdown)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds the upstream gets to answer (default 60); then 504")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to connect to the upstream (default 10); then 504")
    parser.add_argument(
        "--max-body",
        type=int,
        default=32 * 1024 * 1024,
        help="bodies are buffered and validated up to this size (default 32 MiB): a larger request is a 413, a larger response is streamed unvalidated",
    )
    parser.add_argument("--ca-bundle", metavar="FILE", help="CA certificates for an https upstream (default: certifi's)")
    parser.add_argument(
        "--control-token", default=os.environ.get("MEDIMOCK_CONTROL_TOKEN"), help="require 'Authorization: Bearer TOKEN' on /__mock__"
    )
    parser.add_argument("--no-control", action="store_true", help="do not serve the /__mock__ control API")
    parser.add_argument("--workers", type=int, default=1, help="only 1: the proxy keeps its report and recording in one process")
    parser.add_argument("--log-level", default=os.environ.get("MEDIMOCK_LOG_LEVEL", "WARNING"))


def _seed_time(text: str) -> str:
    from .store import parse_seed_time

    try:
        return parse_seed_time(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 moment: {text!r} (e.g. 2026-12-01T00:00:00Z)") from None


def config_from_args(args: argparse.Namespace) -> MockConfig:
    return MockConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        seed_time=args.seed_time,
        db=args.db,
        profile=args.profile,
        apis=tuple(args.api) if args.api else ALL_APIS,
        strict=args.strict,
        defects=frozenset(args.defect),
        webhook_timeout=args.webhook_timeout,
        token_ttl=args.token_ttl,
        max_body_bytes=args.max_body,
        control=not args.no_control,
        control_token=args.control_token,
        replay=args.replay,
        replay_strict=args.replay_strict,
        replay_match_body=not args.replay_ignore_body,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "defects":
        return list_defects(args.api or list(ALL_APIS))
    if args.command in ("contract", "load", "mutation", "mutation-score", "diff", "spec", "credentials"):
        return run_tool(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "proxy":
        return run_proxy(args)
    config = config_from_args(args)
    if config.host not in ("127.0.0.1", "localhost", "::1") and config.control and not config.control_token:
        print(
            f"medimock: warning: listening on {config.host} with an unprotected control API; "
            "pass --control-token or --no-control when other hosts can reach it",
            file=sys.stderr,
        )
    from .replay import ReplayError

    try:
        if args.workers > 1:
            return serve_gunicorn(config, args.workers)
        return serve_werkzeug(config)
    except ReplayError as exc:
        print(f"medimock: cannot replay: {exc}", file=sys.stderr)
        return 2


def run_tool(args: argparse.Namespace) -> int:
    """A command that is not the server's: the module that defined its arguments runs it."""
    from medimock import contract, diff, info, mutation, mutation_score
    from medimock.loadtests import run as load

    runners = {
        "contract": contract.run,
        "diff": diff.run,
        "load": load.run,
        "mutation": mutation.run,
        "mutation-score": mutation_score.run,
        "spec": info.run_spec,
        "credentials": info.run_credentials,
    }
    return int(runners[args.command](args))


def list_defects(apis: list[str]) -> int:
    """Print every deliberate defect as JSON: what mutation testing switches on one at a time."""
    from .pipeline import load_api

    found = []
    for name in apis:
        definition = load_api(name)
        if definition is not None:
            found += [{"api": name, "name": d.name, "description": d.description} for d in definition.defects.values()]
    print(json.dumps(found, indent=2))
    return 0


def seed_apart(config: MockConfig) -> None:
    """A profile of a million rows (``pipeline.BULK_PROFILES``) is seeded by a process of its own, which then
    exits: the memory seeding takes (chunks in flight, SQLite's page cache) never stays in the processes that
    serve (gunicorn forks its workers from this one). Other profiles are seeded where they are served."""
    from .pipeline import BULK_PROFILES

    if config.profile not in BULK_PROFILES or config.db is None:
        return
    code = "from mockserver.config import MockConfig; from mockserver.pipeline import MockApp; MockApp(MockConfig.from_env()).close()"
    # In a process group of its own, with the processes it forks to render chunks: a server stopped while it
    # seeds (SIGTERM, Ctrl-C) stops the whole group instead of leaving a seeder writing a gigabyte for nobody.
    seeder = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **config.to_env()}, start_new_session=True)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_seeding) if in_main_thread else None
    try:
        returncode = seeder.wait()
    except BaseException as exc:
        os.killpg(seeder.pid, signal.SIGKILL)
        seeder.wait()
        if isinstance(exc, KeyboardInterrupt):
            raise SystemExit("medimock: stopped while seeding (SIGINT)") from None
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    if returncode != 0:
        raise SystemExit(f"medimock: seeding the {config.profile} profile failed (exit code {returncode})")


def _stop_seeding(signum: int, _frame: Any) -> None:
    raise SystemExit(f"medimock: stopped while seeding ({signal.Signals(signum).name})")


def serve_werkzeug(config: MockConfig) -> int:
    from werkzeug.serving import make_server

    from .app import create_app
    from .pipeline import BULK_PROFILES, MockApp

    owned_dir = None
    if config.db is None and config.profile in BULK_PROFILES:  # seeded by another process: a file both open
        owned_dir = tempfile.TemporaryDirectory(prefix="medimock-")
        config = config.with_overrides(db=str(Path(owned_dir.name) / "medimock.sqlite3"))
    seed_apart(config)
    mock = MockApp(config)
    _announce_replay(mock)
    app = create_app(mock=mock)
    server = make_server(config.host, config.port, app, threaded=True, request_handler=RedactingRequestHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # ThreadedWSGIServer's ThreadingMixIn
    print(f"medimock listening on http://{_display_host(config.host)}:{server.port} ({', '.join(a.name for a in mock.apis)})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        mock.close()
        if owned_dir is not None:
            owned_dir.cleanup()
    return 0


def _announce_replay(mock: Any) -> None:
    if mock.replay is None:
        return
    replay = mock.replay
    misses = "a 404" if replay.strict else "answered by the mock"
    print(
        f"medimock: replaying {replay.exchanges} exchanges from {replay.path}; other requests are {misses}"
        + ("" if replay.match_body else " (bodies not compared)"),
        file=sys.stderr,
    )
    for skipped in replay.skipped:
        print(f"medimock: replay: skipped {skipped}", file=sys.stderr)


def run_proxy(args: argparse.Namespace) -> int:
    """``medimock proxy``: one process, Werkzeug's threaded server, the report written on exit."""
    from werkzeug.serving import make_server

    from .proxy import ProxyConfig, ProxyConfigError, ValidatingProxy
    from .proxy_app import ProxyWsgiApp

    if args.workers != 1:
        print(
            "medimock proxy: --workers must be 1: the proxy keeps its report, its journal and the recording in one process "
            "(one threaded process forwards hundreds of requests a second; run one proxy per client group for more)",
            file=sys.stderr,
        )
        return 2
    config = ProxyConfig(
        api=args.api,
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        record=args.record,
        report=args.report,
        connect_timeout=args.connect_timeout,
        timeout=args.timeout,
        max_body_bytes=args.max_body,
        ca_bundle=args.ca_bundle,
        control=not args.no_control,
        control_token=args.control_token,
    )
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"medimock proxy: warning: listening on {config.host}: other hosts can send requests through it to {args.upstream}"
            + ("" if config.control_token or not config.control else ", and read its journal (pass --control-token)"),
            file=sys.stderr,
        )
    try:
        proxy = ValidatingProxy(config)
    except ProxyConfigError as exc:
        print(f"medimock proxy: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(config.host, config.port, ProxyWsgiApp(proxy), threaded=True, request_handler=ProxyRequestHandler)
    except (OSError, SystemExit) as exc:  # Werkzeug exits (after saying why) when the port is taken
        proxy.close()
        reason = exc.strerror if isinstance(exc, OSError) else "see above"
        print(f"medimock proxy: cannot listen on {config.host}:{config.port} ({reason})", file=sys.stderr)
        return 2
    server.daemon_threads = True  # type: ignore[attr-defined]  # ThreadedWSGIServer's ThreadingMixIn
    mount = proxy.mount or "/"
    print(
        f"medimock proxy listening on http://{_display_host(config.host)}:{server.port} ({config.api} at {mount} -> {proxy.upstream_base})",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        written = proxy.close()
        if written:
            print(f"medimock proxy: report written to {written}", file=sys.stderr)
    return 0


class RedactingRequestHandler(KeptAlive, WSGIRequestHandler):
    """Werkzeug's access log, without credentials that clients put in query strings (Ambra's sid...).

    Requests refused before the app (a request line over 64 KiB: 414; a header line over 64 KiB or
    more than 100 headers: 431) are answered with a JSON ``detail`` and journaled (``mockserver/serving.py``).
    """

    error_message_format = '{"detail": "%(code)d %(message)s: %(explain)s"}'
    error_content_type = "application/json"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # JSON-safe: a bad request line is quoted back in the message
        quoted = [None if text is None else json.dumps(text)[1:-1] for text in (message, explain)]
        super().send_error(code, quoted[0], quoted[1])
        if code in (400, 414, 431):
            from .serving import journal_rejection

            reason = {414: "request line too long", 431: "request headers too large"}.get(code, "malformed request")
            journal_rejection(getattr(self.server, "app", None), code, reason, self.command or "", getattr(self, "path", ""))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not hasattr(self, "path"):  # the request line was refused unread (414): nothing to redact
            super().log_request(code, size)
            return
        path, _, query = self.path.partition("?")
        original = self.path
        self.path = path + ("?" + redact_query(query) if query else "")
        try:
            super().log_request(code, size)
        finally:
            self.path = original


class ProxyRequestHandler(RedactingRequestHandler):
    """The proxy's: the status line only, so the upstream's ``Server`` and ``Date`` go through once, not beside ours.

    (``BaseHTTPRequestHandler.send_response`` always adds both; the proxy's WSGI shell adds a
    ``Date`` when the upstream sent none.)
    """

    keep_alive = False  # the body streams to the upstream as it arrives (not counted): Werkzeug's close, as before

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)


def serve_gunicorn(config: MockConfig, workers: int) -> int:
    from gunicorn.app.base import BaseApplication

    from .pipeline import MockApp
    from .serving import gunicorn_settings

    if config.port == 0:  # gunicorn binds once in the master; pick the free port here so it can be announced
        import socket

        with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET) as probe:
            probe.bind((config.host, 0))
            config = config.with_overrides(port=probe.getsockname()[1])
    owned_dir = None
    if config.db is None:  # every worker must open the same file
        owned_dir = tempfile.TemporaryDirectory(prefix="medimock-")
        config = config.with_overrides(db=str(Path(owned_dir.name) / "medimock.sqlite3"))
    # Create and seed the database once, before the workers start (and read the recording once, to fail early).
    seed_apart(config)
    seeding = MockApp(config)
    _announce_replay(seeding)
    seeding.close()
    os.environ.update(config.to_env())

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for name, value in gunicorn_settings(f"{_bind_host(config.host)}:{config.port}", workers).items():
                self.cfg.set(name, value)
            self.cfg.set(
                "when_ready",
                lambda server: print(
                    f"medimock listening on http://{_display_host(config.host)}:{config.port} ({workers} workers)", flush=True
                ),
            )

        def load(self) -> Any:
            from .app import create_app

            return create_app(MockConfig.from_env())

    try:
        Gunicorn().run()
    finally:
        if owned_dir is not None:
            owned_dir.cleanup()
    return 0


def _display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
