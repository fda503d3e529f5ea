"""medimock diff's comparison of one reply pair, without servers: each side's own data (the default between different
data) against the same data (every value compared, lists item by item)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from medimock.diff import data_mode
from medimock.diff.compare import Reply, compare
from medimock.diff.rules import load_rules

RULES = load_rules("clarius")
A_ROOT, B_ROOT = "http://127.0.0.1:1111", "http://127.0.0.1:2222"


def reply(body: Any, status: int = 200) -> Reply:
    return Reply(status, {"content-type": "application/json"}, orjson.dumps(body))


def differences(a: Any, b: Any, *, same: bool, mapping: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    mapping = mapping or {}

    def to_b(value: Any) -> Any:
        return mapping.get(str(value), value)

    def text_to_b(text: str) -> str:
        text = text.replace(A_ROOT, B_ROOT)
        for ref, mine in mapping.items():
            text = text.replace(ref, str(mine))
        return text

    found = compare(reply(a), reply(b), rules=RULES, to_b=to_b, written=set(), same_data=same, text_to_b=text_to_b)
    return [(d.kind, d.where, d.detail) for d in found]


def page(count: int, items: list[dict[str, Any]], previous: str | None = None, root: str = A_ROOT) -> dict[str, Any]:
    return {"count": count, "next": None, "previous": previous and root + previous, "results": items}


def item(uuid: str, name: str = "x", root: str = A_ROOT) -> dict[str, Any]:
    return {"request_uuid": uuid, "exam_uuid": uuid[::-1], "download_url": f"{root}/download/{uuid}/", "name": name}


U1, U2, U3 = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333")


def test_own_data_compares_shapes_only() -> None:
    a = page(2, [item(U1), item(U2)])
    b = page(5, [item(U3, "other", B_ROOT)])
    assert differences(a, b, same=False) == []


def test_same_data_compares_a_count_and_the_items() -> None:
    a = page(2, [item(U1), item(U2)])
    b = page(3, [item(U1, root=B_ROOT), item(U3, root=B_ROOT)])
    assert differences(a, b, same=True) == [("value", "$.count", "another value"), ("value", "$.results[]", "other items")]


def test_same_data_pairs_items_by_their_identity_not_their_place() -> None:
    a = page(2, [item(U1), item(U2)])
    b = page(2, [item(U2, root=B_ROOT), item(U1, root=B_ROOT)])
    assert differences(a, b, same=True) == []  # the document fixes no order here (rules: ordered_lists)
    b["results"][0]["name"] = "changed"
    assert differences(a, b, same=True) == [("value", "$.results[].name", "another value")]


def test_same_data_links_without_their_host() -> None:
    same = differences(page(1, [], "/poll/?offset=0"), page(1, [], "/poll/?offset=0", B_ROOT), same=True)
    assert same == []
    other = differences(page(1, [], "/poll/?offset=0"), page(1, [], "/poll/?offset=20", B_ROOT), same=True)
    assert other == [("value", "$.previous", "a link to another place")]


def test_same_data_text_naming_the_host_an_identity_or_a_time() -> None:
    a = {"content": f'{{"url": "{A_ROOT}/x/{U1}/"}}', "note": "signed on 2026-12-07 09:41 UTC"}
    b = {"content": f'{{"url": "{B_ROOT}/x/{U2}/"}}', "note": "signed on 2026-12-07 09:42 UTC"}
    assert differences(a, b, same=True, mapping={U1: U2}) == []
    b["note"] = "unsigned"
    assert differences(a, b, same=True, mapping={U1: U2}) == [("value", "$.note", "another value")]


def test_same_data_a_seeded_identity_must_be_the_same() -> None:
    assert differences({"request_uuid": U1}, {"request_uuid": U2}, same=False) == []
    assert differences({"request_uuid": U1}, {"request_uuid": U2}, same=True) == [
        ("value", "$.request_uuid", "another object than the one the mapping names")
    ]
    assert differences({"request_uuid": U1}, {"request_uuid": U2}, same=True, mapping={U1: U2}) == []  # created: mapped


def test_same_data_lists_without_identities_by_position() -> None:
    assert differences({"error_subtype": ["login", "password"]}, {"error_subtype": []}, same=True) == [
        ("value", "$.error_subtype[]", "other items")
    ]
    assert differences([{"n": 1}, {"n": 2}], [{"n": 1}], same=True) == [("value", "$[]", "another number of items")]


def test_merged_list_items_take_the_first_value_that_is_not_null() -> None:
    a = {"results": [{"note": None}, {"note": "x"}]}
    b = {"results": [{"note": "y"}]}
    assert differences(a, b, same=False) == []


@pytest.mark.parametrize(
    ("a", "b", "choice", "mode", "words"),
    [
        (
            {"seed": 1, "profile": "default", "seed_time": "T"},
            {"seed": 1, "profile": "default", "seed_time": "T"},
            "auto",
            "same",
            "seed time T",
        ),
        ({"seed": 1, "profile": "default"}, {"seed": 1, "profile": "default"}, "auto", "same", "start both with one --seed-time"),
        ({"seed": 1, "profile": "default"}, {"seed": 2, "profile": "default"}, "auto", "own", "each side its own"),
        ({"seed": 1, "profile": "default"}, None, "auto", "own", "each side its own"),
        (None, None, "same", "same", "--data same"),
        ({"seed": 1, "profile": "default"}, {"seed": 1, "profile": "default"}, "own", "own", "--data own"),
    ],
)
def test_data_mode(monkeypatch: pytest.MonkeyPatch, a: Any, b: Any, choice: str, mode: str, words: str) -> None:
    import medimock.diff as diff

    health = {"http://a": a, "http://b": b}
    monkeypatch.setattr(diff, "_health", lambda control: health.get(control or ""))
    got, why = data_mode(choice, {"control": "http://a"}, {"control": "http://b"})
    assert got == mode and words in why


def test_a_signed_link_is_sent_with_the_sides_latest_signature() -> None:
    from medimock.diff.engine import Lockstep, Side, StepRequest, pair_values

    a, b = Side("A", A_ROOT), Side("B", B_ROOT)
    lockstep = Lockstep("clarius", a, b, RULES, reference_is_a=True)
    for second in ("01", "02"):  # each reply signs anew: the request follows the latest link
        link_a = f"{A_ROOT}/media/raw/{U1}/x.zip?X-Amz-Date=20261207T1023{second}Z&X-Amz-Signature=a{second}"
        link_b = f"{B_ROOT}/media/raw/{U2}/x.zip?X-Amz-Date=20261207T1023{second}Z&X-Amz-Signature=b{second}"
        pair_values({"url": link_a}, {"url": link_b}, RULES, b, weak=True)
    request = StepRequest("GET", f"/media/raw/{U1}/x.zip", [("X-Amz-Date", "20261207T102302Z"), ("X-Amz-Signature", "a02")])
    sent = lockstep.translate(request, b)
    assert not isinstance(sent, str)
    assert sent.path == f"/media/raw/{U2}/x.zip" and dict(sent.query)["X-Amz-Signature"] == "b02"
    tampered = StepRequest("GET", f"/media/raw/{U1}/x.zip", [("X-Amz-Date", "20261207T102302Z"), ("X-Amz-Signature", "bad")])
    kept = lockstep.translate(tampered, b)
    assert not isinstance(kept, str) and dict(kept.query)["X-Amz-Signature"] == "bad"  # a link the suite changed: as sent


def test_same_data_a_presigned_link_signed_at_another_second_is_the_same_link() -> None:
    link = "/media/raw/{0}/x.zip?X-Amz-Date=20261207T10232{1}Z&X-Amz-Expires=604800&X-Amz-Signature=s{1}"
    a = {"raw_image": A_ROOT + link.format(U1, 1)}
    assert differences(a, {"raw_image": B_ROOT + link.format(U1, 2)}, same=True) == []
    assert differences(a, {"raw_image": B_ROOT + link.format(U2, 2)}, same=True) == [("value", "$.raw_image", "a link to another place")]
