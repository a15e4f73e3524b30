"""One `conf/provisioner.openicf-<name>.json`: read, substitute, decrypt, validate, encrypt.

The file is IDM's provisioner format (docs/openicf.md §3.2), so an operator can copy the file IDM
saved, values as IDM writes them (strings for numbers, nulls, `-1` timeouts). Every key IDM
writes is read (`PROVISIONER_KEYS`): `connectorRef`, `configurationProperties`, `poolConfigOption`,
`operationTimeout` and `resultsHandlerConfig` are typed by `protocol.configuration`; `enabled:
false` keeps the configuration from being served; `objectTypes` goes to clients with
CONNECTOR_INFO (they map IDM's property names with it, docs/protocol.md); `connectorRef.
displayName` names the system in `test`. IDM's own keys (`operationOptions`,
`syncFailureHandler`, `producerBufferSize`, `connectorHostRef`, `systemType`, ...) are accepted
and kept. A key IDM does not write is a warning that names it, and is left out.

Confidential properties (the connector says which) end up as `GuardedString`s:

- a `$crypto` value is decrypted (`server.secrets.envelope`);
- a plain-text value written in the file is encrypted, and the file rewritten in place, so a
  secret typed into `conf/` stays in clear only until the next start or reload;
- a value that came from `&{...}` substitution is used as is and the file left alone: the
  secret lives in the environment or substitution file, and the file holds only the token.

A `$crypto` value is decrypted wherever it appears in `configurationProperties`, confidential or
not, so values encrypted by `hubspot-rcs secrets encrypt` work before the connector is known.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeAlias

from pydantic import ConfigDict, ValidationError, field_validator

from connector.base import Connector
from connector.registry import ConnectorRegistry
from protocol.configuration import (
    OPERATION_NAMES,
    ConnectorKey,
    InlineConfiguration,
    ObjectPoolConfiguration,
    ResultsHandlerConfiguration,
    idm_value,
)
from protocol.errors import ConnectorException
from protocol.values import GuardedString, JsonValue
from server.atomicfile import locked, write_atomic
from server.conf.errors import ConfigIssue
from server.conf.substitution import Substituter
from server.secrets.envelope import Place, SecretError, decrypt, encrypt, is_crypto
from server.secrets.jsonedit import json_path, replace_value
from server.secrets.keystore import Keystore, KeystoreError

__all__ = [
    "PROVISIONER_GLOB",
    "ConfidentialLookup",
    "ConnectorRef",
    "ConnectorRefLike",
    "KeystoreAccess",
    "ProvisionerConfig",
    "RegistryLookup",
    "configuration_name",
    "provisioner_files",
    "read_provisioner",
]

PROVISIONER_PREFIX: Final = "provisioner.openicf-"
PROVISIONER_GLOB: Final = PROVISIONER_PREFIX + "*.json"
PROPERTIES: Final = "configurationProperties"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class ConnectorRef(ConnectorKey):
    """IDM's `connectorRef`: the connector key, the connector server IDM routes through, and
    what IDM's admin UI adds when it saves the file (`displayName`, `systemType`)."""

    connectorHostRef: str | None = None
    displayName: str | None = None
    systemType: str | None = None


ConnectorRefLike: TypeAlias = ConnectorKey
"""What the confidential-property lookup receives: `ConnectorRef` is one."""

ConfidentialLookup: TypeAlias = Callable[[ConnectorRefLike], Collection[str]]
"""Names of a connector's confidential properties; raises LookupError for an unknown connector."""


@dataclass(frozen=True)
class RegistryLookup:
    """The confidential lookup backed by the connector registry, which also checks properties.

    Given as `confidential=` to `load_conf`, it names each connector's confidential properties,
    reports a `connectorRef` no installed connector matches, and validates
    `configurationProperties` against the connector's `Configuration` at load, so that a
    misspelt property stops the start with the others instead of failing the first operation.
    """

    registry: ConnectorRegistry

    def __call__(self, ref: ConnectorRefLike) -> Collection[str]:
        return self.connector(ref).configuration_class.confidential_properties()

    def connector(self, ref: ConnectorRefLike) -> type[Connector]:
        try:
            return self.registry.resolve(ref)
        except ConnectorException as error:
            raise LookupError(str(error)) from None


class ProvisionerConfig(InlineConfiguration):
    """A named configuration from `conf/`: an inline configuration plus IDM's other keys.

    It is an `InlineConfiguration`, so the daemon handles both kinds of configuration alike.
    """

    model_config = ConfigDict(extra="ignore")

    name: str
    enabled: bool = True
    connectorRef: ConnectorRef
    objectTypes: dict[str, dict[str, JsonValue]] | None = None
    """IDM's names for the object classes and their attributes (`nativeType`, `nativeName`)."""
    operationOptions: dict[str, JsonValue] | None = None
    syncFailureHandler: dict[str, JsonValue] | None = None
    producerBufferSize: int | None = None
    connectorPoolingSupported: bool | None = None

    @field_validator("enabled", "producerBufferSize", "connectorPoolingSupported", mode="before")
    @classmethod
    def _idm_form(cls, value: object) -> object:
        return idm_value(value)

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled_by_default(cls, value: object) -> object:
        return True if value is None else value


PROVISIONER_KEYS: Final[dict[str, frozenset[str]]] = {
    "": frozenset({*ProvisionerConfig.model_fields, "_id"}),
    "connectorRef": frozenset(ConnectorRef.model_fields),
    "poolConfigOption": frozenset(ObjectPoolConfiguration.model_fields),
    "operationTimeout": OPERATION_NAMES,
    "resultsHandlerConfig": frozenset(ResultsHandlerConfiguration.model_fields),
}
"""The keys IDM writes, at the top of a provisioner file and in its typed sections (`_id` is
in what IDM's REST API returns for a configuration)."""


def unknown_keys(document: dict[str, Any]) -> list[list[str | int]]:
    """The JSON paths of keys IDM never writes; removed from `document`."""
    found: list[list[str | int]] = []
    for section, known in PROVISIONER_KEYS.items():
        part = document.get(section) if section else document
        if not isinstance(part, dict):
            continue
        for key in [k for k in part if k not in known]:
            found.append([section, key] if section else [key])
            del part[key]
    document.pop("_id", None)
    return found


def provisioner_files(conf_dir: Path) -> list[Path]:
    """The provisioner files of a configuration directory, sorted by name."""
    return sorted(p for p in conf_dir.glob(PROVISIONER_GLOB) if p.is_file())


def configuration_name(path: Path) -> str:
    """`provisioner.openicf-hubspot.json` is the configuration `hubspot`."""
    return path.name[len(PROVISIONER_PREFIX) : -len(".json")]


@dataclass
class KeystoreAccess:
    """The keystore for one load, opened when first needed and created only to encrypt.

    A missing keystore is created when a plain-text secret must be encrypted; it is never
    created to decrypt: `$crypto` values without their keystore mean a secret file was not
    mounted, and a fresh key would not open them.
    """

    path: Path
    keystore: Keystore | None = None
    created: bool = False
    refused: bool = False
    """The keystore failed its check at start (reported once, there)."""

    def for_decrypt(self) -> Keystore:
        if self.refused:
            raise KeystoreError(f"{self.path}: refused (see the keystore's own error)")
        if self.keystore is None:
            if not self.path.exists():
                raise KeystoreError(f"{self.path}: keystore not found (is it mounted?)")
            self.keystore = Keystore.load(self.path)
        return self.keystore

    def for_encrypt(self) -> Keystore:
        if self.refused:
            raise KeystoreError(f"{self.path}: refused (see the keystore's own error)")
        if self.keystore is None:
            self.keystore, self.created = Keystore.open(self.path)
        return self.keystore


@dataclass
class FileResult:
    """What reading one provisioner file gave."""

    config: ProvisionerConfig | None
    issues: list[ConfigIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encrypted: list[str] = field(default_factory=list)
    """Properties found in plain text and now encrypted in the file."""


def read_provisioner(
    path: Path,
    substituter: Substituter,
    keys: KeystoreAccess,
    confidential: ConfidentialLookup | None,
) -> FileResult:
    """Read one provisioner file; collect every problem; encrypt plain-text secrets in place.

    Holds the directory lock (`server.atomicfile.locked`) throughout, so a concurrent
    `persist_property` or `secrets rotate` cannot slip a write between our read and rewrite.
    """
    with locked(path):
        return _read(path, substituter, keys, confidential)


def _read(
    path: Path,
    substituter: Substituter,
    keys: KeystoreAccess,
    confidential: ConfidentialLookup | None,
) -> FileResult:
    result = FileResult(config=None)
    display = str(path)

    def issue(where: Sequence[str | int], message: str) -> None:
        result.issues.append(ConfigIssue(display, json_path(where), message))

    name = configuration_name(path)
    if not _NAME.fullmatch(name):
        result.issues.append(
            ConfigIssue(
                display,
                "",
                "the name after provisioner.openicf- must be 1-200 letters, "
                "digits, '.', '_' or '-'",
            )
        )
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except UnicodeDecodeError:
        issue([], "not UTF-8 text")
        return result
    except json.JSONDecodeError as error:
        issue([], f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
        return result
    if not isinstance(document, dict):
        issue([], "must be a JSON object")
        return result

    # IDM's &{...} substitution in every value, $crypto values excepted (server.conf.substitution).
    errors: list[tuple[list[str | int], str]] = []
    data: dict[str, Any] = {}
    from_tokens: set[str] = set()
    for key, value in document.items():
        if key == PROPERTIES and isinstance(value, dict):
            substituted: dict[str, Any] = {}
            for prop, item in value.items():
                if is_crypto(item):
                    substituted[prop] = item
                    continue
                substituted[prop], hit = substituter.tree(item, errors, (key, prop))
                if hit:
                    from_tokens.add(prop)
            data[key] = substituted
        else:
            data[key], _ = substituter.tree(value, errors, (key,))
    for error_path, message in errors:
        issue(error_path, message)
    for where in unknown_keys(data):
        result.warnings.append(
            f"{display}: {json_path(where)}: not a key IDM writes in a provisioner file; ignored"
        )
    enabled = idm_value(data.get("enabled")) is not False

    found = data.get(PROPERTIES)
    # When missing or not an object, the model validation below reports it.
    properties: dict[str, Any] = found if isinstance(found, dict) else {}

    secret_names: Collection[str] = ()
    connector: type[Connector] | None = None
    if confidential is not None:
        try:
            ref: ConnectorRef | None = ConnectorRef.model_validate(data.get("connectorRef"))
        except ValidationError:
            ref = None  # reported below, with the whole model
        if ref is not None:
            try:
                secret_names = confidential(ref)
                if isinstance(confidential, RegistryLookup):
                    connector = confidential.connector(ref)
            except LookupError:
                if enabled:
                    issue(["connectorRef"], f"no installed connector matches {ref}")
                else:  # IDM does not start a disabled system, and neither do we
                    result.warnings.append(
                        f"{display}: $.connectorRef: no installed connector matches {ref}; "
                        "the configuration is disabled (enabled: false), so it is not served"
                    )

    to_encrypt: list[tuple[str, str]] = []
    for prop, value in list(properties.items()):
        where = [PROPERTIES, prop]
        if is_crypto(value):
            place = Place(path.name, json_path(where))
            try:
                properties[prop] = GuardedString(decrypt(keys.for_decrypt(), value, place))
            except SecretError as error:
                issue(where, error.reason)
            except KeystoreError as error:
                issue(where, f"cannot decrypt: {error}")
        elif prop in secret_names and value is not None:
            if not isinstance(value, str):
                issue(where, "a confidential property takes a string")
                continue
            properties[prop] = GuardedString(value)
            if prop not in from_tokens:
                to_encrypt.append((prop, value))

    declared = data.get("name")
    if declared is not None and declared != name:
        issue(["name"], f"is {declared!r}, but the file name makes the configuration {name!r}")
    data["name"] = name
    try:
        result.config = ProvisionerConfig.model_validate(data)
    except ValidationError as error:
        for location, message in _validation_issues(error):
            issue(location, message)
    if connector is not None:
        try:
            connector.configuration_class.model_validate(properties)
        except ValidationError as error:
            for location, message in _validation_issues(error):
                issue([PROPERTIES, *location], message)
    pool = _pool(result.config, data)
    if pool is not None:
        # ObjectPoolConfiguration.validate() in ICF: minIdle <= maxIdle <= maxObjects.
        if pool.minIdle > pool.maxIdle:
            issue(["poolConfigOption", "minIdle"], "must be <= maxIdle")
        if pool.maxIdle > pool.maxObjects:
            issue(["poolConfigOption", "maxIdle"], "must be <= maxObjects")
    if result.issues:
        result.config = None
        return result

    if to_encrypt:
        try:
            keystore = keys.for_encrypt()
        except KeystoreError as error:
            result.issues.append(ConfigIssue(display, "", f"cannot encrypt its secrets: {error}"))
            result.config = None
            return result
        for prop, plain in to_encrypt:
            place = Place(path.name, json_path([PROPERTIES, prop]))
            sealed = encrypt(keystore, plain, place)
            text = replace_value(text, [PROPERTIES, prop], sealed)
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as error:
            # A read-only conf/ (a ConfigMap, say) cannot keep its secrets encrypted: refuse,
            # rather than run with secrets in clear text at rest.
            names = ", ".join(prop for prop, _ in to_encrypt)
            result.issues.append(
                ConfigIssue(
                    display,
                    "",
                    f"holds {names} in plain text and cannot be rewritten encrypted "
                    f"({error.strerror or error}); make the file writable, or give the "
                    "secrets through &{...} substitution",
                )
            )
            result.config = None
            return result
        result.encrypted.extend(prop for prop, _ in to_encrypt)
    return result


def _pool(config: ProvisionerConfig | None, data: dict[str, Any]) -> ObjectPoolConfiguration | None:
    """The pool settings, also when another part of the file failed (for the bound checks)."""
    if config is not None:
        return config.poolConfigOption
    try:
        return ObjectPoolConfiguration.model_validate(data.get("poolConfigOption", {}))
    except ValidationError:
        return None  # already reported


def _validation_issues(error: ValidationError) -> list[tuple[list[str | int], str]]:
    """Pydantic's errors as (JSON path, message), one per place, without input values."""
    found: dict[str, tuple[list[str | int], str]] = {}
    for problem in error.errors(include_input=False, include_url=False):
        loc = [part for part in problem["loc"] if part != "[key]"]
        message = problem["msg"]
        if len(loc) >= 2 and loc[0] == PROPERTIES:
            # A union's every branch reports; one line per property is what an operator needs.
            loc = loc[:2]
            message = "must be a string, number, boolean, null, a list of those, or an object"
        found.setdefault(json_path(loc), (loc, message))
    return list(found.values())


def stat_mtime(path: Path) -> int:
    """The file's modification time in nanoseconds (what `LoadedConf.files` records)."""
    return os.stat(path).st_mtime_ns
