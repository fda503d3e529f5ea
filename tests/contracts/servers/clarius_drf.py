"""A Clarius Cloud Service API written as a Django REST framework project would answer, not as medimock does.

Written from the vendor document (specs/sources/clarius-cloud-api-v0.txt), whose ``count/next/previous/results``
pages are DRF's ``LimitOffsetPagination``, with DRF's and Django's defaults wherever the document is silent
and a few bugs on purpose, so that the suite's verdict on it can be asserted:

- DRF's own answers are JSON: ``{"detail": ...}`` for 401 (``WWW-Authenticate: Service-API-Key``), 403, 404
  of a DRF view and 405 (with ``Allow``); a serializer's 400 is ``{field: [messages]}``;
- plain Django views answer Django's HTML pages: the download of an unknown request and any unknown route
  are Django's HTML 404 page; an uncaught exception is Django's HTML 500 page;
- a request body over 2.5 MiB (``DATA_UPLOAD_MAX_MEMORY_SIZE``) is an EMPTY 400; a method the HTTP front end
  does not know (``QUERY``) is a 501;
- pagination is DRF's: a ``limit`` or ``offset`` that is not a positive number falls back to the default
  (no 400), and ``previous`` of the second page drops ``offset`` (DRF's ``remove_query_param``);
- the settings serializer ignores fields it does not know (DRF's default), a customer confirmation answers
  ``200 {"status": "confirmed"}`` and a report upload ``200 {"id": n}`` (not medimock's reply bodies);
- bugs (the document's): ``token_transfer_url`` is checked as a URL but not for ``{token}`` (the one
  unvalidated field); ``notification_url: null`` is a 500 (Django's ``URLValidator`` on None).

It serves no Research API and has no medimock control API. Seeded: the key
``Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ`` (the document's example), two customers with five exams
(each with a JPEG and a PNG capture, served under ``/media/``), two confirmed tokens and an unconfirmed one
(``SEEDS`` below is the environment a suite run needs), the document's three applications, none
customised, and one notification record. ``--quirks revoke-ignored``: revoking a key answers 204 and
deletes nothing (the run's end must name the key it left); ``--quirks no-exams``: a service no customer has
uploaded an exam to yet (the API cannot make one).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import string
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DJANGO_404, DJANGO_500, respond, serve

KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"
UNCONFIRMED = "unconfirmed-customer-token-0001"
SEEDS = {"CLARIUS_API_KEY": KEY, "CLARIUS_UNCONFIRMED_TOKEN": UNCONFIRMED}
MAX_BODY = int(2.5 * 1024 * 1024)
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}
PREFIX = "/api/public/v0"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x00IEND\xaeB`\x82"
URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?::\d+)?(?:[/?#]\S*)?$|^https?://(?:localhost|127\.0\.0\.1)(?::\d+)?(?:[/?#]\S*)?$")

QUIRKS: set[str] = set()  # --quirks revoke-ignored,no-exams (see the module's docstring)
_lock = threading.Lock()
_keys: dict[str, dict[str, Any]] = {
    "Q4nmtzH5": {"prefix": "Q4nmtzH5", "name": "Initial key", "secret": KEY.split(".")[1], "created": "2022-08-31T23:28:55.587755Z"}
}
_settings: dict[str, str] = {"notification_url": "", "token_transfer_url": "https://service.example.com/connect/{token}/"}
_customers = {"eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY": True, "GEMoSRSC5nQTjicaQHE2L_0_HTaPwyjsIs86R6khqHc": True, UNCONFIRMED: False}
_applications = [
    {"uuid": "9f9531da-84a7-4149-8d59-c4c86c0afaa3", "name": "Abdomen"},
    {"uuid": "2e79155f-811c-4d29-9b49-807b20013518", "name": "Cardiac"},
    {"uuid": "643395dc-6786-4c90-9012-565fd23ae71a", "name": "Bladder"},
]
_customised: dict[str, list[Any]] = {}
_reports: list[dict[str, Any]] = []
_report_ids = itertools.count(1)
_now = datetime.now(UTC)
_records = [
    {
        "logged_at": (_now - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "event": {
            "sent_at": (_now - timedelta(days=1, seconds=5)).isoformat().replace("+00:00", "Z"),
            "request": {"url": "https://example.com", "method": "POST", "content": "{}"},
            "response": None,
            "error": "timed out",
        },
    }
]


def _exam(index: int, customer: str) -> dict[str, Any]:
    request_uuid = str(uuid.UUID(int=0x5AC5E0E3_92BD_4B55_8250_C03296A12800 + index))
    return {
        "request_uuid": request_uuid,
        "exam_uuid": str(uuid.UUID(int=0x440648A3_435F_4053_942B_17509C078700 + index)),
        "customer_id": customer,
        "submitted_at": (_now - timedelta(hours=index)).isoformat().replace("+00:00", "Z"),
        "patient": {"identifier": f"P{index:05d}", "date_of_birth": "1970-01-01", "gender": "F", "first_name": "Ada", "last_name": "Doe"},
    }


_exams = [_exam(i, list(_customers)[i % 2]) for i in range(5)]


class Crash(Exception):
    """An uncaught exception in a view: Django's HTML 500."""


def _json(start_response: Any, status: str, value: Any, **headers: str) -> list[bytes]:
    return respond(start_response, status, json.dumps(value).encode(), "application/json", **headers)


def _detail(start_response: Any, status: str, detail: str, **headers: str) -> list[bytes]:
    return _json(start_response, status, {"detail": detail}, **headers)


def _django_404(start_response: Any, path: str) -> list[bytes]:
    return respond(start_response, "404 Not Found", DJANGO_404.replace(b"{path}", path.encode("utf-8", "replace")))


def _origin(request: Request) -> str:
    return request.host_url.rstrip("/")


def _paginate(request: Request, items: list[Any], default: int) -> dict[str, Any]:
    """DRF's LimitOffsetPagination: a bad limit or offset falls back to the default."""

    def positive(name: str, fallback: int, strict: bool) -> int:
        try:
            value = int(request.args.get(name, ""))
        except ValueError:
            return fallback
        if value < 0 or (strict and value == 0):
            return fallback
        return value

    limit = positive("limit", default, True)
    offset = positive("offset", 0, False)
    base = _origin(request) + request.path

    def link(new_offset: int | None) -> str:
        query = {k: v for k, v in request.args.items() if k != "offset"}
        query["limit"] = str(limit)
        if new_offset:
            query["offset"] = str(new_offset)
        return base + "?" + urlencode(query)

    following = link(offset + limit) if offset + limit < len(items) else None
    previous = None if offset <= 0 else link(offset - limit if offset - limit > 0 else None)
    return {"count": len(items), "next": following, "previous": previous, "results": items[offset : offset + limit]}


def _authenticate(request: Request) -> str | None:
    """The detail of a 401, or None for a valid key."""
    parts = (request.headers.get("Authorization") or "").split()
    if not parts or parts[0] != "Service-API-Key":
        return "Authentication credentials were not provided."
    if len(parts) != 2 or "." not in parts[1]:
        return "Invalid API key header."
    prefix, secret = parts[1].split(".", 1)
    with _lock:
        key = _keys.get(prefix)
    if key is None or key["secret"] != secret:
        return "Invalid API key."
    request.environ["clarius.key"] = prefix
    return None


def _body(request: Request) -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        return ValueError


def _poll_item(request: Request, exam: dict[str, Any]) -> dict[str, Any]:
    url = f"{_origin(request)}{PREFIX}/exams/download-requests/{exam['request_uuid']}/data/"
    return {k: exam[k] for k in ("request_uuid", "exam_uuid", "customer_id", "submitted_at")} | {"download_url": url}


def _captures(request: Request, exam: dict[str, Any]) -> list[dict[str, str]]:
    return [{"url": f"{_origin(request)}/media/captures/{exam['exam_uuid']}/{name}"} for name in ("capture.jpg", "capture.png")]


def _settings_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("notification_url", "token_transfer_url"):
        if name not in data:
            continue
        value = data[name]
        if value is None and name == "notification_url":
            raise Crash("URLValidator: expected string or bytes-like object, got 'NoneType'")
        if value is None:
            errors[name] = ["This field may not be null."]
        elif not isinstance(value, str | int | float):
            errors[name] = ["Not a valid string."]
        elif str(value) and not URL.match(str(value)):
            errors[name] = ["Enter a valid URL."]
        # the bug: token_transfer_url is never checked for {token}
    return errors


def _annotation_errors(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or "annotations" not in data:
        return {"annotations": ["This field is required."]}
    items = data["annotations"]
    if not isinstance(items, list):
        return {"annotations": ['Expected a list of items but got type "str".']}
    problems = []
    for item in items:
        if not isinstance(item, dict):
            problems.append({"non_field_errors": ["Invalid data. Expected a dictionary."]})
            continue
        missing = {name: ["This field is required."] for name in ("title", "labels", "linked") if name not in item}
        if not missing and not (isinstance(item["title"], str) and isinstance(item["labels"], list) and isinstance(item["linked"], bool)):
            missing = {"non_field_errors": ["Invalid annotation."]}
        problems.append(missing)
    return {"annotations": problems} if any(problems) else {}


def _view(request: Request, start_response: Any, method: str, path: str) -> list[bytes] | None:
    rest = path[len(PREFIX) :]
    if rest == "/exams/accessible/" and method == "GET":
        customer = request.args.get("customer_id")
        found = [_poll_item(request, e) for e in _exams if customer is None or e["customer_id"] == customer]
        return _json(start_response, "200 OK", _paginate(request, found, 100))
    match = re.fullmatch(r"/exams/download-requests/([^/]+)/data/", rest)
    if match and method == "GET":
        exam = next((e for e in _exams if e["request_uuid"] == match.group(1)), None)
        if exam is None:  # a plain Django view: get_object_or_404 -> Django's HTML page
            return _django_404(start_response, path)
        return _json(
            start_response,
            "200 OK",
            {"request_uuid": exam["request_uuid"], "patient": exam["patient"], "captures": _captures(request, exam)},
        )
    match = re.fullmatch(r"/exams/([^/]+)/data/", rest)
    if match and method == "GET":
        exam = next((e for e in _exams if e["exam_uuid"] == match.group(1)), None)
        if exam is None:
            return _detail(start_response, "404 Not Found", "Not found.")
        return _json(start_response, "200 OK", {"patient": exam["patient"], "captures": _captures(request, exam)})
    if rest == "/exams/applications/" and method == "GET":
        return _json(start_response, "200 OK", _applications)
    if rest == "/services/customer-confirmations/" and method == "POST":
        data = _body(request)
        if data is ValueError:
            return _detail(start_response, "400 Bad Request", "JSON parse error.")
        if not isinstance(data, dict) or not data.get("token"):
            return _json(start_response, "400 Bad Request", {"token": ["This field is required."]})
        token = str(data["token"])
        with _lock:
            if token not in _customers:
                return _detail(start_response, "404 Not Found", "Not found.")
            _customers[token] = True
        return _json(start_response, "200 OK", {"status": "confirmed"})
    if rest == "/services/confirmed-tokens/" and method == "GET":
        with _lock:
            tokens = [t for t, confirmed in _customers.items() if confirmed]
        return _json(start_response, "200 OK", _paginate(request, tokens, 10000))
    match = re.fullmatch(r"/services/requests/([^/]+)/reports/", rest)
    if match and method == "POST":
        if not any(e["request_uuid"] == match.group(1) for e in _exams):
            return _detail(start_response, "404 Not Found", "Not found.")
        if not (request.content_type or "").startswith("multipart/form-data"):
            return _detail(start_response, "415 Unsupported Media Type", f'Unsupported media type "{request.content_type}" in request.')
        errors: dict[str, list[str]] = {}
        upload = request.files.get("file")
        if not isinstance(upload, FileStorage) or not upload.filename:
            errors["file"] = [
                "The submitted data was not a file. Check the encoding type on the form."
                if "file" in request.form
                else "No file was submitted."
            ]
        if not request.form.get("name"):
            errors["name"] = ["This field is required."]
        if errors:
            return _json(start_response, "400 Bad Request", errors)
        with _lock:
            report_id = next(_report_ids)
            _reports.append({"id": report_id, "request_uuid": match.group(1), "name": request.form["name"], "size": len(upload.read())})
        return _json(start_response, "200 OK", {"id": report_id})
    if rest == "/services/settings/" and method == "GET":
        with _lock:
            return _json(start_response, "200 OK", dict(_settings))
    if rest == "/services/settings/" and method == "PATCH":
        data = _body(request)
        if data is ValueError or not isinstance(data, dict):
            return _json(start_response, "400 Bad Request", {"non_field_errors": ["Invalid data. Expected a dictionary."]})
        errors = _settings_errors(data)
        if errors:
            return _json(start_response, "400 Bad Request", errors)
        with _lock:
            _settings.update({k: str(v) for k, v in data.items() if k in _settings})  # unknown fields: ignored, as DRF does
            return _json(start_response, "200 OK", dict(_settings))
    if rest == "/services/notifications/records/" and method == "GET":
        return _json(start_response, "200 OK", _paginate(request, _records, 100))
    if rest == "/services/api-keys/" and method == "GET":
        with _lock:
            return _json(start_response, "200 OK", [{k: v for k, v in key.items() if k != "secret"} for key in _keys.values()])
    if rest == "/services/api-keys/" and method == "POST":
        data = _body(request)
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name or len(name) > 50:
            return _json(
                start_response,
                "400 Bad Request",
                {"name": ["This field is required." if not name else "Ensure this field has no more than 50 characters."]},
            )
        alphabet = string.ascii_letters + string.digits
        prefix, secret = "".join(secrets.choice(alphabet) for _ in range(8)), "".join(secrets.choice(alphabet) for _ in range(32))
        created = {"prefix": prefix, "name": name, "created": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        with _lock:
            _keys[prefix] = {**created, "secret": secret}
        return _json(start_response, "201 Created", {**created, "key": f"{prefix}.{secret}"})
    match = re.fullmatch(r"/services/api-keys/([^/]+)/", rest)
    if match and method == "DELETE":
        prefix = match.group(1)
        if prefix == request.environ.get("clarius.key"):
            return _detail(start_response, "403 Forbidden", "You cannot revoke the API key used to authenticate this request.")
        with _lock:
            if prefix not in _keys:
                return _detail(start_response, "404 Not Found", "Not found.")
            if "revoke-ignored" not in QUIRKS:
                del _keys[prefix]
        return respond(start_response, "204 No Content", b"", "application/json")
    if rest == "/services/applications/" and method == "GET":
        with _lock:
            return _json(
                start_response, "200 OK", [{**a, "annotations": _customised[a["uuid"]]} for a in _applications if a["uuid"] in _customised]
            )
    match = re.fullmatch(r"/services/applications/([^/]+)/", rest)
    if match and method in ("GET", "PUT", "DELETE"):
        application = next((a for a in _applications if a["uuid"] == match.group(1)), None)
        with _lock:
            if application is None or (method != "PUT" and application["uuid"] not in _customised):
                return _detail(start_response, "404 Not Found", "Not found.")
            if method == "GET":
                return _json(start_response, "200 OK", {**application, "annotations": _customised[application["uuid"]]})
            if method == "DELETE":
                del _customised[application["uuid"]]
                return respond(start_response, "204 No Content", b"", "application/json")
        data = _body(request)
        errors_any = _annotation_errors(data if data is not ValueError else None)
        if errors_any:
            return _json(start_response, "400 Bad Request", errors_any)
        with _lock:
            _customised[application["uuid"]] = data["annotations"]
        return _json(start_response, "200 OK", {**application, "annotations": data["annotations"]})
    return None


ROUTES = [
    (r"/exams/accessible/", ("GET",)),
    (r"/exams/download-requests/[^/]+/data/", ("GET",)),
    (r"/exams/[^/]+/data/", ("GET",)),
    (r"/exams/applications/", ("GET",)),
    (r"/services/customer-confirmations/", ("POST",)),
    (r"/services/confirmed-tokens/", ("GET",)),
    (r"/services/requests/[^/]+/reports/", ("POST",)),
    (r"/services/settings/", ("GET", "PATCH")),
    (r"/services/notifications/records/", ("GET",)),
    (r"/services/api-keys/", ("GET", "POST")),
    (r"/services/api-keys/[^/]+/", ("DELETE",)),
    (r"/services/applications/", ("GET",)),
    (r"/services/applications/[^/]+/", ("GET", "PUT", "DELETE")),
]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method, path = environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO", "")
    if method not in KNOWN_METHODS:  # the HTTP front end answers before Django sees it
        return respond(start_response, "501 Not Implemented", b"<html><body><h1>Not Implemented</h1></body></html>")
    if int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY:  # RequestDataTooBig -> SuspiciousOperation -> an empty 400
        return respond(start_response, "400 Bad Request", b"")
    request = Request(environ)
    match = re.fullmatch(r"/media/captures/([^/]+)/capture\.(jpg|png)", path)
    if match and method == "GET":
        kind = "image/jpeg" if match.group(2) == "jpg" else "image/png"
        return respond(start_response, "200 OK", JPEG if kind == "image/jpeg" else PNG, kind)
    route = next((methods for pattern, methods in ROUTES if path.startswith(PREFIX) and re.fullmatch(pattern, path[len(PREFIX) :])), None)
    if route is None:
        return _django_404(start_response, path)
    if method not in route and not (method == "HEAD" and "GET" in route):
        allow = ", ".join([*route, "HEAD", "OPTIONS"] if "GET" in route else [*route, "OPTIONS"])
        return _detail(start_response, "405 Method Not Allowed", f'Method "{method}" not allowed.', Allow=allow)
    denied = _authenticate(request)
    if denied is not None:
        return _detail(start_response, "401 Unauthorized", denied, WWW_Authenticate="Service-API-Key")
    try:
        answered = _view(request, start_response, method if method != "HEAD" else "GET", path)
    except (Crash, ValueError, TypeError, KeyError, AttributeError):
        return respond(start_response, "500 Internal Server Error", DJANGO_500)
    return answered if answered is not None else _django_404(start_response, path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quirks", default="")
    options, rest = parser.parse_known_args()
    QUIRKS.update(filter(None, options.quirks.split(",")))
    if "no-exams" in QUIRKS:
        _exams.clear()
    serve(app, rest)
