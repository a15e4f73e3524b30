"""TLS towards HubSpot: verified by default; each relaxing flag does exactly what it says.

- By default the certificate chain is verified against the system's trust store and the
  certificate must name the host.
- `acceptSelfSignedCertificates`: when the server presents a *self-signed* certificate (one that
  is its own issuer and signed by its own key), that certificate alone is trusted for this
  configuration. The host name is still checked. Any other untrusted chain is still refused.
  Python's `ssl` has no verification callback, so the connector reads the certificate once
  (through the proxy, when there is one), checks that it is self-signed, and adds it to the
  session's trust store. A certificate changed later is refused until the configuration is
  reloaded.
- `disableHostNameVerifier`: the certificate need not name the host; the chain is still verified.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from connector.hubspot.configuration import HubspotConfiguration
from protocol.errors import ConnectionFailedException

_PROBE_TIMEOUT_S = 10.0


def ssl_context(config: HubspotConfiguration, *, trusted_pem: str | None = None) -> ssl.SSLContext:
    """The context for HubSpot's connections; `trusted_pem` is a pinned self-signed cert."""
    context = ssl.create_default_context()
    if trusted_pem is not None:
        context.load_verify_locations(cadata=trusted_pem)
        # A self-signed leaf is its own trust anchor.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if config.disableHostNameVerifier:
        context.check_hostname = False
    return context


def is_self_signed(der: bytes) -> bool:
    """Whether a certificate is its own issuer and carries a valid signature by its own key."""
    cert = x509.load_der_x509_certificate(der)
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


async def fetch_certificate(config: HubspotConfiguration) -> bytes:
    """The DER certificate the server at `apiBaseUrl` presents, through the proxy if any.

    Nothing is sent over this connection but the TLS handshake (and the proxy's CONNECT).
    """
    parts = urlsplit(config.base_url)
    host = parts.hostname or ""
    port = parts.port or 443
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # read only; trust is decided by `is_self_signed`
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            if config.httpProxyHost is None:
                _, writer = await asyncio.open_connection(
                    host, port, ssl=probe, server_hostname=host
                )
            else:
                reader, writer = await asyncio.open_connection(
                    config.httpProxyHost, config.httpProxyPort or 80
                )
                target = f"{host}:{port}"
                writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
                await writer.drain()
                status_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                if b" 200" not in status_line:
                    raise ConnectionFailedException("the HTTP proxy refused to open a tunnel")
                await writer.start_tls(probe, server_hostname=host)
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    except (OSError, TimeoutError) as exc:
        raise ConnectionFailedException(
            f"could not read HubSpot's TLS certificate: {type(exc).__name__}"
        ) from None
    finally:
        if writer is not None:
            writer.close()
    if not der:
        raise ConnectionFailedException("HubSpot presented no TLS certificate")
    return bytes(der)


async def pinned_self_signed(config: HubspotConfiguration) -> str | None:
    """The PEM to trust when `acceptSelfSignedCertificates` is on and the server's certificate
    is self-signed; None otherwise (normal verification applies)."""
    if not config.acceptSelfSignedCertificates or urlsplit(config.base_url).scheme != "https":
        return None
    der = await fetch_certificate(config)
    return ssl.DER_cert_to_PEM_cert(der) if is_self_signed(der) else None
