"""Credentials in device URLs and the `[sync]` section never reach what the station prints or shows:
`station config check`, `station doctor` and the sync part of `/health`."""

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from station.adapters.scanners import ScannerBank
from station.adapters.sync_runner import SyncRunner
from station.cli import main

SECRET = "hunter2"
CAMERA = f"rtsp://admin:{SECRET}@10.0.0.5:554/Streaming/Channels/101?token={SECRET}"
CAMERA_SHOWN = "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101?token=***"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A station whose camera, scanner and broker all carry the same password."""
    monkeypatch.delenv("STATION_CONFIG", raising=False)
    for name, value in {
        "STATION_DATA": str(tmp_path),
        "STATION_DEVICES__CAMERA": CAMERA,
        "STATION_DEVICES__SCANNERS": json.dumps([f"sim://scan:{SECRET}@s1"]),
        "STATION_DEVICES__CONTROLLER": "",
        "STATION_DEVICES__PRINTER": f"tcp://10.0.0.7:9100?key={SECRET}",
        "STATION_SYNC__BROKER": "127.0.0.1",
        "STATION_SYNC__PORT": str(_free_port()),  # nothing listens there
        "STATION_SYNC__USERNAME": "station-7",
        "STATION_SYNC__PASSWORD": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_config_check_shows_every_url_redacted(
    configured: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out = _run(capsys, "config", "check")
    assert code == 0, out
    effective = json.loads(out)
    assert effective["devices"]["camera"] == CAMERA_SHOWN
    assert effective["devices"]["scanners"] == ["sim://scan:***@s1"]
    assert effective["devices"]["printer"] == "tcp://10.0.0.7:9100?key=***"
    assert effective["sync"]["username"] == "station-7"
    assert SECRET not in out
    assert SECRET not in caplog.text


def test_doctor_names_each_device_without_its_password(
    configured: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out = _run(capsys, "doctor")
    assert code == 1  # no database yet, broker unreachable
    assert f"[ok] camera     {CAMERA_SHOWN}" in out
    assert "[ok] printer    tcp://10.0.0.7:9100?key=***" in out
    assert "NOT reachable" in out
    assert SECRET not in out
    assert SECRET not in caplog.text


class _Agent:
    """Stands in for the sync agent: only its health is read while it is not running."""

    def health(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "broker": f"mqtts://station-7:{SECRET}@hub.example:8883",
            "broker_connected": False,
            "last_error": f"cannot connect to mqtts://station-7:{SECRET}@hub.example:8883: refused",
        }


def test_sync_health_redacts_a_broker_url_and_errors_quoting_it() -> None:
    health = SyncRunner(_Agent()).health()  # type: ignore[arg-type]
    assert health["broker"] == "mqtts://station-7:***@hub.example:8883"
    assert health["ok"] is False
    assert SECRET not in json.dumps(health)


def test_a_scanner_url_with_credentials_names_no_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = tmp_path / "script.txt"
    script.write_text("OP-001\n")
    bank = ScannerBank([f"sim://admin:hunter2@B01-gun?script={script}"])
    caplog.set_level("INFO")

    async def start_and_stop() -> None:
        await bank.start(lambda _scan: None)
        await bank.stop()

    asyncio.run(start_and_stop())
    assert list(bank.connected()) == ["B01-gun"]  # named by its host part, without the credentials
    assert "hunter2" not in caplog.text
