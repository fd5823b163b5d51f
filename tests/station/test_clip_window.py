"""An order's clip covers its own packing: from its opening at a bench, not from a scan refused before it."""

from typing import Any

from station.events import Envelope
from station.video.window import clip_window, recording_gaps

BENCH = {"id": "OP-001", "role": "packer", "device": "scanner-1", "bench": "B01"}
HUB = {"id": "hub", "role": "hub", "device": None, "bench": None}


def _event(seq: int, ms: int, type_: str, data: dict[str, Any], actor: dict[str, Any] = BENCH) -> Envelope:
    return {  # type: ignore[typeddict-item]
        "seq": seq,
        "type": type_,
        "order_id": "SO-2",
        "actor": actor,
        "at": {"ms": ms, "counter": 0},
        "data": data,
    }


def _timeline() -> list[Envelope]:
    return [
        _event(1, 500, "order.received", {"hub_version": 1, "lines": 1}, HUB),
        # scanned while SO-1 was still open at the bench: the footage then shows SO-1 being packed
        _event(2, 1_000, "scan.rejected", {"reason": "other_order_open", "code": "SO-2"}),
        _event(3, 5_000, "order.status_changed", {"from": "pending", "to": "packing", "action": "open"}),
        _event(4, 6_000, "item.verified", {"sku": "MUG"}),
        _event(5, 7_000, "order.status_changed", {"from": "packing", "to": "packed", "action": "complete"}),
        _event(6, 9_000, "order.status_changed", {"from": "packed", "to": "labeled", "action": "label"}),
    ]


def test_the_clip_starts_at_the_orders_opening_not_at_a_refused_scan() -> None:
    window = clip_window(_timeline(), pre_roll_s=1, post_roll_s=0.5)
    assert window is not None
    assert (window.start_ms, window.end_ms) == (4_000, 9_500)
    assert [ms for ms, _label in window.markers] == [5_000, 6_000, 7_000, 9_000]


def test_an_order_never_opened_is_clipped_from_its_first_bench_event() -> None:
    refused_only = _timeline()[:2]
    window = clip_window(refused_only, pre_roll_s=0, post_roll_s=0)
    assert window is not None
    assert (window.start_ms, window.end_ms) == (1_000, 1_000)


def test_no_bench_event_no_clip() -> None:
    assert clip_window(_timeline()[:1], pre_roll_s=1, post_roll_s=1) is None


def test_recording_gaps_are_the_uncovered_stretches() -> None:
    segments = [(0, 2_000), (2_000, 4_000), (9_000, 11_000)]  # 4 s to 9 s never recorded
    assert recording_gaps(segments, 1_000, 10_000) == [(4_000, 9_000)]
    assert recording_gaps(segments, 1_000, 15_000) == [(4_000, 9_000), (11_000, 15_000)]  # recording stopped
    assert recording_gaps([(0, 1_000), (1_800, 3_000)], 0, 3_000) == []  # under a tolerance: a cut, not a gap
    assert recording_gaps([], 0, 5_000) == [(0, 5_000)]
    assert recording_gaps([(0, 10_000)], 2_000, 3_000) == []
