"""The server as a whole: drain on shutdown, reloading named configurations, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.connection import RcsClient
from connector.memory import MemoryStore
from protocol.errors import ConnectionFailedException, RetryableException
from server.app import ConnectorServer
from tests.conftest import KEY, hosted, memory_configuration, registry, settings
from tests.server.test_auth import http_get


async def test_drain_lets_running_work_finish_and_refuses_new_work() -> None:
    configurations = {
        "slow": hosted("slow", memory_configuration(seed=30, pageSize=10, pageDelayMs=5)),
        "stuck": hosted("stuck", memory_configuration(blockOn=["TEST"])),
    }
    server = ConnectorServer(settings(), registry(), configurations)
    await server.start()
    client = await RcsClient.connect(server.url, KEY)
    slow, stuck = await client.facade("slow"), await client.facade("stuck")

    async def read_all() -> int:
        async with slow.search("contact") as results:
            return len([o async for o in results])

    searching = asyncio.create_task(read_all())
    blocked = asyncio.create_task(stuck.test())
    while sum(len(c.operations) for c in server.connections.values()) < 2:
        await asyncio.sleep(0.005)
    draining = asyncio.create_task(server.drain(timeout_s=1.0))
    await asyncio.sleep(0)
    assert (await http_get(server, "/readyz"))[0] == 503
    with pytest.raises(RetryableException, match="shutting down"):
        await slow.test()
    assert await searching == 30  # finished within the drain
    with pytest.raises(RetryableException, match="shutting down"):
        await blocked  # still running when the drain ran out: stopped and answered
    await draining
    await client.aclose()


async def test_a_changed_named_configuration_gets_a_new_pool() -> None:
    first = {"memory": hosted("memory", memory_configuration(seed=1))}
    async with (
        ConnectorServer(settings(), registry(), first) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        memory = await client.facade("memory")
        assert await memory.script_on_connector("count", "contact") == 1
        [old] = list(server.pools)
        server.set_configurations({"memory": hosted("memory", memory_configuration(seed=2))})
        assert await memory.script_on_connector("count", "contact") == 2
        for _ in range(3):
            await asyncio.sleep(0)
        assert old.closed and isinstance(old.shared, MemoryStore) and old.shared.closed
        server.set_configurations({})
        assert await client.configurations() == []


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = settings(use_ssl=True, tls_cert_file=cert, tls_key_file=key)
    async with ConnectorServer(tls, registry(), {}) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        async with await RcsClient.connect(server.url, KEY, ssl=trusted) as client:
            assert await client.connectors()
        with pytest.raises(ConnectionFailedException):
            await RcsClient.connect(server.url, KEY, ssl=ssl.create_default_context())
