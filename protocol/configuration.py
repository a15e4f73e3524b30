"""Connector keys and connector configurations, in the shapes of IDM's provisioner files.

An operation names its connector by `ConnectorKey` and its configuration either by reference (a
named configuration the server loaded from `conf/provisioner.openicf-<name>.json`) or inline, as
IDM's provisioner file holds it (docs/openicf.md §3.2). The defaults are ICF's
(`ObjectPoolConfiguration`, `ResultsHandlerConfiguration`, `APIOperation.NO_TIMEOUT`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from protocol.values import AttributeValue, GuardedString, OperationName, _Model

NO_TIMEOUT: Final = -1
"""`APIOperation.NO_TIMEOUT`: an operation without a deadline."""

OPERATION_NAMES: Final[frozenset[str]] = frozenset(get_args(OperationName))
"""Every operation name IDM writes in `operationTimeout`."""


def idm_value(value: object) -> object:
    """A value as IDM writes it in a provisioner file, as JSON would have typed it.

    IDM's admin UI saves numbers and booleans it read from a form as strings (`"10"`,
    `"true"`); ICF's `ConnectorUtil` converts them when it reads the file. Anything else is
    left for validation to judge.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        if text.lstrip("-").isdigit():
            return int(text)
    return value


def _idm_section(data: object) -> object:
    """A provisioner section (`poolConfigOption`, ...): IDM's value forms, a null meaning the
    default, and keys it has no use for left out (docs/protocol.md)."""
    if isinstance(data, dict):
        return {k: idm_value(v) for k, v in data.items() if v is not None}
    return data


class ConnectorKey(_Model):
    """`ConnectorKey{bundleName, bundleVersion, connectorName}`.

    In a request `bundleVersion` may be a range, `[1.5.0.0,1.6.0.0)`, as IDM's `connectorRef`
    writes it; the server picks the highest installed version inside it.
    """

    bundleName: str = Field(min_length=1)
    bundleVersion: str = Field(min_length=1)
    connectorName: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.connectorName} ({self.bundleName} {self.bundleVersion})"


class ObjectPoolConfiguration(_Model):
    """IDM's `poolConfigOption`. Times in milliseconds; `0` means no limit."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)
    _idm = model_validator(mode="before")(_idm_section)

    maxObjects: int = Field(default=10, ge=1)
    maxIdle: int = Field(default=10, ge=0)
    maxWait: int = Field(default=150000, ge=0)
    minEvictableIdleTimeMillis: int = Field(default=120000, ge=0)
    minIdle: int = Field(default=1, ge=0)


class ResultsHandlerConfiguration(_Model):
    """IDM's `resultsHandlerConfig`, with ICF's defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)
    _idm = model_validator(mode="before")(_idm_section)

    enableNormalizingResultsHandler: bool = True
    enableFilteredResultsHandler: bool = True
    enableCaseInsensitiveFilter: bool = False
    enableAttributesToGetSearchResultsHandler: bool = True


ConfigurationValue: TypeAlias = AttributeValue | list[AttributeValue] | dict[str, Any]
"""A configuration property's value as it arrives; the connector's Configuration types it."""


class InlineConfiguration(_Model):
    """A whole configuration sent with the operation, as in an IDM provisioner file.

    Other provisioner keys (`connectorRef`, `objectTypes`, `syncFailureHandler`, ...) are
    accepted and ignored: IDM keeps them for itself. Values may come as IDM writes them:
    strings for numbers and booleans, a null for "the default".
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    configurationProperties: dict[str, ConfigurationValue]
    poolConfigOption: ObjectPoolConfiguration = Field(default_factory=ObjectPoolConfiguration)
    operationTimeout: dict[OperationName, int] = Field(default_factory=dict)
    resultsHandlerConfig: ResultsHandlerConfiguration = Field(
        default_factory=ResultsHandlerConfiguration
    )

    @field_validator("poolConfigOption", "resultsHandlerConfig", mode="before")
    @classmethod
    def _default_when_null(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("operationTimeout", mode="before")
    @classmethod
    def _timeouts(cls, value: object) -> object:
        """Operation names IDM does not know are another IDM's business: left out."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return {
                k: idm_value(v)
                for k, v in value.items()
                if v is not None and (k in OPERATION_NAMES or not isinstance(k, str))
            }
        return value

    def timeout_ms(self, operation: OperationName) -> int:
        """The operation's timeout in milliseconds, `NO_TIMEOUT` when none is set."""
        return self.operationTimeout.get(operation, NO_TIMEOUT)

    def guarded_properties(self) -> list[str]:
        """The names of the properties that arrived as secrets."""
        return [k for k, v in self.configurationProperties.items() if isinstance(v, GuardedString)]


class ConfigurationRef(_Model):
    """A named configuration held by the server (`conf/provisioner.openicf-<name>.json`)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]


Configuration: TypeAlias = ConfigurationRef | InlineConfiguration
"""What an operation carries: `{"name": ...}` or a whole configuration."""
