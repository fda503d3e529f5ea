"""``limit``/``offset`` pages with ``count``/``next``/``previous``/``results`` (Django REST framework's shape)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .http import MockRequest


def page_url(request: MockRequest, api_mount: str, limit: int, offset: int | None) -> str:
    """The request's own URL with ``limit``/``offset`` replaced; ``offset`` dropped when None."""
    kept = [(k, v) for k, v in request.query if k not in ("limit", "offset")]
    kept.append(("limit", str(limit)))
    if offset:
        kept.append(("offset", str(offset)))
    return f"{request.base_url}{request.path}?{urlencode(kept)}"


def limit_offset_page(request: MockRequest, results: list[Any], count: int, limit: int, offset: int, api_mount: str = "") -> dict[str, Any]:
    next_url = page_url(request, api_mount, limit, offset + limit) if offset + limit < count else None
    previous_url = None
    if offset > 0:
        previous_offset = offset - limit
        previous_url = page_url(request, api_mount, limit, previous_offset if previous_offset > 0 else None)
    return {"count": count, "next": next_url, "previous": previous_url, "results": results}
