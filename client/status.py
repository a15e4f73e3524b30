"""What IDM answers to `POST /openidm/system/<name>?_action=test`, for a configuration here.

IDM's `OpenICFProvisionerService.getStatus` (docs/openicf.md §3.3) reports a system as

    {"name": "hubspot", "enabled": true, "config": "config/provisioner.openicf/hubspot",
     "connectorRef": {"bundleName": ..., "bundleVersion": ..., "connectorName": ...},
     "displayName": "HubSpot Connector", "objectTypes": ["__ALL__", "company", "contact"],
     "ok": true}

`objectTypes` are the provisioner file's object types (here: the connector's object classes when
the file declares none) with `__ALL__`, which IDM always adds. `displayName` is the file's
`connectorRef.displayName` where it has one, else the connector's. On failure `ok` is false and
`error` holds IDM's text: `connector not available` for a disabled system, `Connection Error`
for refused credentials, `TEST UnsupportedOperation` for a connector without TEST, and the
exception's message otherwise. `/openidm/system?_action=test` lists every system so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from client.connection import Facade, RcsClient
from protocol.configuration import ConnectorKey
from protocol.errors import (
    ConnectorException,
    InvalidCredentialException,
    UnsupportedOperationException,
)
from protocol.info import ConnectorInfo

ALL: str = "__ALL__"


def object_types(declared: Mapping[str, Any] | None, connector: ConnectorInfo | None) -> list[str]:
    """The object types IDM lists for a system, `__ALL__` included (IDM adds it unless an
    object type is already the `__ALL__` object class)."""
    if declared:
        names = set(declared)
        natives = {
            body.get("nativeType") for body in declared.values() if isinstance(body, Mapping)
        }
        if ALL not in natives:
            names.add(ALL)
    else:
        names = {ALL, *(connector.objectClasses if connector else [])}
    return sorted(names)


def connector_of(connectors: Sequence[ConnectorInfo], key: ConnectorKey) -> ConnectorInfo | None:
    """The hosted connector a connectorRef names (its version may be a range)."""
    return next(
        (
            c
            for c in connectors
            if c.connectorKey.connectorName == key.connectorName
            and c.connectorKey.bundleName == key.bundleName
        ),
        None,
    )


def idm_error(error: ConnectorException) -> str:
    """The `error` text IDM's status shows for an exception from `test`."""
    if isinstance(error, UnsupportedOperationException):
        return "TEST UnsupportedOperation"
    if isinstance(error, InvalidCredentialException):
        return "Connection Error"
    return error.message


async def system_status(
    name: str,
    facade: Facade,
    *,
    enabled: bool,
    display_name: str | None,
    declared: Mapping[str, Any] | None,
    connector: ConnectorInfo | None,
    timeout_s: float | None = None,
) -> tuple[dict[str, Any], ConnectorException | None]:
    """The system's status as IDM prints it, and the exception behind a failure (if any)."""
    key: ConnectorKey = facade.connector_key
    report: dict[str, Any] = {
        "name": name,
        "enabled": enabled,
        "config": f"config/provisioner.openicf/{name}",
        "connectorRef": key.model_dump(mode="json"),
    }
    shown_name = display_name or (connector.displayName if connector else None)
    if shown_name is not None:
        report["displayName"] = shown_name
    report["objectTypes"] = object_types(declared, connector)
    failure: ConnectorException | None = None
    if not enabled:
        report["error"] = "connector not available"
    else:
        try:
            await facade.test(timeout_s=timeout_s)
            if not declared and connector is not None and not connector.objectClasses:
                # The OpenICF wire lists no object classes (IDM keeps them in its provisioner
                # file): the connector's schema names them.
                schema = await facade.schema(timeout_s=timeout_s)
                listed = connector.model_copy(
                    update={"objectClasses": [c.type for c in schema.objectClasses]}
                )
                report["objectTypes"] = object_types(None, listed)
        except ConnectorException as error:
            report["error"] = idm_error(error)
            failure = error
    report["ok"] = enabled and failure is None
    return report, failure


async def systems_status(client: RcsClient, *, timeout_s: float | None = None) -> list[Any]:
    """Every configuration the server holds, as IDM's `system?_action=test` lists them."""
    connectors = await client.connectors()
    reports = []
    for named in await client.configurations():
        report, _ = await system_status(
            named.name,
            await client.facade(named.name),
            enabled=named.enabled,
            display_name=named.displayName,
            declared=named.objectTypes,
            connector=connector_of(connectors, named.connectorRef),
            timeout_s=timeout_s,
        )
        reports.append(report)
    return reports
