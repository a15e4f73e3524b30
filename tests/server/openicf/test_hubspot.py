"""The HubSpot connector over the OpenICF wire, in front of the emulator, as IDM drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.configuration import ConnectorKey
from protocol.openicf import objects
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from protocol.values import GuardedString, OperationOptions, Uid
from server.app import ConnectorServer
from tests.conftest import KEY, settings
from tests.server.openicf.operations import Operations, connector_infos, facade_key
from tests.server.openicf.peer import Peer

JAVA_KEY = ConnectorKey(
    bundleName="org.forgerock.openicf.connectors.hubspot-connector",
    bundleVersion="1.5.20.34",
    connectorName="org.forgerock.openicf.connectors.hubspot.HubspotConnector",
)


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    """For `emu` (tests/conftest.py)."""
    return EmulatorSettings(
        contacts=25, companies=2, seed=5, rate_limits_enabled=False, rotate_refresh_tokens=True
    )


@pytest.fixture
async def peer(emu: Emulator) -> AsyncIterator[Peer]:
    registry = ConnectorRegistry([HubspotConnector])
    async with (
        ConnectorServer(settings(), registry, {}) as server,
        Peer.connect(server.url, KEY) as connected,
    ):
        yield connected


async def hubspot(peer: Peer, emu: Emulator) -> Operations:
    [info] = await connector_infos(peer)
    assert info.connector_key == JAVA_KEY
    configuration = info.configuration()
    assert configuration.properties["clientSecret"].java_type == "GuardedString"
    assert configuration.properties["refreshToken"].java_type == "GuardedString"
    assert configuration.properties["clientSecret"].confidential
    key = facade_key(
        info,
        clientId=emu.client_id,
        clientSecret=GuardedString(emu.client_secret),
        refreshToken=GuardedString(emu.refresh_token),
        apiBaseUrl=emu.base_url,
        permitsPerSecond=1000.0,
    )
    return Operations(peer, info.connector_key, key)


async def test_a_rotated_refresh_token_goes_back_to_idm_before_the_answer(
    peer: Peer, emu: Emulator
) -> None:
    ops = await hubspot(peer, emu)
    first = emu.refresh_token
    answers = await ops.search("contact", options=OperationOptions(pageSize=10))
    final = answers[-1].response.operationResponse.searchOpResponse
    assert final.sequence == 10 and final.result.pagedResultsCookie
    _, push = await peer.next(lambda m: m.HasField("request"))
    # Pushed on the socket of the request, before its first answer went out.
    assert peer.arrivals.index(push) < min(peer.arrivals.index(a) for a in answers)
    operation = push.request.operationRequest
    assert push.messageId == 0 and operation.connectorFacadeKey == ops.facade
    change = objects.decode_configuration_change(
        operation.configurationChangeEvent.configurationPropertyChange
    )
    [rotated] = change.values()
    assert list(change) == ["refreshToken"] and isinstance(rotated, GuardedString)
    assert rotated.reveal() != first


async def test_test_and_schema_and_errors_as_idm_expects(peer: Peer, emu: Emulator) -> None:
    ops = await hubspot(peer, emu)
    [tested] = await ops.test()
    assert tested.response.operationResponse.HasField("testOpResponse")
    schema = ops.request()
    schema.request.operationRequest.schemaOpRequest.SetInParent()
    [answer] = await ops.call(schema)
    decoded = objects.decode_schema(answer.response.operationResponse.schemaOpResponse.schema)
    assert decoded.object_class("contact") is not None
    missing = await ops.get("contact", Uid(value="999999999"))
    assert missing[0].response.operationResponse.HasField("GetOpResponse")
    assert not missing[0].response.operationResponse.GetOpResponse.connectorObject
    delete = ops.request()
    delete.request.operationRequest.deleteOpRequest.objectClass = "contact"
    delete.request.operationRequest.deleteOpRequest.uid.value = "999999999"
    [failed] = await ops.call(delete)
    assert failed.response.error.exceptionClass == (
        "org.identityconnectors.framework.common.exceptions.UnknownUidException"
    )


async def test_unsupported_operations_get_the_frameworks_answer(peer: Peer, emu: Emulator) -> None:
    ops = await hubspot(peer, emu)
    message: RemoteMessage = ops.request()
    authenticate = message.request.operationRequest.authenticateOpRequest
    authenticate.objectClass, authenticate.username = "contact", "someone"
    [answer] = await ops.call(message)
    assert answer.response.error.exceptionClass == "java.lang.UnsupportedOperationException"
    assert answer.response.error.message == (
        "Operation 'interface org.identityconnectors.framework.api.operations."
        "AuthenticationApiOp' not supported."
    )


async def test_sync_and_the_latest_token_over_the_wire(peer: Peer, emu: Emulator) -> None:
    [info] = await connector_infos(peer)
    assert "SyncApiOp" in info.configuration().supported_operations
    ops = await hubspot(peer, emu)
    latest = ops.request()
    latest.request.operationRequest.syncOpRequest.latestSyncToken.objectClass = "contact"
    [answer] = await ops.call(latest)
    token = answer.response.operationResponse.syncOpResponse.latestSyncToken.syncToken.value
    assert objects.decode_sync_token(token).value
    created = await ops.create("contact", "synced@example.com", firstname=["Synced"])
    uid = created[0].response.operationResponse.createOpResponse.uid.value
    sync = ops.request()
    sync.request.operationRequest.syncOpRequest.sync.objectClass = "contact"
    sync.request.operationRequest.syncOpRequest.sync.token.value = token
    answers = await ops.call(sync)
    parts = [a.response.operationResponse.syncOpResponse.sync for a in answers]
    deltas = [p.syncDelta for p in parts if p.HasField("syncDelta")]
    [final] = [p for p in parts if not p.HasField("syncDelta")]
    assert final.sequence == len(deltas) >= 1 and final.syncToken.value
    assert uid in {d.uid.value for d in deltas}
