"""Whether a printer is ready: asked on a timer, each change told once, and asked again with growing pauses
while it is not.

A change goes to `device_state` when the station keeps device alerts in one place (the alert monitor);
without it, this raises and clears the printer's `device_down` alert itself (`alert_policy`).
"""

import logging
from collections.abc import Callable, Sequence

import sqlite_utils

from station.printing import alert_policy
from station.printing.jobs import printer_actor
from station.printing.ports import LabelPrinter
from station.printing.settings import PrintingSettings
from station.store import Store

logger = logging.getLogger(__name__)

#: `device_state(device, up, detail)`: where a printer's up/down goes when the station keeps device alerts
#: in one place (`station.alerts.monitor.AlertMonitor.device_state`). Must not block; called on the worker thread.
DeviceState = Callable[[str, bool, str], object]


class PrinterAvailability:
    """One printer's up/down as the print worker last saw it, and when to ask it again."""

    def __init__(
        self,
        store: Store,
        settings: PrintingSettings,
        name: str,
        *,
        device_state: DeviceState | None,
        monotonic: Callable[[], float],
    ) -> None:
        """Track the printer called `name`; report changes to `device_state`, or as alerts in `store`."""
        self.store = store
        self.settings = settings
        self.name = name
        self.down = False
        self.reasons: list[str] = []
        self.next_status_at = 0.0  # monotonic seconds
        self._device_state = device_state
        self._reported: bool | None = None  # what `device_state` was last told: up, down, or nothing yet
        self._monotonic = monotonic
        self._actor = printer_actor(name)
        self._backoff_s = settings.retry_backoff_min_s

    def resume(self, db: sqlite_utils.Database) -> None:
        """At start: down while the printer's own `device_down` alert is still raised."""
        self.down = self._device_state is None and alert_policy.printer_down_active(db, self.name)

    def seconds_to_next_ask(self) -> float:
        """How long until the printer is due to be asked again (0 when it is due now)."""
        return max(self.next_status_at - self._monotonic(), 0.0)

    def check(self, printer: LabelPrinter) -> None:
        """Ask the printer how it is and record the answer."""
        status = printer.status()
        if status.ready:
            self.came_up()
        else:
            self.went_down(status.reasons)

    def went_down(self, reasons: Sequence[str]) -> float:
        """The printer is not ready: alert once, and wait longer each time before asking again; return the wait."""
        why = list(reasons) or ["not_ready"]
        if not self.down or why != self.reasons:
            logger.warning("print queue %s: printer not ready: %s", self.name, ", ".join(why))
        if self._device_state is not None:
            if self._reported is not False:
                self._tell(up=False, detail=", ".join(why))
        elif not self.down:
            with self.store.transaction() as tx:
                alert_policy.printer_went_down(tx, self.name, self._actor, why)
        self.down = True
        self.reasons = why
        delay = self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.settings.retry_backoff_max_s)
        self.next_status_at = self._monotonic() + delay
        return delay

    def came_up(self) -> None:
        """The printer is ready: tell once, and ask again after the regular poll interval."""
        if self._device_state is not None:
            if self._reported is not True:
                self._tell(up=True, detail="")
        elif self.down:
            with self.store.transaction() as tx:
                alert_policy.printer_came_up(tx, self.name, self._actor)
        if self.down:
            logger.info("print queue %s: printer ready again", self.name)
        self.down = False
        self.reasons = []
        self._backoff_s = self.settings.retry_backoff_min_s
        self.next_status_at = self._monotonic() + self.settings.status_poll_s

    def ask_now(self) -> None:
        """Ask at once next time, and start the pauses over (a person says the printer is fixed)."""
        self.next_status_at = 0.0
        self._backoff_s = self.settings.retry_backoff_min_s

    def _tell(self, *, up: bool, detail: str) -> None:
        assert self._device_state is not None
        try:
            self._device_state(self.name, up, detail)
        except Exception:
            logger.exception("print queue %s: could not report the printer %s", self.name, "up" if up else "down")
        self._reported = up
