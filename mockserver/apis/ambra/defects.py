"""Deliberate Ambra defects: ``medimock serve --defect NAME``. The contract suite must catch each.

The handlers consult ``ctx.defect(name)``; ``ambra.missing_fields_subtype_empty`` is read
by the dialect, which learns the app's defects at start-up, and so is
``ambra.not_found_answers_200``; two rewrite the responses of the operations they name
(``Defect.transform``).
"""

from __future__ import annotations

from ...api import Context, Defect
from ...http import MockResponse
from . import API

for name, description in (
    ("ambra.page_more_wrong", "list pages always say more=0, even when more rows follow"),
    ("ambra.filter_ignored", "filter.FIELD.CONDITION parameters of lists are ignored"),
    ("ambra.sort_ignored", "sort_by is ignored (lists keep their default order)"),
    ("ambra.missing_fields_subtype_empty", "MISSING_FIELDS errors carry an empty error_subtype instead of the missing fields"),
    ("ambra.logout_keeps_sid", "/session/logout answers OK but the sid keeps working"),
    ("ambra.not_permitted_ignored", "role permissions are never checked: a User-role session may do what only an Admin may"),
    ("ambra.bundle_no_status_code", "/bundle replies lack HTTP_STATUS_CODE"),
    ("ambra.expired_session_accepted", "an expired sid or token is still accepted"),
):
    API.defect(Defect(name, description))


def both(*commands: str) -> tuple[str, ...]:
    """The operationIds of commands, POST and GET (``study_get``, ``study_get_get``)."""
    return tuple(op for command in commands for op in (command, f"{command}_get"))


def _drop_study_uid(ctx: Context, response: MockResponse) -> MockResponse:
    if response.status == 200 and isinstance(response.body, dict):
        response.body.pop("study_uid", None)
    return response


def _page_count_text(ctx: Context, response: MockResponse) -> MockResponse:
    page = response.body.get("page") if response.status == 200 and isinstance(response.body, dict) else None
    if isinstance(page, dict) and isinstance(page.get("count"), int):
        page["count"] = str(page["count"])
    return response


API.defect(
    Defect(
        "ambra.study_get_drops_study_uid",
        "/study/get replies lack the required study_uid",
        operations=both("study_get"),
        transform=_drop_study_uid,
    )
)
# read by the dialect (a NOT_FOUND is raised, not returned, so no transform sees it)
NOT_FOUND_OK = both("study_get", "group_get", "location_get", "customfield_get", "webhook_get")
API.defect(
    Defect(
        "ambra.not_found_answers_200",
        "getting a study, group, location, customfield or webhook that does not exist answers 200 OK instead of NOT_FOUND",
    )
)
API.defect(
    Defect(
        "ambra.page_count_string",
        "the page hash of /study/list and the generic lists gives count as a string",
        operations=both("study_list", "group_list", "location_list", "customfield_list", "role_list", "account_list"),
        transform=_page_count_text,
    )
)
