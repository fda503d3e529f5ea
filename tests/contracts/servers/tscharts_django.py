"""A tscharts image server with the habits of the reference implementation (Django + DRF), not medimock's.

Written from the reference server's behaviour as the contract suite's first real run met it,
with its bugs on purpose, so that the suite's verdict on it can be asserted:

- errors from plain Django views are EMPTY bodies (``HttpResponseNotFound()``,
  ``HttpResponseBadRequest()``, ``HttpResponseForbidden()``) with ``text/html``; an unknown route is
  Django's HTML 404 page; an uncaught exception is Django's HTML 500 page;
- DRF's own answers are JSON: 401 ``{"detail": ...}`` with ``WWW-Authenticate: Token``, 405 with ``Allow``;
- a request body over 2.5 MiB (``DATA_UPLOAD_MAX_MEMORY_SIZE``) is an empty 400;
- a method the HTTP front end does not know (``QUERY``) is a 501;
- bugs: ``patient`` is optional on the list and ``patient=0`` lists every patient's images;
  ``clinic=abc`` and an empty or non-JSON create body are a 500; ``station`` and ``clinic`` may be
  missing on create; ``data`` is stored without checking it is base64; ids sent as strings or
  floats are coerced.

Seeded: token ``53f29e4dfc917c28a0e71f26525307250f1f8101`` (user ``clinician`` / ``s3cret``),
patients 12-14, clinics 1-2, stations 1-3, no images.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DJANGO_404, DJANGO_500, respond, serve

TOKEN = "53f29e4dfc917c28a0e71f26525307250f1f8101"
USERS = {"clinician": ("s3cret", TOKEN, 1)}
PATIENTS, CLINICS, STATIONS = {12, 13, 14}, {1, 2}, {1, 2, 3}
TYPES = ("Headshot", "Xray", "Surgery", "Audiogram")
MAX_BODY = int(2.5 * 1024 * 1024)
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

_lock = threading.Lock()
_images: dict[int, dict[str, Any]] = {}
_ids = itertools.count(1000)


class Crash(Exception):
    """An uncaught exception in a view: Django's HTML 500."""


def _json(start_response: Any, status: str, value: Any, **headers: str) -> list[bytes]:
    return respond(start_response, status, json.dumps(value).encode(), "application/json", **headers)


def _empty(start_response: Any, status: str) -> list[bytes]:
    return respond(start_response, status, b"")


def _authenticated(environ: dict[str, Any], start_response: Any) -> list[bytes] | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if not parts or parts[0].lower() != "token":
        detail = "Authentication credentials were not provided."
    elif len(parts) == 1:
        detail = "Invalid token header. No credentials provided."
    elif len(parts) > 2:
        detail = "Invalid token header. Token string should not contain spaces."
    elif parts[1] != TOKEN:
        detail = "Invalid token."
    else:
        return None
    return _json(start_response, "401 Unauthorized", {"detail": detail}, WWW_Authenticate="Token")


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _list(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    with _lock:
        found = list(_images.values())
    patient = query.get("patient")
    if patient and int(patient):  # the bug: patient is optional, and "0" is falsy after int()
        if int(patient) not in PATIENTS:
            return _empty(start_response, "404 Not Found")
        found = [i for i in found if i["patient"] == int(patient)]
    for name, known in (("clinic", CLINICS), ("station", STATIONS)):
        if name in query:
            value = int(query[name])  # clinic=abc: ValueError, a 500
            if value not in known:
                return _empty(start_response, "404 Not Found")
            found = [i for i in found if i[name] == value]
    if "type" in query:
        found = [i for i in found if i["type"] == query["type"]]
    if query.get("sort") == "true" or query.get("newest") == "true":
        found.sort(key=lambda i: (i["timestamp"], i["id"]), reverse=True)
    else:
        found.sort(key=lambda i: i["id"])
    if not found:
        return _empty(start_response, "404 Not Found")
    if query.get("newest") == "true":
        return _json(start_response, "200 OK", _public(found[0]))
    return _json(start_response, "200 OK", [i["id"] for i in found])


def _public(image: dict[str, Any]) -> dict[str, Any]:
    return {k: image[k] for k in ("patient", "data", "clinic", "station", "type", "id")}


def _create(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raw = _body(environ)
    try:
        data = json.loads(raw)  # empty or not JSON: an uncaught ValueError, a 500
    except ValueError as exc:
        raise Crash(str(exc)) from exc
    if not isinstance(data, dict):
        raise Crash("not a dict")
    try:
        patient = int(data["patient"])
        kind = data["type"]
        payload = data["data"]
    except (KeyError, TypeError, ValueError):
        return _empty(start_response, "400 Bad Request")
    clinic = int(data["clinic"]) if data.get("clinic") is not None else None  # the bug: optional
    station = int(data["station"]) if data.get("station") is not None else None
    if kind not in TYPES or not isinstance(payload, str):
        return _empty(start_response, "400 Bad Request")
    if patient not in PATIENTS or (clinic is not None and clinic not in CLINICS) or (station is not None and station not in STATIONS):
        return _empty(start_response, "404 Not Found")
    with _lock:
        image_id = next(_ids)
        _images[image_id] = {
            "id": image_id,
            "patient": patient,
            "clinic": clinic,
            "station": station,
            "type": kind,
            "data": payload,
            "timestamp": time.time(),
        }
    return _json(start_response, "200 OK", {"id": image_id})


def _one(method: str, image_id: int, start_response: Any) -> list[bytes]:
    with _lock:
        image = _images.get(image_id)
        if image is not None and method == "DELETE":
            del _images[image_id]
    if image is None:
        return _empty(start_response, "404 Not Found")
    if method == "DELETE":
        return _json(start_response, "200 OK", {})
    return _json(start_response, "200 OK", _public(image))


def _login(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    try:
        data = json.loads(_body(environ))
        username, password = data["username"], data["password"]
    except (ValueError, KeyError, TypeError):
        return _empty(start_response, "400 Bad Request")
    user = USERS.get(username)
    if user is None or user[0] != password:
        return _empty(start_response, "403 Forbidden")
    return _json(start_response, "200 OK", {"token": user[1], "id": str(user[2])})


ROUTES = [
    (re.compile(r"^/tscharts/v1/image/$"), ("GET", "POST")),
    (re.compile(r"^/tscharts/v1/image/([0-9]+)/$"), ("GET", "DELETE")),
    (re.compile(r"^/tscharts/v1/login/$"), ("POST",)),
]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method, path = environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO", "")
    if method not in KNOWN_METHODS:  # the HTTP front end (Apache) answers before Django sees it
        return respond(start_response, "501 Not Implemented", b"<html><body><h1>Not Implemented</h1></body></html>")
    if int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY:  # RequestDataTooBig -> SuspiciousOperation -> 400
        return _empty(start_response, "400 Bad Request")
    for pattern, methods in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        if method not in methods:
            allow = ", ".join([*methods, "HEAD", "OPTIONS"])
            return _json(start_response, "405 Method Not Allowed", {"detail": f'Method "{method}" not allowed.'}, Allow=allow)
        try:
            if path.endswith("/login/"):
                return _login(environ, start_response)
            denied = _authenticated(environ, start_response)
            if denied is not None:
                return denied
            if match.groups():
                return _one(method, int(match.group(1)), start_response)
            return _list(environ, start_response) if method == "GET" else _create(environ, start_response)
        except (Crash, ValueError, TypeError):
            return respond(start_response, "500 Internal Server Error", DJANGO_500)
    return respond(start_response, "404 Not Found", DJANGO_404.replace(b"{path}", path.encode("utf-8", "replace")))


if __name__ == "__main__":
    serve(app)
