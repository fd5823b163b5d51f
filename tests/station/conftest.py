"""Fixtures for the station core: a real SQLite store in a temp dir and a bench with its people.

Every test here also checks that each event the station writes has the data shape it declares:
`cloud_sync.events.EVENT_DATA` is the contract of each event type's `data`, and wrapping `Tx.append` turns the
whole suite into a check of it (a missing key, an undeclared key or a wrong JSON type fails the test that wrote
it). Types named `test.*` are the suite's own and are not checked.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchkit import Bench, FakeClock, make_bench

from cloud_sync.events import data_problems
from station.events import NewEvent
from station.store import Store
from station.store.store import Tx


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


@pytest.fixture(autouse=True)
def _events_fit_their_declared_shapes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    problems: list[str] = []
    append = Tx.append

    def checked_append(tx: Tx, event: NewEvent) -> Any:
        if not event.type.startswith("test."):
            # Recorded rather than raised: the append may run on the station's database thread.
            problems.extend(data_problems(event.type, event.data))
        return append(tx, event)

    monkeypatch.setattr(Tx, "append", checked_append)
    yield
    assert not problems, "events written with data outside their declared shape (cloud_sync/events.py):\n" + "\n".join(
        sorted(set(problems))
    )
