"""Deliberate Clarius defects: ``medimock serve --defect NAME``. The contract suite must catch each."""

from __future__ import annotations

import uuid

from ...api import Context, Defect
from ...http import MockResponse
from . import API


def _drop_download_url(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict):
        for item in response.body.get("results") or []:
            item.pop("download_url", None)
    return response


def _confirm_202(ctx: Context, response: MockResponse) -> MockResponse:
    if response.status == 200:
        response.status = 202
    return response


def _key_without_secret(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict):
        response.body.pop("key", None)
    return response


def _count_plus_one(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict) and "count" in response.body:
        response.body["count"] += 1
    return response


def _previous_is_next(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict) and response.body.get("previous"):
        response.body["previous"] = response.body["next"] or response.body["previous"].replace("offset=", "offset=1")
    return response


def _other_request_uuid(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict) and "request_uuid" in response.body:
        response.body["request_uuid"] = str(uuid.uuid4())
    return response


def _settings_type(ctx: Context, response: MockResponse) -> MockResponse:
    if isinstance(response.body, dict) and response.status == 200:
        response.body["notification_url"] = None
    return response


API.defect(
    Defect(
        "clarius.poll_missing_download_url",
        "poll results lack the required download_url",
        operations=("pollExams",),
        transform=_drop_download_url,
    )
)
API.defect(
    Defect(
        "clarius.confirm_undocumented_status",
        "customer confirmation answers 202, a status the document does not give",
        operations=("confirmCustomer",),
        transform=_confirm_202,
    )
)
API.defect(Defect("clarius.auth_ignored", "no operation checks the API key", auth_ignored=True))
API.defect(
    Defect(
        "clarius.create_key_without_secret",
        "a created key's response lacks the full key",
        operations=("createApiKey",),
        transform=_key_without_secret,
    )
)
API.defect(
    Defect(
        "clarius.settings_wrong_type",
        "settings report notification_url as null",
        operations=("getSettings", "updateSettings"),
        transform=_settings_type,
    )
)
API.defect(Defect("clarius.poll_ignores_customer_filter", "the poll API ignores customer_id"))
API.defect(Defect("clarius.poll_not_paginated", "the poll API ignores limit/offset"))
API.defect(Defect("clarius.revoked_key_still_accepted", "revoking a key answers 204 but the key keeps working"))
API.defect(Defect("clarius.webhook_missing_download_url", "the notification payload lacks download_url"))
API.defect(
    Defect(
        "clarius.poll_count_wrong", "the poll page's count is one more than the items", operations=("pollExams",), transform=_count_plus_one
    )
)
API.defect(
    Defect(
        "clarius.previous_link_wrong",
        "the previous link of a page points elsewhere",
        operations=("pollExams",),
        transform=_previous_is_next,
    )
)
API.defect(
    Defect(
        "clarius.download_wrong_request_uuid",
        "a download names another request_uuid",
        operations=("downloadExamData",),
        transform=_other_request_uuid,
    )
)
API.defect(Defect("clarius.unknown_token_confirmed", "confirming an unknown token answers 200 instead of 404"))
API.defect(Defect("clarius.report_without_file_accepted", "a report upload without a file is stored"))
API.defect(Defect("clarius.old_records_returned", "notification records older than 14 days are returned"))
API.defect(
    Defect(
        "clarius.research_bundle_not_checked",
        "the Raw Data and DICOM APIs serve users without the Research Bundle",
    )
)
API.defect(Defect("clarius.research_processing_served", "the Raw Data and DICOM APIs serve an exam that is still being processed"))
API.defect(
    Defect(
        "clarius.dicom_wrong_transfer_syntax",
        "DICOM downloads come in the other transfer syntax than the one asked for (valid DICOM, labelled as such)",
    )
)
API.defect(Defect("clarius.research_links_never_expire", "raw_image and download_url links keep working after 7 days"))
