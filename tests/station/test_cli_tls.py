"""`station tls self-signed` and `station run` over HTTPS: the key and certificate written for a first install,
a real station serving HTTPS with them on the loopback (HSTS, Secure cookie, no plain HTTP), and certificates or
keys that cannot be served with refused in one line before anything starts."""

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from stationproc import clean_env, free_port, run_to_exit, station_cmd

from station import cli
from station.api.tls import MINIMUM_VERSION, server_tls
from station.cli_tls import self_signed, subject_names

PASSWORD = "correct horse battery staple"
HSTS = "max-age=31536000"


def _self_signed(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_to_exit(["tls", "self-signed", *extra], clean_env(STATION_DATA=str(data)))


def _config_lines(stdout: str) -> dict[str, str]:
    """The `[api]` lines `station tls self-signed` says to add, parsed as TOML."""
    block = stdout[stdout.index("[api]\n") :].split("\n")[:3]
    parsed: dict[str, str] = tomllib.loads("\n".join(block))["api"]
    return parsed


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process verbs use `tmp_path/data` (and nothing of the caller's STATION_ environment)."""
    for name in [n for n in os.environ if n.startswith("STATION_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("STATION_DATA", str(tmp_path / "data"))


def test_the_files_the_fingerprint_and_the_config_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_umask = os.umask(0)
    try:
        code = cli.main(["tls", "self-signed", "--host", "192.168.1.20", "--host", "Bench-01.wh1.lan", "--days", "30"])
    finally:
        os.umask(old_umask)
    out = capsys.readouterr().out
    assert code == 0, out
    tls = (tmp_path / "data" / "tls").absolute()
    cert_path, key_path = tls / "station.crt", tls / "station.key"
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert tls.stat().st_mode & 0o777 == 0o700
    assert _config_lines(out) == {"tls_cert": str(cert_path), "tls_key": str(key_path)}
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in san] == [str(n.value) for n in subject_names(["192.168.1.20", "bench-01.wh1.lan"])]
    assert {"192.168.1.20", "bench-01.wh1.lan", "127.0.0.1", "localhost"} <= {str(n.value) for n in san}
    assert 29 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 30
    fingerprint = ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
    assert f"SHA-256 fingerprint: {fingerprint}\n" in out
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)  # unencrypted, and the cert's
    assert key.public_key() == cert.public_key()


def test_self_signed_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tls", "self-signed"]) == 0
    cert_path = (tmp_path / "data" / "tls" / "station.crt").absolute()
    key_path = cert_path.with_name("station.key")
    first = cert_path.read_bytes(), key_path.read_bytes()
    capsys.readouterr()
    assert cli.main(["tls", "self-signed", "--host", "other"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        f"station: {cert_path} already exists; --force replaces it (and every device that trusts the old "
        "certificate must then be given the new one)\n"
    )
    assert (cert_path.read_bytes(), key_path.read_bytes()) == first
    key_path.chmod(0o644)
    assert cli.main(["tls", "self-signed", "--force"]) == 0
    assert (cert_path.read_bytes(), key_path.read_bytes()) != first
    assert key_path.stat().st_mode & 0o777 == 0o600  # tightened on the way


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--host", "a b"], "station: --host 'a b': not an IP address nor a host name\n"),
        (["--host", "999.1.1.1"], "station: --host '999.1.1.1': not an IP address nor a host name\n"),
        (["--days", "0"], "station: --days 0: out of range (use 1-3650)\n"),
        (["--no-defaults"], "station: no name for the certificate: give --host NAME\n"),
    ],
)
def test_self_signed_refuses_a_bad_name_or_validity(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["tls", "self-signed", *argv]) == cli.EXIT_BAD_USAGE
    assert capsys.readouterr().err == says
    assert not (tmp_path / "data" / "tls").exists()


def _pair(directory: Path, name: str = "station") -> tuple[Path, Path]:
    key, cert = self_signed([x509.DNSName("localhost")], "test", days=1)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_the_server_context_is_tls_1_2_at_least(tmp_path: Path) -> None:
    context = server_tls(*_pair(tmp_path)).context
    assert context.minimum_version == MINIMUM_VERSION == ssl.TLSVersion.TLSv1_2


def _bad_config(tmp_path: Path, case: str) -> tuple[dict[str, str], str]:
    """`[api]` keys for `case` and the first line `station run` says about them."""
    cert, key = _pair(tmp_path)
    _, other_key = _pair(tmp_path, "other")
    encrypted = tmp_path / "encrypted.key"
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    missing = tmp_path / "missing.crt"
    cases = {
        "only cert": ({"tls_cert": str(cert)}, "configuration error:"),
        "only key": ({"tls_key": str(key)}, "configuration error:"),
        "mismatched key": (
            {"tls_cert": str(cert), "tls_key": str(other_key)},
            f"station: [api] tls_key {other_key} does not match the certificate {cert}",
        ),
        "missing cert": (
            {"tls_cert": str(missing), "tls_key": str(key)},
            f"station: [api] tls_cert {missing}: cannot read it: No such file or directory",
        ),
        "unreadable key": (  # a directory: unreadable even for root
            {"tls_cert": str(cert), "tls_key": str(tmp_path)},
            f"station: [api] tls_key {tmp_path}: cannot read it: Is a directory",
        ),
        "key as cert": (
            {"tls_cert": str(key), "tls_key": str(key)},
            f"station: [api] tls_cert {key}: not a PEM certificate",
        ),
        "encrypted key": (
            {"tls_cert": str(cert), "tls_key": str(encrypted)},
            f"station: [api] tls_key {encrypted}: the key is encrypted; the station needs it unencrypted",
        ),
    }
    return cases[case]


BAD = ["only cert", "only key", "mismatched key", "missing cert", "unreadable key", "key as cert", "encrypted key"]


@pytest.mark.parametrize("case", BAD)
def test_run_refuses_an_unusable_certificate_or_key_before_anything_starts(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_serve(*_: object, **__: object) -> None:
        raise AssertionError("the station started")

    monkeypatch.setattr("station.app.serve", must_not_serve)
    keys, says = _bad_config(tmp_path, case)
    config = tmp_path / "station.toml"
    config.write_text("[api]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items()))
    assert cli.main(["run", "-c", str(config), "--port", str(free_port())]) == cli.EXIT_BAD_USAGE
    out = capsys.readouterr()
    assert out.out == ""
    if says == "configuration error:":  # the config loader's own format: its header, then the key at fault
        given, missing = ("tls_cert", "tls_key") if "tls_cert" in keys else ("tls_key", "tls_cert")
        assert out.err == (
            f"configuration error:\n{config}: api: Value error, {given} is set but {missing} is not: set both "
            "(HTTPS) or neither (plain HTTP)\n"
        )
    else:
        assert out.err == says + "\n"
    assert not (tmp_path / "data").exists()  # no data directory, no database: nothing was opened


def test_a_bad_key_is_refused_by_the_real_command_in_one_line(tmp_path: Path) -> None:
    keys, says = _bad_config(tmp_path, "mismatched key")
    env = clean_env(
        STATION_DATA=str(tmp_path / "data"),
        STATION_API__TLS_CERT=keys["tls_cert"],
        STATION_API__TLS_KEY=keys["tls_key"],
    )
    result = run_to_exit(["run", "--port", str(free_port())], env)
    assert result.returncode == cli.EXIT_BAD_USAGE
    assert (result.stdout, result.stderr) == ("", says + "\n")
    assert not (tmp_path / "data").exists()


def _https(port: int, path: str, cafile: Path, body: bytes | None = None) -> tuple[int, http.client.HTTPMessage]:
    """Status and headers of an HTTPS request to the loopback, trusting only `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # as Python 3.13 clients verify by default
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


@contextmanager
def _station_over_https(data: Path, port: int, config: Path, cafile: Path) -> Iterator["subprocess.Popen[str]"]:
    """`station run -c CONFIG` on the loopback, answering HTTPS; killed on the way out if still running."""
    log = data.with_name("run.log").open("w")
    proc = subprocess.Popen(
        [*station_cmd(), "run", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(STATION_DATA=str(data)),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the station exited before it answered"
            try:
                _https(port, "/api/v1/health", cafile)
                break
            except OSError:
                assert time.monotonic() < deadline, f"nothing answered HTTPS on port {port}"
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_run_serves_https_with_the_self_signed_certificate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = _self_signed(data, "--host", "127.0.0.1")
    assert made.returncode == 0, made.stdout + made.stderr
    lines = _config_lines(made.stdout)
    cafile = Path(lines["tls_cert"])
    config = tmp_path / "station.toml"
    config.write_text("[api]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in lines.items()))
    added = subprocess.run(
        [*station_cmd(), "user", "add", "zhao", "--password-stdin"],
        input=PASSWORD + "\n",
        env=clean_env(STATION_DATA=str(data)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    port = free_port()
    with _station_over_https(data, port, config, cafile) as proc:
        # HTTPS, verified against the generated certificate alone (host name 127.0.0.1 from its SubjectAltName)
        status, headers = _https(port, "/api/v1/health", cafile)
        assert status == 401  # up, and asking for credentials
        assert headers["Strict-Transport-Security"] == HSTS
        # a supervisor login through the API: its cookie is Secure
        login = json.dumps({"username": "zhao", "password": PASSWORD}).encode()
        status, headers = _https(port, "/api/v1/auth/login", cafile, body=login)
        assert status == 204
        cookie = [part.strip().lower() for part in headers["Set-Cookie"].split(";")]
        assert cookie[0].startswith("station_session=")
        assert {"secure", "httponly", "samesite=strict"} <= set(cookie)
        assert headers["Strict-Transport-Security"] == HSTS
        # without the certificate a client refuses the station (the check is real, not switched off)
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
        # plain HTTP on the same port gets no answer at all
        with pytest.raises((OSError, http.client.HTTPException)) as no_answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert not isinstance(no_answer.value, urllib.error.HTTPError)  # an HTTP status would be an answer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    log = (tmp_path / "run.log").read_text()
    assert f"serving the API on https://127.0.0.1:{port} " in log
    assert re.search(r"TLS certificate SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}, valid until ", log), log
