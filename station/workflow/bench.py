"""The bench workflow's entry: a packer's scans become guarded status changes, each committed with its event.

`BenchWorkflow.handle_scan` is the one entry point for scans: bounce filter → interpret → one write
transaction → the step for the reading's kind (the table `_STEPS`) → COMMIT → feedback at the bench. The
steps live one kind to a module (`session`, `commands`, `packing`, `labels`, `dock`, `authorisation`) and
receive a `Turn`. A scan that may complete the order first leaves the transaction without writing: the scale
and camera are asked *outside* any transaction (`evidence`), then the scan is decided in a second one. Only
after COMMIT does it signal the indicator and return. Any input ends as an outcome: a refusal is recorded as
a `scan.rejected` event with its reason; an internal failure becomes `internal_error` (docs/orders.md, "Scans";
docs/architecture.md, "Runtime shape").
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from station.devices.ports import Indicator, NullIndicator
from station.events import Actor, Envelope, EventType, NewEvent
from station.orders.model import Bench, Feedback, Order, Role, Status
from station.scan import CodeKind, ReadingCache, ScanRules
from station.store import Store, Tx
from station.workflow import commands, evidence, labels, notices, packing, session
from station.workflow.context import BenchContext, BenchDevices
from station.workflow.outcome import ScanOutcome
from station.workflow.packing import return_items
from station.workflow.resolve import resolve_reading
from station.workflow.settings import WorkflowSettings
from station.workflow.turn import MAX_CODE_IN_EVENT, Scan, Turn, raw_bytes

__all__ = ["MAX_CODE_IN_EVENT", "BenchDevices", "BenchWorkflow", "return_items"]

logger = logging.getLogger(__name__)


def _refuse_unknown(turn: Turn) -> ScanOutcome:
    """A code that is nothing the station knows, or a bad read: refused with the interpreter's problem."""
    return turn.refuse(str(turn.scan.reading.problem or "unknown_code"))


@dataclass(frozen=True, slots=True)
class _Step:
    """What a scan of one kind does, and whether it needs someone logged in at the bench."""

    run: Callable[[Turn], ScanOutcome]
    needs_login: bool = True


# A new kind of step (a return, a parcel) is a module with its step function and a row here.
_STEPS: dict[CodeKind, _Step] = {
    CodeKind.UNKNOWN: _Step(_refuse_unknown, needs_login=False),
    CodeKind.BADGE: _Step(session.scan_badge, needs_login=False),
    CodeKind.COMMAND: _Step(commands.run_command),
    CodeKind.ORDER: _Step(packing.open_order),
    CodeKind.WAYBILL: _Step(labels.scan_waybill),
    CodeKind.ITEM: _Step(packing.verify_item),
}


class BenchWorkflow:
    """Handles scans for every bench of this station."""

    def __init__(
        self,
        store: Store,
        settings: WorkflowSettings,
        rules: ScanRules,
        *,
        indicator: Indicator | None = None,
        devices: Callable[[str], BenchDevices | None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._context = BenchContext(settings, ReadingCache(rules), devices or (lambda _bench: BenchDevices()))
        self.indicator: Indicator = indicator or NullIndicator()
        self._monotonic = monotonic
        self._last_read: dict[tuple[str, str], tuple[bytes | str, float]] = {}
        self._last_answers: dict[str, tuple[int, ScanOutcome]] = {}
        self._answers_given = 0
        store.subscribe(self._handle_committed)

    @property
    def settings(self) -> WorkflowSettings:
        """The `[workflow]` settings scans are decided with."""
        return self._context.settings

    @settings.setter
    def settings(self, settings: WorkflowSettings) -> None:
        self._context.settings = settings

    @property
    def rules(self) -> ScanRules:
        """The `[scan]` rules scans are read with."""
        return self._context.rules

    @rules.setter
    def rules(self, rules: ScanRules) -> None:
        # New rules (the hub's `config.set`): readings remembered under the old ones no longer hold.
        self._context.readings = ReadingCache(rules)

    # -- entry point ------------------------------------------------------------------------------------------
    def handle_scan(
        self,
        bench_id: str,
        raw: bytes | str,
        device: str = "api",
        symbology: str | None = None,
        *,
        via_api: bool = False,
    ) -> ScanOutcome:
        """Handle one scan at a bench (`via_api`: posted over HTTP, not read by a scanner); never raises."""
        try:
            outcome = self._handle(bench_id, raw, device, symbology, via_api)
        except Exception:
            logger.exception("scan at bench %s from %s failed", bench_id, device)
            outcome = self._record_internal_error(bench_id, device, raw)
        if outcome.feedback is not Feedback.NONE:
            self._tell(bench_id, outcome)
        return outcome

    def last_answer(self, bench_id: str) -> tuple[int, ScanOutcome] | None:
        """The last answer the bench was given since the service started, and its number (for the bench
        screen; a bounce, ignored, gives none). Read it on the thread that handles scans."""
        return self._last_answers.get(bench_id)

    def tick(self) -> None:
        """Periodic housekeeping: log out idle packers (also done lazily on the next scan)."""
        with self.store.reading() as repo:
            rows = list(repo.db.query("SELECT bench_id FROM benches WHERE operator_badge IS NOT NULL"))
        for row in rows:
            with self.store.transaction() as tx:
                session.apply_idle_lock(tx, tx.repo.bench(row["bench_id"]), self.settings)

    # -- the scan pipeline --------------------------------------------------------------------------------------
    def _handle(
        self, bench_id: str, raw: bytes | str, device: str, symbology: str | None, via_api: bool
    ) -> ScanOutcome:
        outcome: ScanOutcome | None = None
        with self.store.transaction() as tx:
            bench = tx.repo.bench(bench_id)
            order = tx.repo.order(bench.order_id) if bench.order_id else None
            packing_now = order is not None and order.status is Status.PACKING
            reading = self._context.readings.interpret(raw, open_order=packing_now)
            if self._is_bounce(bench_id, device, raw):
                logger.info("bounce ignored at bench %s from %s: %r", bench_id, device, reading.text[:40])
                return ScanOutcome("ignored", reading.kind.value, Feedback.NONE, "bounce", message_key="bounce")
            scan = Scan(bench_id, device, raw, reading, symbology or reading.symbology, via_api=via_api)
            completing = (
                order if packing_now and order is not None and evidence.may_complete(reading, order, bench) else None
            )
            if completing is None:
                outcome = self._decide(tx, scan, bench)
        if completing is not None:
            # Nothing was written: the scale and camera are asked with no transaction open, so that a slow
            # device never holds the write lock, and the scan is decided afresh with their evidence.
            scan.evidence = self._gather_evidence(bench_id, completing)
            with self.store.transaction() as tx:
                outcome = self._decide(tx, scan, tx.repo.bench(bench_id))
        assert outcome is not None
        if outcome.accepted and outcome.detail.get("all_verified") and self.settings.auto_complete:
            outcome = self._auto_complete(scan, outcome)
        return outcome

    def _is_bounce(self, bench_id: str, device: str, raw: bytes | str) -> bool:
        now = self._monotonic()
        key = (bench_id, device)
        previous = self._last_read.get(key)
        self._last_read[key] = (raw, now)
        window_s = self.settings.bounce_window_ms / 1000
        return previous is not None and previous[0] == raw and now - previous[1] < window_s

    def _gather_evidence(self, bench_id: str, order: Order) -> evidence.GatheredEvidence:
        devices = self._context.devices(bench_id)
        return evidence.gather(devices, bench_id, order, self.settings.default_weight_tolerance_g)

    def _decide(self, tx: Tx, scan: Scan, bench: Bench) -> ScanOutcome:
        """Decide the scan inside `tx`: the idle lock, the reading that means something here, then its step."""
        if self._context.bench_devices(bench.bench_id) is None:
            return Turn(tx, scan, bench, self._context).refuse("bench_not_configured")
        session.apply_idle_lock(tx, bench, self.settings)
        scan.reading = resolve_reading(tx, scan.reading, bench)
        turn = Turn(tx, scan, bench, self._context)
        step = _STEPS[scan.reading.kind]
        if step.needs_login:
            if bench.operator_badge is None:
                return turn.refuse("not_logged_in")
            bench.last_activity_ms = tx.wall_now_ms()
        return step.run(turn)

    def _auto_complete(self, scan: Scan, item_outcome: ScanOutcome) -> ScanOutcome:
        """The last line was verified: gather the evidence (no transaction open), then try to complete."""
        with self.store.transaction() as tx:
            order = tx.repo.order(item_outcome.order_id or "")
        if order is None or order.status is not Status.PACKING or not order.all_verified:
            return item_outcome
        scan.evidence = self._gather_evidence(scan.bench_id, order)
        with self.store.transaction() as tx:
            bench = tx.repo.bench(scan.bench_id)
            current = tx.repo.order(order.order_id)
            if current is None or bench.order_id != order.order_id:
                return item_outcome
            done = packing.complete(Turn(tx, scan, bench, self._context), current, auto=True)
        return packing.after_auto_complete(item_outcome, done)

    # -- failure and interception --------------------------------------------------------------------------------
    def _record_internal_error(self, bench_id: str, device: str, raw: bytes | str) -> ScanOutcome:
        seq = None
        try:
            with self.store.transaction() as tx:
                data = raw_bytes(raw)
                env = tx.append(
                    NewEvent(
                        EventType.SCAN_REJECTED,
                        Actor(role=Role.SYSTEM.value, device=device, bench=bench_id),
                        None,
                        {"reason": "internal_error", "code": "hex:" + data[:100].hex()},
                    )
                )
                seq = env["seq"]
        except Exception:
            logger.exception("could not record the failed scan at bench %s", bench_id)
        return ScanOutcome("refused", "unknown", Feedback.ERROR, "internal_error", seq=seq)

    def _handle_committed(self, events: list[Envelope]) -> None:
        """After commit: tell a bench at once when its order changes under it — the hub cancels it
        (interception), a supervisor or the hub holds it, or the hub revises it — on the stack light, the
        buzzer and the bench screen."""
        for env in events:
            notice = notices.notice_for(env, self.store)
            if notice is not None:
                bench_id, outcome = notice
                self._tell(bench_id, outcome)

    def _tell(self, bench_id: str, outcome: ScanOutcome) -> None:
        self._answers_given += 1
        self._last_answers[bench_id] = (self._answers_given, outcome)
        try:
            self.indicator.signal(bench_id, outcome.feedback, outcome.message["en"])
        except Exception:
            logger.exception("indicator failed at bench %s", bench_id)
