"""The bench workflow: a packer's scans become guarded status changes, each committed with its event.

`BenchWorkflow.handle_scan` is the one entry point for scans. In one write transaction it reads the bench and
its order (from the store's cache), interprets the code in that context, updates the bench and the order and
appends the event(s). A scan that may complete the order first leaves the transaction without writing: the
scale and camera are asked *outside* any transaction, then the scan is decided in a second one. Only after
COMMIT does it signal the indicator and return. Any input ends as an outcome: a
refusal is recorded as a `scan.rejected` event with its reason; an internal failure becomes `internal_error`.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from station.devices.ports import Indicator, LabelConfirmation, NullIndicator, PackingCamera, Scale
from station.events import Actor, EventType, NewEvent
from station.ids import uuid7
from station.orders.lifecycle import Action, Evidence, Facts, decide
from station.orders.model import Bench, CarrierBatch, Feedback, Order, Role, Status
from station.orders.transitions import apply_action
from station.scan import CodeKind, Command, Reading, ReadingCache, ScanRules
from station.store import Store, Tx
from station.workflow.items import match_line
from station.workflow.outcome import ScanOutcome, feedback_for
from station.workflow.settings import WorkflowSettings

logger = logging.getLogger(__name__)

MAX_CODE_IN_EVENT = 200  # enough to see what was scanned; 10 KB of junk must not bloat every event


@dataclass(slots=True)
class BenchDevices:
    """Evidence devices of one bench; None means not configured (its guard does not apply)."""

    scale: Scale | None = None
    camera: PackingCamera | None = None
    printer: LabelConfirmation | None = None
    # Queue an audited label reprint inside the scan's transaction; returns the refusal reason or None.
    reprint: Callable[[Tx, str, Actor, str], str | None] | None = None


@dataclass(slots=True)
class _Evidence:
    weight_g: int | None = None
    weight: Evidence = Evidence.NOT_REQUIRED
    photo_ref: str | None = None
    photo: Evidence = Evidence.NOT_REQUIRED


@dataclass(frozen=True, slots=True)
class _Waiver:
    """A supervisor's authorisation to complete without the packing photo (CMD:OVERRIDE)."""

    supervisor: Actor
    reason: str


# Commands a supervisor authorises, and the statuses of the bench's order they apply to.
_AUTHORISED_STATUSES: dict[str, tuple[Status, ...]] = {
    "REOPEN": (Status.PACKED, Status.LABELED),
    "REPRINT": (Status.PACKED,),
    "OVERRIDE": (Status.PACKING,),
}
_COMPLETING = frozenset({"COMPLETE", "OVERRIDE"})


@dataclass(slots=True)
class _Scan:
    bench_id: str
    device: str
    raw: bytes | str
    reading: Reading
    symbology: str | None
    evidence: _Evidence | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _raw_bytes(raw: bytes | str) -> bytes:
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
    return "hex:" + _raw_bytes(raw)[: (MAX_CODE_IN_EVENT - 4) // 2].hex()


class BenchWorkflow:
    """Handles scans for every bench of this station."""

    def __init__(
        self,
        store: Store,
        settings: WorkflowSettings,
        rules: ScanRules,
        *,
        indicator: Indicator | None = None,
        devices: Callable[[str], BenchDevices] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self._readings = ReadingCache(rules)
        self.indicator: Indicator = indicator or NullIndicator()
        self._devices = devices or (lambda _bench: BenchDevices())
        self._monotonic = monotonic
        self._last_read: dict[tuple[str, str], tuple[bytes | str, float]] = {}
        self._last_answers: dict[str, tuple[int, ScanOutcome]] = {}
        self._answers_given = 0
        store.subscribe(self._handle_committed)

    @property
    def rules(self) -> ScanRules:
        """The `[scan]` rules scans are read with."""
        return self._readings.rules

    @rules.setter
    def rules(self, rules: ScanRules) -> None:
        # New rules (the hub's `config.set`): readings remembered under the old ones no longer hold.
        self._readings = ReadingCache(rules)

    # -- entry point ------------------------------------------------------------------------------------------
    def handle_scan(
        self, bench_id: str, raw: bytes | str, device: str = "api", symbology: str | None = None
    ) -> ScanOutcome:
        """Handle one scan at a bench; never raises."""
        try:
            outcome = self._handle(bench_id, raw, device, symbology)
        except Exception:
            logger.exception("scan at bench %s from %s failed", bench_id, device)
            outcome = self._record_internal_error(bench_id, device, raw)
        if outcome.feedback is not Feedback.NONE:
            self._answers_given += 1
            self._last_answers[bench_id] = (self._answers_given, outcome)
            try:
                self.indicator.signal(bench_id, outcome.feedback, outcome.message["en"])
            except Exception:
                logger.exception("indicator failed at bench %s", bench_id)
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
                self._apply_idle_lock(tx, tx.repo.bench(row["bench_id"]))

    # -- the scan pipeline --------------------------------------------------------------------------------------
    def _handle(self, bench_id: str, raw: bytes | str, device: str, symbology: str | None) -> ScanOutcome:
        outcome: ScanOutcome | None = None
        with self.store.transaction() as tx:
            bench = tx.repo.bench(bench_id)
            order = self._bench_order(tx, bench)
            packing = order is not None and order.status is Status.PACKING
            reading = self._readings.interpret(raw, open_order=packing)
            if self._is_bounce(bench_id, device, raw):
                logger.info("bounce ignored at bench %s from %s: %r", bench_id, device, reading.text[:40])
                return ScanOutcome("ignored", reading.kind.value, Feedback.NONE, "bounce", message_key="bounce")
            scan = _Scan(bench_id, device, raw, reading, symbology or reading.symbology)
            completing = order if packing and order is not None and self._may_complete(reading, order, bench) else None
            if completing is None:
                outcome = self._dispatch(tx, scan, bench)
        if completing is not None:
            # Nothing was written: the scale and camera are asked with no transaction open, so that a slow
            # device never holds the write lock, and the scan is decided afresh with their evidence.
            scan.evidence = self._gather_evidence(bench_id, completing)
            with self.store.transaction() as tx:
                outcome = self._dispatch(tx, scan, tx.repo.bench(bench_id))
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

    @staticmethod
    def _may_complete(reading: Reading, order: Order, bench: Bench) -> bool:
        """Whether this scan may complete the bench's open order: then its evidence is gathered first. A badge
        may be a supervisor authorising CMD:OVERRIDE."""
        if not order.all_verified:
            return False
        if reading.kind is CodeKind.BADGE:
            return bench.authorisation_for == "override"
        return reading.kind is CodeKind.COMMAND and reading.command is not None and reading.command.verb in _COMPLETING

    def _gather_evidence(self, bench_id: str, order: Order) -> _Evidence:
        """Ask the scale and camera before the transaction, so a slow device never holds the write lock."""
        devices = self._devices(bench_id)
        ev = _Evidence()
        if devices.scale is not None and order.weight_g is not None:
            ev.weight_g = devices.scale.stable_weight_g(bench_id)
            tolerance = order.weight_tolerance_g
            if tolerance is None:
                tolerance = self.settings.default_weight_tolerance_g
            if ev.weight_g is None:
                ev.weight = Evidence.MISSING
            elif abs(ev.weight_g - order.weight_g) > tolerance:
                ev.weight = Evidence.OUT_OF_RANGE
            else:
                ev.weight = Evidence.PRESENT
        if devices.camera is not None:
            ev.photo_ref = devices.camera.take_packing_photo(bench_id, order.order_id)
            ev.photo = Evidence.PRESENT if ev.photo_ref else Evidence.MISSING
        return ev

    def _no_evidence(self, bench_id: str, order: Order) -> _Evidence:
        """Evidence not gathered for this scan: every configured device counts as not having delivered."""
        devices = self._devices(bench_id)
        weighed = devices.scale is not None and order.weight_g is not None
        return _Evidence(
            weight=Evidence.MISSING if weighed else Evidence.NOT_REQUIRED,
            photo=Evidence.MISSING if devices.camera is not None else Evidence.NOT_REQUIRED,
        )

    def _auto_complete(self, scan: _Scan, item_outcome: ScanOutcome) -> ScanOutcome:
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
            done = self._complete(tx, scan, bench, current, auto=True)
        if not done.accepted:  # e.g. the scale has not settled: the item still counted; the packer completes later
            detail = item_outcome.detail | {"awaiting": done.reason}
            return ScanOutcome(
                item_outcome.outcome,
                item_outcome.kind,
                item_outcome.feedback,
                None,
                item_outcome.order_id,
                item_outcome.status,
                item_outcome.seq,
                item_outcome.message_key,
                detail,
            )
        return ScanOutcome("accepted", "item", Feedback.OK, None, done.order_id, done.status, done.seq, "order_packed")

    def _dispatch(self, tx: Tx, scan: _Scan, bench: Bench) -> ScanOutcome:
        self._apply_idle_lock(tx, bench)
        reading = self._resolve(tx, scan.reading, bench)
        scan.reading = reading
        kind = reading.kind
        if kind is CodeKind.UNKNOWN:
            return self._refuse(tx, scan, bench, str(reading.problem or "unknown_code"))
        if kind is CodeKind.BADGE:
            return self._badge(tx, scan, bench)
        if bench.operator_badge is None:
            return self._refuse(tx, scan, bench, "not_logged_in")
        bench.last_activity_ms = tx.wall_now_ms()
        if kind is CodeKind.COMMAND:
            assert reading.command is not None
            return self._command(tx, scan, bench, reading.command)
        if kind is CodeKind.ORDER:
            return self._open_order(tx, scan, bench)
        if kind is CodeKind.WAYBILL:
            return self._waybill(tx, scan, bench)
        return self._item(tx, scan, bench)

    def _resolve(self, tx: Tx, reading: Reading, bench: Bench) -> Reading:
        """Context breaks ties: take the first reading that means something here, else the most likely one."""
        open_order = tx.repo.order(bench.order_id) if bench.order_id else None
        for candidate in (reading, *reading.alternatives):
            if candidate.kind in (CodeKind.COMMAND, CodeKind.BADGE, CodeKind.UNKNOWN):
                return candidate
            if candidate.kind is CodeKind.ORDER and tx.repo.order(candidate.order_id or "") is not None:
                return candidate
            if (
                candidate.kind is CodeKind.WAYBILL
                and candidate.waybill is not None
                and tx.repo.order_id_by_waybill(candidate.waybill.number) is not None
            ):
                return candidate
            if (
                candidate.kind is CodeKind.ITEM
                and candidate.item is not None
                and open_order is not None
                and match_line(open_order, candidate.item) is not None
            ):
                return candidate
        return reading

    # -- helpers -------------------------------------------------------------------------------------------------
    def _actor(self, scan: _Scan, bench: Bench) -> Actor:
        role = bench.operator_role.value if bench.operator_role else Role.PACKER.value
        return Actor(role=role, id=bench.operator_badge, device=scan.device, bench=scan.bench_id)

    def _scan_data(self, scan: _Scan) -> dict[str, Any]:
        return {
            "code": _code_for_event(scan.reading, scan.raw),
            "kind": scan.reading.kind.value,
            "symbology": scan.symbology,
        }

    def _refuse(
        self, tx: Tx, scan: _Scan, bench: Bench, reason: str, order_id: str | None = None, **data: Any
    ) -> ScanOutcome:
        order_id = order_id or bench.order_id
        env = tx.append(
            NewEvent(
                EventType.SCAN_REJECTED,
                self._actor(scan, bench),
                order_id,
                {"reason": reason, **self._scan_data(scan), **data},
            )
        )
        tx.repo.save_bench(bench)
        order = tx.repo.order(order_id) if order_id else None
        return ScanOutcome(
            "refused",
            scan.reading.kind.value,
            feedback_for(reason),
            reason,
            order_id,
            order.status if order else None,
            env["seq"],
            detail=dict(data),
        )

    def _accept(
        self,
        tx: Tx,
        scan: _Scan,
        bench: Bench,
        message_key: str,
        seq: int | None,
        order: Order | None = None,
        **detail: Any,
    ) -> ScanOutcome:
        tx.repo.save_bench(bench)
        return ScanOutcome(
            "accepted",
            scan.reading.kind.value,
            Feedback.OK,
            None,
            order.order_id if order else None,
            order.status if order else None,
            seq,
            message_key,
            dict(detail),
        )

    def _apply_idle_lock(self, tx: Tx, bench: Bench) -> None:
        if bench.operator_badge is None or self.settings.idle_lock_s <= 0:
            return
        idle_ms = tx.wall_now_ms() - bench.last_activity_ms
        if idle_ms <= self.settings.idle_lock_s * 1000:
            return
        actor = Actor(role=Role.SYSTEM.value, bench=bench.bench_id)
        tx.append(
            NewEvent(
                EventType.OPERATOR_LOGGED_OUT,
                actor,
                bench.order_id,
                {"badge": bench.operator_badge, "reason": "idle_timeout", "idle_s": idle_ms // 1000},
            )
        )
        bench.operator_badge = None
        bench.operator_role = None
        bench.qty_next = None
        bench.reopen_requested_ms = None
        tx.repo.save_bench(bench)

    def _bench_order(self, tx: Tx, bench: Bench) -> Order | None:
        return tx.repo.order(bench.order_id) if bench.order_id else None

    # -- badges --------------------------------------------------------------------------------------------------
    def _badge(self, tx: Tx, scan: _Scan, bench: Bench) -> ScanOutcome:
        badge = scan.reading.badge or scan.reading.text
        operator = tx.repo.operator(badge)
        if operator is None or not operator.active:
            return self._refuse(tx, scan, bench, "unknown_badge", badge=badge)
        now = tx.wall_now_ms()
        if (
            operator.role is Role.SUPERVISOR
            and bench.reopen_requested_ms is not None
            and now - bench.reopen_requested_ms <= self.settings.reopen_authorisation_s * 1000
        ):
            what = bench.authorisation_for or "reopen"
            bench.reopen_requested_ms = bench.authorisation_for = None
            bench.last_activity_ms = now
            supervisor = Actor(role=Role.SUPERVISOR.value, id=badge, device=scan.device, bench=scan.bench_id)
            reason = tx.repo.authorisation_reason(bench.order_id) if bench.order_id else None
            return self._authorised(tx, scan, bench, supervisor, what, reason)
        if bench.operator_badge == badge:
            bench.last_activity_ms = now
            return self._accept(tx, scan, bench, "logged_in", None, self._bench_order(tx, bench))
        if bench.operator_badge is not None:
            tx.append(
                NewEvent(
                    EventType.OPERATOR_LOGGED_OUT,
                    self._actor(scan, bench),
                    None,
                    {"badge": bench.operator_badge, "reason": "replaced"},
                )
            )
        bench.operator_badge = badge
        bench.operator_role = operator.role
        bench.last_activity_ms = now
        bench.qty_next = None
        bench.reopen_requested_ms = None
        env = tx.append(
            NewEvent(
                EventType.OPERATOR_LOGGED_IN,
                self._actor(scan, bench),
                None,
                {"badge": badge, "name": operator.name, "role": operator.role.value},
            )
        )
        return self._accept(tx, scan, bench, "logged_in", env["seq"], self._bench_order(tx, bench), name=operator.name)

    # -- commands ------------------------------------------------------------------------------------------------
    def _command(self, tx: Tx, scan: _Scan, bench: Bench, command: Command) -> ScanOutcome:
        verb = command.verb
        if verb == "LOGOUT":
            env = tx.append(
                NewEvent(
                    EventType.OPERATOR_LOGGED_OUT,
                    self._actor(scan, bench),
                    None,
                    {"badge": bench.operator_badge, "reason": "logout"},
                )
            )
            bench.operator_badge = None
            bench.operator_role = None
            bench.qty_next = None
            bench.reopen_requested_ms = None
            return self._accept(tx, scan, bench, "logged_out", env["seq"])
        if verb == "BATCH":
            return self._batch(tx, scan, bench, command.arg)
        order = self._bench_order(tx, bench)
        if verb in _AUTHORISED_STATUSES:
            return self._needs_supervisor(tx, scan, bench, order, verb.lower(), command.arg)
        if verb == "HOLD":
            if order is None:
                return self._refuse(tx, scan, bench, "no_open_order")
            return self._move(tx, scan, bench, order, Action.HOLD, command.arg or "held_at_bench", "order_held")
        if order is None or order.status is not Status.PACKING:
            return self._refuse(tx, scan, bench, "no_open_order")
        if verb == "QTY":
            n = int(command.arg or "0")
            if not 1 <= n <= self.settings.max_qty_multiplier:
                return self._refuse(tx, scan, bench, "bad_command_argument", qty=n)
            bench.qty_next = n
            env = tx.append(NewEvent(EventType.QTY_ARMED, self._actor(scan, bench), order.order_id, {"qty": n}))
            return self._accept(tx, scan, bench, "qty_armed", env["seq"], order, qty=n)
        if verb == "COMPLETE":
            return self._complete(tx, scan, bench, order, auto=False)
        if verb == "ABORT":
            return self._abort(tx, scan, bench, order, command.arg or "aborted_at_bench")
        return self._refuse(tx, scan, bench, "unknown_command")

    def _move(
        self,
        tx: Tx,
        scan: _Scan,
        bench: Bench,
        order: Order,
        action: Action,
        reason: str | None,
        message_key: str,
    ) -> ScanOutcome:
        facts = Facts(actor_role=bench.operator_role or Role.PACKER, reason=reason)
        applied = apply_action(
            tx,
            order,
            action,
            facts,
            self._actor(scan, bench),
            refusal_event=EventType.SCAN_REJECTED,
            data=self._scan_data(scan),
        )
        if applied.refusal is not None:
            return self._refuse_applied(tx, scan, bench, order, applied.refusal, applied.seq)
        if order.status in (Status.ON_HOLD, Status.PENDING, Status.CANCELLED):
            bench.order_id = None
            bench.qty_next = None
        return self._accept(tx, scan, bench, message_key, applied.seq, order)

    def _needs_supervisor(
        self, tx: Tx, scan: _Scan, bench: Bench, order: Order | None, what: str, reason: str | None
    ) -> ScanOutcome:
        """CMD:REOPEN / CMD:REPRINT / CMD:OVERRIDE: done at once by a supervisor, else armed until a supervisor
        badge."""
        if order is None or order.status not in _AUTHORISED_STATUSES[what.upper()]:
            return self._refuse(tx, scan, bench, f"nothing_to_{what}")
        if what == "override" and not order.all_verified:
            return self._refuse(tx, scan, bench, "lines_incomplete", order.order_id)
        if bench.operator_role is Role.SUPERVISOR:
            return self._authorised(tx, scan, bench, self._actor(scan, bench), what, reason)
        bench.reopen_requested_ms = tx.wall_now_ms()
        bench.authorisation_for = what
        env = tx.append(
            NewEvent(
                EventType.REOPEN_REQUESTED,
                self._actor(scan, bench),
                order.order_id,
                {"authorise": what, "reason": reason},
            )
        )
        tx.repo.save_bench(bench)
        return ScanOutcome(
            "accepted",
            "command",
            Feedback.NEEDS_SUPERVISOR,
            None,
            order.order_id,
            order.status,
            env["seq"],
            f"{what}_requested",
        )

    def _authorised(
        self, tx: Tx, scan: _Scan, bench: Bench, supervisor: Actor, what: str, reason: str | None
    ) -> ScanOutcome:
        """Carry out what a supervisor authorised at the bench."""
        if what == "reprint":
            return self._reprint(tx, scan, bench, supervisor, reason or "reprint authorised at bench")
        if what == "override":
            order = self._bench_order(tx, bench)
            if order is None or order.status is not Status.PACKING:
                return self._refuse(tx, scan, bench, "nothing_to_override")
            waiver = _Waiver(supervisor, reason or "photo waived at bench")
            return self._complete(tx, scan, bench, order, auto=False, waiver=waiver)
        return self._reopen(tx, scan, bench, supervisor, reason or "reopened_at_bench")

    def _reprint(self, tx: Tx, scan: _Scan, bench: Bench, supervisor: Actor, reason: str) -> ScanOutcome:
        order = self._bench_order(tx, bench)
        reprint = self._devices(bench.bench_id).reprint
        if order is None:
            return self._refuse(tx, scan, bench, "nothing_to_reprint")
        if reprint is None:
            return self._refuse(tx, scan, bench, "no_printer", order.order_id)
        refusal = reprint(tx, order.order_id, supervisor, reason)
        if refusal is not None:
            return self._refuse(tx, scan, bench, refusal, order.order_id)
        return self._accept(tx, scan, bench, "reprint_queued", tx.events[-1]["seq"] if tx.events else None, order)

    def _reopen(self, tx: Tx, scan: _Scan, bench: Bench, supervisor: Actor, reason: str) -> ScanOutcome:
        order = self._bench_order(tx, bench)
        if order is None:
            return self._refuse(tx, scan, bench, "nothing_to_reopen")
        facts = Facts(actor_role=Role.SUPERVISOR, reason=reason)
        applied = apply_action(
            tx,
            order,
            Action.REOPEN,
            facts,
            supervisor,
            refusal_event=EventType.SCAN_REJECTED,
            data=self._scan_data(scan),
        )
        if applied.refusal is not None:
            return self._refuse(tx, scan, bench, applied.refusal, order.order_id)
        return self._accept(tx, scan, bench, "order_reopened", applied.seq, order)

    def _complete(
        self, tx: Tx, scan: _Scan, bench: Bench, order: Order, *, auto: bool, waiver: _Waiver | None = None
    ) -> ScanOutcome:
        ev = scan.evidence or self._no_evidence(bench.bench_id, order)
        actor = self._actor(scan, bench)
        facts = Facts(actor_role=bench.operator_role or Role.PACKER, weight=ev.weight, photo=ev.photo)
        if ev.weight_g is not None:
            order.measured_weight_g = ev.weight_g
        if ev.photo_ref is not None:
            order.photo_ref = ev.photo_ref
        data: dict[str, Any] = {"auto": auto, "measured_weight_g": ev.weight_g, "photo_ref": ev.photo_ref}
        if waiver is not None and ev.photo is Evidence.MISSING:
            # The supervisor answers for the box: they are the actor, and the waiver is in the event.
            actor = waiver.supervisor
            facts = Facts(actor_role=Role.SUPERVISOR, weight=ev.weight, photo=Evidence.WAIVED)
            data |= {"photo_waived_by": waiver.supervisor.id, "waiver_reason": waiver.reason}
        if auto:
            # A failed auto-complete is not a packer error: record nothing, report what is awaited.
            decision = decide(order, Action.COMPLETE, facts)
            if not decision.allowed:
                return ScanOutcome("refused", "item", Feedback.OK, decision.refusal, order.order_id, order.status)
        order.packed_by = bench.operator_badge
        applied = apply_action(
            tx,
            order,
            Action.COMPLETE,
            facts,
            actor,
            refusal_event=EventType.SCAN_REJECTED,
            data=data | ({} if auto else self._scan_data(scan)),
        )
        if applied.refusal is not None:
            missing = [ln.sku for ln in order.lines if ln.verified < ln.qty]
            return self._refuse_applied(tx, scan, bench, order, applied.refusal, applied.seq, missing=missing)
        return self._accept(tx, scan, bench, "order_packed", applied.seq, order)

    def _abort(self, tx: Tx, scan: _Scan, bench: Bench, order: Order, reason: str) -> ScanOutcome:
        returned = {ln.line_no: ln.verified for ln in order.lines if ln.verified}
        facts = Facts(actor_role=bench.operator_role or Role.PACKER, reason=reason)
        applied = apply_action(
            tx, order, Action.ABORT, facts, self._actor(scan, bench), refusal_event=EventType.SCAN_REJECTED
        )
        if applied.refusal is not None:
            return self._refuse(tx, scan, bench, applied.refusal, order.order_id)
        return_items(tx, order, self._actor(scan, bench), returned)
        bench.order_id = None
        bench.qty_next = None
        return self._accept(tx, scan, bench, "order_aborted", applied.seq, order, returned=returned)

    def _batch(self, tx: Tx, scan: _Scan, bench: Bench, arg: str | None) -> ScanOutcome:
        if arg is None:
            return self._refuse(tx, scan, bench, "bad_command_argument")
        if arg.upper() == "CLOSE":
            if bench.batch_id is None:
                return self._refuse(tx, scan, bench, "no_open_batch")
            count = tx.repo.close_batch(bench.batch_id, tx.wall_now_ms())
            env = tx.append(
                NewEvent(
                    EventType.BATCH_CLOSED,
                    self._actor(scan, bench),
                    None,
                    {"batch_id": bench.batch_id, "orders": count},
                )
            )
            bench.batch_id = None
            return self._accept(tx, scan, bench, "batch_closed", env["seq"], orders=count)
        carrier = arg.upper()
        if carrier not in {c.upper() for c in self.rules.waybill_patterns}:
            return self._refuse(tx, scan, bench, "unknown_carrier", carrier=carrier)
        if bench.batch_id is not None:
            return self._refuse(tx, scan, bench, "batch_already_open", batch_id=bench.batch_id)
        batch = CarrierBatch(str(uuid7()), carrier, bench.bench_id, tx.wall_now_ms())
        tx.repo.insert_batch(batch)
        bench.batch_id = batch.batch_id
        env = tx.append(
            NewEvent(
                EventType.BATCH_OPENED,
                self._actor(scan, bench),
                None,
                {"batch_id": batch.batch_id, "carrier": carrier},
            )
        )
        return self._accept(tx, scan, bench, "batch_opened", env["seq"], batch_id=batch.batch_id, carrier=carrier)

    # -- orders, waybills, items ---------------------------------------------------------------------------------
    def _open_order(self, tx: Tx, scan: _Scan, bench: Bench) -> ScanOutcome:
        order_id = scan.reading.order_id or scan.reading.text
        if bench.batch_id is not None:
            return self._refuse(tx, scan, bench, "dock_expects_waybill", order_id)
        order = tx.repo.order(order_id)
        if order is None:
            return self._refuse(tx, scan, bench, "unknown_order", None, order_ref=order_id[:MAX_CODE_IN_EVENT])
        current = self._bench_order(tx, bench)
        if current is not None and current.order_id != order.order_id:
            if current.status is Status.PACKING:
                return self._refuse(tx, scan, bench, "other_order_open", order.order_id, open_order=current.order_id)
            if current.status is Status.PACKED:
                return self._refuse(tx, scan, bench, "label_pending", order.order_id, open_order=current.order_id)
        resuming = order.status is Status.PACKING and order.bench_id == bench.bench_id
        facts = Facts(
            actor_role=bench.operator_role or Role.PACKER,
            logged_in=True,
            open_at_other_bench=order.status is Status.PACKING and order.bench_id != bench.bench_id,
        )
        if resuming:
            bench.order_id = order.order_id
            env = tx.append(
                NewEvent(
                    EventType.STATUS_CHANGED,
                    self._actor(scan, bench),
                    order.order_id,
                    {"from": "packing", "to": "packing", "action": "resume", "version": order.version},
                )
            )
            return self._accept(tx, scan, bench, "order_resumed", env["seq"], order)
        order.bench_id = bench.bench_id if order.status is Status.PENDING else order.bench_id
        applied = apply_action(
            tx,
            order,
            Action.OPEN,
            facts,
            self._actor(scan, bench),
            refusal_event=EventType.SCAN_REJECTED,
            data=self._scan_data(scan) | {"bench": bench.bench_id},
        )
        if applied.refusal is not None:
            return self._refuse_applied(tx, scan, bench, order, applied.refusal, applied.seq)
        bench.order_id = order.order_id
        bench.qty_next = None
        return self._accept(tx, scan, bench, "order_opened", applied.seq, order)

    def _waybill(self, tx: Tx, scan: _Scan, bench: Bench) -> ScanOutcome:
        assert scan.reading.waybill is not None
        number = scan.reading.waybill.number
        owner_id = tx.repo.order_id_by_waybill(number)
        if bench.batch_id is not None:
            return self._hand_over(tx, scan, bench, owner_id)
        current = self._bench_order(tx, bench)
        if current is None:
            return self._refuse(tx, scan, bench, "no_open_order", owner_id)
        if owner_id is not None and owner_id != current.order_id:
            return self._refuse(tx, scan, bench, "waybill_mismatch", current.order_id, waybill_order=owner_id)
        devices = self._devices(bench.bench_id)
        printed = Evidence.NOT_REQUIRED
        if devices.printer is not None:
            printed = Evidence.PRESENT if devices.printer.label_printed(current.order_id) else Evidence.MISSING
        facts = Facts(
            actor_role=bench.operator_role or Role.PACKER,
            waybill_matches=current.waybill_no is not None and number == current.waybill_no,
            label_printed=printed,
        )
        applied = apply_action(
            tx,
            current,
            Action.LABEL,
            facts,
            self._actor(scan, bench),
            refusal_event=EventType.SCAN_REJECTED,
            data=self._scan_data(scan) | {"waybill_no": number},
        )
        if applied.refusal is not None:
            return self._refuse_applied(tx, scan, bench, current, applied.refusal, applied.seq)
        bench.order_id = None
        return self._accept(tx, scan, bench, "order_labeled", applied.seq, current)

    def _hand_over(self, tx: Tx, scan: _Scan, bench: Bench, order_id: str | None) -> ScanOutcome:
        order = tx.repo.order(order_id) if order_id else None
        if order is None:
            return self._refuse(tx, scan, bench, "unknown_waybill")
        batch = tx.repo.batch(bench.batch_id or "")
        assert batch is not None
        facts = Facts(
            actor_role=bench.operator_role or Role.PACKER,
            batch_carrier_matches=(order.carrier or "").upper() == batch.carrier,
        )
        applied = apply_action(
            tx,
            order,
            Action.HAND_OVER,
            facts,
            self._actor(scan, bench),
            refusal_event=EventType.SCAN_REJECTED,
            data=self._scan_data(scan) | {"batch_id": batch.batch_id, "carrier": batch.carrier},
        )
        if applied.refusal is not None:
            return self._refuse_applied(tx, scan, bench, order, applied.refusal, applied.seq)
        tx.repo.add_to_batch(batch.batch_id, order.order_id, applied.seq)
        return self._accept(tx, scan, bench, "handed_over", applied.seq, order)

    def _refuse_applied(
        self, tx: Tx, scan: _Scan, bench: Bench, order: Order, reason: str, seq: int, **detail: Any
    ) -> ScanOutcome:
        """The answer to a scan whose transition the lifecycle refused (the refusal event is already written)."""
        tx.repo.save_bench(bench)
        return ScanOutcome(
            "refused",
            scan.reading.kind.value,
            feedback_for(reason),
            reason,
            order.order_id,
            order.status,
            seq,
            detail=dict(detail),
        )

    def _item(self, tx: Tx, scan: _Scan, bench: Bench) -> ScanOutcome:
        item = scan.reading.item
        assert item is not None
        order = self._bench_order(tx, bench)
        if order is None:
            return self._refuse(tx, scan, bench, "no_open_order")
        if order.status is not Status.PACKING:
            reason = {Status.CANCELLED: "order_cancelled", Status.ON_HOLD: "order_on_hold"}.get(
                order.status, "order_not_packing"
            )
            return self._refuse(tx, scan, bench, reason, order.order_id)
        match = match_line(order, item)
        if match is None:
            expected = [ln.sku for ln in order.lines if ln.remaining > 0]
            return self._refuse(tx, scan, bench, "wrong_item", order.order_id, expected=expected)
        line = match.line
        qty = bench.qty_next or 1
        data = {"line_no": line.line_no, "sku": line.sku}
        if line.serialized and match.unit_key is None:
            return self._refuse(tx, scan, bench, "serial_required", order.order_id, **data)
        if match.unit_key is not None and qty > 1:
            bench.qty_next = None
            return self._refuse(tx, scan, bench, "qty_not_allowed_for_serialized", order.order_id, **data)
        if match.unit_key is not None and tx.repo.unit_seen(order.order_id, match.unit_key):
            return self._refuse(tx, scan, bench, "same_unit_twice", order.order_id, unit=match.unit_key, **data)
        if line.verified + qty > line.qty:
            bench.qty_next = None
            return self._refuse(
                tx,
                scan,
                bench,
                "over_quantity",
                order.order_id,
                verified=line.verified,
                qty=line.qty,
                tried=qty,
                **data,
            )
        line.verified += qty
        order.version += 1
        tx.repo.save_verified(order, tx.wall_now_ms(), line)
        env = tx.append(
            NewEvent(
                EventType.ITEM_VERIFIED,
                self._actor(scan, bench),
                order.order_id,
                self._scan_data(scan)
                | data
                | {
                    "qty": qty,
                    "verified": line.verified,
                    "of": line.qty,
                    "gift": line.is_gift,
                    "serial": item.serial,
                    "batch": item.batch,
                    "expiry": item.expiry.isoformat() if item.expiry else None,
                },
            )
        )
        if match.unit_key is not None:
            tx.repo.record_unit(order.order_id, match.unit_key, line.line_no, env["seq"])
        bench.qty_next = None
        return self._accept(
            tx,
            scan,
            bench,
            "item_verified",
            env["seq"],
            order,
            line_no=line.line_no,
            verified=line.verified,
            of=line.qty,
            all_verified=order.all_verified,
        )

    # -- failure and interception --------------------------------------------------------------------------------
    def _record_internal_error(self, bench_id: str, device: str, raw: bytes | str) -> ScanOutcome:
        seq = None
        try:
            with self.store.transaction() as tx:
                data = _raw_bytes(raw)
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

    def _handle_committed(self, events: list[dict[str, Any]]) -> None:
        """After commit: alarm the bench when the hub cancels an order that is on it (interception)."""
        for env in events:
            data = env["data"]
            if env["type"] == EventType.STATUS_CHANGED and data.get("to") == "cancelled" and data.get("bench"):
                self.indicator.signal(str(data["bench"]), Feedback.BLOCKED, f"Order {env['order_id']} CANCELLED")


def return_items(tx: Tx, order: Order, actor: Actor, returned: dict[int, int]) -> None:
    """Record that an order's verified items went back (abort), and reset its counts."""
    for line in order.lines:
        line.verified = 0
    order.version += 1
    tx.repo.save_order_state(order, tx.wall_now_ms())
    units = tx.repo.forget_units(order.order_id)
    if returned:
        tx.append(
            NewEvent(
                EventType.ITEMS_RETURNED,
                actor,
                order.order_id,
                {"lines": {str(k): v for k, v in returned.items()}, "units": units},
            )
        )
