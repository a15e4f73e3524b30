"""Shared helpers for the configuration and secrets tests: copies of `conf/`, a connector lookup.

Tests never touch the tracked `conf/`: they copy it into their tmp_path first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from protocol.configuration import ConnectorKey
from server import keyhash, properties

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
HUBSPOT_CONNECTOR = "org.forgerock.openicf.connectors.hubspot.HubspotConnector"
HUBSPOT_SECRETS = frozenset({"clientSecret", "refreshToken"})

SAMPLE_ENV = {
    "HUBSPOT_CLIENT_ID": "client-id-from-env",
    "HUBSPOT_CLIENT_SECRET": "client-secret-from-env",
    "HUBSPOT_REFRESH_TOKEN": "refresh-token-from-env",
}

# The configurationProperties block of the ForgeRock HubSpot connector's documentation
# (docs/openicf.md §6), with the elided values completed.
SEED_PROPERTIES: dict[str, Any] = {
    "clientId": "daa533ae-0000-4000-8000-000000000001",
    "clientSecret": "c598a365-0000-4000-8000-000000000002",
    "refreshToken": "f37e1132-0000-4000-8000-000000000003",
    "acceptSelfSignedCertificates": True,
    "readSchema": "true",
    "disableHostNameVerifier": False,
    "maximumConnections": "10",
    "permitsPerSecond": "10",
    "httpProxyHost": None,
    "httpProxyPort": None,
}


def confidential(ref: ConnectorKey) -> Collection[str]:
    """A stand-in for the connector registry: HubSpot's secrets, LookupError for the rest."""
    if ref.connectorName != HUBSPOT_CONNECTOR:
        raise LookupError(ref.connectorName)
    return HUBSPOT_SECRETS


SAMPLE_KEY_HASH = keyhash.hash_key("the-key-an-operator-set")


def copy_conf(tmp_path: Path, *, with_key: bool = True) -> Path:
    """A private copy of the shipped `conf/` (without any keystore); `with_key`: after
    `hubspot-rcs key set`, as conf/README.md tells an operator (the sample ships no key)."""
    target = tmp_path / "conf"
    shutil.copytree(REPO_CONF, target, ignore=shutil.ignore_patterns("keys", "README.md"))
    if with_key:
        properties.update(
            target / "ConnectorServer.properties", {"connectorserver.key": SAMPLE_KEY_HASH}
        )
    return target


def provisioner(conf_dir: Path, name: str = "hubspot") -> Path:
    return conf_dir / f"provisioner.openicf-{name}.json"


def write_seed_provisioner(conf_dir: Path, name: str = "seed") -> Path:
    """A provisioner file holding the seed's configurationProperties block as given."""
    document = json.loads(provisioner(conf_dir).read_text(encoding="utf-8"))
    document["configurationProperties"] = SEED_PROPERTIES
    path = provisioner(conf_dir, name)
    path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    return path
