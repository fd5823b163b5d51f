"""HTTPS served by the station itself: the certificate and key of `[api] tls_cert`/`tls_key`, checked and loaded
into a server context before anything starts (`load_tls`), and the HSTS header on every answer over it.

The files are read with `cryptography` first, only to say in one line what is wrong with them (OpenSSL says
"PEM lib" for a missing certificate, a garbled key and a certificate given as the key alike); the context itself
is then OpenSSL's, loaded from the same files. `cryptography` (~10 MB) is imported only then: a station without
TLS never loads it (tests/station/test_app_imports.py).
"""

import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station.api.settings import ApiSettings

if TYPE_CHECKING:
    from cryptography import x509

logger = logging.getLogger(__name__)

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
# A year, and no includeSubDomains: the station's name may sit under the warehouse's own domain, whose other hosts
# are none of the station's business. Browsers ignore the header over plain HTTP, and the station never sends it so.
HSTS_VALUE = "max-age=31536000"


class TlsError(Exception):
    """The certificate or key cannot be served with; the message is the one line to show."""


@dataclass(frozen=True)
class ServerTls:
    """A checked certificate and key, ready for the server: the context, and what to tell the operator."""

    context: ssl.SSLContext
    fingerprint: str  # SHA-256 of the certificate, as browsers show it (AB:CD:...)
    not_after: datetime


def fingerprint(cert: "x509.Certificate") -> str:
    """The certificate's SHA-256 fingerprint in colon-separated upper-case hex (what browsers and openssl show)."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - lazy, as above

    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def load_tls(api: ApiSettings) -> ServerTls | None:
    """The server TLS of `[api]`, or None when it serves plain HTTP. Raises TlsError for a file that cannot be
    read, is not a PEM certificate or unencrypted key, or a key that is not the certificate's."""
    if api.tls_cert is None or api.tls_key is None:
        return None
    return server_tls(api.tls_cert, api.tls_key)


def server_tls(cert_path: Path, key_path: Path) -> ServerTls:
    """Check `cert_path` and `key_path` and load them into a server context (TLS 1.2 at least, HTTP/1.1)."""
    from cryptography import x509  # noqa: PLC0415 - lazy: only a station that serves HTTPS needs it
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    cert_pem = _read(cert_path, "tls_cert")
    key_pem = _read(key_path, "tls_key")
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]  # the server's own first, its chain after it
    except ValueError:
        raise TlsError(f"[api] tls_cert {cert_path}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # a password-protected key: nobody is there to type the password at boot
        raise TlsError(f"[api] tls_key {key_path}: the key is encrypted; the station needs it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsError(f"[api] tls_key {key_path}: not a PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise TlsError(f"[api] tls_key {key_path} does not match the certificate {cert_path}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.set_alpn_protocols(["http/1.1"])  # uvicorn speaks HTTP/1.1 only
    try:
        context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as err:  # e.g. a key type this OpenSSL refuses
        raise TlsError(f"[api] tls_cert {cert_path}, tls_key {key_path}: cannot be used: {err}") from None
    if key_path.stat().st_mode & 0o077:
        logger.warning("the TLS key %s can be read by other users: chmod 600 it", key_path)
    return ServerTls(context, fingerprint(cert), cert.not_valid_after_utc)


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise TlsError(f"[api] {key} {path}: cannot read it: {err.strerror or err}") from None


def log_certificate(tls: ServerTls, now: datetime | None = None) -> None:
    """Say which certificate is served (its fingerprint is what a PDA's operator compares), warning when expired."""
    now = now or datetime.now(UTC)
    until = tls.not_after.strftime("%Y-%m-%d %H:%M UTC")
    if tls.not_after <= now:
        logger.warning("the TLS certificate %s EXPIRED on %s: clients will refuse it", tls.fingerprint, until)
    else:
        logger.info("TLS certificate SHA-256 %s, valid until %s", tls.fingerprint, until)


class StrictTransportSecurity:
    """ASGI middleware: `Strict-Transport-Security` on every HTTP answer (pages, API, errors, streams).

    Plain ASGI rather than `BaseHTTPMiddleware`, so long-polls and clip downloads stream through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the header to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])  # optional in ASGI
                MutableHeaders(scope=message)["strict-transport-security"] = HSTS_VALUE
            await send(message)

        await self.app(scope, receive, send_with_hsts)
