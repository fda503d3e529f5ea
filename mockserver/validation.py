"""Validate a request against its operation, with the validators compiled at start-up.

Wire values are strings (query, path, headers, form fields); they are coerced to
the types the schema declares before validation, so ``limit=10`` validates as an
integer and ``limit=ten`` fails with a type error that names the field.

The outcome is a ``ValidatedRequest`` holding typed values, or a ``Problem`` of
kind ``invalid_request`` whose ``fields`` lists every violation.

Two operation-level extensions refine this, for any API whose spec uses them:

``x-medimock-one-of-params: [[a], [b, c]]``
    Exactly one of the alternatives must be given, and completely (every parameter
    of the chosen alternative, none of the others). OpenAPI cannot say this of
    parameters; a request that breaks it is an ``invalid_request`` whose field key
    names the alternatives (``a|b+c``).
``x-medimock-invalid-input-status: 404``
    The status a request failing validation gets instead of 400. With 404 the problem
    becomes a ``not_found`` (a malformed id is then indistinguishable from an unknown
    one, as with a server whose URL pattern does not match it); with any other status
    it stays an ``invalid_request`` with that status. ``fields`` is kept either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from .http import MockRequest, Problem
from .spec import MediaType, Operation, Parameter, Violation

_BOOLEAN = {"true": True, "false": False, "1": True, "0": False}


@dataclass
class ValidatedRequest:
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    media_type: str | None = None


def coerce(value: str, types: frozenset[str]) -> Any:
    """Turn a wire string into the value its schema declares; leave it when it does not parse."""
    if "string" in types or not types:
        return value
    if "integer" in types:
        try:
            return int(value, 10)
        except ValueError:
            pass
    if "number" in types:
        try:
            number = float(value)
            if number == number and abs(number) != float("inf"):  # NaN and inf are not JSON
                return number
        except ValueError:
            pass
    if "boolean" in types and value.lower() in _BOOLEAN:
        return _BOOLEAN[value.lower()]
    if "null" in types and value in ("", "null"):
        return None
    if types & {"object", "array"}:
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _param_value(param: Parameter, values: list[str]) -> Any:
    if param.is_array:
        if not param.explode and len(values) == 1:
            values = values[0].split(",") if values[0] else []
        return [coerce(v, param.item_types) for v in values]
    return coerce(values[-1], param.types)


def validate_request(
    operation: Operation, request: MockRequest, path_params: dict[str, str], max_query_params: int = 1000
) -> ValidatedRequest:
    errors: dict[str, list[str]] = {}
    violations: list[Violation] = []
    result = ValidatedRequest()
    # Like Django's DATA_UPLOAD_MAX_NUMBER_FIELDS: the limit applies where the query is read.
    # An operation without query parameters ignores the query, as real servers do.
    reads_query = operation.reads_query
    if reads_query and len(request.query) > max_query_params:
        problem = _invalid(operation, f"Too many query parameters ({len(request.query)} > {max_query_params}).", {})
        problem.extra["limit"] = "query_parameters"  # a dialect may say this its own way
        raise problem
    query: dict[str, list[str]] = {}
    if reads_query:
        for key, value in request.query:
            query.setdefault(key, []).append(value)

    supplied: set[str] = set()
    for param in operation.parameters:
        if param.location == "path":
            raw_values = [path_params[param.name]] if param.name in path_params else []
            target = result.path
        elif param.location == "query":
            raw_values = query.get(param.name, [])
            target = result.query
        elif param.location == "header":
            header = request.headers.get(param.name)
            raw_values = [header] if header is not None else []
            target = result.headers
        else:
            continue
        if not raw_values:
            if param.required:
                errors.setdefault(param.name, []).append("This parameter is required.")
                violations.append(Violation(param.name, "required", "This parameter is required."))
            elif "default" in param.schema:
                target[param.name] = param.schema["default"]
            continue
        supplied.add(param.name)
        value = _param_value(param, raw_values)
        if param.validator is not None:
            for violation in param.validator.violations(value):
                field = param.name if violation.field == "(root)" else f"{param.name}/{violation.field}"
                errors.setdefault(param.name, []).append(
                    violation.message if violation.field == "(root)" else f"{violation.field}: {violation.message}"
                )
                violations.append(replace(violation, field=field))
        target[param.name] = value

    alternatives = operation.extensions.get("x-medimock-one-of-params")
    if alternatives:
        before = {k: len(v) for k, v in errors.items()}
        _check_one_of(alternatives, supplied, errors)
        for key, messages in errors.items():
            for message in messages[before.get(key, 0) :]:
                violations.append(Violation(key, "alternatives", message, alternatives))
    if operation.body is not None:
        _validate_body(operation, request, result, errors, violations)
    if errors:
        problem = _invalid(operation, _summary(errors), errors)
        problem.extra["violations"] = violations
        raise problem
    return result


def _invalid(operation: Operation, message: str, errors: dict[str, list[str]]) -> Problem:
    """The validation failure, with the status ``x-medimock-invalid-input-status`` asks for (400 by default)."""
    status = int(operation.extensions.get("x-medimock-invalid-input-status", 400))
    problem = Problem("not_found" if status == 404 else "invalid_request", status, message)
    problem.fields = errors
    return problem


def _check_one_of(alternatives: list[Any], supplied: set[str], errors: dict[str, list[str]]) -> None:
    """``x-medimock-one-of-params``: exactly one alternative (a list of parameter names), complete."""
    groups = [tuple(a) if isinstance(a, (list, tuple)) else (str(a),) for a in alternatives]
    used = [group for group in groups if any(name in supplied for name in group)]
    key = "|".join("+".join(group) for group in groups)
    described = " or ".join(" and ".join(group) for group in groups)
    if not used:
        errors.setdefault(key, []).append(f"Exactly one of {described} is required; none was given.")
    elif len(used) > 1:
        given = ", ".join(name for group in used for name in group if name in supplied)
        errors.setdefault(key, []).append(f"Exactly one of {described} is required; got {given}.")
    else:
        missing = [name for name in used[0] if name not in supplied]
        if missing:
            errors.setdefault(key, []).append(f"{' and '.join(used[0])} go together; missing {', '.join(missing)}.")


def _validate_body(
    operation: Operation, request: MockRequest, result: ValidatedRequest, errors: dict[str, list[str]], violations: list[Violation]
) -> None:
    assert operation.body is not None
    has_body = bool(request.body) or bool(request.form) or bool(request.files)
    if operation.extensions.get("x-medimock-form-from-query"):
        # Parameters come from the query string and the form body, the body winning (Ambra reads both, as a
        # CGI does); a body of another media type carries no parameters and is ignored.
        media = operation.body.match("application/x-www-form-urlencoded")
        if media is not None:
            content_type = (request.content_type or "").lower()
            is_form = operation.body.match(content_type) is media or content_type.startswith("multipart/form-data")
            form = (request.form or []) if is_form else []
            in_body = {key for key, _ in form}
            fields = [(key, value) for key, value in request.query if key not in in_body] + list(form)
            if not fields and operation.body.required:
                _body_missing(media, errors, violations)
                return
            result.media_type = media.media_type
            instance = _form_fields(media, fields)
            result.body = instance
            if media.validator is not None:
                for violation in media.validator.violations(instance):
                    field = violation.field if violation.field != "(root)" else "(body)"
                    errors.setdefault(field, []).append(violation.message)
                    violations.append(replace(violation, field=field))
            return
    if not has_body:
        if operation.body.required:
            _body_missing(next(iter(operation.body.content.values()), None), errors, violations)
        return
    media = operation.body.match(request.content_type or "")
    if media is None:
        accepted = ", ".join(operation.body.content)
        raise Problem(
            "unsupported_media_type",
            415,
            f'Unsupported media type "{request.content_type or "(none)"}" in request; expected {accepted}.',
        )
    result.media_type = media.media_type
    instance = _decode_body(media, request)
    result.body = instance
    if media.validator is not None:
        for violation in media.validator.violations(instance):
            field = violation.field if violation.field != "(root)" else "(body)"
            errors.setdefault(field, []).append(violation.message)
            violations.append(replace(violation, field=field))


def _body_missing(media: MediaType | None, errors: dict[str, list[str]], violations: list[Violation]) -> None:
    """A required body is missing: say what it must hold, not only that it is missing."""
    required = (media.schema.get("required") if media else None) or []
    for name in required:
        errors.setdefault(name, []).append("This field is required.")
        violations.append(Violation(name, "required", "This field is required."))
    if not required:
        errors.setdefault("(body)", []).append("A request body is required.")


def _decode_body(media: MediaType, request: MockRequest) -> Any:
    kind = media.media_type
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(request.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise Problem("malformed_body", 400, f"JSON parse error - body is not valid UTF-8 ({exc.reason}).") from exc
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser's stack
            raise Problem("malformed_body", 400, f"JSON parse error - {exc}") from exc
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = _form_fields(media, request.form or [])
        for key, upload in (request.files or {}).items():
            fields[key] = upload.filename or "(file)"
        return fields
    if kind.startswith("text/"):
        return request.body.decode("utf-8", errors="replace")
    return request.body


def _form_fields(media: MediaType, pairs: Any) -> dict[str, Any]:
    """Form fields typed as the schema's properties say (repeated fields of an array property collect)."""
    fields: dict[str, Any] = {}
    types = media.property_types
    for key, value in pairs:
        prop_types = types.get(key, frozenset())
        if "array" in prop_types:
            fields.setdefault(key, []).append(value)
        else:
            fields[key] = coerce(value, prop_types)
    return fields


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [f"{name}: {'; '.join(messages)}" for name, messages in sorted(errors.items())]
    return "Invalid request - " + " | ".join(parts)
