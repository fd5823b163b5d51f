"""The scale and camera evidence a completing scan needs, gathered before its transaction, and the photo waiver.

The lifecycle's `complete` guard asks for a stable weight within tolerance and a packing photo when a scale or
camera is configured (docs/orders.md, "Lifecycle"). Devices may be slow, so `gather` runs with no transaction
open, and the scan is then decided afresh with what it found.
"""

import logging
from dataclasses import dataclass

from station.events import Actor
from station.orders.lifecycle import Evidence
from station.orders.model import Bench, Order
from station.scan import CodeKind, Reading
from station.workflow.context import BenchDevices

logger = logging.getLogger(__name__)

# Commands that complete the open order (CMD:OVERRIDE completes it without the photo, once authorised).
_COMPLETING_VERBS = frozenset({"COMPLETE", "OVERRIDE"})


@dataclass(slots=True)
class GatheredEvidence:
    """What the scale and camera delivered for one completing scan, and how each stands against the guard."""

    weight_g: int | None = None
    weight: Evidence = Evidence.NOT_REQUIRED
    photo_ref: str | None = None
    photo: Evidence = Evidence.NOT_REQUIRED


@dataclass(frozen=True, slots=True)
class Waiver:
    """A supervisor's authorisation to complete without the packing photo (CMD:OVERRIDE)."""

    supervisor: Actor
    reason: str


def may_complete(reading: Reading, order: Order, bench: Bench) -> bool:
    """Whether this scan may complete the bench's open order: then its evidence is gathered first. A badge
    may be a supervisor authorising CMD:OVERRIDE."""
    if not order.all_verified:
        return False
    if reading.kind is CodeKind.BADGE:
        return bench.authorisation_for == "override"
    return (
        reading.kind is CodeKind.COMMAND and reading.command is not None and reading.command.verb in _COMPLETING_VERBS
    )


def gather(devices: BenchDevices, bench_id: str, order: Order, default_tolerance_g: int) -> GatheredEvidence:
    """Ask the scale and camera; call it with no transaction open, so a slow device never holds the write lock."""
    found = GatheredEvidence()
    if devices.scale is not None and order.weight_g is not None:
        found.weight_g = devices.scale.stable_weight_g(bench_id)
        tolerance = order.weight_tolerance_g
        if tolerance is None:
            tolerance = default_tolerance_g
        if found.weight_g is None:
            found.weight = Evidence.MISSING
        elif abs(found.weight_g - order.weight_g) > tolerance:
            found.weight = Evidence.OUT_OF_RANGE
        else:
            found.weight = Evidence.PRESENT
    if devices.camera is not None:
        found.photo_ref = devices.camera.take_packing_photo(bench_id, order.order_id)
        found.photo = Evidence.PRESENT if found.photo_ref else Evidence.MISSING
    return found


def not_gathered(devices: BenchDevices, order: Order) -> GatheredEvidence:
    """Evidence not gathered for this scan: every configured device counts as not having delivered."""
    weighed = devices.scale is not None and order.weight_g is not None
    return GatheredEvidence(
        weight=Evidence.MISSING if weighed else Evidence.NOT_REQUIRED,
        photo=Evidence.MISSING if devices.camera is not None else Evidence.NOT_REQUIRED,
    )
