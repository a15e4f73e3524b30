"""Bad input on the OpenICF wire: each gets an ExceptionMessage naming the problem, and the
socket and every other request go on (docs/hardening.md: bad input loses nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.openicf import legacy
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, registry
from tests.conftest import settings as server_settings
from tests.server.openicf.operations import Operations, connector_infos, facade_key
from tests.server.openicf.peer import Peer

CONNECTOR_EXCEPTION = "org.identityconnectors.framework.common.exceptions.ConnectorException"
ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"


@pytest.fixture
async def ops() -> AsyncIterator[Operations]:
    async with (
        ConnectorServer(server_settings(), registry(), {}) as server,
        Peer.connect(server.url, KEY) as peer,
    ):
        [info] = await connector_infos(peer)
        yield Operations(peer, info.connector_key, facade_key(info, seed=5))


async def still_works(ops: Operations) -> None:
    answers = await ops.search("contact")
    assert answers[-1].response.operationResponse.searchOpResponse.sequence == 5


async def test_an_unknown_connector_key_is_named_as_java_names_it(ops: Operations) -> None:
    message = ops.request()
    message.request.operationRequest.connectorKey.connectorName = "NoSuchConnector"
    message.request.operationRequest.testOpRequest.SetInParent()
    [answer] = await ops.call(message)
    assert answer.response.error.exceptionClass == CONNECTOR_EXCEPTION
    assert answer.response.error.message == (
        f'Connector not found: bundleName: "{MEMORY_KEY.bundleName}"\n'
        f'bundleVersion: "{MEMORY_KEY.bundleVersion}"\n'
        'connectorName: "NoSuchConnector"\n '
    )
    await still_works(ops)


@pytest.mark.parametrize(
    ("facade", "says"),
    [
        (b"not base64!", "not Base64"),
        (b"AAD6+wAAAAI=", "connectorFacadeKey"),
        (b"", "connectorFacadeKey"),
    ],
)
async def test_a_facade_key_that_does_not_decode(ops: Operations, facade: bytes, says: str) -> None:
    message = ops.request()
    message.request.operationRequest.connectorFacadeKey = facade
    message.request.operationRequest.testOpRequest.SetInParent()
    [answer] = await ops.call(message)
    assert answer.response.error.exceptionClass == ILLEGAL_ARGUMENT
    assert says in answer.response.error.message
    await still_works(ops)


async def test_a_configuration_the_connector_refuses_is_a_configuration_exception(
    ops: Operations,
) -> None:
    [info] = await connector_infos(ops.peer)
    bad = Operations(ops.peer, ops.key, facade_key(info, pageSize=0))
    [answer] = await bad.test()
    assert answer.response.error.exceptionClass.endswith(".ConfigurationException")
    assert "pageSize" in answer.response.error.message
    await still_works(ops)


async def test_an_unknown_legacy_type_is_named(ops: Operations) -> None:
    # A legacy Set holding an object of a type name the framework does not know.
    unknown = (
        bytes.fromhex("0000fafb00000002 00000002 00000003")
        + b"Set"
        + bytes.fromhex("00000000")
        + bytes.fromhex("00000007")
        + b"Mystery"
        + bytes.fromhex("00000001")
        + bytes.fromhex("3d00000000 46 00000006 3d00000001 48 48")
    )
    message = ops.request()
    create = message.request.operationRequest.createOpRequest
    create.objectClass = "contact"
    create.createAttributes = unknown
    [answer] = await ops.call(message)
    assert answer.response.error.exceptionClass == ILLEGAL_ARGUMENT
    assert "Mystery" in answer.response.error.message
    await still_works(ops)


async def test_an_empty_operation_request_is_unknown(ops: Operations) -> None:
    [answer] = await ops.call(ops.request())
    assert answer.response.error.message == "Unknown OperationRequest"
    await still_works(ops)


async def test_a_cancel_from_the_other_socket_stops_a_search_that_waits(ops: Operations) -> None:
    [info] = await connector_infos(ops.peer)
    blocked = Operations(ops.peer, ops.key, facade_key(info, seed=5, blockOn=["SEARCH"]))
    request = blocked.search_request("contact")
    await ops.peer.send(request, socket=0)
    cancel = RemoteMessage(messageId=request.messageId)
    cancel.request.cancelOpRequest.SetInParent()
    await asyncio.sleep(0)
    await ops.peer.send(cancel, socket=1)
    [final] = await ops.peer.answers(request.messageId)
    search = final.response.operationResponse.searchOpResponse
    assert search.HasField("result") and search.sequence == 0
    await still_works(ops)


messages = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda message_id, body: RemoteMessage(messageId=message_id).SerializeToString() + body,
        st.integers(min_value=0, max_value=2**40),
        st.binary(max_size=60),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.lists(messages, min_size=1, max_size=5))
async def test_random_messages_never_kill_the_socket_or_other_requests(
    ops: Operations, garbage: list[bytes]
) -> None:
    ops.peer.skip_ids_below(2**48)  # no error answering garbage can pass for a real answer
    for data in garbage:
        await ops.peer.send_raw(data, socket=len(data) % 2)
    await still_works(ops)


async def test_a_socket_dropped_without_a_close_leaves_the_group_working(ops: Operations) -> None:
    [info] = await connector_infos(ops.peer)
    blocked = Operations(ops.peer, ops.key, facade_key(info, seed=5, blockOn=["SEARCH"]))
    request = blocked.search_request("contact")
    await ops.peer.send(request, socket=0)
    # One socket's messages are read in order: once this is answered, the search is running.
    keepalive = RemoteMessage(messageId=ops.peer.next_id())
    keepalive.request.controlRequest.SetInParent()
    await ops.peer.send(keepalive, socket=0)
    await ops.peer.next(lambda m: m.messageId == keepalive.messageId)
    ops.peer.sockets[0].transport.abort()  # an abrupt EOF: no close frame
    cancel = RemoteMessage(messageId=request.messageId)
    cancel.request.cancelOpRequest.SetInParent()
    await ops.peer.send(cancel, socket=1)
    socket, final = await ops.peer.next(lambda m: m.messageId == request.messageId)
    assert socket == 1 and final.response.operationResponse.searchOpResponse.HasField("result")
    search = ops.search_request("contact")
    await ops.peer.send(search, socket=1)
    answers = await ops.peer.answers(search.messageId)
    assert answers[-1].response.operationResponse.searchOpResponse.sequence == 5


async def test_a_drain_answers_what_still_runs_with_a_retryable_error() -> None:
    async with (
        ConnectorServer(server_settings(), registry(), {}) as server,
        Peer.connect(server.url, KEY) as peer,
    ):
        [info] = await connector_infos(peer)
        blocked = Operations(peer, info.connector_key, facade_key(info, blockOn=["TEST"]))
        request = blocked.request()
        request.request.operationRequest.testOpRequest.SetInParent()
        await peer.send(request)
        while not server.runner.running:
            await asyncio.sleep(0.01)
        await server.drain(timeout_s=0)
        [answer] = await peer.answers(request.messageId)
        assert answer.response.error.exceptionClass == (
            "org.identityconnectors.framework.common.exceptions.RetryableException"
        )


async def test_a_value_our_model_cannot_hold_is_refused_by_name(ops: Operations) -> None:
    message = ops.request()
    create = message.request.operationRequest.createOpRequest
    create.objectClass = "contact"
    photo = legacy.LegacyObject("Attribute", {"name": "photo", "Values": [b"\x89PNG"]})
    create.createAttributes = legacy.encode(legacy.JavaSet([legacy.Typed("Name", "a"), photo]))
    [answer] = await ops.call(message)
    assert answer.response.error.exceptionClass == ILLEGAL_ARGUMENT
    assert "photo" in answer.response.error.message
    assert "ByteArray" in answer.response.error.message
    await still_works(ops)
