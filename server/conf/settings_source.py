"""ServerSettings from `ConnectorServer.properties` and the environment.

Precedence, lowest first: the defaults in `server.settings`, then `conf/ConnectorServer.properties`,
then the environment. Names:

- a Java RCS key where one exists (docs/openicf.md §2.1): `connectorserver.port` (port),
  `connectorserver.ifaddress` (host), `connectorserver.key` (key_hash), `connectorserver.usessl`
  (use_ssl; `connectorserver.useSSL`, forgeops' spelling, is read too);
- otherwise `connectorserver.<field in camelCase>`, a trailing `_s` spelled `Seconds`:
  `max_connections` is `connectorserver.maxConnections`, `drain_timeout_s` is
  `connectorserver.drainTimeoutSeconds`;
- in the environment, `RCS_<FIELD>`: `RCS_PORT`, `RCS_HOST`, `RCS_MAX_CONNECTIONS`,
  `RCS_DRAIN_TIMEOUT_S`, `RCS_KEY_HASH`.

Values are text, converted by the settings model (`true`/`false`, numbers); an empty value sets
an optional setting to None (e.g. `connectorserver.pingIntervalSeconds=` turns pings off);
relative paths are relative to the configuration directory.

Kubernetes injects `RCS_PORT=tcp://10.0.0.1:8759` and friends into every pod of a namespace that
has a Service named `rcs` ("service links"). Those are recognised and skipped with a warning,
never taken as our settings.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from server import keyhash
from server.conf.errors import ConfigIssue
from server.settings import ServerSettings

__all__ = [
    "ENV_PREFIX",
    "LOADER_ENV",
    "LOADER_KEYS",
    "SettingsSource",
    "env_name",
    "property_name",
    "read_settings",
]

ENV_PREFIX: Final = "RCS_"
PREFIX: Final = "connectorserver."

_JAVA_NAMES: Final = {
    "host": "connectorserver.ifaddress",
    "port": "connectorserver.port",
    "key_hash": "connectorserver.key",
    "use_ssl": "connectorserver.usessl",
}
_ALIASES: Final = {"connectorserver.useSSL": "use_ssl"}

LOADER_KEYS: Final = {
    "keystore": "connectorserver.keystore",
    "substitution_file": "connectorserver.substitutionFile",
}
"""Loader settings that are not ServerSettings: where the keystore and substitution file are."""
LOADER_ENV: Final = {"keystore": "RCS_KEYSTORE", "substitution_file": "RCS_SUBSTITUTION_FILE"}

# Java RCS keys with no meaning here: accepted with a warning so a Java file can be reused.
_JAVA_IGNORED: Final = frozenset(
    PREFIX + k
    for k in (
        "bundleDir",
        "libDir",
        "loggerClass",
        "loggingConfigFile",
        "maxFacadeLifeTime",
        "trustStoreFile",
        "trustStoreType",
        "trustStorePass",
        "hostId",
        "connectorServerName",
        "pingPongInterval",
        "webSocketConnections",
        "maxWebSocketConnections",
        "connectionTtl",
        "housekeepingInterval",
        "newConnectionsInterval",
        "principal",
        "password",
        "proxyHost",
        "proxyPort",
        "proxyPrincipal",
        "proxyPassword",
        "tokenEndpoint",
        "clientId",
        "clientSecret",
        "scope",
    )
)
# Client mode (the RCS dials IDM, docs/openicf.md §2.2) is not built: refusing beats listening
# for an IDM that will never call.
_CLIENT_MODE: Final = PREFIX + "url"
_SERVICE_LINK = re.compile(r"(tcp|udp|sctp)://[^/]+:\d+")
_SERVICE_LINK_NAMES = re.compile(r"RCS_(SERVICE_HOST|SERVICE_PORT.*|PORT_\d+_.*)")
_CLIENT_ENV: Final = frozenset({"RCS_KEY"})
"""Variables of `hubspot-rcs-client`, often exported in the same shell: not the server's."""


def property_name(field_name: str) -> str:
    """The `ConnectorServer.properties` key of a ServerSettings field."""
    if field_name in _JAVA_NAMES:
        return _JAVA_NAMES[field_name]
    words = field_name.split("_")
    if words[-1] == "s":
        words[-1] = "seconds"
    return PREFIX + words[0] + "".join(w.capitalize() for w in words[1:])


def env_name(field_name: str) -> str:
    """The environment variable of a ServerSettings field."""
    return ENV_PREFIX + field_name.upper()


@dataclass
class SettingsSource:
    """What `read_settings` found: the settings, loader options, problems and warnings."""

    settings: ServerSettings | None
    loader: dict[str, Path] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_settings(
    properties: Mapping[str, str],
    properties_file: str,
    environ: Mapping[str, str],
    conf_dir: Path,
) -> SettingsSource:
    """Merge defaults < properties < environment into ServerSettings, collecting every issue."""
    source = SettingsSource(settings=None)
    fields = ServerSettings.model_fields
    by_property = {property_name(name): name for name in fields} | _ALIASES
    by_env = {env_name(name): name for name in fields}
    values: dict[str, str] = {}
    origin: dict[str, ConfigIssue] = {}  # field -> where its value came from (message unused)

    for key, value in properties.items():
        if key in by_property:
            name = by_property[key]
            values[name] = value
            origin[name] = ConfigIssue(properties_file, key, "")
        elif key in LOADER_KEYS.values():
            option = next(k for k, v in LOADER_KEYS.items() if v == key)
            source.loader[option] = _resolve(conf_dir, value)
        elif key == _CLIENT_MODE:
            source.issues.append(
                ConfigIssue(
                    properties_file,
                    key,
                    "client mode (the server dialling IDM) is not supported; remove it and let "
                    "IDM connect to this server",
                )
            )
        elif key in _JAVA_IGNORED:
            source.warnings.append(f"{properties_file}: {key}: a Java RCS setting, ignored here")
        elif key.startswith(PREFIX):
            hint = difflib.get_close_matches(key, [*by_property, *LOADER_KEYS.values()], n=1)
            suggestion = f" (did you mean {hint[0]}?)" if hint else ""
            source.issues.append(ConfigIssue(properties_file, key, f"unknown key{suggestion}"))
        else:
            source.warnings.append(
                f"{properties_file}: {key}: not a connectorserver.* key, ignored"
            )

    for variable, value in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX):
            continue
        if variable in by_env:
            if _SERVICE_LINK.fullmatch(value):
                source.warnings.append(
                    f"environment: {variable}: looks like a Kubernetes service link, ignored "
                    "(set enableServiceLinks: false on the pod)"
                )
                continue
            name = by_env[variable]
            values[name] = value
            origin[name] = ConfigIssue("environment", variable, "")
        elif variable in LOADER_ENV.values():
            option = next(k for k, v in LOADER_ENV.items() if v == variable)
            source.loader[option] = _resolve(conf_dir, value)
        elif variable not in _CLIENT_ENV and not _SERVICE_LINK_NAMES.fullmatch(variable):
            source.warnings.append(f"environment: {variable}: not a setting, ignored")

    converted: dict[str, object] = {}
    for name, value in values.items():
        annotation = fields[name].annotation
        if value.strip() == "" and _is_optional(annotation):
            converted[name] = None
        elif _is_path(annotation):
            converted[name] = _resolve(conf_dir, value)
        else:
            converted[name] = value.strip()

    try:
        source.settings = ServerSettings.model_validate(converted)
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            name = str(problem["loc"][0]) if problem["loc"] else ""
            where = origin.get(name, ConfigIssue(properties_file, property_name(name), ""))
            source.issues.append(ConfigIssue(where.file, where.where, problem["msg"]))

    key_origin = origin.get("key_hash", ConfigIssue(properties_file, _JAVA_NAMES["key_hash"], ""))
    key_hash = values.get("key_hash", "").strip()
    if not key_hash:
        source.issues.append(
            ConfigIssue(
                key_origin.file,
                key_origin.where,
                f"the shared key's hash is required; run hubspot-rcs key set --conf {conf_dir}",
            )
        )
    else:
        try:
            if keyhash.is_weak(key_hash):
                default = keyhash.verify_key(key_hash, "changeit")
                source.warnings.append(
                    f"{key_origin.file}: {key_origin.where}: "
                    + (
                        "still the Java RCS's default key `changeit`"
                        if default
                        else "an unsalted SHA-1 hash, as the Java RCS stores it"
                    )
                    + f"; run hubspot-rcs key set --conf {conf_dir}"
                )
        except keyhash.KeyHashError as error:
            source.issues.append(ConfigIssue(key_origin.file, key_origin.where, str(error)))
    return source


def _resolve(conf_dir: Path, value: str) -> Path:
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else conf_dir / path


def _arguments(annotation: object) -> tuple[object, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _is_optional(annotation: object) -> bool:
    return type(None) in _arguments(annotation)


def _is_path(annotation: object) -> bool:
    return Path in _arguments(annotation)
