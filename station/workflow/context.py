"""What the bench steps consult besides the scan: the `[workflow]` settings, the scan rules and each bench's devices."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from station.devices.ports import LabelConfirmation, PackingCamera, Scale
from station.events import Actor
from station.scan import ReadingCache, ScanRules
from station.store import Tx
from station.workflow.settings import WorkflowSettings

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BenchDevices:
    """Evidence devices of one bench; None means not configured (its guard does not apply)."""

    scale: Scale | None = None
    camera: PackingCamera | None = None
    printer: LabelConfirmation | None = None
    # Queue an audited label reprint inside the scan's transaction; returns the refusal reason or None.
    reprint: Callable[[Tx, str, Actor, str], str | None] | None = None


@dataclass(slots=True)
class BenchContext:
    """The workflow's settings and scan rules (both replaceable at run time) and how to find a bench's devices.

    `BenchWorkflow` owns one; every step of a scan reads it through its `Turn`.
    """

    settings: WorkflowSettings
    readings: ReadingCache  # `interpret` with the current `[scan]` rules, remembering recent reads
    # A bench's devices; None for a bench this station has no devices for while its guards need some (a camera,
    # a scale or a printer is configured for another bench): scans there are refused, never packed unguarded.
    bench_devices: Callable[[str], BenchDevices | None]

    def devices(self, bench_id: str) -> BenchDevices:
        """The devices of a bench scans are decided at (an unknown bench was refused before: no devices)."""
        return self.bench_devices(bench_id) or BenchDevices()

    @property
    def rules(self) -> ScanRules:
        """The `[scan]` rules scans are read with."""
        return self.readings.rules
