"""Map a request path to an operation.

Routing answers NONE, PARTIAL (the path exists, not with this method: 405 with
``Allow``) or FULL, like Starlette's router. Paths without parameters are found
with one dictionary look-up; the rest with one compiled regex per path template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from .spec import Operation, group_to_name, path_regex


class Match(Enum):
    NONE = 0
    PARTIAL = 1
    FULL = 2


@dataclass(frozen=True)
class RouteResult:
    match: Match
    operation: Operation | None = None
    path_params: dict[str, str] | None = None
    allowed: tuple[str, ...] = ()


class _Route:
    __slots__ = ("methods", "regex", "template")

    def __init__(self, template: str, regex: re.Pattern[str]) -> None:
        self.template = template
        self.regex = regex
        self.methods: dict[str, Operation] = {}


class Router:
    def __init__(self, operations: Iterable[Operation], prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")
        self._static: dict[str, _Route] = {}
        self._dynamic: list[_Route] = []
        by_template: dict[str, _Route] = {}
        for operation in operations:
            route = by_template.get(operation.path)
            if route is None:
                route = _Route(operation.path, path_regex(operation.path, self.prefix))
                by_template[operation.path] = route
                if "{" in operation.path:
                    self._dynamic.append(route)
                else:
                    self._static[self.prefix + operation.path] = route
            route.methods[operation.method] = operation
        # Literal segments win over parameters, as in every real router: /a/new/ before /a/{id}/.
        self._dynamic.sort(key=lambda r: (r.template.count("{"), -len(r.template)))

    def owns(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    def match(self, method: str, path: str) -> RouteResult:
        route = self._static.get(path)
        params: dict[str, str] = {}
        if route is None:
            for candidate in self._dynamic:
                found = candidate.regex.match(path)
                if found:
                    route = candidate
                    params = {group_to_name(k): v for k, v in found.groupdict().items()}
                    break
        if route is None:
            return RouteResult(Match.NONE)
        operation = route.methods.get(method)
        if operation is None and method == "HEAD":
            operation = route.methods.get("GET")
        if operation is None:
            allowed = set(route.methods)
            if "GET" in allowed:
                allowed.add("HEAD")
            allowed.add("OPTIONS")
            return RouteResult(Match.PARTIAL, allowed=tuple(sorted(allowed)))
        return RouteResult(Match.FULL, operation, params)
