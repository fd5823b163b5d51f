"""Label routes on a station wired with a sim:// printer: auto-print, the labeled guard, reprint, preview."""

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ADMIN, ORDER, Api
from fastapi.testclient import TestClient

from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator


@pytest.fixture
def printing_api(tmp_path: Path) -> Iterator[Api]:
    settings = load_settings(
        None,
        environ={
            "STATION_DATA": str(tmp_path),
            "STATION_DEVICES__SCANNERS": "[]",
            "STATION_DEVICES__PRINTER": "sim://bench",
            "STATION_PRINTING__CJK": "ci28",
            "STATION_WORKFLOW__BOUNCE_WINDOW_MS": "0",
        },
    )
    station = Station.build(settings)
    tokens = {
        r.value: create_token(station.store, r, f"t-{r.value}", ADMIN, "B01" if r is ApiRole.BENCH else None)[1]
        for r in ApiRole
    }
    add_operator(station.store, "OP-001", "李四", Role.PACKER, ADMIN)
    intake_order(station.store, ORDER, ADMIN)
    with TestClient(station.api) as client:
        yield Api(client, station, tokens)


def scan(api: Api, code: str) -> dict:
    r = api.client.post("/api/v1/benches/B01/scans", json={"code": code, "device": "s1"}, headers=api.headers("bench"))
    assert r.status_code == 200, r.text
    return r.json()


def test_print_label_reprint_preview(printing_api: Api) -> None:
    api = printing_api
    for code in ("OP-001", ORDER["order_id"], "FOOD-2KG-BAG", "FOOD-2KG-BAG"):
        out = scan(api, code)
        assert out["outcome"] == "accepted", out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = api.client.get(f"/api/v1/orders/{ORDER['order_id']}/labels", headers=api.headers("supervisor")).json()
        if jobs and jobs[-1]["state"] == "done":
            break
        time.sleep(0.02)
    assert [j["state"] for j in jobs] == ["done"]
    assert scan(api, "SF1234567890123")["status"] == "labeled"
    r = api.client.post(
        f"/api/v1/orders/{ORDER['order_id']}/label/reprint", json={"reason": "torn"}, headers=api.headers("supervisor")
    )
    assert r.status_code == 202, r.text
    r = api.client.post(
        f"/api/v1/orders/{ORDER['order_id']}/label/reprint", json={"reason": "torn"}, headers=api.headers("bench")
    )
    assert r.status_code == 403
    r = api.client.get(f"/api/v1/orders/{ORDER['order_id']}/label.png", headers=api.headers("supervisor"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    h = api.client.get("/api/v1/health", headers=api.headers("supervisor")).json()
    assert h["parts"]["printer"]["ok"] is True


def test_preview_without_the_renderer_is_a_409_saying_what_to_install(
    printing_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = printing_api
    url = f"/api/v1/orders/{ORDER['order_id']}/label.png"
    monkeypatch.setitem(sys.modules, "zplkit", None)  # as if the optional renderer were not installed: import fails
    r = api.client.get(url, headers=api.headers("supervisor"))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "preview_unavailable"
    assert "packing-station[render]" in body["detail"]
    assert any("pip install 'zplkit" in e for e in body["errors"])
    zh = api.client.get(url, headers=api.headers("supervisor", **{"Accept-Language": "zh-CN"}))
    assert zh.status_code == 409
    assert zh.json()["detail"].startswith("未安装面单预览组件")
    monkeypatch.delitem(sys.modules, "zplkit")  # installed again: the same request renders
    ok = api.client.get(url, headers=api.headers("supervisor"))
    assert ok.status_code == 200, ok.text
    assert ok.content.startswith(b"\x89PNG")


def test_a_reprint_against_the_version_read_is_refused_once_the_order_changed(printing_api: Api) -> None:
    api = printing_api
    url = f"/api/v1/orders/{ORDER['order_id']}"
    for code in ("OP-001", ORDER["order_id"], "CMD:QTY:2", "FOOD-2KG-BAG"):
        assert scan(api, code)["outcome"] == "accepted", code
    read = api.client.get(url, headers=api.headers("supervisor")).headers["etag"]
    deadline = time.monotonic() + 10
    while scan(api, "SF1234567890123")["status"] != "labeled":  # the label scan waits for the printer's word
        assert time.monotonic() < deadline, "the label was never confirmed"
        time.sleep(0.05)
    jobs_before = api.client.get(url + "/labels", headers=api.headers("supervisor")).json()
    stale = api.client.post(
        url + "/label/reprint", json={"reason": "torn"}, headers=api.headers("supervisor", **{"If-Match": read})
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "version_conflict"
    current = stale.headers["etag"]
    assert current != read
    assert api.client.get(url + "/labels", headers=api.headers("supervisor")).json() == jobs_before  # nothing queued
    refusal = api.client.get(url + "/timeline", headers=api.headers("supervisor")).json()["events"][-1]
    assert (refusal["type"], refusal["data"]["action"], refusal["data"]["reason"]) == (
        "action.refused",
        "reprint_label",
        "version_conflict",
    )
    ok = api.client.post(
        url + "/label/reprint", json={"reason": "torn"}, headers=api.headers("supervisor", **{"If-Match": current})
    )
    assert ok.status_code == 202, ok.text
