"""TLS for the server: a certificate and key (``--ssl``) or a self-signed pair (``--ssl-auto``).

``TlsCredentials`` checks the files once, up front, and says which file is wrong and how
(missing, not PEM, encrypted without the right password, a key that is not the
certificate's); then it gives each transport what it needs: an ``ssl.SSLContext`` for the
WebSocket server (wss, and https for the page on the same port) and gRPC's server
credentials. ``self_signed`` makes a certificate for this machine's names once and reuses
it from the user's cache folder, as NanoVer's ``--ssl-auto`` does; clients must be told to
trust it (``client_context(ca_file=...)``, or ``SSL_CERT_FILE`` for NanoVer's client).

    credentials = TlsCredentials.load("cert.pem", "key.pem")      # or self_signed()
    server = CosteerServer(simulations, tls=credentials)            # wss://host:38801
    context = client_context(ca_file="cert.pem")                   # for NanoverSession.connect
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

__all__ = ["TlsCredentials", "TlsError", "self_signed", "make_self_signed", "client_context", "cache_folder", "LOCAL_NAMES"]

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
"""Names every self-signed certificate covers."""
SELF_SIGNED_DAYS = 825
"""How long a self-signed certificate lasts (the most Apple's clients accept)."""
RENEW_BEFORE = datetime.timedelta(days=7)
"""A cached self-signed certificate this close to expiry is made anew."""

_log = logging.getLogger(__name__)


class TlsError(ValueError):
    """A certificate or key cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class TlsCredentials:
    """A checked certificate chain and private key, as PEM bytes (the key unencrypted, in memory).

        credentials = TlsCredentials.load(cert, key, password)
        context = credentials.server_context()
    """

    certificate_file: Path
    key_file: Path
    certificate_pem: bytes = field(repr=False)
    """The chain as read (leaf first)."""
    key_pem: bytes = field(repr=False)
    """The private key, decrypted (gRPC takes no password)."""
    password: str | None = field(default=None, repr=False)
    """The key file's password, for ``ssl`` (which reads the files itself)."""

    @classmethod
    def load(cls, certificate: str | os.PathLike, key: str | os.PathLike, password: str | None = None, *, option: str = "--ssl") -> "TlsCredentials":
        """Read and check the pair; raises ``TlsError`` naming the file that is wrong."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        certificate_file, key_file = Path(certificate), Path(key)
        certificate_pem = _read(certificate_file, "certificate", option)
        key_data = _read(key_file, "private key", option)
        try:
            chain = x509.load_pem_x509_certificates(certificate_pem)
        except ValueError:
            raise TlsError(
                f"{option}: {certificate_file} is not a PEM certificate (a text file starting '-----BEGIN CERTIFICATE-----'); "
                f"convert a DER one with: openssl x509 -inform der -in {certificate_file} -out cert.pem"
            ) from None
        secret = None if password is None else password.encode()
        try:
            private_key = serialization.load_pem_private_key(key_data, password=secret)
        except TypeError:
            if password is None:
                raise TlsError(f"{option}: the private key {key_file} is encrypted: give its password after the key file") from None
            raise TlsError(f"{option}: the private key {key_file} is not encrypted: leave out the password") from None
        except ValueError:
            if password is not None and b"ENCRYPTED" in key_data:
                raise TlsError(f"{option}: the password does not decrypt the private key {key_file}") from None
            raise TlsError(
                f"{option}: {key_file} is not a PEM private key (a text file starting '-----BEGIN ... PRIVATE KEY-----')"
            ) from None
        if _public_der(private_key.public_key()) != _public_der(chain[0].public_key()):
            raise TlsError(f"{option}: the private key {key_file} does not belong to the certificate {certificate_file}")
        key_pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        expires = chain[0].not_valid_after_utc
        if expires < datetime.datetime.now(datetime.timezone.utc):
            _log.warning("the certificate %s expired on %s: clients will refuse it", certificate_file, expires.date())
        return cls(certificate_file, key_file, certificate_pem, key_pem, password)

    def server_context(self) -> ssl.SSLContext:
        """A server-side ``SSLContext`` (TLS 1.2 or later) holding the certificate and key."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate_file, self.key_file, password=self.password)
        return context

    def grpc_credentials(self) -> Any:
        """``grpc.ssl_server_credentials`` for the gRPC port (needs the grpc extra)."""
        import grpc

        return grpc.ssl_server_credentials([(self.key_pem, self.certificate_pem)])


def _public_der(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: Path, what: str, option: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(f"{option}: the {what} file {path} does not exist") from None
    except IsADirectoryError:
        raise TlsError(f"{option}: {path} is a folder; give the {what} file") from None
    except PermissionError:
        raise TlsError(f"{option}: cannot read the {what} file {path} (permission denied)") from None


def cache_folder() -> Path:
    """Where ``self_signed`` keeps its pair: ``$XDG_CACHE_HOME/costeer/tls`` (``~/.cache/costeer/tls``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "costeer" / "tls"


def self_signed(hosts: Iterable[str] = (), *, folder: Path | None = None) -> TlsCredentials:
    """``--ssl-auto``: the cached self-signed pair when it covers ``hosts`` and is not about to
    expire, else a new one (for ``LOCAL_NAMES``, this machine's name and ``hosts``)."""
    folder = cache_folder() if folder is None else folder
    certificate_file, key_file = folder / "costeer-self-signed-cert.pem", folder / "costeer-self-signed-key.pem"
    wanted = {*LOCAL_NAMES, socket.gethostname(), *(host for host in hosts if host not in ("", "0.0.0.0", "::"))}
    if not _covers(certificate_file, wanted):
        make_self_signed(certificate_file, key_file, hosts=sorted(wanted))
        _log.info("made a self-signed certificate for %s: %s", ", ".join(sorted(wanted)), certificate_file)
    return TlsCredentials.load(certificate_file, key_file, option="--ssl-auto")


def _covers(certificate_file: Path, hosts: set[str]) -> bool:
    """Whether the certificate there names every host and lasts a while yet."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    covered = {*names.get_values_for_type(x509.DNSName), *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))}
    fresh = certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc) > RENEW_BEFORE
    return fresh and {_canonical(host) for host in hosts} <= covered


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def make_self_signed(certificate_file: Path, key_file: Path, *, hosts: Iterable[str] = LOCAL_NAMES, days: int = SELF_SIGNED_DAYS) -> None:
    """Write a new self-signed certificate for ``hosts`` (names and IP addresses) and its key
    (unencrypted, readable by the owner only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    hosts = list(hosts)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "costeer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def client_context(ca_file: str | os.PathLike | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client ``SSLContext`` for wss: the system's trusted CAs, plus ``ca_file`` (a server's
    self-signed certificate, say); ``verify=False`` accepts any certificate (encrypted, but
    anyone on the path can pose as the server: for trying things out only)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=os.fspath(ca_file))
        except FileNotFoundError:
            raise TlsError(f"the CA file {ca_file} does not exist") from None
        except ssl.SSLError as error:
            raise TlsError(f"{ca_file} holds no PEM certificate to trust ({error.reason})") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
