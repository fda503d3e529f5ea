"""Settings of one mock server, shared by every worker process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_SEED = 20240607
DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
ALL_APIS = ("clarius", "tscharts", "radiology", "ambra")


@dataclass(frozen=True)
class MockConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    seed: int = DEFAULT_SEED
    db: str | None = None  # SQLite file; None means a temporary file removed at exit
    profile: str = "default"  # fixture size: "default", "large" or "huge"
    seed_time: str | None = None  # the moment the seeded data is relative to (ISO 8601); None: when it is seeded
    apis: tuple[str, ...] = ALL_APIS  # which APIs to serve (those that exist)
    strict: bool = False  # validate every response of the mock against its spec
    defects: frozenset[str] = field(default_factory=frozenset)  # deliberate defects (mutation testing)
    webhook_timeout: float = 10.0  # seconds a webhook receiver gets to answer
    webhook_workers: int = 4
    journal_size: int = 5000  # request journal entries kept
    max_body_bytes: int = 32 * 1024 * 1024  # larger bodies are answered 413
    max_query_params: int = 1000
    control: bool = True  # serve /__mock__
    control_token: str | None = None  # when set, /__mock__ requires "Authorization: Bearer <token>"
    public_url: str | None = None  # base URL used in links when there is no request (webhooks)
    token_ttl: int = 3600  # lifetime of issued OAuth tokens, seconds
    replay: str | None = None  # a recording (JSON lines, from `medimock proxy --record`) to answer from first
    replay_strict: bool = False  # a request the recording does not hold is a 404 instead of going to the mock
    replay_match_body: bool = True  # a recorded exchange matches only a request with the same body

    def with_overrides(self, **overrides: Any) -> MockConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_env(self) -> dict[str, str]:
        """Serialise for worker processes (gunicorn re-creates the app from this)."""
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, (tuple, frozenset)):
                value = ",".join(sorted(value) if isinstance(value, frozenset) else value)
            elif isinstance(value, bool):
                value = "1" if value else "0"
            out[f"MEDIMOCK_{item.name.upper()}"] = str(value)
        return out

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> MockConfig:
        environ = dict(os.environ if environ is None else environ)
        kwargs: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(f"MEDIMOCK_{item.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls(), item.name)
            if isinstance(default, bool):
                kwargs[item.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                kwargs[item.name] = int(raw)
            elif isinstance(default, float):
                kwargs[item.name] = float(raw)
            elif isinstance(default, tuple):
                kwargs[item.name] = tuple(p for p in raw.split(",") if p)
            elif isinstance(default, frozenset):
                kwargs[item.name] = frozenset(p for p in raw.split(",") if p)
            else:
                kwargs[item.name] = raw
        return cls(**kwargs)
