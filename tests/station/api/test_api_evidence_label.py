"""The evidence bundle of a labelled order holds the label as it was printed, signed with the rest."""

import io
import zipfile
from pathlib import Path

from apikit import ADMIN, ORDER
from fastapi.testclient import TestClient
from videokit import CAMERA, wait

from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.printing.queue import label_printed
from station.video.evidence import verify_bundle


def test_the_bundle_carries_the_printed_label(tmp_path: Path) -> None:
    environ = {
        "STATION_DATA": str(tmp_path),
        "STATION_DEVICES__SCANNERS": "[]",
        "STATION_DEVICES__CONTROLLER": "",
        "STATION_DEVICES__CAMERA": CAMERA,
        "STATION_DEVICES__PRINTER": "sim://",
        "STATION_VIDEO__SEGMENT_S": "2",
        "STATION_VIDEO__RETENTION_MIN_FREE_BYTES": "0",
    }
    station = Station.build(load_settings(None, environ=environ))
    store = station.store
    add_operator(store, "OP-001", "李四", Role.PACKER, ADMIN)
    intake_order(store, ORDER, ADMIN)
    bench = {"Authorization": f"Bearer {create_token(store, ApiRole.BENCH, 'b', ADMIN, 'B01')[1]}"}
    supervisor = {"Authorization": f"Bearer {create_token(store, ApiRole.SUPERVISOR, 's', ADMIN)[1]}"}
    order_id = str(ORDER["order_id"])
    with TestClient(station.api) as client:
        wait(lambda: station.camera is not None and station.camera.recorder.latest_frame() is not None)

        def scan(code: str, device: str = "scanner-1") -> dict[str, object]:
            body = {"code": code, "device": device}
            answer: dict[str, object] = client.post("/api/v1/benches/B01/scans", json=body, headers=bench).json()
            return answer

        assert scan("OP-001")["outcome"] == "accepted"
        assert scan(order_id)["outcome"] == "accepted"
        scan("FOOD-2KG-BAG")
        assert scan("FOOD-2KG-BAG", "scanner-2")["status"] == "packed"
        wait(lambda: label_printed(store, order_id))  # auto-print, confirmed by the simulated printer
        assert scan("SF1234567890123")["status"] == "labeled"
        bundle = client.get(f"/api/v1/orders/{order_id}/evidence", headers=supervisor)
        assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as zf:
        label = zf.read("label.png")
    assert label.startswith(b"\x89PNG")
    report = verify_bundle(bundle.content)
    assert report.ok, report.problems
    assert "label.png" in report.files  # listed in the signed manifest
