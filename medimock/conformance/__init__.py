"""The conformance report of a contract run: per operation and check, passed, failed (with curl) or not exercised.

- ``plugin``: the pytest plugin (loaded by ``contracts/conftest.py``) that records a run and
  writes ``reports/conformance*.{html,md,json}`` beside the JUnit XML;
- ``model``: the recorder and the aggregation (coverage of documented operations, statuses,
  parameters);
- ``specs``: what each spec documents, and which operation a request was for;
- ``render``: HTML, Markdown, JSON and the terminal summary;
- ``curl``: failing requests as curl commands, credentials masked.
"""

from __future__ import annotations

from typing import Any

from .model import STANDARD_CHECKS, WORKFLOWS, Failure, Recorder, Report
from .render import render_html, render_json, render_markdown, summary_lines
from .specs import SpecIndex

PLUGIN_NAME = "medimock-conformance"

__all__ = [
    "PLUGIN_NAME",
    "STANDARD_CHECKS",
    "WORKFLOWS",
    "Failure",
    "Recorder",
    "Report",
    "SpecIndex",
    "attach",
    "note_target",
    "render_html",
    "render_json",
    "render_markdown",
    "summary_lines",
]


def attach(config: Any, session: Any) -> None:
    """Record every exchange of ``session`` (a ``requests.Session``); a no-op when the report is off.

    Called by the ``http`` fixture of contracts/conftest.py (``config`` is the pytest config).
    """
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        session.hooks["response"].append(plugin.on_response)


def note_target(config: Any, target: Any = None, error: str | None = None) -> None:
    """Tell the report the target under test (a ``medimock.target.Target``), or why none could be used."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        plugin.note_target(target, error)
