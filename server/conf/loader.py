"""`load_conf` and `reload_conf`: the whole configuration directory, validated at once."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from server.conf.errors import ConfigIssue, ConfigurationError
from server.conf.provisioner import (
    ConfidentialLookup,
    KeystoreAccess,
    ProvisionerConfig,
    configuration_name,
    provisioner_files,
    read_provisioner,
    stat_mtime,
)
from server.conf.settings_source import read_settings
from server.conf.substitution import Substituter
from server.properties import PropertiesError
from server.properties import load as load_properties
from server.secrets.keystore import Keystore, KeystoreError
from server.settings import ServerSettings

__all__ = [
    "PROPERTIES_FILE",
    "SUBSTITUTION_FILE",
    "LoadedConf",
    "ReloadResult",
    "keystore_path",
    "load_conf",
    "reload_conf",
]

PROPERTIES_FILE: Final = "ConnectorServer.properties"
SUBSTITUTION_FILE: Final = "substitution.properties"
DEFAULT_KEYSTORE: Final = Path("keys") / "keystore.json"

# Fingerprints are keyed with a per-process random key: they compare configurations (secrets
# included) without ever being a hash an attacker could test guesses of a secret against.
_FINGERPRINT_KEY: Final = secrets.token_bytes(32)


@dataclass(frozen=True)
class LoadedConf:
    """A validated configuration directory, as the daemon runs it.

    `configurations` maps each configuration name to its parsed provisioner file; `sources`
    maps it to that file. `files` holds every file read, with its modification time in
    nanoseconds after any rewrite. `persist_property` updates `configurations`, `files` and
    `fingerprints` in place when it writes a value back; nothing else changes a LoadedConf.
    """

    conf_dir: Path
    settings: ServerSettings
    configurations: dict[str, ProvisionerConfig]
    sources: dict[str, Path]
    files: dict[Path, int]
    keystore_path: Path
    keystore: Keystore | None
    """The keystore, once opened (a configuration without secrets may never need one)."""
    fingerprints: dict[str, bytes] = field(repr=False)
    """Per configuration: a keyed digest of its whole content, secrets included."""
    warnings: tuple[str, ...] = ()
    encrypted: tuple[str, ...] = ()
    """`file: $.path` of each plain-text secret this load encrypted in place."""
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    confidential: ConfidentialLookup | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ReloadResult:
    """What a reload found: the configuration now in force, and what changed or went wrong.

    When `accepted` is False, `conf` is the previous configuration, unchanged, and `issues`
    says why; the daemon keeps running it.
    """

    conf: LoadedConf
    accepted: bool
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    settings_changed: tuple[str, ...] = ()
    """Names of ServerSettings fields whose value differs; the daemon decides which apply live."""
    issues: tuple[ConfigIssue, ...] = ()


def keystore_path(conf_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where the keystore is: `$RCS_KEYSTORE`, `connectorserver.keystore`, `keys/keystore.json`.

    Relative paths are relative to `conf_dir`. Used by the CLI, which has no full load.
    """
    env = os.environ if environ is None else environ
    properties: Mapping[str, str] = {}
    if (conf_dir / PROPERTIES_FILE).exists():
        properties = load_properties(conf_dir / PROPERTIES_FILE)
    source = read_settings(properties, str(conf_dir / PROPERTIES_FILE), env, conf_dir)
    return source.loader.get("keystore", conf_dir / DEFAULT_KEYSTORE)


def load_conf(
    conf_dir: Path,
    environ: Mapping[str, str] | None = None,
    *,
    confidential: ConfidentialLookup | None = None,
) -> LoadedConf:
    """Read, substitute, decrypt and validate `conf_dir`; raise ConfigurationError with all issues.

    `environ` defaults to `os.environ`. `confidential(connector_ref)` names a connector's
    confidential properties and raises LookupError for a connector that is not installed
    (reported as an issue at `$.connectorRef`); without it no property is taken as
    confidential (but `$crypto` values are still decrypted) and the server must check the
    connector references itself. Side effects: plain-text secrets are encrypted in their files,
    and the keystore is created if a secret needs it and it does not exist.
    """
    env = dict(os.environ if environ is None else environ)
    issues: list[ConfigIssue] = []
    files: dict[Path, int] = {}

    if not conf_dir.is_dir():
        raise ConfigurationError([ConfigIssue(str(conf_dir), "", _missing_directory(conf_dir))])

    properties_path = conf_dir / PROPERTIES_FILE
    properties: Mapping[str, str] = {}
    if properties_path.exists():
        try:
            properties = load_properties(properties_path)
        except PropertiesError as error:
            issues.append(ConfigIssue(str(properties_path), "", _reason(error, properties_path)))
        files[properties_path] = stat_mtime(properties_path)
    source = read_settings(properties, str(properties_path), env, conf_dir)
    issues.extend(source.issues)
    warnings = list(source.warnings)
    if not properties_path.exists():
        warnings.append(f"{properties_path}: not found; defaults and environment only")

    substitution_path = source.loader.get("substitution_file", conf_dir / SUBSTITUTION_FILE)
    file_values: Mapping[str, str] = {}
    if substitution_path.exists():
        try:
            file_values = load_properties(substitution_path)
            files[substitution_path] = stat_mtime(substitution_path)
        except PropertiesError as error:
            issues.append(
                ConfigIssue(str(substitution_path), "", _reason(error, substitution_path))
            )
    elif "substitution_file" in source.loader:
        issues.append(ConfigIssue(str(substitution_path), "", "substitution file not found"))
    substituter = Substituter(env, file_values)

    keys = KeystoreAccess(source.loader.get("keystore", conf_dir / DEFAULT_KEYSTORE))
    if keys.path.exists():
        try:  # checked at every start, needed or not: a readable keystore is a finding
            keys.for_decrypt()
        except KeystoreError as error:
            issues.append(ConfigIssue(str(keys.path), "", _reason(error, keys.path)))
            keys = KeystoreAccess(keys.path, refused=True)

    configurations: dict[str, ProvisionerConfig] = {}
    sources: dict[str, Path] = {}
    encrypted: list[str] = []
    for path in provisioner_files(conf_dir):
        result = read_provisioner(path, substituter, keys, confidential)
        issues.extend(result.issues)
        warnings.extend(result.warnings)
        files[path] = stat_mtime(path)
        encrypted.extend(f"{path}: $.configurationProperties.{p}" for p in result.encrypted)
        if result.config is not None:
            configurations[configuration_name(path)] = result.config
            sources[configuration_name(path)] = path
    if keys.created:
        warnings.append(f"{keys.path}: keystore created with one new key; back it up")
    if keys.keystore is not None:
        files[keys.path] = stat_mtime(keys.path)

    if issues or source.settings is None:
        raise ConfigurationError(issues)
    return LoadedConf(
        conf_dir=conf_dir,
        settings=source.settings,
        configurations=configurations,
        sources=sources,
        files=files,
        keystore_path=keys.path,
        keystore=keys.keystore,
        fingerprints={name: fingerprint(c) for name, c in configurations.items()},
        warnings=tuple(warnings),
        encrypted=tuple(encrypted),
        environ=env,
        confidential=confidential,
    )


def reload_conf(
    previous: LoadedConf,
    environ: Mapping[str, str] | None = None,
    *,
    confidential: ConfidentialLookup | None = None,
) -> ReloadResult:
    """Load the directory again (for SIGHUP) and compare; on any issue keep `previous`.

    `environ` and `confidential` default to those `previous` was loaded with (a process's
    environment does not change under it; the connector registry may have).
    """
    try:
        current = load_conf(
            previous.conf_dir,
            previous.environ if environ is None else environ,
            confidential=previous.confidential if confidential is None else confidential,
        )
    except ConfigurationError as error:
        return ReloadResult(conf=previous, accepted=False, issues=error.issues)
    before, after = previous.fingerprints, current.fingerprints
    return ReloadResult(
        conf=current,
        accepted=True,
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(
            sorted(
                n
                for n in after.keys() & before.keys()
                if not hmac.compare_digest(after[n], before[n])
            )
        ),
        settings_changed=tuple(
            name
            for name in ServerSettings.model_fields
            if getattr(previous.settings, name) != getattr(current.settings, name)
        ),
    )


def fingerprint(config: ProvisionerConfig) -> bytes:
    """A keyed digest of a configuration's whole content, secrets included."""
    # model_dump reveals GuardedStrings as {"$guarded": ...}; the text lives only for the digest.
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hmac.new(_FINGERPRINT_KEY, canonical.encode("utf-8"), hashlib.sha256).digest()


def _reason(error: Exception, path: Path) -> str:
    """The error's text without the file name it starts with (the issue names the file)."""
    text, prefix = str(error), f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _missing_directory(conf_dir: Path) -> str:
    """What to do when there is no configuration directory: make one from the sample."""
    if conf_dir.exists():
        return "not a directory; --conf takes the configuration directory"
    return (
        f"no such directory; make one from the sample (cp -r conf {conf_dir}, then "
        f"hubspot-rcs key set --conf {conf_dir}; docs/configuration.md), or point --conf at yours"
    )
