"""A Locust plugin file, loaded beside each scenario by ``medimock load``: the CSV statistics get the final counts.

Locust rewrites ``<prefix>_stats.csv`` from a greenlet once a second and never after the users have
stopped, so the requests of the last second and of ``--stop-timeout`` reached its printed tables and
its HTML report but not the CSV that the summary and the thresholds read (Locust issue #2299: 1825
requests in the table, 1796 in the CSV). On ``quit`` (the users have stopped, the files are still
open) this gives that greenlet one more round, so every report counts the same requests.
"""

from __future__ import annotations

from typing import Any

import gevent
from locust import events, stats
from locust.env import Environment
from locust.runners import WorkerRunner

_ENVIRONMENT: list[Environment] = []


@events.init.add_listener
def _remember(environment: Environment, **_: Any) -> None:
    _ENVIRONMENT.append(environment)


@events.quit.add_listener
def _last_csv_round(**_: Any) -> None:
    environment = _ENVIRONMENT[-1] if _ENVIRONMENT else None
    options = getattr(environment, "parsed_options", None)
    if environment is None or not getattr(options, "csv_prefix", None) or isinstance(environment.runner, WorkerRunner):
        return
    gevent.sleep(stats.CSV_STATS_INTERVAL_SEC + 0.2)
