"""A wired station with a simulated camera, behind FastAPI's TestClient or a real uvicorn server on loopback."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import uvicorn
from apikit import ADMIN, ORDER, PASSWORD
from fastapi.testclient import TestClient

from station.app import Station
from station.auth import ApiRole, add_user, create_token
from station.config import load_settings
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator

CAMERA = "sim://B01?width=320&height=240&fps=10"


def wait(condition: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """Poll until `condition()` is truthy (a wait for background work, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


class VideoStation:
    def __init__(self, client: httpx.Client, station: Station, supervisor: str, bench: str) -> None:
        self.client = client
        self.station = station
        self.sv = {"Authorization": f"Bearer {supervisor}"}
        self.bench = {"Authorization": f"Bearer {bench}"}

    def scan(self, code: str, device: str = "scanner-1") -> dict[str, Any]:
        body = {"code": code, "device": device}
        response = self.client.post("/api/v1/benches/B01/scans", json=body, headers=self.bench)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.station.writer.submit(fn, *args).result()


def _build(tmp_path: Path, camera: str, **video: str) -> tuple[Station, str, str]:
    environ = {
        "STATION_DATA": str(tmp_path),
        "STATION_DEVICES__SCANNERS": "[]",
        "STATION_DEVICES__CONTROLLER": "",
        "STATION_DEVICES__CAMERA": camera,
        "STATION_VIDEO__SEGMENT_S": "2",
        "STATION_VIDEO__PRE_ROLL_S": "1",
        "STATION_VIDEO__POST_ROLL_S": "0.5",
        "STATION_VIDEO__RETENTION_MIN_FREE_BYTES": "0",
        **{f"STATION_VIDEO__{k.upper()}": v for k, v in video.items()},
    }
    station = Station.build(load_settings(None, environ=environ))
    store = station.store
    supervisor = create_token(store, ApiRole.SUPERVISOR, "t-sv", ADMIN)[1]
    bench = create_token(store, ApiRole.BENCH, "t-b01", ADMIN, "B01")[1]
    add_user(store, "zhao", PASSWORD, ADMIN)
    add_operator(store, "OP-001", "李四", Role.PACKER, ADMIN)
    intake_order(store, ORDER, ADMIN)
    return station, supervisor, bench


def video_station(tmp_path: Path, camera: str, **video: str) -> Iterator[VideoStation]:
    """The station behind a TestClient (in-process, no socket)."""
    station, supervisor, bench = _build(tmp_path, camera, **video)
    with TestClient(station.api) as client:
        yield VideoStation(client, station, supervisor, bench)


def served_video_station(tmp_path: Path, camera: str, **video: str) -> Iterator[tuple[VideoStation, str]]:
    """The station served by uvicorn on a free loopback port (for a browser); yields it and its base URL."""
    station, supervisor, bench = _build(tmp_path, camera, **video)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(station.api, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait(lambda: server.started)
        base_url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base_url, timeout=30) as client:
            yield VideoStation(client, station, supervisor, bench), base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def pack_and_label(v: VideoStation) -> None:
    """Log in, open the sample order, verify both units and scan the waybill back (with the camera recording)."""
    assert v.station.video is not None
    wait(lambda: v.station.camera is not None and v.station.camera.recorder.latest_frame() is not None)
    assert v.scan("OP-001")["outcome"] == "accepted"
    assert v.scan(ORDER["order_id"])["outcome"] == "accepted"
    v.scan("FOOD-2KG-BAG")
    packed = v.scan("FOOD-2KG-BAG", device="scanner-2")  # another scanner: not a bounce
    assert packed["status"] == "packed", packed
    assert v.scan("SF1234567890123")["status"] == "labeled"
