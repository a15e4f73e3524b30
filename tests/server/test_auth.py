"""Peer authentication and the HTTP side of the upgrade: statuses before any frame is read."""

from __future__ import annotations

import asyncio
import base64

import pytest
from structlog.testing import capture_logs
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus

from client.connection import RcsClient
from protocol.errors import InvalidCredentialException
from server.app import ConnectorServer
from server.auth import Authenticator, presented_key
from tests.conftest import KEY, registry, settings

JAVA_CHANGEIT = "lmA6bMfENJGlIDbfrVtklXFK32s="


def basic(password: str, user: str = "anonymous") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def status_of(url: str, headers: dict[str, str]) -> tuple[int, Headers]:
    try:
        async with connect(url, additional_headers=headers):
            return 101, Headers()
    except InvalidStatus as exc:
        return exc.response.status_code, exc.response.headers


async def http_get(server: ConnectorServer, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = (await reader.read()).decode()
    writer.close()
    status = int(response.split(" ", 2)[1])
    return status, response.partition("\r\n\r\n")[2]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": basic("wrong")}, 403),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": "Digest abc"}, 401),
        ({"Authorization": basic(KEY)}, 101),
        ({"Authorization": basic(KEY, user="whoever")}, 101),
        ({"Authorization": f"Bearer {KEY}"}, 101),
        ({"Authorization": f"Bearer {KEY}", "Origin": "https://evil.example"}, 403),
    ],
    ids=[
        "none",
        "wrong basic",
        "wrong bearer",
        "other scheme",
        "basic",
        "any user",
        "bearer",
        "browser",
    ],
)
async def test_upgrade_statuses(rcs: ConnectorServer, headers: dict[str, str], status: int) -> None:
    got, response_headers = await status_of(rcs.url, headers)
    assert got == status
    if status == 401:
        assert response_headers["WWW-Authenticate"] == 'Basic realm="openicf.forgerock.org"'
    if status != 101:
        assert "Server" not in response_headers


async def test_failures_are_logged_without_the_key(rcs: ConnectorServer) -> None:
    with capture_logs() as logs:
        await status_of(rcs.url, {"Authorization": basic("not-the-key")})
    failed = [e for e in logs if e["event"] == "auth.failed"]
    assert failed == [
        {"event": "auth.failed", "log_level": "warning", "peer": "127.0.0.1", "reason": "wrong key"}
    ]
    assert "not-the-key" not in repr(logs)


async def test_the_java_rcs_key_hash_still_works_with_a_warning() -> None:
    with capture_logs() as logs:
        async with ConnectorServer(settings(key_hash=JAVA_CHANGEIT), registry()) as server:
            async with await RcsClient.connect(server.url, "changeit") as client:
                assert await client.connectors()
            with pytest.raises(InvalidCredentialException, match="403"):
                await RcsClient.connect(server.url, "changeme")
    assert any(e["event"] == "auth.weak_key_hash" for e in logs)


async def test_health_endpoints_answer_before_auth(rcs: ConnectorServer) -> None:
    assert await http_get(rcs, "/livez") == (200, "ok\n")
    assert await http_get(rcs, "/readyz") == (200, "ok\n")
    assert (await http_get(rcs, "/elsewhere"))[0] == 404


async def test_connections_beyond_the_maximum_get_503() -> None:
    async with ConnectorServer(settings(max_connections=1), registry()) as server:
        async with await RcsClient.connect(server.url, KEY):
            status, _ = await status_of(server.url, {"Authorization": f"Bearer {KEY}"})
            assert status == 503
        async with await RcsClient.connect(server.url, KEY):
            pass  # the slot is free again


def test_repeated_failures_from_one_address_slow_down() -> None:
    auth = Authenticator(JAVA_CHANGEIT, delay_s=0.5, delay_max_s=4.0)
    delays = [auth._penalty("10.0.0.1") for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert auth._penalty("10.0.0.2") == 0.5  # another address starts afresh


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ("Bearer k", "k"),
        ("bearer   k ", "k"),
        (basic("p:with:colons"), "p:with:colons"),
        ("Basic " + base64.b64encode("u:clé".encode("latin-1")).decode(), "clé"),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
    ],
)
def test_presented_key(header: str | None, key: str | None) -> None:
    assert presented_key(header) == key
