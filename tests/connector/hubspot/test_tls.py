"""What counts as self-signed, and the contexts the flags make."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.tls import is_self_signed, ssl_context
from tests.server.certificates import self_signed

BASE = {"clientId": "id", "clientSecret": "s", "refreshToken": "r"}


def certificate(
    subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_self_signed_certificate_is_recognised(tmp_path: Path) -> None:
    cert_file = self_signed(tmp_path, "example.test").cert
    assert is_self_signed(ssl.PEM_cert_to_DER_cert(cert_file.read_text()))


def test_certificates_issued_by_another_are_not_self_signed() -> None:
    key, ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    assert not is_self_signed(certificate("leaf.test", "ca.test", key, ca_key))
    # Issuer named as itself, but signed by another key: a forgery, not self-signed.
    assert not is_self_signed(certificate("leaf.test", "leaf.test", key, ca_key))


def test_default_context_verifies_chain_and_host() -> None:
    context = ssl_context(HubspotConfiguration.from_properties(BASE))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_disabling_the_host_check_keeps_the_chain_check() -> None:
    config = HubspotConfiguration.from_properties(BASE | {"disableHostNameVerifier": "true"})
    context = ssl_context(config)
    assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname
