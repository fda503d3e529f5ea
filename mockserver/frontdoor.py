"""The front door, ``GET /``: what this mock serves and how to start, for someone who opened its address.

``describe`` gathers it (each API's base URL, spec, docs, source documents, auth schemes, the seeded
credentials and a first call; the control API's routes; the version) as plain data, which is the JSON
answer; ``render_html`` makes the page a browser shows. No Flask here: ``docs.py`` serves both.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

from .control import ControlApi
from .pipeline import MockApp

_SOURCE = re.compile(r"specs/sources/([\w.\-]+)")


def describe(mock: MockApp, root: str) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data; ``root`` is this server's URL as the client reached it."""
    from medimock import __version__

    config = mock.config
    open_control = config.control and not config.control_token
    credentials = mock.credentials(root) if open_control else {}
    apis = {}
    for api in mock.apis:
        definition, document = api.definition, api.spec.document
        info = document.get("info") or {}
        base_url = root + definition.mount
        creds = credentials.get(api.name) or {}
        values = {"base_url": base_url, **creds}
        if definition.quickstart and definition.docs_examples is not None and open_control:
            values.update({k: v for k, v in definition.docs_examples(mock).values.items() if "." not in k and v is not None})
        apis[api.name] = {
            "title": definition.title,
            "version": str(info.get("version", "")),
            "base_url": base_url,
            "operations": len(api.spec.operations),
            "spec": f"{root}/specs/{api.name}.yaml",
            "docs": f"{root}/docs?urls.primaryName={quote(docs_name(api.name, definition.title))}",
            "sources": sorted(set(_SOURCE.findall(str(info.get("description", ""))))),
            "auth": auth_schemes(document, base_url),
            "credentials": creds,
            "quickstart": quickstart(definition.quickstart, values) if definition.quickstart else "",
        }
    control = None
    if config.control:
        control = {
            "base_url": f"{root}/__mock__",
            "token_required": bool(config.control_token),
            "routes": ControlApi(mock).describe(),
        }
    return {
        "name": "medimock",
        "version": __version__,
        "url": root,
        "seed": config.seed,
        "profile": config.profile,
        "strict": config.strict,
        "apis": apis,
        "credentials": {
            "url": f"{root}/__mock__/credentials" if config.control else None,
            "command": f"medimock credentials --target {root}" if config.control else None,
            "shown": open_control,
        },
        "control": control,
        "docs": f"{root}/docs",
    }


def docs_name(api: str, title: str) -> str:
    """The spec's name in Swagger UI's list (``urls.primaryName`` selects it)."""
    return f"{api} - {title}"


def auth_schemes(document: dict[str, Any], api_base: str) -> list[dict[str, str]]:
    """The security schemes of a spec, each as ``{"name", "kind", "description"}`` (the description's first paragraph);
    OAuth2 token URLs on this mock (``api_base`` + the path below the vendor's server), as the served spec has them."""
    vendor = urlsplit(((document.get("servers") or [{}])[-1]).get("url", "")).path.rstrip("/")
    found = []
    for name, scheme in ((document.get("components") or {}).get("securitySchemes") or {}).items():
        if not isinstance(scheme, dict):
            continue
        kind = str(scheme.get("type", ""))
        if kind == "apiKey":
            kind = f"API key in the {scheme.get('in', '')} {scheme.get('name', '')!r}"
        elif kind == "http":
            kind = f"HTTP {scheme.get('scheme', '')}"
        elif kind == "oauth2":
            flows = scheme.get("flows") or {}
            urls = [urlsplit(str(f.get("tokenUrl"))).path for f in flows.values() if isinstance(f, dict) and f.get("tokenUrl")]
            urls = [api_base + (path[len(vendor) :] if vendor and path.startswith(vendor) else path) for path in urls]
            kind = "OAuth2 " + ", ".join(flows) + "".join(f" (token URL {url})" for url in urls)
        description = str(scheme.get("description", "")).strip().split("\n\n", 1)[0]
        found.append({"name": str(name), "kind": kind, "description": " ".join(description.split())})
    return found


class _Placeholder:
    """A missing credential in a quickstart: ``<name>``, also for ``{name[0]}`` and ``{name[key]}``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, key: Any) -> _Placeholder:
        return self

    def __format__(self, spec: str) -> str:
        return f"<{self.name}>"


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        return _Placeholder(key)


def quickstart(template: str, values: dict[str, Any]) -> str:
    """The API's first-call commands with its credentials filled in (placeholders where they are unknown)."""
    return template.format_map(_Values(values))


# -- HTML ------------------------------------------------------------------------------------------------

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 10px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
h3{font-size:18px;margin:0 0 4px}.muted{color:#5b6570}.small{font-size:14px}
a{color:#0b5cad}code,pre{font:13.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:#eceff3;padding:1px 4px;border-radius:3px}
pre{background:#1f2630;color:#e9edf2;padding:12px 14px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.start{background:#fff;border:1px solid #d9dde3;border-left:4px solid #0b5cad;border-radius:6px;padding:6px 18px 10px}
.start ol{padding-left:20px;margin:8px 0}.start li{margin:6px 0}
.api{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:16px 18px;margin:14px 0}
.links a{margin-right:14px;white-space:nowrap}
dl{display:grid;grid-template-columns:150px 1fr;gap:4px 12px;margin:12px 0}dt{color:#5b6570}dd{margin:0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dde3}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceff3;vertical-align:top;font-size:14.5px}th{background:#eef1f5}
details summary{cursor:pointer;color:#0b5cad;margin-top:6px}.badge{font-size:13px;background:#eef1f5;border-radius:10px;padding:1px 8px;margin-left:6px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    """Escaped text whose `backticked` fragments (the specs' Markdown) show as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(value))


def _link(url: str, text: str | None = None) -> str:
    return f'<a href="{_e(url)}">{_e(text or url)}</a>'


def render_html(page: dict[str, Any]) -> str:
    """The page a browser shows for ``describe(...)``."""
    root = page["url"]
    creds = page["credentials"]
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>medimock {_e(page['version'])} on {_e(root)}</title><style>{_STYLE}</style></head><body><main>",
        f'<h1>medimock <span class="muted small">{_e(page["version"])}</span></h1>',
        "<p>A stateful mock of medical-imaging cloud APIs, served from OpenAPI specs written from the vendors' documents: "
        "requests are validated against the spec, state is kept (what you create, you can read back), errors come in each "
        "API's own dialect. Every API below answers on this server.</p>",
        f'<p class="muted small">seed {_e(page["seed"])} · profile {_e(page["profile"])} · strict response validation '
        f"{'on' if page['strict'] else 'off'} · {_link(page['docs'], 'API docs (Swagger UI)')} · "
        f"{_link(root + '/?format=json', 'this page as JSON')}</p>",
        '<div class="start"><h2 style="border:0;margin:10px 0 0">Start here</h2><ol>',
    ]
    if creds["url"]:
        shown = " They are shown with each API below." if creds["shown"] else ""
        parts.append(
            f"<li><b>Credentials</b> are seeded (the same for the same seed): {_link(creds['url'])}, or "
            f"<code>{_e(creds['command'])}</code> (<code>--format env</code> gives the variables the contract suites read).{shown}</li>"
        )
    else:
        parts.append(
            "<li><b>Credentials</b>: this mock runs without its control API (<code>--no-control</code>), so it does not list them.</li>"
        )
    parts += [
        "<li><b>A first call</b>: each API has one below, with its credentials filled in; copy it into a shell.</li>",
        f"<li><b>Explore</b> in {_link(page['docs'], 'Swagger UI')}: pick an API at the top right, <i>Authorize</i> with the "
        "credentials, then <i>Try it out</i>; the pre-filled values are this mock's seeded data, so the calls return some.</li>",
        "<li><b>Test your own server</b> against the same contract: <code>medimock contract --api clarius --target URL</code>; "
        "load-test it: <code>medimock load --api clarius --target URL</code> (<code>medimock COMMAND --help</code>).</li>",
        "</ol></div>",
        "<h2>APIs</h2>",
    ]
    for name, api in page["apis"].items():
        parts.append(f'<section class="api" id="{_e(name)}"><h3>{_e(api["title"])}<span class="badge">{_e(name)}</span></h3>')
        parts.append(
            f'<div class="links">{_link(api["docs"], "docs (Swagger UI)")}{_link(api["spec"], "spec (OpenAPI YAML)")}'
            + (_link(creds["url"], "credentials (JSON)") if creds["url"] else "")
            + "</div>"
        )
        parts.append(f"<dl><dt>base URL</dt><dd><code>{_e(api['base_url'])}</code></dd>")
        parts.append(f"<dt>operations</dt><dd>{_e(api['operations'])} (version {_e(api['version'])} of the API)</dd>")
        if api["sources"]:
            parts.append(
                f"<dt>written from</dt><dd>{', '.join(f'<code>{_e(s)}</code>' for s in api['sources'])} (the vendor's document)</dd>"
            )
        for scheme in api["auth"]:
            parts.append(f"<dt>auth: {_e(scheme['name'])}</dt><dd>{_e(scheme['kind'])}. {_text(scheme['description'])}</dd>")
        parts.append("</dl>")
        if api["quickstart"]:
            parts.append(f"<div>A first call:</div><pre>{_e(api['quickstart'])}</pre>")
        if api["credentials"]:
            parts.append(
                f"<details><summary>seeded credentials of {_e(name)}</summary><pre>{_e(json.dumps(api['credentials'], indent=2))}</pre></details>"
            )
        parts.append("</section>")
    control = page["control"]
    if control:
        parts.append("<h2>Control API</h2>")
        parts.append(
            f"<p>Under <code>{_e(control['base_url'])}</code>, never part of a vendor spec: reset the data, read the request "
            "journal, inject faults, simulate what a vendor's own systems do (uploads, finished studies)."
            + (" It needs <code>Authorization: Bearer &lt;control token&gt;</code>." if control["token_required"] else "")
            + "</p><table><tr><th>method</th><th>path</th><th>what it does</th></tr>"
        )
        for route in control["routes"]:
            parts.append(
                f"<tr><td><code>{_e(route['method'])}</code></td><td><code>{_e(route['path'])}</code></td><td>{_e(route['summary'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        f'<p class="muted small" style="margin-top:32px">medimock {_e(page["version"])} · JSON: <code>curl -H "Accept: application/json" {_e(root)}/</code></p>'
    )
    parts.append("</main></body></html>\n")
    return "".join(parts)
