"""`persist_property`: write one configuration property back to its provisioner file.

HubSpot may hand out a new refresh token when the connector refreshes its access token; losing it
would lock the connector out at the next start. The connector reports the new value (OpenICF's
`ConfigurationChangeEvent`, docs/openicf.md §1.4) and the daemon calls this function, from a
worker thread (`asyncio.to_thread`): it blocks on a file lock and on fsync.

The value is encrypted when it is a GuardedString, when the property already holds a `$crypto`
value, or when the connector declares it confidential. Only the property's text changes in the
file (`server.secrets.jsonedit`), crash-safely (`server.atomicfile`). A `&{token}` in that place
is replaced by the value: from then on the file, not the environment, holds it.
"""

from __future__ import annotations

import json
import threading

from protocol.values import GuardedString
from server.atomicfile import locked, write_atomic
from server.conf.loader import LoadedConf, fingerprint
from server.conf.provisioner import PROPERTIES, stat_mtime
from server.secrets.envelope import Place, encrypt, is_crypto
from server.secrets.jsonedit import json_path, set_member
from server.secrets.keystore import Keystore

__all__ = ["persist_property"]

_memory = threading.Lock()


def persist_property(
    loaded: LoadedConf,
    configuration_name: str,
    property_name: str,
    value: GuardedString | str,
) -> None:
    """Store `value` as `configurationProperties.<property_name>` of the named configuration.

    Writers of one file are serialized (across threads and processes); `loaded` is updated so
    that the next reload does not report the configuration as changed by this write.
    """
    try:
        path = loaded.sources[configuration_name]
        config = loaded.configurations[configuration_name]
    except KeyError:
        raise KeyError(f"no configuration named {configuration_name!r}") from None
    secret = isinstance(value, GuardedString)
    plain = value.reveal() if isinstance(value, GuardedString) else value
    where = json_path([PROPERTIES, property_name])
    with locked(path):
        text = path.read_text(encoding="utf-8")
        current = json.loads(text).get(PROPERTIES, {}).get(property_name)
        if not secret and loaded.confidential is not None:
            secret = property_name in loaded.confidential(config.connectorRef)
        secret = secret or is_crypto(current)
        stored: object = plain
        if secret:
            # Read afresh: a rotation since the load may have retired the key loaded then.
            keystore, _ = Keystore.open(loaded.keystore_path)
            stored = encrypt(keystore, plain, Place(path.name, where))
        write_atomic(path, set_member(text, [PROPERTIES], property_name, stored).encode("utf-8"))
        # Still under the file's lock, so memory sees the writes in the order the file did.
        in_memory: object = GuardedString(plain) if secret else plain
        with _memory:
            current_config = loaded.configurations[configuration_name]
            properties = {**current_config.configurationProperties, property_name: in_memory}
            updated = current_config.model_copy(update={PROPERTIES: properties})
            loaded.configurations[configuration_name] = updated
            loaded.fingerprints[configuration_name] = fingerprint(updated)
            loaded.files[path] = stat_mtime(path)
