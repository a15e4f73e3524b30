"""Script on connector: Python run inside the connector, for what the operations do not cover.

A script is the body of an async function of `connector` (the initialised HubspotConnector: its
`configuration`, and `await connector.request(method, path, params=..., json=...)`, an
authenticated, rate-limited call to HubSpot that returns the JSON answer) and `arguments` (the
operation's script arguments). What it `return`s is the result, and must be JSON.

Running code sent over the wire is off unless the server's operator turns it on
(`connectorserver.scriptingEnabled=true`); the connector then trusts scripts as it trusts the
server's configuration. They run in the server's process, with its rights.
"""

from __future__ import annotations

import json
import textwrap
import traceback
from typing import Any

from protocol.errors import (
    ConnectorException,
    InvalidAttributeValueException,
    PermissionDeniedException,
)
from protocol.values import JsonValue

LANGUAGES = frozenset({"python", "py", "python3"})


async def run_python(
    connector: Any,
    language: str,
    script: str,
    arguments: dict[str, JsonValue],
    *,
    enabled: bool,
) -> JsonValue:
    if not enabled:
        raise PermissionDeniedException(
            "scripts are off on this connector server; to run them, set "
            "connectorserver.scriptingEnabled=true in ConnectorServer.properties and restart it"
        )
    if language.lower() not in LANGUAGES:
        raise InvalidAttributeValueException(
            f"this connector runs Python scripts only, not '{language}'"
        )
    source = "async def __script__(connector, arguments):\n" + textwrap.indent(
        script if script.strip() else "return None", "    "
    )
    namespace: dict[str, Any] = {"__name__": "hubspot_script"}
    try:
        code = compile(source, "<script>", "exec")
    except SyntaxError as exc:
        raise InvalidAttributeValueException(
            f"the script does not compile: {exc.msg} (line {(exc.lineno or 2) - 1})"
        ) from None
    exec(code, namespace)  # noqa: S102 - enabled by the operator, see the module docstring
    try:
        result = await namespace["__script__"](connector, arguments)
    except ConnectorException:
        raise  # HubSpot's own refusals (connector.request) keep their ICF class
    except Exception as exc:
        # The script's mistake, told as the script's: a bare "internal error" would blame the
        # server and hide the line to fix.
        raise ConnectorException(
            f"the script raised {type(exc).__name__}: {exc}{_script_line(exc)}"
        ) from None
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        raise InvalidAttributeValueException(
            f"the script returned a {type(result).__name__}, which is not JSON"
        ) from None
    return result


def _script_line(exc: BaseException) -> str:
    """` (line N)` of the script where `exc` was raised, counted as the user wrote it."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<script>"]
    return f" (line {lines[-1] - 1})" if lines and lines[-1] else ""
