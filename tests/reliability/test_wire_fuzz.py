"""A stateful wire fuzzer: hypothesis drives many sockets against one real server (loopback,
port 0, in a thread of its own) with valid requests, broken frames, cancels of anything and
sockets closed at any moment.

What must hold, whatever the sequence:
- every request gets exactly one final answer (an error, or the last frame of its answer),
  or none when a cancel stopped it (`cancelled: true`), or its socket was closed first;
- the server never dies: `/livez` answers after every step;
- nothing leaks: once every socket is closed, no connection, operation or loan remains.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, hosted, memory_configuration, registry
from tests.conftest import settings as server_settings

KEY_JSON = MEMORY_KEY.model_dump()
MAX_SOCKETS = 6
DRAIN_S = 20.0


class ServerThread:
    """The server on an event loop of its own, as in production: the fuzzer's blocking
    sockets never share its loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        configurations = {
            "memory": hosted("memory", memory_configuration(seed=30, pageSize=7)),
            "big": hosted("big", memory_configuration(virtualObjects=5000, pageSize=50)),
            # Searches that run until cancelled or their socket closes.
            "stuck": hosted("stuck", memory_configuration(blockOn=["SEARCH"])),
        }

        async def start() -> ConnectorServer:
            server = ConnectorServer(
                server_settings(max_inflight_per_connection=8), registry(), configurations
            )
            await server.start()
            return server

        self.server: ConnectorServer = self.run(start())

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def state(self) -> tuple[int, int, int]:
        """(connections, operations running, instances on loan), read on the server's loop."""

        async def read() -> tuple[int, int, int]:
            server = self.server
            loans = sum(pool.active for pool in server.pools)
            return len(server.connections), len(server.runner.running), loans

        result: tuple[int, int, int] = self.run(read())
        return result

    def stop(self) -> None:
        self.run(self.server.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


class Peer:
    """One socket: what it asked, and the final answers it got."""

    def __init__(self, url: str) -> None:
        # Entered as websockets wants it; left by `close()`.
        self.ws: ClientConnection = connect(
            url, additional_headers={"Authorization": f"Bearer {KEY}"}
        ).__enter__()
        self.open = True
        self.next_id = 1
        self.requests: dict[int, str] = {}
        self.finals: Counter[int] = Counter()
        self.stopped: set[int] = set()
        self.unattributed = 0  # frames sent that carry no readable messageId
        self.unattributed_errors = 0
        self.cancels: dict[int, int] = {}
        self.send({"messageId": 0, "request": {"handshake": {"sessionId": "fuzz"}}}, "handshake", 0)

    def send(self, frame: dict[str, Any] | str, kind: str, message_id: int | None) -> None:
        if not self.open:
            return
        try:
            self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        except ConnectionClosed:
            self.open = False
            return
        if message_id is None:
            self.unattributed += 1
        else:
            self.requests[message_id] = kind

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def read(self, timeout: float) -> bool:
        """Read one frame; False when none came in `timeout` or the socket closed."""
        try:
            text = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return False
        except ConnectionClosed:
            self.open = False
            return False
        frame = json.loads(text)
        message_id, response = frame["messageId"], frame["response"]
        if message_id == 0 and "error" in response and self.finals[0] >= 1:
            self.unattributed_errors += 1  # a frame whose messageId could not be read
            return True
        if _final(response):
            self.finals[message_id] += 1
            cancel = response.get("cancel")
            if cancel is not None and cancel.get("cancelled"):
                self.stopped.add(cancel["requestId"])
        return True

    def settled(self) -> bool:
        answered = all(
            self.finals[m] == 1 or (self.finals[m] == 0 and m in self.stopped)
            for m in self.requests
        )
        return answered and self.unattributed_errors >= self.unattributed

    def close(self) -> None:
        self.open = False
        self.ws.close()


def _final(response: dict[str, Any]) -> bool:
    operation = response.get("operation")
    if operation is None:
        return True  # handshake, control, cancel, error
    if "search" in operation:
        return "result" in operation["search"]
    if "sync" in operation:
        return bool(operation["sync"].get("last"))
    return True


def livez(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/livez")
        return connection.getresponse().status
    finally:
        connection.close()


OPERATIONS = st.sampled_from(
    ["test", "get", "search", "bigsearch", "stuck", "schema", "create", "sync"]
)
GARBAGE = st.sampled_from(
    [
        "not json",
        "[]",
        '{"messageId": "x"}',
        "{}",
        '{"request": {}}',
    ]
)


class WireFuzz(RuleBasedStateMachine):
    server: ServerThread

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Peer] = []
        self.closed: list[Peer] = []

    @property
    def url(self) -> str:
        return self.server.server.url

    @initialize()
    def first_socket(self) -> None:
        self.peers.append(Peer(self.url))

    @rule()
    def open_socket(self) -> None:
        if len(self.peers) < MAX_SOCKETS:
            self.peers.append(Peer(self.url))

    def _peer(self, index: int) -> Peer | None:
        live = [p for p in self.peers if p.open]
        return live[index % len(live)] if live else None

    @rule(index=st.integers(0, MAX_SOCKETS), op=OPERATIONS, page=st.integers(1, 40))
    def operation(self, index: int, op: str, page: int) -> None:
        peer = self._peer(index)
        if peer is None:
            return
        message_id = peer.new_id()
        configuration = {"bigsearch": "big", "stuck": "stuck"}.get(op, "memory")
        body: dict[str, Any] = {"connectorKey": KEY_JSON, "configuration": {"name": configuration}}
        if op == "test":
            body["test"] = {}
        elif op == "schema":
            body["schema"] = {}
        elif op == "get":
            body["get"] = {"objectClass": "contact", "uid": {"value": str(page)}}
        elif op == "create":
            name = f"fuzz{message_id}-{index}@example.com"
            body["create"] = {"objectClass": "company", "attributes": {"__NAME__": [name]}}
        elif op == "sync":
            body["sync"] = {"objectClass": "company"}
        else:
            body["search"] = {"objectClass": "contact", "options": {"pageSize": page}}
        peer.send({"messageId": message_id, "request": {"operation": body}}, op, message_id)

    @rule(index=st.integers(0, MAX_SOCKETS), back=st.integers(0, 6))
    def cancel(self, index: int, back: int) -> None:
        peer = self._peer(index)
        if peer is None:
            return
        target = max(1, peer.next_id - back)
        message_id = peer.new_id()
        frame = {"messageId": message_id, "request": {"cancel": {"requestId": target}}}
        peer.send(frame, "cancel", message_id)

    @rule(index=st.integers(0, MAX_SOCKETS), garbage=GARBAGE)
    def garbage(self, index: int, garbage: str) -> None:
        peer = self._peer(index)
        if peer is not None:
            peer.send(garbage, "garbage", None)

    @rule(
        index=st.integers(0, MAX_SOCKETS), junk=st.dictionaries(st.text(max_size=5), st.integers())
    )
    def unknown_request(self, index: int, junk: dict[str, int]) -> None:
        peer = self._peer(index)
        if peer is None:
            return
        message_id = peer.new_id()
        peer.send({"messageId": message_id, "request": {"frob": junk}}, "unknown", message_id)

    @rule(index=st.integers(0, MAX_SOCKETS))
    def read_some(self, index: int) -> None:
        peer = self._peer(index)
        if peer is not None:
            while peer.read(0.01):
                pass

    @rule(index=st.integers(0, MAX_SOCKETS))
    def close_socket(self, index: int) -> None:
        peer = self._peer(index)
        if peer is not None and len(self.peers) > 1:
            peer.close()
            self.peers.remove(peer)
            self.closed.append(peer)

    @invariant()
    def server_lives(self) -> None:
        assert livez(self.server.server.port) == 200

    def teardown(self) -> None:
        deadline = time.monotonic() + DRAIN_S
        for peer in self.peers:
            # A stuck search ends only by a cancel or a close: it is not waited for.
            for message_id, kind in peer.requests.items():
                if kind == "stuck" and peer.finals[message_id] == 0:
                    peer.stopped.add(message_id)
            while peer.open and not peer.settled() and time.monotonic() < deadline:
                peer.read(0.2)
            if peer.open:  # still open: then every request it sent was answered exactly once
                over = {m: n for m, n in peer.finals.items() if n > 1}
                assert not over, f"answered more than once: {over}"
                missing = [
                    (m, k)
                    for m, k in peer.requests.items()
                    if peer.finals[m] == 0 and m not in peer.stopped
                ]
                assert not missing, f"never answered: {missing}"
            peer.close()
        for _ in range(200):
            if self.server.state() == (0, 0, 0):
                break
            time.sleep(0.05)
        assert self.server.state() == (0, 0, 0), "connections, operations or loans remain"


TestWireFuzz = WireFuzz.TestCase
TestWireFuzz.settings = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def setup_module() -> None:
    WireFuzz.server = ServerThread()


def teardown_module() -> None:
    WireFuzz.server.stop()
