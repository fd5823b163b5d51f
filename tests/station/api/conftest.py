"""A wired station (real store in a temp dir, no scanners) behind FastAPI's TestClient, with one token per role."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ADMIN, ORDER, PASSWORD, Api
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright

from station.app import Station
from station.auth import ApiRole, add_user, create_token, revoke_token
from station.config import load_settings
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = load_settings(None, environ={"STATION_DATA": str(tmp_path), "STATION_DEVICES__SCANNERS": "[]"})
    station = Station.build(settings)
    store = station.store
    tokens: dict[str, str] = {}
    for role in ApiRole:
        bench = "B01" if role is ApiRole.BENCH else None
        tokens[role.value] = create_token(store, role, f"t-{role.value}", ADMIN, bench)[1]
    tokens["other_bench"] = create_token(store, ApiRole.BENCH, "t-b02", ADMIN, "B02")[1]
    revoked_id, tokens["revoked"] = create_token(store, ApiRole.SUPERVISOR, "t-revoked", ADMIN)
    revoke_token(store, revoked_id, ADMIN)
    add_user(store, "zhao", PASSWORD, ADMIN)
    add_operator(store, "OP-001", "李四", Role.PACKER, ADMIN)
    intake_order(store, ORDER, ADMIN)
    with TestClient(station.api) as client:
        yield Api(client, station, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium through Playwright (`executable_path`), one per test module that asks for it."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run scripts/bootstrap --dev"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()
