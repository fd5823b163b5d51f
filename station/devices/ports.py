"""The small interfaces the core needs from devices. `drivers/` and `firmware_bridge/` implement them;
the composition root (`station.app`) wires real or simulated ones by config.

Evidence ports are asked *before* a transaction opens, so a slow device never holds the database's write lock.
"""

from typing import Protocol

from station.orders.model import Feedback


class Indicator(Protocol):
    """Shows a scan outcome at a bench: stack light, buzzer, bench screen."""

    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        """Show `feedback` at `bench_id`. Must not block (queue the work)."""


class Scale(Protocol):
    """A bench scale."""

    def stable_weight_g(self, bench_id: str) -> int | None:
        """The last stable weight in grams, or None if the scale has not settled (or is down)."""


class PackingCamera(Protocol):
    """The camera over the bench, as far as the `packed` guard is concerned."""

    def take_packing_photo(self, bench_id: str, order_id: str) -> str | None:
        """Store a packing photo of the order; return its reference, or None if none could be stored."""


class LabelConfirmation(Protocol):
    """The label printer's word on whether an order's label came out."""

    def label_printed(self, order_id: str) -> bool:
        """True when the printer reported the order's label job done."""


class NullIndicator:
    """An indicator that shows nothing (headless tools, tests of the core)."""

    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        """Do nothing."""
