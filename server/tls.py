"""TLS for the listener, and what a connection's client certificate says (docs/hardening.md §B2)."""

from __future__ import annotations

import ssl
from typing import Final

from websockets.asyncio.server import ServerConnection

from protocol.errors import ConfigurationException
from server.settings import ServerSettings

TLS_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 suites: forward secret, AEAD only (hypercorn's choice plus ChaCha20 for CPUs without
AES instructions). TLS 1.3 suites are all of that kind and are not affected by this list."""


def ssl_context(settings: ServerSettings) -> ssl.SSLContext | None:
    """TLS as hypercorn builds it (docs/hardening.md §A5, §B2): TLS 1.2 at least, modern
    ciphers, no TLS compression (CRIME). With a client CA, mutual TLS.

    Mutual TLS asks every client for a certificate and refuses a presented one that the CA did
    not sign during the handshake. A client that presents none completes the handshake
    (`CERT_OPTIONAL`), and `process_request` refuses it with 403 on every path but the probes:
    a platform's HTTPS probe carries no client certificate, and a peer that forgot its
    certificate reads "client certificate required" instead of a reset connection.
    """
    cert, key, ca = settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    if not settings.use_ssl:
        if ca is not None:
            raise ConfigurationException(
                "connectorserver.tlsClientCaFile is set but connectorserver.usessl is not: "
                "mutual TLS needs TLS"
            )
        return None
    if cert is None or key is None:
        raise ConfigurationException(
            "connectorserver.usessl is true: set connectorserver.tlsCertFile and "
            "connectorserver.tlsKeyFile"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationException(
            f"cannot load the TLS certificate {cert} with its key {key}: {_reason(exc)}"
        ) from None
    if ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            context.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationException(
                f"cannot load the client CA file {ca}: {_reason(exc)}"
            ) from None
    return context


def _reason(exc: OSError) -> str:
    """`KEY_VALUES_MISMATCH`, `No such file or directory`: the words, not the errno."""
    return str(getattr(exc, "reason", None) or exc.strerror or exc)


def has_client_certificate(connection: ServerConnection, settings: ServerSettings) -> bool:
    """Under mutual TLS, whether the peer presented a certificate (the handshake verified it)."""
    if settings.tls_client_ca_file is None:
        return True
    tls = connection.transport.get_extra_info("ssl_object")
    return tls is not None and bool(tls.getpeercert())


def client_subject(connection: ServerConnection) -> str | None:
    """The commonName of a verified client certificate, for the connection's log line."""
    tls = connection.transport.get_extra_info("ssl_object")
    certificate = tls.getpeercert() if tls is not None else None
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return "?"
