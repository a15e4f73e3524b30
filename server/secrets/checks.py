"""What the operator commands check before they act: the property `secrets encrypt` seals, the
length of a key `key set` stores, and whether anything is encrypted at all."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Final

from connector.registry import ConnectorRegistry
from server.conf.provisioner import PROPERTIES, ConnectorRef, RegistryLookup

SHORT_KEY: Final = 16
"""Characters below which a shared key is guessable: `key set --generate` makes 43."""


class PropertyError(Exception):
    """`secrets encrypt` was given a property its configuration does not keep secret."""


def check_confidential(path: Path, property_name: str) -> None:
    """Raise PropertyError unless `property_name` is a confidential property of the connector
    the provisioner file at `path` configures; the message says which ones are."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        ref = ConnectorRef.model_validate(document.get("connectorRef"))
    except (ValueError, AttributeError) as error:
        raise PropertyError(
            f"{path}: not a provisioner file with a connectorRef ({error})"
        ) from None
    lookup = RegistryLookup(ConnectorRegistry.discover())
    try:
        connector = lookup.connector(ref)
    except LookupError as error:
        raise PropertyError(f"{path}: {error}") from None
    confidential = sorted(connector.configuration_class.confidential_properties())
    if property_name in confidential:
        return
    configuration = path.name.removeprefix("provisioner.openicf-").removesuffix(".json")
    known = set(connector.configuration_class.model_fields)
    kind = "a property, but not a confidential one," if property_name in known else "not a property"
    close = (
        []
        if property_name in known
        else difflib.get_close_matches(property_name, confidential, n=1)
    )
    hint = f"did you mean {close[0]}? " if close else ""
    raise PropertyError(
        f"{property_name} is {kind} of configuration {configuration!r}: {hint}"
        f"its confidential {PROPERTIES} are {', '.join(confidential) or 'none'}"
    )


def short_key_warning(key: str) -> str | None:
    """A warning for a key short enough to guess, or None."""
    if len(key) >= SHORT_KEY:
        return None
    return (
        f"warning: the key has {len(key)} characters; a shared key of {SHORT_KEY} or more is "
        "much harder to guess (hubspot-rcs key set --generate makes a random one)"
    )


def has_encrypted_values(files: list[Path]) -> bool:
    """True when any provisioner file holds a `$crypto` value (read as text: a quick look)."""
    return any('"$crypto"' in path.read_text(encoding="utf-8") for path in files)
