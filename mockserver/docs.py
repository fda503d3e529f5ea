"""Browsable docs: Swagger UI 5 (OpenAPI 3.1) served from the flask-swagger-ui package, no CDN; and the
front door, ``GET /`` (``frontdoor.py``): HTML for a browser, JSON for ``Accept: application/json``."""

from __future__ import annotations

import html
import json
from pathlib import Path

import flask_swagger_ui
from flask import Flask, Response, request, send_from_directory

from .frontdoor import describe, docs_name, render_html
from .pipeline import MockApp
from .spec import available_specs

SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>medimock - API docs</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      urls: __URLS__,
      "urls.primaryName": __PRIMARY__,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      tryItOutEnabled: true,
      persistAuthorization: true,
      validatorUrl: null
    });
  </script>
</body>
</html>
"""


def register_docs(app: Flask, mock: MockApp) -> None:
    urls = [{"url": f"/specs/{api.name}.yaml", "name": html.escape(docs_name(api.name, api.definition.title))} for api in mock.apis]
    urls += [
        {"url": f"/specs/{name}.yaml", "name": f"{name} - spec only (not served by this mock yet)"}
        for name in available_specs()
        if name not in mock.by_name
    ]
    page = _PAGE.replace("__URLS__", json.dumps(urls)).replace("__PRIMARY__", json.dumps(urls[0]["name"] if urls else ""))

    @app.get("/docs")
    @app.get("/docs/")
    def docs_index() -> Response:
        return Response(page, mimetype="text/html")

    @app.get("/docs/static/<path:filename>")
    def docs_static(filename: str) -> Response:
        return send_from_directory(SWAGGER_DIST, filename, max_age=3600)

    @app.get("/")
    def front_door() -> Response:
        page = describe(mock, request.host_url.rstrip("/"))
        wanted = request.args.get("format") or request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
        if wanted in ("json", "application/json"):
            return Response(json.dumps(page, indent=2), mimetype="application/json")
        return Response(render_html(page), mimetype="text/html")
