"""The failing request as a ``curl`` command, with credentials masked and huge bodies cut.

Property-test failures use schemathesis's own ``Case.as_curl_command`` (its sanitizer masks
``Authorization`` and most secret-looking keys); workflow failures are rebuilt here from the
``requests.PreparedRequest`` that was sent. Both then go through ``redact_command``, which
also masks what schemathesis's default list misses (Ambra's ``sid``). A report is an
artifact that CI keeps and people pass around: it never carries a credential, so a command
against a real target needs its ``Authorization`` header (or ``sid``) put back by hand.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

MASK = "[Filtered]"
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"})
SENSITIVE_FIELDS = frozenset(
    {"sid", "password", "client_secret", "access_token", "refresh_token", "token", "api_key", "apikey", "key", "secret", "code"}
)
BODY_LIMIT = 2_000  # characters of a body shown in a command
_DROPPED_HEADERS = frozenset({"content-length", "accept-encoding", "connection", "user-agent", "accept"})

# name=value inside a query string or form body, at the start of the quoted text or after ? or &
_FIELD = re.compile(
    r"(?P<lead>^|[?&'\"\s])(?P<name>" + "|".join(sorted(SENSITIVE_FIELDS, key=len, reverse=True)) + r")=(?P<value>[^&'\"\s]*)"
)
# "name": "value" inside a JSON body
_JSON_FIELD = re.compile(r'(?P<lead>"(?:' + "|".join(sorted(SENSITIVE_FIELDS, key=len, reverse=True)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"')


class SentRequest(Protocol):
    """What the report needs of a request (``requests.PreparedRequest`` has it)."""

    method: str | None
    url: str | None
    headers: Mapping[str, str]
    body: Any


def mask_pairs(text: str) -> str:
    """A query string or form body with the values of credential-like fields masked; every other pair kept as sent."""
    pairs = text.split("&")
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and unquote_plus(name).lower() in SENSITIVE_FIELDS:
            pairs[index] = f"{name}={quote_plus(MASK)}"
    return "&".join(pairs)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=mask_pairs(parts.query))) if parts.query else url


def redact_command(command: str) -> str:
    """Mask credential-like query/form/JSON fields in an already built command."""
    command = _FIELD.sub(lambda m: f"{m['lead']}{m['name']}={quote_plus(MASK)}", command)
    return _JSON_FIELD.sub(lambda m: f'{m["lead"]}"{MASK}"', command)


def _body_text(body: Any, content_type: str) -> str | None:
    if body is None or body == b"" or body == "":
        return None
    if isinstance(body, bytes):
        if content_type.startswith("multipart/") or b"\x00" in body[:BODY_LIMIT]:
            return f"<{len(body)} bytes of {content_type or 'binary data'}>"
        text = body.decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:  # a generator or file: streamed, not kept
        return "<streamed body>"
    if content_type == "application/x-www-form-urlencoded":
        text = mask_pairs(text)
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + f"...<{len(text) - BODY_LIMIT} more characters>"
    return text


def curl_for(request: SentRequest) -> str:
    """``curl -X METHOD -H ... -d ... URL`` for a sent request, credentials masked, a long body cut."""
    headers = {str(k): str(v) for k, v in dict(request.headers or {}).items()}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").split(";", 1)[0].strip().lower()
    parts = ["curl", "-X", str(request.method or "GET").upper()]
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _DROPPED_HEADERS:
            continue
        if lowered in SENSITIVE_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value and lowered.endswith("authorization") else ""
            value = f"{scheme} {MASK}".strip()
        parts += ["-H", f"{name}: {value}"]
    body = _body_text(request.body, content_type)
    if body is not None:
        parts += ["-d", body]
    parts.append(redact_url(str(request.url or "")))
    return redact_command(shlex.join(parts))


# -- credentials as shell variables ---------------------------------------------------------------
#
# A failure's curl must reproduce it, so it cannot mask the credential it was sent with; it cannot
# print the credential either. Credentials the suites know (configured, or obtained from the target
# by a login) are registered here with the shell variable that stands for them, and the command shows
# ``"Authorization: Token ${TSCHARTS_TOKEN}"`` with a comment saying how to set the variable. A value
# nobody registered is the suite's own (a deliberately bad key under test) and is shown as sent, except
# the values of password-like fields, which are always masked.

ALWAYS_MASKED_FIELDS = frozenset({"password", "client_secret", "secret", "api_key", "apikey"})


@dataclass(frozen=True)
class Secret:
    value: str
    variable: str
    how: str = ""


_SECRETS: dict[str, Secret] = {}


def register_secret(value: Any, variable: str, how: str = "") -> None:
    """From now on ``value`` appears in commands as ``${variable}``; ``how`` says how to set the variable."""
    if isinstance(value, str) and len(value) >= 4:
        _SECRETS[value] = Secret(value, variable, how)


def forget_secrets() -> None:
    _SECRETS.clear()


def _secrets_in(text: str) -> list[Secret]:
    return [secret for value, secret in sorted(_SECRETS.items(), key=lambda kv: -len(kv[0])) if value in text]


def _mask_always(text: str) -> str:
    def pair(match: re.Match[str]) -> str:
        return f"{match['lead']}{match['name']}={quote_plus(MASK)}" if match["name"].lower() in ALWAYS_MASKED_FIELDS else match[0]

    text = _FIELD.sub(pair, text)
    return _JSON_FIELD.sub(lambda m: f'{m["lead"]}"{MASK}"' if _json_name(m[0]) in ALWAYS_MASKED_FIELDS else m[0], text)


def _json_name(matched: str) -> str:
    return matched.split('"', 2)[1].lower()


def _shell_word(text: str) -> tuple[str, list[Secret]]:
    """``text`` as one shell word: registered secrets become ``${VAR}`` inside double quotes."""
    secrets = _secrets_in(text)
    if not secrets:
        return shlex.quote(_mask_always(text)), []
    pieces: list[tuple[str, Secret | None]] = [(text, None)]
    for secret in secrets:
        split: list[tuple[str, Secret | None]] = []
        for piece, known in pieces:
            if known is not None:
                split.append((piece, known))
                continue
            for index, part in enumerate(piece.split(secret.value)):
                if index:
                    split.append((secret.value, secret))
                split.append((part, None))
        pieces = split
    out = []
    for piece, known in pieces:
        if known is not None:
            out.append("${" + known.variable + "}")
        else:
            out.append(re.sub(r'(["\\$`])', r"\\\1", _mask_always(piece)))
    return '"' + "".join(out) + '"', secrets


def curl_with_variables(request: SentRequest) -> str:
    """A curl that sends ``request`` again: known credentials as ``${VARIABLES}`` (with how to set them
    on the lines before), everything else as sent, password-like fields masked, a long body cut."""
    headers = {str(k): str(v) for k, v in dict(request.headers or {}).items()}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").split(";", 1)[0].strip().lower()
    words = ["curl", "-X", str(request.method or "GET").upper()]
    raw: list[tuple[str, bool]] = [(word, False) for word in words]
    for name, value in headers.items():
        if name.lower() in _DROPPED_HEADERS:
            continue
        raw += [("-H", False), (f"{name}: {value}", True)]
    body = request.body
    if isinstance(body, bytes) and not (content_type.startswith("multipart/") or b"\x00" in body[:BODY_LIMIT]):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and len(body) > BODY_LIMIT:
        body = body[:BODY_LIMIT] + f"...<{len(body) - BODY_LIMIT} more characters>"
    elif body not in (None, b"", "") and not isinstance(body, str):
        body = f"<{len(body)} bytes of {content_type or 'binary data'}>" if isinstance(body, bytes) else "<streamed body>"
    if body not in (None, ""):
        raw += [("-d", False), (str(body), True)]
    raw.append((str(request.url or ""), True))
    used: dict[str, Secret] = {}
    shown = []
    for word, quoted in raw:
        if not quoted:
            shown.append(word)
            continue
        text, secrets = _shell_word(word)
        used.update({secret.variable: secret for secret in secrets})
        shown.append(text)
    notes = [f"# {secret.variable}: {secret.how}" if secret.how else f"# set {secret.variable}" for secret in used.values()]
    return "\n".join([*notes, " ".join(shown)])
