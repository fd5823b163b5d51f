"""A station's guard devices belong to its bench: a token for another bench cannot pack there without the
photo, weight and label guards — its scans are refused (`bench_not_configured`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ADMIN, ORDER
from fastapi.testclient import TestClient

from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator


def _station(tmp_path: Path, **devices: str) -> Station:
    environ = {"STATION_DATA": str(tmp_path), "STATION_DEVICES__SCANNERS": "[]", "STATION_DEVICES__CONTROLLER": ""}
    environ |= {f"STATION_DEVICES__{key.upper()}": value for key, value in devices.items()}
    station = Station.build(load_settings(None, environ=environ))
    add_operator(station.store, "OP-001", "李四", Role.PACKER, ADMIN)
    intake_order(station.store, ORDER, ADMIN)
    return station


def _scan(client: TestClient, station: Station, bench: str, code: str) -> dict[str, object]:
    token = create_token(station.store, ApiRole.BENCH, f"t-{bench}-{code}", ADMIN, bench)[1]
    response = client.post(f"/api/v1/benches/{bench}/scans", json={"code": code, "device": "s1"},
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[TestClient, Station]]:
    station = _station(tmp_path, printer="sim://")
    with TestClient(station.api) as client:
        yield client, station


def test_another_bench_of_a_guarded_station_is_refused(guarded: tuple[TestClient, Station]) -> None:
    client, station = guarded
    refused = _scan(client, station, "B02", "OP-001")
    answer = (refused["outcome"], refused["reason"], refused["feedback"])
    assert answer == ("refused", "bench_not_configured", "blocked")
    assert _scan(client, station, "B02", str(ORDER["order_id"]))["reason"] == "bench_not_configured"
    assert _scan(client, station, "B01", "OP-001")["outcome"] == "accepted"  # the station's own bench works


def test_a_station_without_guard_devices_serves_any_bench(tmp_path: Path) -> None:
    station = _station(tmp_path)
    with TestClient(station.api) as client:
        assert _scan(client, station, "B02", "OP-001")["outcome"] == "accepted"
