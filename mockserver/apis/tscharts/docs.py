"""What a newcomer sees of tscharts (``GET /`` and ``/docs``): a first call, and seeded values for "Try it out"."""

from __future__ import annotations

from typing import Any

from ...api import DocsExamples
from . import API

API.quickstart = """\
curl -s -H "Authorization: {authorization}" "{base_url}/tscharts/v1/image/?patient={patient}&sort=true"
curl -s -X POST -H "Content-Type: application/json" -d '{{"username": "{username}", "password": "{password}"}}' "{base_url}/tscharts/v1/login/\""""

_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="  # a 1x1 PNG


def docs_examples(app: Any) -> DocsExamples:
    """The newest seeded image (its id, patient, clinic, station and type), the active seeded user."""
    row = app.store.query_one("SELECT id, patient, clinic, station, type FROM tscharts_images ORDER BY timestamp DESC, id DESC LIMIT 1")
    user = app.store.query_one("SELECT username FROM tscharts_users WHERE active = 1 ORDER BY id LIMIT 1")
    values: dict[str, Any] = {}
    bodies: dict[str, Any] = {}
    if row is not None:
        values.update(id=row["id"], patient=row["patient"], clinic=row["clinic"], station=row["station"], type=row["type"])
        values.update(sort=True, newest=False)
        bodies["createImage"] = {
            "patient": row["patient"],
            "clinic": row["clinic"],
            "station": row["station"],
            "type": row["type"],
            "data": _PIXEL,
        }
    if user is not None:
        credentials = API.credentials(app, "") if API.credentials else {}
        bodies["login"] = {"username": credentials.get("username", user["username"]), "password": credentials.get("password", "")}
    return DocsExamples(values, bodies)


API.docs_examples = docs_examples
