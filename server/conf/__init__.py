"""The configuration loader: `conf/` in the formats RCS and IDM operators know, checked at once.

A configuration directory holds:

- `ConnectorServer.properties`: the server's settings, Java RCS keys where they exist
  (docs/openicf.md §2.1) and `connectorserver.<setting>` for ours (`settings_source` has the
  mapping); overridden by `RCS_<SETTING>` environment variables;
- `provisioner.openicf-<name>.json`: one connector configuration named `<name>`, in IDM's
  provisioner format (docs/openicf.md §3.2), with `&{token}` substitution (`substitution`);
- optionally `substitution.properties`, values for the tokens;
- `keys/keystore.json` (or `$RCS_KEYSTORE`): the keys of the `$crypto` secrets
  (`server.secrets`).

Precedence, lowest first: built-in defaults < `ConnectorServer.properties` < environment.

API:

    load_conf(conf_dir: Path, environ: Mapping[str, str] | None = None, *,
              confidential: ConfidentialLookup | None = None) -> LoadedConf
        Read, substitute, decrypt and validate everything; raise ConfigurationError listing every
        issue (file + JSON path or key + message). `confidential(connector_ref)` returns the
        names of a connector's confidential properties and raises LookupError for a connector
        that is not installed, which the loader reports at `$.connectorRef`; without it, the
        server must check connector references itself. Plain-text confidential values are
        encrypted in their files as a side effect. `RegistryLookup(registry)` is the lookup
        the server passes: backed by the connector registry, it also validates each
        configuration's `configurationProperties` against the connector's `Configuration`.

    reload_conf(previous: LoadedConf, environ: Mapping[str, str] | None = None, *,
                confidential: ConfidentialLookup | None = None) -> ReloadResult
        For SIGHUP: load again and report added/removed/changed configurations and changed
        settings, or refuse with the issues, leaving `previous` in force.

    persist_property(loaded: LoadedConf, configuration_name: str, property_name: str,
                     value: GuardedString | str) -> None
        Write one property back to its file (encrypted if secret), crash-safely; blocking, so
        call it through `asyncio.to_thread`.

    keystore_path(conf_dir: Path, environ: Mapping[str, str] | None = None) -> Path

`LoadedConf` carries `settings: ServerSettings`, `configurations: dict[str, ProvisionerConfig]`,
`sources` (name -> file), `files` (every file read -> mtime in ns), `warnings`, and `keystore`.
"""

from server.conf.errors import ConfigIssue, ConfigurationError
from server.conf.loader import (
    PROPERTIES_FILE,
    LoadedConf,
    ReloadResult,
    keystore_path,
    load_conf,
    reload_conf,
)
from server.conf.persist import persist_property
from server.conf.provisioner import (
    ConfidentialLookup,
    ConnectorRef,
    ConnectorRefLike,
    ProvisionerConfig,
    RegistryLookup,
)
from server.conf.settings_source import env_name, property_name

__all__ = [
    "PROPERTIES_FILE",
    "ConfidentialLookup",
    "ConfigIssue",
    "ConfigurationError",
    "ConnectorRef",
    "ConnectorRefLike",
    "LoadedConf",
    "ProvisionerConfig",
    "RegistryLookup",
    "ReloadResult",
    "env_name",
    "keystore_path",
    "load_conf",
    "persist_property",
    "property_name",
    "reload_conf",
]
