"""Replay what the OpenICF Java client said to our server, and check we answer as we did then.

`java_client/` holds conversations recorded between the unmodified OpenICF Java client (as IDM
embeds it) and hubspot-rcs in front of the HubSpot emulator (its README.md says how and what
the client made of each answer). Each test starts a fresh server of ours on port 0 (the
in-memory and HubSpot connectors) and a fresh emulator seeded as at recording time, opens as
many sockets as the client did, and sends the client's requests in their recorded order on
their recorded sockets, each once the one before it is answered, as the Java client's calls
are; a cancel goes out once as many objects have come as the client had seen when it sent it.
Every answer must have the message types, object counts, sequences and exception classes of
the recorded answer, which the Java client accepted.

The facade key names the emulator's URL; the replay puts this run's emulator in its place (an
ephemeral port has five digits, so the legacy string keeps its length).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.hubspot import HubspotConnector
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings, run_emulator
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from protocol.openicf.wire import parse_message
from server.app import ConnectorServer
from server.keyhash import hash_key
from server.settings import ServerSettings

from .peer import Peer, complete
from .test_golden import shape

RECORDINGS = Path(__file__).parent / "java_client"
BINARY = 2


@dataclass(frozen=True)
class Recording:
    """One conversation: the messages both ways, the client's calls, how it was set up."""

    name: str
    messages: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    meta: dict[str, Any]

    @classmethod
    def load(cls, folder: Path) -> Recording:
        def lines(name: str) -> list[dict[str, Any]]:
            return [json.loads(line) for line in (folder / name).read_text().splitlines()]

        meta = json.loads((folder / "meta.json").read_text())
        return cls(folder.name, lines("frames.jsonl"), lines("calls.jsonl"), meta)

    def binary(self, direction: str) -> list[tuple[int, int, RemoteMessage]]:
        """(index, socket, message) of every binary message sent in `direction`."""
        return [
            (n, m["socket"], parse_message(base64.b64decode(m["b64"])))
            for n, m in enumerate(self.messages)
            if m["dir"] == direction and m["opcode"] == BINARY
        ]

    def answers(self, message_id: int, before: int | None = None) -> list[RemoteMessage]:
        """The server's recorded answers to the client's request `message_id`."""
        return [
            m
            for n, _, m in self.binary("server->client")
            if m.HasField("response")
            and m.messageId == message_id
            and (before is None or n < before)
        ]


RECORDED = [Recording.load(d) for d in sorted(RECORDINGS.iterdir()) if d.is_dir()]


def objects(parts: list[RemoteMessage]) -> int:
    return sum(
        p.response.operationResponse.searchOpResponse.HasField("connectorObject") for p in parts
    )


def rebase_facade_key(message: RemoteMessage, recorded_url: str, url: str) -> None:
    """Point the configuration in a request's facade key at this run's emulator."""
    request = message.request.operationRequest
    if not request.connectorFacadeKey:
        return
    assert len(recorded_url) == len(url), (recorded_url, url)
    blob = base64.b64decode(request.connectorFacadeKey)
    request.connectorFacadeKey = base64.b64encode(blob.replace(recorded_url.encode(), url.encode()))


@contextlib.asynccontextmanager
async def serving(recording: Recording) -> AsyncIterator[tuple[ConnectorServer, Emulator]]:
    """Our server with both connectors, and the emulator seeded as at recording time."""
    seeded = recording.meta["emulator"]
    emulator_settings = EmulatorSettings(
        contacts=seeded["contacts"],
        companies=seeded["companies"],
        seed=seeded["seed"],
        client_id=seeded["client_id"],
        client_secret=seeded["client_secret"],
        refresh_token=seeded["refresh_token"],
        rotate_refresh_tokens=seeded.get("rotate_refresh_tokens", False),
    )
    server_settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        key_hash=hash_key(recording.meta["key"]),
        auth_failure_delay_s=0.0,
        auth_failure_delay_max_s=0.0,
        ping_interval_s=None,
        ping_timeout_s=None,
        scripting_enabled=recording.meta.get("scripting_enabled", False),
    )
    registry = ConnectorRegistry([MemoryConnector, HubspotConnector])
    async with (
        run_emulator(emulator_settings) as emu,
        ConnectorServer(server_settings, registry, {}) as server,
    ):
        yield server, emu


async def replay(recording: Recording, peer: Peer, emu: Emulator) -> dict[int, list[RemoteMessage]]:
    """Send the client's requests and cancels as recorded; every request's answers."""
    cancelled = cancels(recording)
    got: dict[int, list[RemoteMessage]] = {}
    tokens: dict[bytes, bytes] = {}  # the recorded sync tokens, and ours in their place
    recorded_url = recording.meta["emulator"]["base_url"]
    for _, socket, message in recording.binary("client->server"):
        if not message.HasField("request") or message.request.HasField("handshakeMessage"):
            continue  # the peer does its own handshakes and answers the server's requests
        message_id = message.messageId
        if message.request.HasField("cancelOpRequest"):
            while objects(got[message_id]) < cancelled[message_id]:
                got[message_id].append(await answer_to(peer, message_id))
            await peer.send(message, socket - 1)
            continue
        rebase_facade_key(message, recorded_url, emu.base_url)
        sync = message.request.operationRequest.syncOpRequest.sync
        if sync.token.value in tokens:
            sync.token.value = tokens[sync.token.value]
        await peer.send(message, socket - 1)
        if message_id in cancelled:
            got[message_id] = []  # read as the cancel comes, and at the end
        else:
            got[message_id] = await peer.answers(message_id)
            recorded = sync_tokens(recording.answers(message_id))
            tokens.update(zip(recorded, sync_tokens(got[message_id]), strict=False))
    for message_id in cancelled:
        while not got[message_id] or not complete(got[message_id]):
            got[message_id].append(await answer_to(peer, message_id))
    return got


def sync_tokens(answers: list[RemoteMessage]) -> list[bytes]:
    """The sync tokens in a sync's answers, in sequence order: each delta's, then the last.

    A HubSpot token names the configuration it was made for (the emulator's URL among it), so
    the replay hands the server the token it made itself where the client sent a recorded one.
    """
    found: list[tuple[int, bytes]] = []
    for answer in answers:
        response = answer.response.operationResponse.syncOpResponse
        if response.HasField("latestSyncToken"):
            found.append((0, response.latestSyncToken.syncToken.value))
        elif response.sync.HasField("syncDelta"):
            found.append((response.sync.sequence, response.sync.syncDelta.token.value))
        elif response.sync.HasField("syncToken"):
            found.append((1 << 62, response.sync.syncToken.value))
    return [token for _, token in sorted(found)]


def is_change(message: RemoteMessage) -> bool:
    return message.request.operationRequest.HasField("configurationChangeEvent")


def pushes_change(recording: Recording) -> bool:
    return any(is_change(m) for _, _, m in recording.binary("server->client"))


def cancels(recording: Recording) -> dict[int, int]:
    """The requests the client cancelled, and how many objects it had seen when it did."""
    return {
        m.messageId: objects(recording.answers(m.messageId, before=index))
        for index, _, m in recording.binary("client->server")
        if m.request.HasField("cancelOpRequest")
    }


async def answer_to(peer: Peer, message_id: int) -> RemoteMessage:
    _, message = await peer.next(lambda m: m.HasField("response") and m.messageId == message_id)
    return message


@pytest.mark.parametrize("recording", RECORDED, ids=lambda r: r.name)
async def test_the_server_answers_the_java_client_as_it_did(recording: Recording) -> None:
    sockets = {socket for _, socket, _ in recording.binary("client->server")}
    async with (
        serving(recording) as (server, emu),
        Peer.connect(server.url, recording.meta["key"], sockets=len(sockets)) as peer,
    ):
        got = await replay(recording, peer, emu)
        if pushes_change(recording):
            # IDM stores the rotated secret it is told about, as the Java client's listener did.
            _, event = await peer.next(is_change)
            assert event.request.operationRequest.configurationChangeEvent.ByteSize() > 0
    cancelled = cancels(recording)
    assert got, "a recording with no requests"
    for message_id, ours in got.items():
        recorded = recording.answers(message_id)
        if message_id not in cancelled:
            assert shape(ours) == shape(recorded), (recording.name, message_id)
            continue
        # How many objects were in flight when the cancel came is a race; the stream still
        # ends with a result counting the objects sent before it, as the recorded one did.
        kind, hits, final_sequence, _ = shape(ours)
        assert kind == shape(recorded)[0] == "searchOpResponse"
        assert hits == final_sequence >= cancelled[message_id], (recording.name, message_id)


@pytest.mark.parametrize("recording", RECORDED, ids=lambda r: r.name)
def test_each_error_recorded_is_the_exception_the_java_client_threw(recording: Recording) -> None:
    """The data agrees with itself: the client threw, in order, the classes the server sent."""
    sent = [
        m.response.error.exceptionClass
        for _, _, m in recording.binary("server->client")
        if m.response.HasField("error")
    ]
    # The Java client wraps a remote error and names the class it came as.
    thrown = [c["remoteExceptionClass"] for c in recording.calls if "remoteExceptionClass" in c]
    assert thrown == sent
