"""Deliberate tscharts defects: ``medimock serve --defect NAME``. The contract suite must catch each.

Some break the schema (a strict mock reports them itself), the others break behaviour
the spec and its README describe (only a suite that checks behaviour catches them).
"""

from __future__ import annotations

from ...api import Context, Defect
from ...http import MockResponse
from . import API


def _drop_type(ctx: Context, response: MockResponse) -> MockResponse:
    if response.status == 200 and isinstance(response.body, dict):
        response.body.pop("type", None)
    return response


API.defect(
    Defect("tscharts.get_missing_type", "get-one image responses lack the required type", operations=("getImage",), transform=_drop_type)
)
API.defect(Defect("tscharts.auth_ignored", "no operation checks the token", auth_ignored=True))
API.defect(Defect("tscharts.newest_ignored", "newest=true returns the id list instead of the most recent image"))
API.defect(Defect("tscharts.delete_keeps_image", "delete answers 200 {} but the image stays"))
API.defect(Defect("tscharts.empty_list_200", "a list query that matches nothing answers 200 [] instead of 404"))
API.defect(Defect("tscharts.sort_ascending", "sort=true orders oldest first"))
API.defect(Defect("tscharts.login_id_integer", "login returns the user id as a number, not a string"))
