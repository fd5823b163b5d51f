"""One scan being decided: the `Turn` every step receives, and its helpers that answer and record the scan.

A turn lives inside the one write transaction `BenchWorkflow.handle_scan` opened for the scan. A step reads
and changes the bench and its order through it, moves orders through `move` (the lifecycle table, with its
event), and ends with `accept` or `refuse`, which save the bench and build the `ScanOutcome`; `refuse` also
appends the `scan.rejected` event (docs/orders.md, "Scans" and "The scan answer").
"""

import logging
from dataclasses import dataclass
from typing import Any

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import Bench, Feedback, Order, Role
from station.orders.transitions import Applied, apply_action
from station.scan import Reading
from station.store import Tx
from station.workflow.context import BenchContext, BenchDevices
from station.workflow.evidence import GatheredEvidence
from station.workflow.outcome import ScanOutcome, feedback_for

logger = logging.getLogger(__name__)

MAX_CODE_IN_EVENT = 200  # enough to see what was scanned; 10 KB of junk must not bloat every event


def raw_bytes(raw: bytes | str) -> bytes:
    """The bytes of a raw read, for the event log. A `str` may carry lone surrogates (a lossy decode upstream,
    or a `\\ud800` escape in JSON): surrogateescape restores the original bytes where it can, and
    surrogatepass shows any other surrogate as it is, so that recording a refusal can never fail."""
    if not isinstance(raw, str):
        return bytes(raw)
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogatepass")


def _code_for_event(reading: Reading, raw: bytes | str) -> str:
    if reading.text:
        return reading.text[:MAX_CODE_IN_EVENT]
    return "hex:" + raw_bytes(raw)[: (MAX_CODE_IN_EVENT - 4) // 2].hex()


@dataclass(slots=True)
class Scan:
    """One read at a bench, as the workflow carries it from the scanner to its answer."""

    bench_id: str
    device: str
    raw: bytes | str
    reading: Reading  # replaced by the reading that means something here (`resolve_reading`)
    symbology: str | None
    evidence: GatheredEvidence | None = None  # set when the scan may complete the order
    via_api: bool = False  # posted through the HTTP API, not read by one of the station's scanners


@dataclass(slots=True)
class Turn:
    """The transaction a scan is decided in, the scan, the bench it was made at and what the steps consult."""

    tx: Tx
    scan: Scan
    bench: Bench
    context: BenchContext

    @property
    def actor(self) -> Actor:
        """Who the scan acts as: the operator logged in at the bench now (a packer if no role is known)."""
        bench = self.bench
        role = bench.operator_role.value if bench.operator_role else Role.PACKER.value
        return Actor(role=role, id=bench.operator_badge, device=self.scan.device, bench=self.scan.bench_id)

    @property
    def role(self) -> Role:
        """The logged-in operator's role, as the lifecycle's guards see it."""
        return self.bench.operator_role or Role.PACKER

    def devices(self) -> BenchDevices:
        """This bench's evidence devices and reprint hook."""
        return self.context.devices(self.bench.bench_id)

    def bench_order(self) -> Order | None:
        """The order on the bench (being packed, or packed and awaiting its label), if any."""
        return self.tx.repo.order(self.bench.order_id) if self.bench.order_id else None

    def scan_data(self) -> dict[str, Any]:
        """What every event about this scan records of it: the code (cut short), its kind and symbology."""
        return {
            "code": _code_for_event(self.scan.reading, self.scan.raw),
            "kind": self.scan.reading.kind.value,
            "symbology": self.scan.symbology,
        }

    def move(
        self,
        order: Order,
        action: Action,
        facts: Facts,
        *,
        actor: Actor | None = None,
        data: dict[str, Any] | None = None,
    ) -> Applied:
        """Apply a lifecycle action to `order` as this scan's actor (or `actor`); a refusal is a `scan.rejected`."""
        return apply_action(
            self.tx,
            order,
            action,
            facts,
            self.actor if actor is None else actor,
            refusal_event=EventType.SCAN_REJECTED,
            data=data,
        )

    def refuse(self, reason: str, order_id: str | None = None, **data: Any) -> ScanOutcome:
        """Refuse the scan: record `scan.rejected` with `reason` and `data` against `order_id` (default: the
        bench's order), save the bench, and answer with the order's status."""
        order_id = order_id or self.bench.order_id
        env = self.tx.append(
            NewEvent(
                EventType.SCAN_REJECTED,
                self.actor,
                order_id,
                {"reason": reason, **self.scan_data(), **data},
            )
        )
        self.tx.repo.save_bench(self.bench)
        order = self.tx.repo.order(order_id) if order_id else None
        return ScanOutcome(
            "refused",
            self.scan.reading.kind.value,
            feedback_for(reason),
            reason,
            order_id,
            order.status if order else None,
            env["seq"],
            detail=dict(data),
        )

    def refuse_applied(self, order: Order, reason: str, seq: int, **detail: Any) -> ScanOutcome:
        """The answer to a scan whose transition the lifecycle refused (the refusal event is already written)."""
        self.tx.repo.save_bench(self.bench)
        return ScanOutcome(
            "refused",
            self.scan.reading.kind.value,
            feedback_for(reason),
            reason,
            order.order_id,
            order.status,
            seq,
            detail=dict(detail),
        )

    def accept(self, message_key: str, seq: int | None, order: Order | None = None, **detail: Any) -> ScanOutcome:
        """Accept the scan: save the bench and answer with `message_key`, the event's `seq` and `order`'s status."""
        self.tx.repo.save_bench(self.bench)
        return ScanOutcome(
            "accepted",
            self.scan.reading.kind.value,
            Feedback.OK,
            None,
            order.order_id if order else None,
            order.status if order else None,
            seq,
            message_key,
            dict(detail),
        )
