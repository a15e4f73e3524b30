"""TLS and mutual TLS on the listener, with certificates made here (operations.md "TLS")."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client.connection import RcsClient, tls_context
from protocol.errors import (
    ConfigurationException,
    ConnectionFailedException,
    InvalidCredentialException,
)
from server.app import ConnectorServer
from tests.conftest import KEY, command, registry, settings
from tests.server.certificates import Authority, Issued


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def server_cert(ca: Authority) -> Issued:
    return ca.server()


@pytest.fixture
async def tls_server(server_cert: Issued) -> AsyncIterator[ConnectorServer]:
    tls = settings(use_ssl=True, tls_cert_file=server_cert.cert, tls_key_file=server_cert.key)
    async with ConnectorServer(tls, registry(), {}) as server:
        yield server


@pytest.fixture
async def mtls_server(ca: Authority, server_cert: Issued) -> AsyncIterator[ConnectorServer]:
    mtls = settings(
        use_ssl=True,
        tls_cert_file=server_cert.cert,
        tls_key_file=server_cert.key,
        tls_client_ca_file=ca.cert,
    )
    async with ConnectorServer(mtls, registry(), {}) as server:
        yield server


async def https_get(server: ConnectorServer, path: str, context: ssl.SSLContext) -> tuple[int, str]:
    """A plain HTTPS GET, as a probe or a scraper sends it (no upgrade headers)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=context, server_hostname="127.0.0.1"
    )
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    response = (await reader.read()).decode()
    writer.close()
    return int(response.split(" ", 2)[1]), response.partition("\r\n\r\n")[2]


async def test_tls_with_a_ca_signed_certificate(ca: Authority, tls_server: ConnectorServer) -> None:
    assert tls_server.url.startswith("wss://127.0.0.1:")
    trusted = tls_context(cafile=ca.cert)
    for url in (tls_server.url, tls_server.url.replace("127.0.0.1", "localhost")):
        async with await RcsClient.connect(url, KEY, ssl=trusted) as client:
            assert await client.connectors()
    with pytest.raises(
        ConnectionFailedException, match=r"cannot verify the certificate of .*--cacert"
    ):
        await RcsClient.connect(tls_server.url, KEY, ssl=tls_context())  # the system's CAs


async def test_tls_1_2_negotiates_a_forward_secret_aead_cipher(
    ca: Authority, tls_server: ConnectorServer
) -> None:
    client = tls_context(cafile=ca.cert)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection(
        "127.0.0.1", tls_server.port, ssl=client, server_hostname="127.0.0.1"
    )
    name, version, _ = writer.get_extra_info("cipher")
    writer.close()
    assert version == "TLSv1.2"
    assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)


@pytest.mark.parametrize(
    ("maximum", "ciphers"),
    [
        pytest.param("TLSv1_1", "DEFAULT:@SECLEVEL=0", id="tls-1.1"),
        pytest.param("TLSv1_2", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", id="cbc-cipher"),
        pytest.param("TLSv1_2", "AES128-GCM-SHA256:@SECLEVEL=0", id="no-forward-secrecy"),
    ],
)
async def test_old_protocols_and_weak_ciphers_are_refused(
    ca: Authority, tls_server: ConnectorServer, maximum: str, ciphers: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 itself
        client = ssl.create_default_context(cafile=str(ca.cert))
        client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        client.maximum_version = getattr(ssl.TLSVersion, maximum)
    client.set_ciphers(ciphers)  # SECLEVEL=0: this client really offers what it is limited to
    with pytest.raises(OSError):
        await asyncio.open_connection(
            "127.0.0.1", tls_server.port, ssl=client, server_hostname="127.0.0.1"
        )
    # The same client, allowed TLS 1.2 and modern ciphers, gets in: the server refused the rest.
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE+AESGCM")
    _, writer = await asyncio.open_connection(
        "127.0.0.1", tls_server.port, ssl=client, server_hostname="127.0.0.1"
    )
    writer.close()


async def test_mutual_tls(ca: Authority, mtls_server: ConnectorServer) -> None:
    idm = ca.client(name="idm-prod")
    with_cert = tls_context(cafile=ca.cert, certfile=idm.cert, keyfile=idm.key)
    async with await RcsClient.connect(mtls_server.url, KEY, ssl=with_cert) as client:
        assert await client.connectors()
    # mTLS proves the channel; the key still says who may use it.
    with pytest.raises(InvalidCredentialException, match="refused the key"):
        await RcsClient.connect(mtls_server.url, "wrong", ssl=with_cert)


async def test_mutual_tls_refuses_a_client_without_a_certificate(
    ca: Authority, mtls_server: ConnectorServer
) -> None:
    without = tls_context(cafile=ca.cert)
    with pytest.raises(InvalidCredentialException, match="requires a client certificate"):
        await RcsClient.connect(mtls_server.url, KEY, ssl=without)
    assert (await https_get(mtls_server, "/metrics", without))[0] == 403
    # The probes stay open: a platform's HTTPS probe presents no client certificate.
    assert await https_get(mtls_server, "/livez", without) == (200, "ok\n")
    assert await https_get(mtls_server, "/readyz", without) == (200, "ok\n")


async def test_mutual_tls_refuses_a_certificate_from_another_ca(
    tmp_path: Path, ca: Authority, mtls_server: ConnectorServer
) -> None:
    stranger = Authority(tmp_path, name="Other CA").client(name="idm")
    untrusted = tls_context(cafile=ca.cert, certfile=stranger.cert, keyfile=stranger.key)
    with pytest.raises(ConnectionFailedException):
        await RcsClient.connect(mtls_server.url, KEY, ssl=untrusted)
    assert mtls_server.connections == {}


async def test_the_client_command_speaks_mutual_tls(
    ca: Authority, mtls_server: ConnectorServer
) -> None:
    idm = ca.client()
    base = [*command("hubspot-rcs-client"), "--url", mtls_server.url, "--cacert", str(ca.cert)]
    env = os.environ | {"RCS_KEY": KEY}

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *base, *args, "info", env=env, stdout=-1, stderr=-1
        )
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    status, out, _ = await run("--cert", str(idm.cert), "--cert-key", str(idm.key))
    assert status == 0 and "MemoryConnector" in out
    status, _, err = await run()
    assert status == 1 and "client certificate" in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tls_cert_file": None}, "set connectorserver.tlsCertFile"),
        ({"tls_key_file": Path("missing.key")}, "missing.key"),
        ({"tls_client_ca_file": Path("missing-ca.pem")}, "client CA file"),
        ({"use_ssl": False}, "mutual TLS needs TLS"),
    ],
)
def test_tls_settings_that_cannot_work_stop_the_start(
    ca: Authority, server_cert: Issued, change: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "use_ssl": True,
        "tls_cert_file": server_cert.cert,
        "tls_key_file": server_cert.key,
        "tls_client_ca_file": ca.cert,
    }
    values.update(change)
    with pytest.raises(ConfigurationException, match=message):
        ConnectorServer(settings(**values), registry(), {})


async def test_the_container_probe_works_under_mutual_tls(
    tmp_path: Path, ca: Authority, server_cert: Issued, mtls_server: ConnectorServer
) -> None:
    (tmp_path / "ConnectorServer.properties").write_text(
        f"connectorserver.key={mtls_server.settings.key_hash}\n"
        "connectorserver.usessl=true\n"
        f"connectorserver.tlsCertFile={server_cert.cert}\n"
        f"connectorserver.tlsKeyFile={server_cert.key}\n"
        f"connectorserver.tlsClientCaFile={ca.cert}\n"
    )
    for probe in ([], ["--ready"]):
        process = await asyncio.create_subprocess_exec(
            *command("hubspot-rcs"), "health", "--conf", str(tmp_path), *probe,
            env=os.environ | {"RCS_PORT": str(mtls_server.port)},
            stderr=-1,
        )  # fmt: skip
        _, err = await process.communicate()
        assert process.returncode == 0, err.decode()


def test_serve_refuses_to_start_on_a_key_that_is_not_the_certificates(
    tmp_path: Path, ca: Authority, server_cert: Issued
) -> None:
    other = ca.client()
    (tmp_path / "ConnectorServer.properties").write_text(
        f"connectorserver.port=0\nconnectorserver.key={settings().key_hash}\n"
        "connectorserver.usessl=true\n"
        f"connectorserver.tlsCertFile={server_cert.cert}\n"
        f"connectorserver.tlsKeyFile={other.key}\n"
    )
    result = subprocess.run(
        [*command("hubspot-rcs"), "serve", "--conf", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "ConfigurationException" in result.stderr and "KEY_VALUES_MISMATCH" in result.stderr
    assert "server.listening" not in result.stdout
