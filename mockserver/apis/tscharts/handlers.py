"""tscharts operation handlers, one per operationId of specs/tscharts/openapi.yaml.

The core has already authenticated the token and validated parameters and body
(ids are integers, ``type`` is one of the four, ``sort``/``newest`` are "true"/"false",
``data`` is base64). What is left is the lookups: an unknown patient, clinic or station
is a 404 (the reference server's answer; the document says "403 NOT FOUND"), and so is
a list query that matches nothing.
"""

from __future__ import annotations

import hmac
from typing import Any

from medimock.fixtures import tscharts as fixtures

from ...api import Context
from ...http import MockResponse, Problem, json_response
from . import API
from .store import TschartsStore


def db(ctx: Context) -> TschartsStore:
    return TschartsStore(ctx.store)


def not_found(message: str = "Not found.") -> Problem:
    return Problem("not_found", 404, message)


def image_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "patient": row["patient"],
        "data": row["data"],
        "clinic": row["clinic"],
        "station": row["station"],
        "type": row["type"],
        "id": row["id"],
        "timestamp": row["timestamp"],
    }


def _check_known(ctx: Context, patient: int, clinic: int | None, station: int | None) -> None:
    missing = db(ctx).missing(patient=patient, clinic=clinic, station=station)
    if missing:
        raise not_found()


@API.handler("listImageIds")
def list_image_ids(ctx: Context) -> MockResponse:
    query = ctx.query
    patient = query["patient"]
    filters = {"type": query.get("type"), "clinic": query.get("clinic"), "station": query.get("station")}
    _check_known(ctx, patient, filters["clinic"], filters["station"])
    newest = query.get("newest") == "true" and not ctx.defect("tscharts.newest_ignored")
    if newest:
        row = db(ctx).newest_image(patient, filters)
        if row is None:
            raise not_found()
        return json_response(image_body(row))
    sort = query.get("sort") == "true" or query.get("newest") == "true"
    ids = db(ctx).image_ids(patient, filters, sort=sort, ascending=ctx.defect("tscharts.sort_ascending"))
    if not ids and not ctx.defect("tscharts.empty_list_200"):
        raise not_found()
    return json_response(ids)


@API.handler("createImage")
def create_image(ctx: Context) -> MockResponse:
    body = ctx.body
    _check_known(ctx, body["patient"], body["clinic"], body["station"])
    image_id = db(ctx).add_image(body["patient"], body["clinic"], body["station"], body["type"], body["data"])
    return json_response({"id": image_id})


@API.handler("getImage")
def get_image(ctx: Context) -> MockResponse:
    row = db(ctx).image(ctx.path["id"])
    if row is None:
        raise not_found()
    return json_response(image_body(row))


@API.handler("deleteImage")
def delete_image(ctx: Context) -> MockResponse:
    image_id = ctx.path["id"]
    if ctx.defect("tscharts.delete_keeps_image"):
        if db(ctx).image(image_id) is None:
            raise not_found()
        return json_response({})
    if not db(ctx).delete_image(image_id):
        raise not_found()
    return json_response({})


@API.handler("login")
def login(ctx: Context) -> MockResponse:
    body = ctx.body
    user = db(ctx).user_by_name(body["username"])
    # Compare against a hash either way, so a wrong user and a wrong password take as long.
    expected = user["password_hash"] if user is not None else fixtures.hash_password("\0")
    password_ok = hmac.compare_digest(expected, fixtures.hash_password(body["password"]))
    if user is None or not password_ok or not user["active"]:
        raise Problem("forbidden", 403, "Invalid username or password.")
    user_id: Any = user["id"] if ctx.defect("tscharts.login_id_integer") else str(user["id"])
    return json_response({"token": user["token"], "id": user_id})
