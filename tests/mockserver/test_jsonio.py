"""JSON with integers of any size, in the one codec every response and JSON column goes through (issue 16:
orjson refused 2**64 on the way out - a 500 on Clarius's PUT /services/applications/{uuid}/ - and turns it
into a float on the way in)."""

from __future__ import annotations

import pytest

from mockserver import jsonio, store
from mockserver.http import MockResponse

VALUES = [
    {"annotations": [{"x": 2**64, "y": -(2**70), "z": 10**40, "small": 1, "text": "é", "f": 1.5}]},
    [2**63 - 1, -(2**63), 2**64 - 1, 2**64, 9999999999999999999],
    {"id": "12345678901234567890123"},  # a long digit run inside a string: the slow path, still exact
]


@pytest.mark.parametrize("value", VALUES)
def test_round_trip_is_exact(value):
    encoded = jsonio.dumps(value)
    assert jsonio.loads(encoded) == value
    assert jsonio.loads(encoded.decode()) == value
    assert store.loads(store.dumps(value)) == value


def test_a_response_body_with_a_big_integer_encodes():
    assert MockResponse(200, {"n": 2**80}).encoded() == b'{"n":1208925819614629174706176}'


def test_ordinary_values_keep_the_fast_path():
    assert jsonio.dumps({"a": [1, 2.5, None, True, "x"]}) == b'{"a":[1,2.5,null,true,"x"]}'
    with pytest.raises(TypeError):
        jsonio.dumps({1: object()})  # what orjson refuses for another reason is not hidden
