"""JSON out and back in for every API: orjson's speed, and integers of any size.

JSON (RFC 8259) puts no limit on integers and the request path decodes bodies with the
standard library, which keeps ``99999999999999999999`` exact. orjson, which encodes every
response and every JSON column of the store, refuses integers beyond 64 bits on the way
out ("Integer exceeds 64-bit range") and turns them into floats on the way in. These two
functions are the one place that bridges that: orjson whenever it can, the standard
library when a value holds such an integer, so what a client stored comes back as sent.

This module imports no Flask.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# orjson decodes integers up to 18 digits exactly (and some of 19-20, up to 2**64 - 1); a run of 19
# digits anywhere (even inside a string) sends the text to the standard library, which is always exact.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON; integers beyond 64 bits are written exactly."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()


def loads(data: str | bytes | bytearray) -> Any:
    """Parse JSON text; integers of any size come back as ``int``, not as floats."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if _LONG_DIGITS.search(raw):
        return json.loads(raw)
    return orjson.loads(raw)
