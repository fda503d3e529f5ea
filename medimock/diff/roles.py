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


def pair_by_role(api: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Rewrite both sides' credential lists (``a``/``b``: side settings) into pairs of the same role; returns notes."""
    notes = []
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
