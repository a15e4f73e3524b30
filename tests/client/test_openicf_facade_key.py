"""What the client sends on the OpenICF wire, checked against the unmodified Java client.

The recorded conversations (tests/protocol/openicf/vectors) hold, for every operation, the
facade key the Java client built from the server's default `APIConfiguration`; the client here
must build the same one from the same default and the same settings.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from client.openicf import (
    EMPTY_CONNECTOR_LIST,
    configured,
    facade_key,
    handshake_message,
    resolve_key,
)
from protocol.configuration import ConnectorKey, InlineConfiguration
from protocol.errors import ConfigurationException, ConnectorException
from protocol.openicf import legacy
from protocol.openicf.wire import parse_message
from protocol.values import GuardedString
from tests.protocol.openicf.vectors import SCENARIOS, frames


def _defaults(scenario: str) -> dict[str, legacy.LegacyObject]:
    """The server's default APIConfiguration per connectorName, from its CONNECTOR_INFO."""
    for frame in frames(scenario):
        if frame.opcode != 2 or frame.direction != "server->client":
            continue
        infos = parse_message(frame.payload).response.controlResponse.connectorInfos
        if infos:
            found: dict[str, legacy.LegacyObject] = {}
            for info in legacy.decode(bytes(infos)) or []:  # type: ignore[union-attr]
                assert isinstance(info, legacy.LegacyObject)
                key = info.fields["ConnectorKey"]
                api = info.fields["APIConfiguration"]
                assert isinstance(key, legacy.LegacyObject)
                assert isinstance(api, legacy.LegacyObject)
                found[str(key.fields["connectorName"])] = api
            return found
    raise AssertionError(f"no CONNECTOR_INFO answer in {scenario}")


def _sent_keys(scenario: str) -> list[tuple[str, bytes]]:
    """(connectorName, facade key) of every operation request the Java client sent."""
    sent = []
    for frame in frames(scenario):
        if frame.opcode != 2 or frame.direction != "client->server":
            continue
        operation = parse_message(frame.payload).request.operationRequest
        if operation.connectorFacadeKey:
            sent.append((operation.connectorKey.connectorName, bytes(operation.connectorFacadeKey)))
    return sent


def _plain(value: legacy.Value) -> Any:
    """A legacy value as a provisioner file writes it."""
    if isinstance(value, legacy.JavaArray):
        return [_plain(v) for v in value.items]
    if isinstance(value, GuardedString):
        return value
    return value


def _settings(sent: legacy.LegacyObject) -> InlineConfiguration:
    """The provisioner settings that make the recorded key: its property values, pool,
    results handlers and timeouts."""
    properties = sent.fields["ConfigurationProperties"]
    assert isinstance(properties, legacy.LegacyObject)
    values = {
        str(p.fields["name"]): _plain(p.fields["value"])
        for p in properties.items
        if isinstance(p, legacy.LegacyObject)
    }
    pool = sent.fields["connectorPoolConfiguration"]
    handlers = sent.fields["resultsHandlerConfiguration"]
    assert isinstance(pool, legacy.LegacyObject)
    assert isinstance(handlers, legacy.LegacyObject)
    return InlineConfiguration.model_validate(
        {
            "configurationProperties": values,
            "poolConfigOption": {k: int(v) for k, v in pool.fields.items()},  # type: ignore[arg-type]
            "resultsHandlerConfig": dict(handlers.fields),
        }
    )


def _comparable(api: legacy.LegacyObject) -> dict[str, Any]:
    """The tree with SupportedOperations as a set: the Java client writes it from a hash set,
    in an order that changes with every JVM (docs/openicf-rpc.md §9.6)."""
    fields = dict(api.fields)
    operations = fields.pop("SupportedOperations")
    assert isinstance(operations, legacy.JavaSet)
    return {
        "fields": repr(fields),
        "operations": sorted(repr(o) for o in operations.items),
    }


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if _sent_keys(s)])
def test_the_facade_key_is_the_one_the_java_client_built(scenario: str) -> None:
    defaults = _defaults(scenario)
    checked = 0
    for connector_name, recorded in _sent_keys(scenario):
        if connector_name not in defaults:
            continue  # scenario 08 names a connector the server does not have on purpose
        sent = legacy.decode(base64.b64decode(recorded))
        assert isinstance(sent, legacy.LegacyObject)
        ours = facade_key(defaults[connector_name], _settings(sent))
        rebuilt = legacy.decode(base64.b64decode(ours))
        assert isinstance(rebuilt, legacy.LegacyObject)
        assert _comparable(rebuilt) == _comparable(sent)
        checked += 1
    assert checked


def test_our_empty_connector_list_is_the_java_clients() -> None:
    # The Java client's answer to the server's CONNECTOR_INFO, recorded in every scenario.
    answers = [
        bytes(parse_message(f.payload).response.controlResponse.connectorInfos)
        for f in frames("01-connect-info-idle")
        if f.opcode == 2 and f.direction == "client->server"
    ]
    assert EMPTY_CONNECTOR_LIST in answers


def test_the_session_id_is_the_sha1_of_our_public_key() -> None:
    hello = handshake_message()
    der, session_id = hello.publicKey, hello.sessionId
    key = load_der_public_key(der)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp521r1"
    assert len(der) == 158  # as the Java client's, on the wire
    assert session_id == hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    assert handshake_message() is hello  # one per process: every socket of a group shares it


def test_a_value_encrypted_at_rest_is_refused_with_what_to_do() -> None:
    api = _defaults("04-create-get")["org.identityconnectors.testconnector.TstStatefulConnector"]
    sealed = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "AAAA"}}}
    encrypted = InlineConfiguration.model_validate(
        {"configurationProperties": {"tstField": sealed}}
    )
    with pytest.raises(ConfigurationException, match=r"tstField: encrypted at rest .*plain values"):
        configured(api, encrypted)


def test_a_property_the_connector_lacks_is_named() -> None:
    api = _defaults("04-create-get")["org.identityconnectors.testconnector.TstStatefulConnector"]
    wrong = InlineConfiguration.model_validate({"configurationProperties": {"nope": 1}})
    with pytest.raises(ConfigurationException, match="no configuration property 'nope'"):
        configured(api, wrong)
    typed = InlineConfiguration.model_validate({"configurationProperties": {"numResults": "x"}})
    with pytest.raises(ConfigurationException, match=r"a str value is not a int \(at numResults\)"):
        configured(api, typed)


def test_confidential_values_travel_as_guarded_strings() -> None:
    api = _defaults("04-create-get")["org.identityconnectors.testconnector.TstStatefulConnector"]
    properties = api.fields["ConfigurationProperties"]
    assert isinstance(properties, legacy.LegacyObject)
    # Make tstField a secret, as the HubSpot connector's clientSecret is.
    secret_items: list[legacy.Value] = []
    for item in properties.items:
        assert isinstance(item, legacy.LegacyObject)
        if item.fields["name"] == "tstField":
            fields = item.fields | {"type": legacy.ClassRef("GuardedString"), "confidential": True}
            item = legacy.LegacyObject(item.type, fields, item.items)
        secret_items.append(item)
    holder = legacy.LegacyObject(properties.type, properties.fields, secret_items)
    secret_api = legacy.LegacyObject(api.type, api.fields | {"ConfigurationProperties": holder})
    settings = InlineConfiguration.model_validate(
        {"configurationProperties": {"tstField": "s3cret"}}
    )
    sent = legacy.decode(base64.b64decode(facade_key(secret_api, settings)))
    assert isinstance(sent, legacy.LegacyObject)
    sent_holder = sent.fields["ConfigurationProperties"]
    assert isinstance(sent_holder, legacy.LegacyObject)
    [value] = [
        p.fields["value"]
        for p in sent_holder.items
        if isinstance(p, legacy.LegacyObject) and p.fields["name"] == "tstField"
    ]
    assert isinstance(value, GuardedString) and value.reveal() == "s3cret"
    # Encrypted with the framework's fixed key: "s3cret" is always these bytes on the wire.
    encoded = base64.b64decode(facade_key(secret_api, settings))
    assert base64.b64decode("TKkCfAidhl9UoNBYr7pKpg==") in encoded


def test_a_connector_ref_resolves_to_the_highest_version_in_range() -> None:
    def key(version: str) -> ConnectorKey:
        return ConnectorKey(bundleName="b", bundleVersion=version, connectorName="c")

    hosted = [key("1.5.20.34"), key("1.5.2.0"), key("2.0.0.0")]
    assert resolve_key(key("[1.5.0.0,1.6.0.0)"), hosted) == key("1.5.20.34")
    assert resolve_key(key("1.5.2.0"), hosted) == key("1.5.2.0")
    with pytest.raises(ConnectorException, match="Connector not found"):
        resolve_key(key("[3.0,4.0)"), hosted)
