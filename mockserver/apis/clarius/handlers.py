"""Clarius operation handlers, one per operationId of specs/clarius/openapi.yaml."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from medimock.fixtures import clarius as fixtures

from ...api import Context
from ...http import MockResponse, Problem, UploadedFile, json_response, no_content
from ...pagination import limit_offset_page
from ...store import sql_int
from . import API
from .store import ClariusStore, now_iso

_ALNUM = string.ascii_letters + string.digits


def db(ctx: Context) -> ClariusStore:
    return ClariusStore(ctx.store)


def not_found() -> Problem:
    return Problem("not_found", 404, "Not found.")


def capture_url(base_url: str, capture_uuid: str, kind: str) -> str:
    return f"{base_url}/media/clarius/captures/{capture_uuid}/{fixtures.MEDIA[kind][2]}"


def exam_data(ctx: Context, exam_uuid: str) -> dict[str, Any]:
    found = db(ctx).exam(exam_uuid)
    if found is None:
        raise not_found()
    patient, captures = found
    return {
        "patient": patient,
        "captures": [{"url": capture_url(ctx.request.base_url, row["capture_uuid"], row["kind"])} for row in captures],
    }


def payload(ctx: Context, row: Any) -> dict[str, Any]:
    return {
        "request_uuid": row["request_uuid"],
        "exam_uuid": row["exam_uuid"],
        "customer_id": row["customer_id"],
        "download_url": ctx.api_url(fixtures.download_path(row["request_uuid"])),
        "submitted_at": row["submitted_at"],
    }


def paged(ctx: Context, fetch: Callable[[int, int], tuple[int, list[Any]]]) -> MockResponse:
    """A ``limit``/``offset`` page of what ``fetch(limit, offset)`` returns as ``(count, items)``."""
    limit, offset = sql_int(ctx.query["limit"]), sql_int(ctx.query["offset"])
    count, items = fetch(limit, offset)
    return json_response(limit_offset_page(ctx.request, items, count, limit, offset))


@API.handler("pollExams")
def poll_exams(ctx: Context) -> MockResponse:
    limit, offset = sql_int(ctx.query["limit"]), sql_int(ctx.query["offset"])
    customer_id = None if ctx.defect("clarius.poll_ignores_customer_filter") else ctx.query.get("customer_id")
    if ctx.defect("clarius.poll_not_paginated"):
        limit, offset = 1_000_000, 0

    encoded = not (ctx.app.config.strict or ctx.app.config.defects)  # strict mode validates the page, a defect rewrites it

    def page() -> Any:
        count, rows = db(ctx).download_requests(customer_id, limit, offset)
        body = limit_offset_page(ctx.request, [payload(ctx, row) for row in rows], count, limit, offset)
        if not encoded:
            return body
        try:  # kept encoded: the page is the same bytes every time, not encoded again per poll
            return orjson.Fragment(orjson.dumps(body))
        except TypeError:  # an integer beyond 64 bits: jsonio writes it when the reply goes out
            return body

    # Pollers ask for the same pages over and over: keep the page until the store changes.
    return json_response(
        ctx.store.cached(
            ("clarius.poll", encoded, ctx.request.base_url, ctx.request.path, tuple(ctx.request.query), customer_id, limit, offset),
            page,
        )
    )


@API.handler("downloadExamData")
def download_exam_data(ctx: Context) -> MockResponse:
    request_uuid = ctx.path["request_uuid"]

    def data() -> dict[str, Any] | None:
        row = db(ctx).download_request(request_uuid)
        return None if row is None else {"request_uuid": row["request_uuid"], **exam_data(ctx, row["exam_uuid"])}

    found = ctx.store.cached(("clarius.download", ctx.request.base_url, request_uuid), data)
    if found is None:
        raise not_found()
    return json_response(found)


@API.handler("downloadExamDataByExam")
def download_exam_data_by_exam(ctx: Context) -> MockResponse:
    return json_response(exam_data(ctx, ctx.path["exam_uuid"]))


@API.handler("listApplications")
def list_applications(ctx: Context) -> MockResponse:
    return json_response(db(ctx).applications())


@API.handler("confirmCustomer")
def confirm_customer(ctx: Context) -> MockResponse:
    token = ctx.body["token"]
    if not db(ctx).confirm(token) and not ctx.defect("clarius.unknown_token_confirmed"):
        raise Problem("not_found", 404, "A customer with this token does not exist.")
    return json_response({"token": token})


@API.handler("listConfirmedTokens")
def list_confirmed_tokens(ctx: Context) -> MockResponse:
    return paged(ctx, db(ctx).confirmed_tokens)


@API.handler("uploadReport")
def upload_report(ctx: Context) -> MockResponse:
    request_uuid = ctx.path["request_uuid"]
    upload = (ctx.request.files or {}).get("file")
    if upload is None and ctx.defect("clarius.report_without_file_accepted"):
        upload = UploadedFile("", "application/octet-stream", b"(no file)")
    if upload is None:  # "file" sent as a plain field, not a file part
        raise Problem(
            "invalid_request",
            400,
            "No file was submitted.",
            fields={"file": ["No file was submitted. Check the encoding type on the form."]},
        )
    if not upload.data:
        raise Problem("invalid_request", 400, "The submitted file is empty.", fields={"file": ["The submitted file is empty."]})
    if db(ctx).download_request(request_uuid) is None:
        raise not_found()
    report = {
        "uuid": str(uuid.uuid4()),
        "name": ctx.body["name"],
        "request_uuid": request_uuid,
        "file_name": upload.filename or "report",
        "size": len(upload.data),
        "content_type": upload.content_type,
        "created": now_iso(),
    }
    db(ctx).add_report(report, upload.data)
    return json_response(report, status=201)


@API.handler("getSettings")
def get_settings(ctx: Context) -> MockResponse:
    return json_response(db(ctx).settings())


@API.handler("updateSettings")
def update_settings(ctx: Context) -> MockResponse:
    body = ctx.body
    if not isinstance(body, dict):
        raise Problem(
            "invalid_request", 400, "Expected a JSON object.", fields={"non_field_errors": ["Invalid data. Expected a dictionary."]}
        )
    return json_response(db(ctx).update_settings(body))


@API.handler("listNotificationRecords")
def list_notification_records(ctx: Context) -> MockResponse:
    store = db(ctx)
    keep_all = ctx.defect("clarius.old_records_returned")
    return paged(ctx, lambda limit, offset: store.records(limit, offset, keep_all=keep_all, base_url=ctx.api_url("")))


@API.handler("listApiKeys")
def list_api_keys(ctx: Context) -> MockResponse:
    return json_response(db(ctx).active_keys())


@API.handler("createApiKey")
def create_api_key(ctx: Context) -> MockResponse:
    prefix = "".join(secrets.choice(_ALNUM) for _ in range(8))
    secret = "".join(secrets.choice(_ALNUM) for _ in range(32))
    return json_response(db(ctx).create_key(prefix, secret, ctx.body["name"]), status=201)


@API.handler("revokeApiKey")
def revoke_api_key(ctx: Context) -> MockResponse:
    prefix = ctx.path["prefix"]
    if ctx.principal is not None and ctx.principal.identity == prefix:
        raise Problem("forbidden", 403, "You cannot revoke the API key used to authenticate this request.")
    if ctx.defect("clarius.revoked_key_still_accepted"):
        return no_content()
    if not db(ctx).revoke_key(prefix):
        raise not_found()
    return no_content()


@API.handler("listCustomizedApplications")
def list_customized_applications(ctx: Context) -> MockResponse:
    return json_response(db(ctx).customizations())


@API.handler("getCustomizedApplication")
def get_customized_application(ctx: Context) -> MockResponse:
    found = db(ctx).customization(ctx.path["application_uuid"])
    if found is None:
        raise not_found()
    return json_response(found)


@API.handler("putCustomizedApplication")
def put_customized_application(ctx: Context) -> MockResponse:
    application_uuid = ctx.path["application_uuid"]
    if db(ctx).application(application_uuid) is None:
        raise not_found()
    db(ctx).put_customization(application_uuid, ctx.body["annotations"])
    found = db(ctx).customization(application_uuid)
    return json_response(found)


@API.handler("deleteCustomizedApplication")
def delete_customized_application(ctx: Context) -> MockResponse:
    if not db(ctx).delete_customization(ctx.path["application_uuid"]):
        raise not_found()
    return no_content()
