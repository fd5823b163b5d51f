"""Fixtures for the station core: a real SQLite store in a temp dir and a bench with its people."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from benchkit import Bench, FakeClock, make_bench

from station.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(tmp_path / "station.db", wall_ms=clock, boot_id="boot-test")
    yield s
    s.close()


@pytest.fixture
def bench(store: Store, clock: FakeClock) -> Bench:
    return make_bench(store, clock)
