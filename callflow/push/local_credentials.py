"""Key material of the local APNs endpoint, generated once under the state dir and reused.

Three things, mirroring what a real deployment has: a CA the sender trusts (APNs' servers are
signed by a public CA; ours by this one), the endpoint's TLS certificate for 127.0.0.1/localhost,
and an EC P-256 token-signing key in Apple's `.p8` format with a key id and team id. The endpoint
and the worker may be separate processes, so both call `ensure_local_credentials(state_dir)` and
read the same files; generation is serialised with a file lock and files are replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import json
import os
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_VOIP_TOPIC = "app.callflow.ios.voip"
_CERT_DAYS = 365
_RENEW_BEFORE = dt.timedelta(days=7)
_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class LocalApnsCredentials:
    ca_file: Path  # PEM; what a sender trusts
    cert_file: Path  # the endpoint's certificate (PEM)
    cert_key_file: Path  # the endpoint's TLS private key (PEM)
    signing_key_pem: str  # `.p8` content the sender signs provider tokens with
    key_id: str  # 10 characters, like Apple's key ids
    team_id: str  # 10 characters, like Apple's team ids

    def public_signing_key(self) -> ec.EllipticCurvePublicKey:
        key = serialization.load_pem_private_key(self.signing_key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the local APNs signing key is not an EC key")
        return key.public_key()


def ensure_local_credentials(state_dir: Path) -> LocalApnsCredentials:
    """Load the local APNs key material from `state_dir/apns`, creating what is missing."""
    folder = state_dir / "apns"
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / ".lock"):
        ca_key_file, ca_file = folder / "ca.key", folder / "ca.pem"
        if not (ca_key_file.exists() and ca_file.exists()) or _expiring(ca_file):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            _write(ca_key_file, _private_pem(ca_key))
            _write(ca_file, _make_ca(ca_key).public_bytes(serialization.Encoding.PEM))
        cert_key_file, cert_file = folder / "server.key", folder / "server.pem"
        if (
            not (cert_key_file.exists() and cert_file.exists())
            or _expiring(cert_file)
            or not _issued_by(cert_file, ca_file)
        ):
            server_key = ec.generate_private_key(ec.SECP256R1())
            ca_key_loaded = serialization.load_pem_private_key(
                ca_key_file.read_bytes(), password=None
            )
            assert isinstance(ca_key_loaded, ec.EllipticCurvePrivateKey)
            ca_cert = x509.load_pem_x509_certificate(ca_file.read_bytes())
            cert = _make_server_cert(server_key, ca_key_loaded, ca_cert)
            _write(cert_key_file, _private_pem(server_key))
            _write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        signing_file, identity_file = folder / "AuthKey.p8", folder / "identity.json"
        if not signing_file.exists() or not identity_file.exists():
            _write(signing_file, _private_pem(ec.generate_private_key(ec.SECP256R1())))
            identity = {"key_id": _random_id(), "team_id": _random_id()}
            _write(identity_file, json.dumps(identity).encode())
        identity = json.loads(identity_file.read_text())
        return LocalApnsCredentials(
            ca_file=ca_file,
            cert_file=cert_file,
            cert_key_file=cert_key_file,
            signing_key_pem=signing_file.read_text(),
            key_id=identity["key_id"],
            team_id=identity["team_id"],
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, data: bytes) -> None:
    # Private keys live here too: owner-only, and atomically so a reader never sees half a file.
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 PEM is exactly the format of the `.p8` files Apple hands out.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _random_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expiring(cert_file: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return cert.not_valid_after_utc - _RENEW_BEFORE < _now()


def _issued_by(cert_file: Path, ca_file: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _make_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callflow local APNs CA")])
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CERT_DAYS * 5))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_server_cert(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
