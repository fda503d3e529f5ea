"""Deliberate Ambra defects: ``medimock serve --defect NAME``. The contract suite must catch each.

The handlers consult ``ctx.defect(name)``; ``ambra.missing_fields_subtype_empty`` is read
by the dialect, which learns the app's defects at start-up.
"""

from __future__ import annotations

from ...api import Defect
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
