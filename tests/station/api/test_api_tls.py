"""What TLS changes in the application (in-process; the real HTTPS server is in tests/station/test_cli_tls.py):
with `[api] tls_cert`/`tls_key` every answer carries HSTS and the session cookie is Secure; without, neither."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ADMIN, PASSWORD
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from station.app import Station
from station.auth import add_user
from station.cli_tls import self_signed
from station.config import load_settings

HSTS = "strict-transport-security"


def _pair(directory: Path) -> tuple[Path, Path]:
    key, cert = self_signed([x509.DNSName("localhost")], "test", days=1)
    cert_path, key_path = directory / "station.crt", directory / "station.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(params=[True, False], ids=["tls", "plain"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, bool]]:
    environ = {"STATION_DATA": str(tmp_path / "data"), "STATION_DEVICES__SCANNERS": "[]"}
    if request.param:
        cert, key = _pair(tmp_path)
        environ |= {"STATION_API__TLS_CERT": str(cert), "STATION_API__TLS_KEY": str(key)}
    station = Station.build(load_settings(None, environ=environ))
    add_user(station.store, "zhao", PASSWORD, ADMIN)
    with TestClient(station.api, base_url="https://testserver") as test_client:
        yield test_client, request.param


@pytest.mark.parametrize(
    "path",
    ["/api/v1/health", "/api/v1/no-such-route", "/login", "/api/v1/openapi.json", "/docs"],
    ids=["api-401", "api-404", "page", "openapi", "docs"],
)
def test_hsts_on_every_answer_only_with_tls(client: tuple[TestClient, bool], path: str) -> None:
    test_client, tls = client
    response = test_client.get(path)
    if tls:
        assert response.headers[HSTS] == "max-age=31536000"
    else:
        assert HSTS not in response.headers


def test_the_session_cookie_is_secure_only_with_tls(client: tuple[TestClient, bool]) -> None:
    test_client, tls = client
    response = test_client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert response.status_code == 204, response.text
    attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert ("secure" in attributes) is tls
    assert "httponly" in attributes  # the other attributes stay as they were
    assert (HSTS in response.headers) is tls
