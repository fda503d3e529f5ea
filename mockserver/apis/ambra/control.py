"""Ambra control routes under ``/__mock__/ambra`` (never part of the vendor spec).

POST /__mock__/ambra/sessions/expire   {"sid": "..."} (a sid or an OAuth token): expire it now
"""

from __future__ import annotations

from typing import Any

from ...control import json_body
from ...http import MockRequest, MockResponse, Problem, json_response
from . import API
from .auth import Sessions


@API.control("POST", "/ambra/sessions/expire", "expire an Ambra sid or OAuth token now (to test 401 on expiry)")
def expire_session(app: Any, request: MockRequest) -> MockResponse:
    body = json_body(request)
    sid = body.get("sid") if isinstance(body, dict) else None
    if not isinstance(sid, str) or not sid:
        raise Problem("invalid_request", 400, 'POST /__mock__/ambra/sessions/expire takes {"sid": "..."}.')
    if not Sessions(app.store).expire(sid):
        raise Problem("not_found", 404, "No such sid or token.")
    return json_response({"expired": sid})
