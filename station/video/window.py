"""The clip window of an order: the stretch of footage its clip covers, and the markers in it (pure)."""

from collections.abc import Sequence
from dataclasses import dataclass

from station.events import Envelope, EventType

# Events about the footage itself, not about packing: no marker in the clip.
_NOT_MARKERS = frozenset({EventType.CLIP_READY, EventType.DISPUTE_FLAGGED, EventType.DISPUTE_CLEARED})


@dataclass(frozen=True, slots=True)
class ClipWindow:
    """The footage an order's clip should cover, and its markers as ``(wall_ms, label)``."""

    start_ms: int
    end_ms: int
    markers: tuple[tuple[int, str], ...]


def _event_ms(event: Envelope) -> int:
    return int(event["at"]["ms"])


def _marker_label(event: Envelope) -> str:
    data = event.get("data") or {}
    if event["type"] == EventType.STATUS_CHANGED:
        return f"{event['type']}:{data.get('to')}"
    detail = data.get("sku") or data.get("code") or data.get("reason")
    return f"{event['type']}:{detail}" if detail else str(event["type"])


def clip_window(events: Sequence[Envelope], pre_roll_s: float, post_roll_s: float) -> ClipWindow | None:
    """The clip window of an order from its timeline: [its opening at a bench − pre-roll, label scan + post-roll].

    The start is the order's first opening at a bench (its status changed to ``packing`` by a bench actor): a
    scan of the order refused before that (another order was open) shows the other order being packed, not
    this one. With no opening yet (a clip on demand of an order only ever refused), the first event made at a
    bench. The end is the last label scan (status to ``labeled``), or the order's last bench event when it has
    none yet. Markers are the events from the start on.
    """
    at_bench = [e for e in events if (e.get("actor") or {}).get("bench")]
    if not at_bench:
        return None
    openings = [e for e in at_bench if e["type"] == EventType.STATUS_CHANGED and e["data"].get("to") == "packing"]
    start = openings[0] if openings else at_bench[0]
    first = _event_ms(start)
    labeled = [
        e for e in events if e["type"] == EventType.STATUS_CHANGED and (e.get("data") or {}).get("to") == "labeled"
    ]
    last = _event_ms(labeled[-1]) if labeled else _event_ms(at_bench[-1])
    markers = tuple(
        (_event_ms(e), _marker_label(e)) for e in events if e["type"] not in _NOT_MARKERS and e["seq"] >= start["seq"]
    )
    return ClipWindow(first - round(pre_roll_s * 1000), last + round(post_roll_s * 1000), markers)


# Segments are cut back to back; less than this between two is a frame boundary, not a missing stretch.
GAP_TOLERANCE_MS = 1_500


def recording_gaps(
    recorded: Sequence[tuple[int, int]], start_ms: int, end_ms: int, tolerance_ms: int = GAP_TOLERANCE_MS
) -> list[tuple[int, int]]:
    """The stretches of ``[start_ms, end_ms]`` that no recorded ``(start_ms, end_ms)`` segment covers, longer
    than ``tolerance_ms``: what a clip of that window is missing (a camera unplugged, a full disk)."""
    gaps: list[tuple[int, int]] = []
    covered_to = start_ms
    for seg_start, seg_end in sorted(recorded):
        if seg_end <= covered_to:
            continue
        if seg_start - covered_to > tolerance_ms:
            gaps.append((covered_to, min(seg_start, end_ms)))
        covered_to = max(covered_to, seg_end)
        if covered_to >= end_ms:
            break
    if end_ms - covered_to > tolerance_ms:
        gaps.append((covered_to, end_ms))
    return [(a, b) for a, b in gaps if b > a]
