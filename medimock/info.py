"""What a user looks up: a spec (``medimock spec``) and the seeded credentials of a served mock (``medimock credentials``).

Both work the same from an installed package and from a checkout: the specs come from
``medimock.resources``; the credentials from the mock's ``GET /__mock__/credentials``.
Exit codes: 0 done, 2 a usage error, an unknown API, or a mock that cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from .resources import specs_dir
from .target import CREDENTIAL_ENV

EXIT_OK, EXIT_USAGE = 0, 2


# -- medimock spec ----------------------------------------------------------------------------------


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print or write an API's OpenAPI spec, as medimock ships it (the vendor documents it was written from are in "
        "the sources/ folder beside the specs). Without API: list the specs and where they are."
    )
    parser.epilog = (
        "examples:\n  medimock spec clarius > clarius.yaml\n  st run $(medimock spec clarius --path) --url https://staging.example.com\n"
        "\nexit codes: 0 printed or written, 2 an unknown API or a usage error"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("api", nargs="?", help="the API (clarius, tscharts, radiology, ambra...)")
    parser.add_argument("--out", metavar="PATH", help="write it to this file (or into this directory as <api>.yaml) instead of printing it")
    parser.add_argument("--path", action="store_true", help="print the spec file's path only")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="yaml (the file as shipped, default) or json")


def available() -> dict[str, Path]:
    return {path.parent.name: path for path in sorted(specs_dir().glob("*/openapi.yaml"))}


def run_spec(args: argparse.Namespace) -> int:
    specs = available()
    if args.api is None:
        width = max(map(len, specs), default=0)
        for name, path in specs.items():
            print(f"{name:{width}}  {path}")
        print(f"{'':{width}}  vendor documents: {specs_dir() / 'sources'}")
        return EXIT_OK
    if args.api not in specs:
        print(f"medimock spec: no spec for {args.api!r}; known: {', '.join(specs)}", file=sys.stderr)
        return EXIT_USAGE
    path = specs[args.api]
    if args.path:
        print(path)
        return EXIT_OK
    text = path.read_text(encoding="utf-8")
    if args.format == "json":
        import yaml

        text = json.dumps(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), indent=2, default=str) + "\n"  # noqa: S506 - a safe loader
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            out = out / f"{args.api}.{args.format}"
        out.write_text(text, encoding="utf-8")
        print(f"medimock spec: wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


# -- medimock credentials -----------------------------------------------------------------------------


def add_credentials_arguments(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("PORT", os.environ.get("MEDIMOCK_PORT", "8080"))
    parser.description = "The seeded credentials (and base URLs) of a running medimock, from its GET /__mock__/credentials."
    parser.epilog = (
        "formats:\n"
        "  json   the control API's answer (default)\n"
        "  env    NAME=value lines: the variables `medimock contract` and the load scenarios read\n"
        "         (CLARIUS_API_KEY, AMBRA_LOGIN... and MEDIMOCK_<API>_URL); for $GITHUB_ENV or a GitLab dotenv report\n"
        "  shell  the same as `export NAME='value'` lines, for eval \"$(medimock credentials --format shell)\"\n"
        "\nexit codes: 0 printed, 2 the mock cannot be reached (after --wait) or has no control API"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--target", metavar="URL", default=f"http://127.0.0.1:{port}", help="the mock's root URL (default http://127.0.0.1:$PORT, 8080)"
    )
    parser.add_argument("--api", help="only this API's credentials")
    parser.add_argument("--format", choices=("json", "env", "shell"), default="json")
    parser.add_argument(
        "--wait", type=float, default=0, metavar="SECONDS", help="wait up to this long for the mock to answer (a mock just started)"
    )
    parser.add_argument(
        "--control-token", default=os.environ.get("MEDIMOCK_CONTROL_TOKEN"), help="the mock's --control-token, if it has one"
    )


def fetch_credentials(root: str, *, wait: float = 0, control_token: str | None = None) -> dict[str, Any]:
    """``GET <root>/__mock__/credentials``, retried until ``wait`` seconds have passed; raises RuntimeError."""
    import requests

    url = root.rstrip("/") + "/__mock__/credentials"
    headers = {"Authorization": f"Bearer {control_token}"} if control_token else {}
    deadline = time.monotonic() + wait
    while True:
        try:
            response = requests.get(url, headers=headers, timeout=10)
            break
        except requests.RequestException as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"cannot reach {url}: {type(exc).__name__}") from exc
            time.sleep(0.2)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: is it a medimock with its control API (and the right --control-token)?")
    try:
        body = response.json()
    except ValueError as exc:
        raise RuntimeError(f"{url} did not answer JSON: is it a medimock?") from exc
    if not isinstance(body, dict):
        raise RuntimeError(f"{url} did not answer a JSON object: is it a medimock?")
    return body


def environment_lines(credentials: dict[str, Any]) -> list[tuple[str, str]]:
    """The variables the suites and scenarios read (``medimock.target.CREDENTIAL_ENV``), from served credentials."""
    lines = []
    for api, values in credentials.items():
        if not isinstance(values, dict):
            continue
        if values.get("base_url"):
            lines.append((f"MEDIMOCK_{api.upper()}_URL", str(values["base_url"])))
        for key, variable in CREDENTIAL_ENV.get(api, {}).items():
            value = values.get(key)
            if value in (None, "", []):
                continue
            lines.append((variable, ",".join(map(str, value)) if isinstance(value, list) else str(value)))
    return lines


def run_credentials(args: argparse.Namespace) -> int:
    try:
        credentials = fetch_credentials(args.target, wait=args.wait, control_token=args.control_token)
    except RuntimeError as exc:
        print(f"medimock credentials: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.api:
        if args.api not in credentials:
            print(f"medimock credentials: {args.target} serves no {args.api!r}; it serves {', '.join(credentials)}", file=sys.stderr)
            return EXIT_USAGE
        credentials = {args.api: credentials[args.api]}
    if args.format == "json":
        print(json.dumps(credentials if not args.api else credentials[args.api], indent=2))
    else:
        for name, value in environment_lines(credentials):
            print(f"export {name}={shlex.quote(value)}" if args.format == "shell" else f"{name}={value}")
    return EXIT_OK
