"""Fault injection: latency, error statuses, dropped connections and stalls.

Rules live in the shared store (so every worker applies the same ones) and are
set through ``PUT /__mock__/faults``; a single request can ask for a fault with
a ``Prefer`` header (``Prefer: code=503, latency=200``), as Prism does.
A rule with a ``probability`` below 1 decides from a hash of the server seed,
the rule id and how many requests it has matched, so a run reproduces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .http import MockRequest, Problem
from .spec import Operation
from .store import Store, StoreSchema, dumps, loads

SCHEMA = StoreSchema(
    name="faults",
    ddl=[
        """CREATE TABLE IF NOT EXISTS fault_rules (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0,
            applied INTEGER NOT NULL DEFAULT 0
        )"""
    ],
    tables=["fault_rules"],
    keep_on_reset=True,
)

RULE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "api": str,
    "operation_id": str,
    "method": str,
    "path": str,  # a regular expression searched in the request path
    "latency_ms": (int, float),
    "jitter_ms": (int, float),
    "status": int,
    "retry_after": int,
    "probability": (int, float),
    "drop": bool,
    "stall_ms": (int, float),
    "times": int,  # apply at most this many times
    "webhooks": bool,  # the rule targets outgoing webhooks of the api instead of requests
}


class DropConnection(Exception):
    """Close the client connection without an answer."""

    def __init__(self, decision: FaultDecision | None = None) -> None:
        super().__init__("connection dropped by a fault")
        self.decision = decision


@dataclass
class FaultDecision:
    source: str  # "rule:<id>" or "prefer"
    latency_ms: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    stall_ms: float = 0.0

    def describe(self) -> str:
        parts = [self.source]
        if self.latency_ms:
            parts.append(f"latency={self.latency_ms:.0f}ms")
        if self.status:
            parts.append(f"status={self.status}")
        if self.drop:
            parts.append("drop")
        if self.stall_ms:
            parts.append(f"stall={self.stall_ms:.0f}ms")
        return " ".join(parts)


def validate_rule(rule: Any) -> dict[str, Any]:
    if not isinstance(rule, dict):
        raise Problem("invalid_request", 400, "A fault rule is a JSON object.")
    unknown = sorted(set(rule) - set(RULE_FIELDS) - {"id"})
    if unknown:
        raise Problem("invalid_request", 400, f"Unknown fault rule fields: {', '.join(unknown)}; known: {', '.join(sorted(RULE_FIELDS))}.")
    for name, kind in RULE_FIELDS.items():
        if name in rule and (not isinstance(rule[name], kind) or (kind is not bool and isinstance(rule[name], bool))):
            raise Problem("invalid_request", 400, f"Fault rule field {name!r} has the wrong type.")
    if "status" in rule and not 100 <= rule["status"] <= 599:
        raise Problem("invalid_request", 400, "Fault rule status must be an HTTP status code (100-599).")
    if "probability" in rule and not 0 <= rule["probability"] <= 1:
        raise Problem("invalid_request", 400, "Fault rule probability must be between 0 and 1.")
    if "path" in rule:
        try:
            re.compile(rule["path"])
        except re.error as exc:
            raise Problem("invalid_request", 400, f"Fault rule path is not a valid regular expression: {exc}.") from exc
    effects = {"latency_ms", "status", "drop", "stall_ms"} & set(rule)
    if not effects:
        raise Problem("invalid_request", 400, "A fault rule needs an effect: latency_ms, status, drop or stall_ms.")
    return {k: v for k, v in rule.items() if k != "id"}


class Faults:
    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.seed = seed

    # -- rules --------------------------------------------------------------------------
    def rules(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, rule, hits, applied FROM fault_rules ORDER BY id")
        return [{"id": row["id"], **loads(row["rule"]), "matched": row["hits"], "applied": row["applied"]} for row in rows]

    def replace(self, rules: list[Any]) -> list[dict[str, Any]]:
        cleaned = [validate_rule(rule) for rule in rules]
        with self.store.write() as conn:
            conn.execute("DELETE FROM fault_rules")
            for rule in cleaned:
                conn.execute("INSERT INTO fault_rules (rule) VALUES (?)", (dumps(rule),))
        return self.rules()

    def add(self, rule: Any) -> dict[str, Any]:
        cleaned = validate_rule(rule)
        with self.store.write() as conn:
            cursor = conn.execute("INSERT INTO fault_rules (rule) VALUES (?)", (dumps(cleaned),))
            rule_id = cursor.lastrowid
        return next(r for r in self.rules() if r["id"] == rule_id)

    def clear(self) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM fault_rules")

    # -- decisions ----------------------------------------------------------------------
    def _definitions(self) -> list[tuple[int, dict[str, Any]]]:
        """The rules as set (id, rule), read once per thread until the store changes: every request asks."""
        return self.store.cached(
            ("faults.rules",),
            lambda: [(row["id"], loads(row["rule"])) for row in self.store.query("SELECT id, rule FROM fault_rules ORDER BY id")],
        )

    def decide(self, api: str, operation: Operation | None, request: MockRequest, *, webhooks: bool = False) -> FaultDecision | None:
        if not webhooks:
            prefer = parse_prefer(request.header("Prefer"))
            if prefer is not None:
                return prefer
        for rule_id, rule in self._definitions():
            if bool(rule.get("webhooks")) != webhooks or not _matches(rule, api, operation, request):
                continue
            with self.store.write() as wconn:
                current = wconn.execute("SELECT hits, applied FROM fault_rules WHERE id = ?", (rule_id,)).fetchone()
                if current is None:
                    continue
                hits, applied = current["hits"] + 1, current["applied"]
                apply = applied < rule.get("times", 1 << 62) and self._chance(rule_id, hits) < rule.get("probability", 1.0)
                wconn.execute("UPDATE fault_rules SET hits = ?, applied = ? WHERE id = ?", (hits, applied + (1 if apply else 0), rule_id))
            if not apply:
                continue
            latency = float(rule.get("latency_ms", 0))
            if rule.get("jitter_ms"):
                latency += self._chance(rule_id, hits, salt="jitter") * float(rule["jitter_ms"])
            decision = FaultDecision(
                source=f"rule:{rule_id}",
                latency_ms=latency,
                status=rule.get("status"),
                drop=bool(rule.get("drop")),
                stall_ms=float(rule.get("stall_ms", 0)),
            )
            if decision.status in (429, 503) or "retry_after" in rule:
                decision.headers["Retry-After"] = str(rule.get("retry_after", 1))
            return decision
        return None

    def _chance(self, rule_id: int, hit: int, salt: str = "") -> float:
        digest = hashlib.blake2b(f"{self.seed}:{rule_id}:{hit}:{salt}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


def _matches(rule: dict[str, Any], api: str, operation: Operation | None, request: MockRequest) -> bool:
    if rule.get("api") and rule["api"] != api:
        return False
    if rule.get("operation_id") and (operation is None or rule["operation_id"] != operation.operation_id):
        return False
    if rule.get("method") and rule["method"].upper() != request.method:
        return False
    return not (rule.get("path") and not re.search(rule["path"], request.path))


_PREFER_ITEM = re.compile(r"\s*([a-zA-Z_-]+)\s*(?:=\s*\"?([^\",;]*)\"?)?\s*")


def parse_prefer(header: str) -> FaultDecision | None:
    """``Prefer: code=503, latency=200, drop, stall=1000, retry-after=5``; unknown preferences are ignored (RFC 7240)."""
    if not header:
        return None
    decision = FaultDecision(source="prefer")
    found = False
    for item in re.split(r"[,;]", header):
        match = _PREFER_ITEM.fullmatch(item)
        if not match:
            continue
        key, value = match.group(1).lower(), (match.group(2) or "").strip()
        try:
            if key in ("code", "status") and value.isdigit() and 100 <= int(value) <= 599:
                decision.status, found = int(value), True
            elif key == "latency" and value:
                decision.latency_ms, found = min(float(value), 60_000.0), True
            elif key == "drop":
                decision.drop, found = True, True
            elif key == "stall" and value:
                decision.stall_ms, found = min(float(value), 300_000.0), True
            elif key == "retry-after" and value.isdigit():
                decision.headers["Retry-After"] = value
        except ValueError:
            continue
    if decision.status in (429, 503) and "Retry-After" not in decision.headers:
        decision.headers["Retry-After"] = "1"
    return decision if found else None
