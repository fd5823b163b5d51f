"""The declared shape of each event's data (cloud_sync.events): complete, strict, and agreeing with the names."""

import pytest

from cloud_sync.events import EVENT_DATA, data_problems
from cloud_sync.wire import ENVELOPE_FIELDS
from station.events import Actor, ActorDict, Envelope, EventType, NewEvent
from station.printing.jobs import LabelEvent
from station.priority.prioritizer import PriorityEvent
from station.priority.queue import QueueEvent
from station.store import Store

# Named in the contract but not written by this station yet, so no shape is declared for it.
_NOT_WRITTEN = {EventType.EVIDENCE_STORED}


def _names(holder: type) -> set[str]:
    return {v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)}


@pytest.mark.parametrize("holder", [EventType, LabelEvent, PriorityEvent, QueueEvent])
def test_every_named_event_type_declares_its_data(holder: type) -> None:
    missing = _names(holder) - _NOT_WRITTEN - set(EVENT_DATA)
    assert not missing


def test_data_that_fits_has_no_problems() -> None:
    data = {"line_no": 2, "sku": "BOWL", "qty": 1, "verified": 1, "of": 2, "serial": None}
    assert data_problems("item.verified", data) == []
    changed = {"from": "packing", "to": "packed", "action": "pack", "version": 3}
    assert data_problems("order.status_changed", changed) == []
    assert data_problems("priority.breaker_lifted", {}) == []


@pytest.mark.parametrize(
    ("event_type", "data", "problem"),
    [
        ("item.verified", {"sku": "BOWL"}, "item.verified.line_no: Field required"),
        ("item.verified", {"line_no": 1, "colour": "red"}, "item.verified.colour: Extra inputs are not permitted"),
        ("item.verified", {"line_no": "1"}, "item.verified.line_no: Input should be a valid integer"),
        (
            "order.status_changed",
            {"from": "a", "to": "b", "action": "x"},
            "order.status_changed.version: Field required",
        ),
        ("clip.ready", {"path": 1}, "clip.ready.path: Input should be a valid string"),
        ("priority.breaker_lifted", {"why": "x"}, "priority.breaker_lifted.why: Extra inputs are not permitted"),
        ("item.verifed", {"line_no": 1}, "item.verifed: not a listed event type (cloud_sync.events.EVENT_DATA)"),
    ],
)
def test_data_outside_its_shape_is_named(event_type: str, data: dict[str, object], problem: str) -> None:
    assert problem in data_problems(event_type, data)


def test_the_hub_checks_every_member_of_the_envelope() -> None:
    assert set(ENVELOPE_FIELDS) == set(Envelope.__required_keys__)
    assert Envelope.__optional_keys__ == {"mapped"}


def test_the_store_writes_envelopes_of_the_declared_shape(store: Store) -> None:
    with store.transaction() as tx:
        written = tx.append(NewEvent("item.verified", Actor(role="packer", id="P1"), "SO-1", {"line_no": 1}))
    assert set(written) == set(Envelope.__required_keys__)
    assert set(written["actor"]) == set(ActorDict.__required_keys__)
    assert store.events_from(written["seq"], 1) == [written]
