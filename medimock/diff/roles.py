"""Pairing by role: the objects a scenario uses but cannot create, chosen per side.

The tscharts image API cannot create patients, clinics or stations: the workflows take them from the
target's credentials (``TSCHARTS_PATIENTS``..., or a medimock's ``/__mock__/credentials``) and pick
among them by what they hold (``_places``: the first patient without images). Paired by position
(A's 7th patient is B's 7th) two targets disagree as soon as their lists differ in length (the mock
names 25 patients, a test server 3) or in content (another seed gave A's 7th patient images and
B's 7th none): the replies then differ because of the data, not the behaviour.

So before the scenario each list is probed on each side, read-only (``GET /tscharts/v1/image/?patient=X``:
does the patient hold images?), and the i-th of A's objects is paired with the next unused object of
B *of the same role*; objects without a counterpart are left out on both sides. Each side's suite
inputs stay its own (A's suite gets A's paired list through its environment, B's ids are B's), and
the lockstep maps A's i-th object to B's i-th of the paired lists. A list without a probe (clinics,
stations) pairs by position and is cut to the shorter length, so ``clinics[-1]`` is a pair too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

Probe = Callable[[dict[str, Any], Any], str]


def id_list(value: Any) -> list[Any]:
    """A credentials list: a JSON list, or "1,2,3" as the environment gives it."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [int(part) if part.strip().isdigit() else part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return list(value)
    return [value]


def _tscharts_images(side: dict[str, Any], patient: Any) -> str:
    """A patient's role in the tscharts workflows: with images or without (the reference server's 404 is "without")."""
    token = side["credentials"].get("token")
    headers = {"Authorization": side.get("auth") or f"Token {token}"}
    try:
        response = requests.get(f"{side['root']}/tscharts/v1/image/", params={"patient": patient}, headers=headers, timeout=30)
    except requests.RequestException as exc:
        return f"unreadable ({type(exc).__name__})"
    if response.status_code == 404:
        return "without images"
    try:
        body = response.json()
    except ValueError:
        return f"unreadable ({response.status_code})"
    if response.status_code == 200 and isinstance(body, list):
        return "with images" if body else "without images"
    return f"unreadable ({response.status_code})"


# API -> {credential list: its probe (None: paired by position)}
ROLES: dict[str, dict[str, Probe | None]] = {
    "tscharts": {"patients": _tscharts_images, "clinics": None, "stations": None},
}


def _radiology_orders(side: dict[str, Any]) -> dict[str, tuple[str, str, tuple[str, ...]]] | None:
    """The organisation's orders with unacknowledged reports (the batch poll: read-only), as
    ``{orderId: (studyUid, status, report types)}``; None when the side cannot be read."""
    credentials = side["credentials"]
    fields = {
        "grant_type": "client_credentials",
        "client_id": credentials.get("client_id"),
        "client_secret": credentials.get("client_secret"),
    }
    try:
        token = requests.get(f"{side['root']}/radiology/oauth2/token", params=fields, timeout=30).json().get("access_token")
        polled = requests.get(
            f"{side['root']}/radiology/reports",
            params={"organizationId": credentials.get("organization_id")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
    except (requests.RequestException, ValueError, AttributeError):
        return None
    if not isinstance(polled, list):
        return None
    orders: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for report in polled:
        if isinstance(report, dict) and report.get("orderId"):
            uid, status, kinds = orders.get(report["orderId"], (str(report.get("studyUid")), str(report.get("status")), ()))
            orders[report["orderId"]] = (uid, status, tuple(sorted({*kinds, str(report.get("reportType"))})))
    return orders


def _pair_radiology_orders(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Each of A's orders paired with one of B's of the same role (its status and the types of its reports), so that
    a report A's poll delivers is asked of B's order of the same kind (another seed gave A's 3rd order an addendum
    and B's 3rd none)."""
    a_orders, b_orders = _radiology_orders(a), _radiology_orders(b)
    if not a_orders or not b_orders:
        return []
    used: set[str] = set()
    pairs: dict[str, str] = {}
    for same in (lambda x, y: x[1:] == y[1:], lambda x, y: x[2] == y[2]):  # status and report types, else the types
        for order, role in a_orders.items():
            if order in pairs:
                continue
            match = next((o for o, other in b_orders.items() if o not in used and same(role, other)), None)
            if match is not None:
                used.add(match)
                pairs[order] = match
                pairs.setdefault(role[0], b_orders[match][0])
    examples = (a["credentials"].get("examples") or {}), (b["credentials"].get("examples") or {})
    if examples[0].get("order_id") in pairs:  # A's example order: B's of the same role
        examples[1]["order_id"] = pairs[examples[0]["order_id"]]
        examples[1]["study_uid"] = b_orders[examples[1]["order_id"]][0]
    b.setdefault("pairs", {}).update(pairs)
    # A's orders without a counterpart: a step naming one is not sent to B (B's order at the same place of a list is
    # another kind of order, and the steps would differ by the data)
    unpaired = [order for order in a_orders if order not in pairs]
    b.setdefault("unpaired", []).extend([*unpaired, *(a_orders[order][0] for order in unpaired)])
    return [
        f"orders: {sum(1 for k in pairs if k in a_orders)} of A's {len(a_orders)} polled orders paired by role (status, report types) with B's "
        f"{len(b_orders)}; steps naming one of the {len(unpaired)} others are not sent to B"
    ]


def pair_by_role(api: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Rewrite both sides' credential lists (``a``/``b``: side settings) into pairs of the same role; returns notes."""
    notes = _pair_radiology_orders(a, b) if api == "radiology" else []
    for key, probe in ROLES.get(api, {}).items():
        a_list, b_list = id_list(a["credentials"].get(key)), id_list(b["credentials"].get(key))
        if not a_list or not b_list:
            continue
        if probe is None:
            size = min(len(a_list), len(b_list))
            a_pairs, b_pairs = a_list[:size], b_list[:size]
            how = "by position"
        else:
            b_roles = [(value, probe(b, value)) for value in b_list]
            used: set[int] = set()
            a_pairs, b_pairs = [], []
            for value in a_list:
                role = probe(a, value)
                match = next((i for i, (_, other) in enumerate(b_roles) if i not in used and other == role), None)
                if match is not None and not role.startswith("unreadable"):
                    used.add(match)
                    a_pairs.append(value)
                    b_pairs.append(b_roles[match][0])
            how = "by role"
        a["credentials"][key], b["credentials"][key] = a_pairs, b_pairs
        notes.append(f"{key}: {len(a_pairs)} pairs {how} (A names {len(a_list)}, B {len(b_list)}); the others are left out on both sides")
    return notes
