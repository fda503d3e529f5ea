"""Ambra load scenario: log in, list studies with filters and sorts, walk pages, get studies.

    make load API=ambra TARGET=http://127.0.0.1:8080 USERS=20 DURATION=1m

Credentials come from AMBRA_LOGIN and AMBRA_PASSWORD, or from the target's
/__mock__/credentials. Each round of a user makes:

* ``study/list [filter+sort]`` — two pages (``page.rows``, default 100) with a random
  filter (modality, study date from, patient name prefix, modalities in a list) and a
  random ``sort_by``; the reply is checked: every study matches the filter, study dates
  follow a study-date sort;
* ``study/list page walk`` — ``page.number`` 1, 2, ... of one modality, AMBRA_WALK_ROWS
  (default 25) a page, until ``page.more`` is 0 (at most AMBRA_MAX_PAGES pages, default 5):
  each page says which page it is, holds ``count`` studies of that modality, and no study
  comes twice;
* ``study/get`` — up to AMBRA_GETS_PER_ROUND (default 10) studies from those lists.

Any HTTP status but 200 and any reply whose ``status`` is not ``"OK"`` is a failure.

Sessions: Ambra keeps at most 10 sessions per user and drops the oldest, so users share
sessions instead of each holding its own: the first AMBRA_SESSIONS users of a Locust
process (default 2; ``loadtests.run`` sets it to fit 8 sessions across all its processes)
each log in once (``session/login``); later users reuse those sessions.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
import requests
from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

API = "/api/v3"
MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "PT", "NM", "XA")
SORTS = ("study_date-desc", "study_date-asc", "patient_name-asc", "created-desc", "study_date-desc,patient_name-asc", "image_count-desc")
NAME_PREFIXES = "ABCDEGHJKLMNPRSTW"

_CREDENTIALS: dict[str, tuple[str, str]] = {}


@dataclass
class _Pool:
    logins: int = 0  # started (or done) by users of this process
    sids: list[str] = field(default_factory=list)


_SESSIONS: dict[str, _Pool] = {}  # host -> this process's sessions


def ambra_credentials(host: str) -> tuple[str, str]:
    """AMBRA_LOGIN/AMBRA_PASSWORD, or the seeded admin of a medimock target (looked up once per host and process)."""
    if os.environ.get("AMBRA_LOGIN"):
        return os.environ["AMBRA_LOGIN"], os.environ.get("AMBRA_PASSWORD", "")
    if host not in _CREDENTIALS:
        try:
            found = requests.get(host.rstrip("/") + "/__mock__/credentials", timeout=30).json()["ambra"]
            _CREDENTIALS[host] = (str(found["login"]), str(found["password"]))
        except (requests.RequestException, ValueError, KeyError, TypeError):
            _CREDENTIALS[host] = ("", "")
    return _CREDENTIALS[host]


def ambra_reply(response: ResponseContextManager, what: str) -> dict[str, Any] | None:
    """The reply's JSON when it is a success; otherwise the request is marked failed and None returned."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "OK":
        detail = body if isinstance(body, dict) else {}
        response.failure(
            f"{what}: HTTP {response.status_code}, status {detail.get('status')!r}"
            f" {detail.get('error_type') or ''} {detail.get('error_subtype') or ''}".rstrip()
        )
        return None
    return body


def random_filter(rng: random.Random, today: datetime) -> tuple[dict[str, str], Any]:
    """A filter as form fields, and a check of one returned study against it."""
    kind = rng.randrange(4)
    if kind == 0:
        modality = rng.choice(MODALITIES)
        return {"filter.modality.equals": modality}, lambda s: s.get("modality") == modality
    if kind == 1:
        since = (today - timedelta(days=rng.randint(30, 600))).strftime("%Y%m%d")
        return {"filter.study_date.ge": since}, lambda s: str(s.get("study_date") or "") >= since
    if kind == 2:
        prefix = rng.choice(NAME_PREFIXES)
        return {"filter.patient_name.like": prefix + "%"}, lambda s: str(s.get("patient_name") or "").upper().startswith(prefix)
    chosen = rng.sample(MODALITIES, 2)
    return {"filter.modality.in": '["{}","{}"]'.format(*chosen)}, lambda s: s.get("modality") in chosen


class AmbraIntegrator(HttpUser):
    """An integrator's client: searches the study list, pages through it, and opens studies."""

    wait_time = between(0.0, 0.2)
    page_rows = int(os.environ.get("AMBRA_PAGE_ROWS", "100"))
    walk_rows = int(os.environ.get("AMBRA_WALK_ROWS", "25"))
    max_pages = int(os.environ.get("AMBRA_MAX_PAGES", "5"))
    gets_per_round = int(os.environ.get("AMBRA_GETS_PER_ROUND", "10"))
    sessions_per_process = max(1, int(os.environ.get("AMBRA_SESSIONS", "2")))

    def on_start(self) -> None:
        self.rng = random.Random()
        self.seen: deque[str] = deque(maxlen=500)
        self.sid = self.session(self.host or "")

    def session(self, host: str) -> str:
        """A sid of this process's pool: a new login while the pool has room, else a shared one."""
        pool = _SESSIONS.setdefault(host, _Pool())
        if pool.logins < self.sessions_per_process:
            pool.logins += 1  # taken before the login yields, so concurrent starts do not overshoot
            try:
                sid = self.login(host)
            except BaseException:
                pool.logins -= 1
                raise
            pool.sids.append(sid)
            return sid
        deadline = time.monotonic() + 60
        while not pool.sids and time.monotonic() < deadline:  # another user's login is under way
            gevent.sleep(0.05)
        if not pool.sids:
            raise RuntimeError("no Ambra session: every login of this process failed or is still pending")
        return self.rng.choice(pool.sids)

    def login(self, host: str) -> str:
        login, password = ambra_credentials(host)
        if not login:
            raise RuntimeError("no Ambra credentials: set AMBRA_LOGIN and AMBRA_PASSWORD or point the test at a medimock target")
        with self.client.post(
            API + "/session/login", data={"login": login, "password": password}, name="session/login", catch_response=True
        ) as response:
            body = ambra_reply(response, "session/login")
        if body is None or not body.get("sid"):
            raise RuntimeError(f"Ambra login failed for {login}")
        return str(body["sid"])

    @task
    def search_page_and_open(self) -> None:
        today = datetime.now(UTC)
        for _ in range(2):
            self.filtered_list(today)
        self.page_walk()
        for uuid in self.rng.sample(list(self.seen), min(self.gets_per_round, len(self.seen))):
            self.get_study(uuid)

    def filtered_list(self, today: datetime) -> None:
        fields, matches = random_filter(self.rng, today)
        sort = self.rng.choice(SORTS)
        name = "study/list [filter+sort]"
        with self.client.post(
            API + "/study/list",
            data={"sid": self.sid, "page.rows": self.page_rows, "sort_by": sort, **fields},
            name=name,
            catch_response=True,
        ) as response:
            body = ambra_reply(response, name)
            if body is None:
                return
            studies = body.get("studies")
            if not isinstance(studies, list) or not isinstance(body.get("page"), dict):
                response.failure(f"{name}: no studies list or page hash")
                return
            if not all(matches(s) for s in studies):
                response.failure(f"{name}: studies that do not match {', '.join(fields)}")
                return
            dates = [str(s.get("study_date") or "") for s in studies]
            if sort.startswith("study_date-") and dates != sorted(dates, reverse=sort.startswith("study_date-desc")):
                response.failure(f"{name}: not sorted by {sort}")
                return
        self.seen.extend(str(s["uuid"]) for s in studies if s.get("uuid"))

    def page_walk(self) -> None:
        name = "study/list page walk"
        modality = self.rng.choice(MODALITIES)
        uuids: set[str] = set()
        for number in range(1, self.max_pages + 1):
            fields = {"sid": self.sid, "page.rows": self.walk_rows, "page.number": number, "filter.modality.equals": modality}
            with self.client.post(API + "/study/list", data=fields, name=name, catch_response=True) as response:
                body = ambra_reply(response, name)
                if body is None:
                    return
                page, studies = body.get("page") or {}, body.get("studies") or []
                if page.get("number") != number or page.get("count") != len(studies) or len(studies) > self.walk_rows:
                    response.failure(f"{name}: the page hash does not describe the page (number, count)")
                    return
                if any(s.get("modality") != modality for s in studies):
                    response.failure(f"{name}: studies that do not match filter.modality.equals")
                    return
                page_uuids = {str(s.get("uuid")) for s in studies}
                if page_uuids & uuids or len(page_uuids) != len(studies):
                    response.failure(f"{name}: a study comes twice")
                    return
                if page.get("more") not in (0, 1) or (page.get("more") == 1 and len(studies) != self.walk_rows):
                    response.failure(f"{name}: page.more does not fit the page")
                    return
            uuids |= page_uuids
            if not page.get("more"):
                return

    def get_study(self, uuid: str) -> None:
        name = "study/get"
        with self.client.post(API + "/study/get", data={"sid": self.sid, "uuid": uuid}, name=name, catch_response=True) as response:
            body = ambra_reply(response, name)
            if body is not None and body.get("uuid") != uuid:
                response.failure(f"{name}: another study than the one asked for")
