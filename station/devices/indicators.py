"""Indicators that need no hardware: the log (for sim benches and headless runs), and a fan-out to several."""

import logging
from collections.abc import Sequence

from station.devices.ports import Indicator
from station.orders.model import Feedback

logger = logging.getLogger(__name__)


class LogIndicator:
    """Writes each feedback to the log and remembers the last one per bench (for the bench screen)."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[Feedback, str]] = {}

    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        """Record and log the feedback."""
        self.last[bench_id] = (feedback, message)
        logger.info("bench %s feedback %s: %s", bench_id, feedback.value, message)


class FanOutIndicator:
    """Signals every indicator of a bench (light + buzzer + screen); one failing does not silence the others."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.indicators = list(indicators)

    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        """Pass the feedback to each indicator."""
        for indicator in self.indicators:
            try:
                indicator.signal(bench_id, feedback, message)
            except Exception:
                logger.exception("indicator %r failed", indicator)
