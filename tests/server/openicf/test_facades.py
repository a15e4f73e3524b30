"""Facade keys: one pool per decoded content, a bounded number of them, nothing to disk."""

from __future__ import annotations

from protocol.openicf import legacy, objects
from protocol.values import GuardedString
from server.app import ConnectorServer
from server.configurations import MAX_FACADE_POOLS
from tests.conftest import KEY, registry, settings
from tests.server.openicf.operations import Operations, connector_infos, facade_key
from tests.server.openicf.peer import Peer


def facade_pools(server: ConnectorServer) -> list[str]:
    return sorted(
        p.key.configuration_name
        for p in server.pools
        if p.key.configuration_name.startswith("facade:") and not p.retired
    )


async def test_the_same_configuration_from_two_clients_shares_one_pool() -> None:
    async with ConnectorServer(settings(), registry(), {}) as server:
        async with Peer.connect(server.url, KEY, session_id="A" * 40) as first:
            [info] = await connector_infos(first)
            ops = Operations(first, info.connector_key, facade_key(info, seed=3, pageSize=7))
            await ops.test()
        async with Peer.connect(server.url, KEY, session_id="B" * 40) as second:
            [info] = await connector_infos(second)
            # The same values, SupportedOperations in another order (as another JVM's hash set
            # writes it): other bytes, the same configuration.
            tree = objects.set_property_values(info.api_configuration, {"seed": 3, "pageSize": 7})
            operations = tree.fields["SupportedOperations"]
            assert isinstance(operations, legacy.JavaSet)
            operations.items.reverse()
            again = objects.facade_key(tree)
            assert again != ops.facade
            await Operations(second, info.connector_key, again).test()
        assert len(facade_pools(server)) == 1


async def test_facade_pools_are_bounded() -> None:
    async with (
        ConnectorServer(settings(), registry(), {}) as server,
        Peer.connect(server.url, KEY) as peer,
    ):
        [info] = await connector_infos(peer)
        for seed in range(MAX_FACADE_POOLS + 3):
            await Operations(peer, info.connector_key, facade_key(info, seed=seed)).test()
        assert len(facade_pools(server)) == MAX_FACADE_POOLS


async def test_a_stored_property_goes_to_the_peer_and_never_to_the_servers_store() -> None:
    stored: list[str] = []

    def persist(name: str, property_name: str, value: GuardedString) -> None:
        stored.append(property_name)

    async with (
        ConnectorServer(settings(), registry(), {}, persist=persist) as server,
        Peer.connect(server.url, KEY) as peer,
    ):
        [info] = await connector_infos(peer)
        ops = Operations(peer, info.connector_key, facade_key(info))
        message = ops.request()
        script = message.request.operationRequest.scriptOnConnectorOpRequest.scriptContext
        script.script.scriptLanguage, script.script.scriptText = "persist", "apiKey"
        script.scriptArguments = objects.encode_script_value({"value": "new-secret"})
        [answer] = await ops.call(message)
        assert answer.response.operationResponse.HasField("scriptOnConnectorOpResponse")
        _, push = await peer.next(lambda m: m.HasField("request"))
        change = push.request.operationRequest.configurationChangeEvent
        decoded = objects.decode_configuration_change(change.configurationPropertyChange)
        assert decoded == {"apiKey": GuardedString("new-secret")}
    assert stored == []
