"""Order intake: the one way orders enter the station (hub commands, `station orders import`, the demo).

Validates the order document (docs/orders.md, "The order document"; cloud_sync/schema/order.json): a
malformed order is refused naming the field at fault. Intake is idempotent on (order_id, version), never
rewrites an order a packer has started (unless only its header changed), and keeps a cancellation that arrived
before its order so that the cancellation wins.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import NO_DEADLINE_MS, Order, OrderLine, Role, Status
from station.orders.names import checked_text
from station.orders.revision import apply_revision, compare
from station.orders.transitions import Applied, apply_action
from station.priority.prioritizer import assign
from station.priority.rules import PrioritySettings
from station.store import Store, Tx

# Order ids as shops write them (`#1001`, `ERP-2026-000123`, a 19-digit Taobao number): printable ASCII
# without spaces, so that a Code 128 barcode carries them, except ZPL's command characters ^ ~ and \.
_ID = re.compile(r"^[\x21-\x5b\x5d\x5f-\x7d]{1,64}$")
ID_RULE = (
    "must be 1-64 printable ASCII characters without spaces (not ^ ~ or \\, not . or ..), e.g. #1001 or ERP-2026-000123"
)


class AddressIn(BaseModel):
    """Recipient address (Chinese administrative levels)."""

    province: str = Field(max_length=64)
    city: str = Field(max_length=64)
    district: str = Field("", max_length=64)
    street: str = Field(max_length=256)

    _plain = field_validator("province", "city", "district", "street")(checked_text)


class CustomerIn(BaseModel):
    """The customer, as far as packing and priority need it."""

    vip_level: Literal["S", "A", "B", "C"] | None = None
    name: str = Field(max_length=128)
    phone: str | None = Field(None, max_length=32)
    address: AddressIn | None = None

    @field_validator("name", "phone")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else checked_text(value)


class LineIn(BaseModel):
    """One order line on the wire."""

    model_config = ConfigDict(extra="ignore")

    line_no: int = Field(ge=1, le=9999)
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    barcodes: list[str] = Field(min_length=1, max_length=32)
    qty: int = Field(ge=1, le=9999)
    serialized: bool = False
    gift_for: int | None = Field(None, ge=1)

    _plain_name = field_validator("name")(checked_text)

    @field_validator("barcodes")
    @classmethod
    def _barcodes_printable(cls, value: list[str]) -> list[str]:
        for code in value:
            if not code or len(code) > 128 or not code.isprintable():
                raise ValueError(f"barcode {code[:40]!r} must be 1-128 printable characters")
        return value


class OrderIn(BaseModel):
    """An order as the hub sends it (cloud_sync/schema/order.json). Unknown fields are kept in the stored document."""

    model_config = ConfigDict(extra="ignore")

    order_id: str
    version: int = Field(ge=1)
    channel: str | None = Field(None, max_length=32)
    channel_order_no: str | None = Field(None, max_length=64)
    ship_by: datetime | None = None
    placed_at: datetime | None = None
    customer: CustomerIn | None = None
    amount: Decimal | None = Field(None, ge=0)
    currency: str | None = Field(None, min_length=3, max_length=3)
    notes: str | None = Field(None, max_length=1000)
    tags: list[str] = Field(default_factory=list)
    promo_ends_at: datetime | None = None
    carrier: str | None = Field(None, max_length=16)
    waybill_no: str | None = Field(None, max_length=64)
    weight_g: int | None = Field(None, ge=0)
    weight_tolerance_g: int | None = Field(None, ge=0)
    lines: list[LineIn] = Field(min_length=1, max_length=500)

    @field_validator("order_id")
    @classmethod
    def _order_id_shape(cls, value: str) -> str:
        if not _ID.fullmatch(value) or value in (".", ".."):  # a dot segment would vanish from a URL
            raise ValueError(ID_RULE)
        return value

    @field_validator("ship_by", "placed_at", "promo_ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-02-05T18:00:00+08:00")
        return value

    @model_validator(mode="after")
    def _lines_consistent(self) -> "OrderIn":
        numbers = [ln.line_no for ln in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("lines: line_no values must be unique")
        mains = {ln.line_no for ln in self.lines if ln.gift_for is None}
        for ln in self.lines:
            if ln.gift_for is not None and ln.gift_for not in mains:
                raise ValueError(
                    f"lines: gift line {ln.line_no} refers to line {ln.gift_for}, which is not a main line"
                )
        return self


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake did with one order document."""

    result: Literal["created", "updated", "duplicate", "stale", "refused"]
    order_id: str | None
    reason: str | None = None
    errors: list[str] = field(default_factory=list)
    seq: int | None = None
    status: Status | None = None

    @property
    def ok(self) -> bool:
        """True unless the document was refused (an older version than the one applied is refused too)."""
        return self.result not in ("refused", "stale")


def validation_errors(err: ValidationError) -> list[str]:
    """Readable `field.path: message` lines."""
    return [f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in err.errors()]


def _to_order(doc: OrderIn, raw: Mapping[str, Any]) -> Order:
    lines = [
        OrderLine(ln.line_no, ln.sku, ln.name, tuple(ln.barcodes), ln.qty, ln.serialized, ln.gift_for)
        for ln in sorted(doc.lines, key=lambda ln: ln.line_no)
    ]
    return Order(
        order_id=doc.order_id,
        hub_version=doc.version,
        version=1,
        status=Status.PENDING,
        lines=lines,
        carrier=doc.carrier.upper() if doc.carrier else None,
        waybill_no=doc.waybill_no,
        weight_g=doc.weight_g,
        weight_tolerance_g=doc.weight_tolerance_g,
        ship_by=doc.ship_by.isoformat() if doc.ship_by else None,
        placed_at=doc.placed_at.isoformat() if doc.placed_at else None,
        document=dict(raw),
        deadline_ms=int(doc.ship_by.timestamp() * 1000) if doc.ship_by else NO_DEADLINE_MS,
        priority_rule="",  # not assigned yet
    )


def _line_key(order: Order) -> list[tuple[Any, ...]]:
    return [(ln.line_no, ln.sku, ln.barcodes, ln.qty, ln.serialized, ln.gift_for) for ln in order.lines]


def intake_order(
    store: Store, raw: Mapping[str, Any], actor: Actor, priority: PrioritySettings | None = None
) -> IntakeResult:
    """Validate and store one order document; every outcome but a duplicate or stale version is an event.

    The order's priority level is evaluated here with `priority` (the station's current rules).
    """
    rules = priority or PrioritySettings()
    order_id = raw.get("order_id") if isinstance(raw, Mapping) else None
    order_ref = order_id if isinstance(order_id, str) and _ID.fullmatch(order_id) else None
    try:
        doc = OrderIn.model_validate(raw)
    except ValidationError as err:
        errors = validation_errors(err)
        with store.transaction() as tx:
            env = tx.append(
                NewEvent(
                    EventType.ORDER_REFUSED,
                    actor,
                    order_ref,
                    {"reason": "invalid_order", "errors": errors[:20]},
                )
            )
        return IntakeResult("refused", order_ref, "invalid_order", errors, env["seq"])
    incoming = _to_order(doc, raw)
    with store.transaction() as tx:
        existing = tx.repo.order(doc.order_id)
        if existing is None:
            return _create(tx, incoming, actor, rules)
        return _update(tx, existing, incoming, actor, rules)


def _create(tx: Tx, order: Order, actor: Actor, rules: PrioritySettings) -> IntakeResult:
    env = tx.append(
        NewEvent(
            EventType.ORDER_RECEIVED,
            actor,
            order.order_id,
            {"hub_version": order.hub_version, "lines": len(order.lines)},
        )
    )
    now = tx.wall_now_ms()
    order.received_at_ms = order.status_since_ms = now
    assign(tx, order, rules, actor)
    tx.repo.insert_order(order, now)
    cancellation = tx.repo.pending_cancellation(order.order_id)
    if cancellation is None:
        return IntakeResult("created", order.order_id, seq=env["seq"], status=order.status)
    # The hub cancelled this order before we ever saw it: the cancellation wins.
    facts = Facts(actor_role=Role.HUB, reason=cancellation["reason"])
    applied = apply_action(
        tx,
        order,
        Action.CANCEL,
        facts,
        actor,
        data={"cancelled_before_arrival": True, "source": cancellation["source"]},
    )
    tx.repo.db.execute("DELETE FROM pending_cancellations WHERE order_id = ?", [order.order_id])
    return IntakeResult("created", order.order_id, "cancelled_before_arrival", seq=applied.seq, status=order.status)


def _not_started(order: Order) -> bool:
    """Lines may change only before packing started (also while held, if it was held before packing)."""
    if order.status is Status.ON_HOLD:
        return order.held_from in (None, Status.PENDING)
    return order.status is Status.PENDING


def _update(tx: Tx, existing: Order, incoming: Order, actor: Actor, rules: PrioritySettings) -> IntakeResult:
    if incoming.hub_version == existing.hub_version:
        return IntakeResult("duplicate", existing.order_id, status=existing.status)
    lines_changed = _line_key(incoming) != _line_key(existing)
    refusal = None
    if incoming.hub_version < existing.hub_version:
        refusal = "stale_version"  # an older version than the one applied: recorded, never applied
    elif existing.status is Status.CANCELLED:
        refusal = "order_cancelled"
    elif existing.status is Status.HANDED_OVER and (lines_changed or compare(existing, incoming).label_changed):
        refusal = "order_handed_over"  # the parcel has left with the carrier: too late to change it here
    if refusal is not None:
        env = tx.append(
            NewEvent(
                EventType.ORDER_REFUSED,
                actor,
                existing.order_id,
                {"reason": refusal, "hub_version": incoming.hub_version, "status": existing.status.value},
            )
        )
        outcome: Literal["stale", "refused"] = "stale" if refusal == "stale_version" else "refused"
        return IntakeResult(outcome, existing.order_id, refusal, seq=env["seq"], status=existing.status)
    incoming.status = existing.status
    incoming.held_from = existing.held_from
    incoming.bench_id = existing.bench_id
    incoming.packed_by = existing.packed_by
    incoming.measured_weight_g = existing.measured_weight_g
    incoming.photo_ref = existing.photo_ref
    incoming.status_since_ms = existing.status_since_ms
    incoming.received_at_ms = existing.received_at_ms
    incoming.priority, incoming.priority_rule = existing.priority, existing.priority_rule
    incoming.priority_override = existing.priority_override
    incoming.version = existing.version + 1
    started = not _not_started(existing) and existing.status is not Status.HANDED_OVER
    revision = compare(existing, incoming)  # carries the verified counts over into the new lines
    if lines_changed and not started:
        for line in incoming.lines:
            line.verified = 0  # nothing is in a box yet: packing starts again from the new lines
        tx.repo.forget_units(existing.order_id)
    env = tx.append(
        NewEvent(
            EventType.ORDER_UPDATED,
            actor,
            existing.order_id,
            {
                "hub_version": incoming.hub_version,
                "version": incoming.version,
                "lines_changed": lines_changed,
            },
        )
    )
    assign(tx, incoming, rules, actor)  # notes, amount or VIP level may have changed
    if started and revision.matters_at_the_bench:
        seq = apply_revision(tx, existing, incoming, revision, actor)
        return IntakeResult("updated", existing.order_id, "revised_on_bench", seq=seq, status=incoming.status)
    tx.repo.replace_order(incoming, tx.wall_now_ms())
    return IntakeResult("updated", existing.order_id, seq=env["seq"], status=incoming.status)


def cancel_order(store: Store, order_id: str, reason: str, actor: Actor) -> IntakeResult:
    """The hub cancels an order: intercept it at its bench, or keep the cancellation until the order arrives."""
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            tx.repo.record_pending_cancellation(order_id, reason, actor.id or actor.role, tx.wall_now_ms())
            env = tx.append(NewEvent(EventType.CANCEL_RECORDED, actor, order_id, {"reason_text": reason}))
            return IntakeResult("created", order_id, "cancel_recorded_before_order", seq=env["seq"])
        applied = intercept(tx, order, Facts(actor_role=Role.HUB, reason=reason), actor)
        if applied.refusal is not None:
            return IntakeResult("refused", order_id, applied.refusal, seq=applied.seq, status=order.status)
        return IntakeResult("updated", order_id, seq=applied.seq, status=order.status)


def intercept(tx: Tx, order: Order, facts: Facts, actor: Actor) -> Applied:
    """Cancel `order` in `tx` as the lifecycle decides with `facts` (the hub's, or a supervisor's with a
    reason). An order on a bench is intercepted there: the status change carries `interception`, the bench and
    what was verified, so that the bench workflow sounds the `blocked` alarm and shows it at once."""
    benches = tx.repo.bench_ids_with_order(order.order_id)
    on_bench = order.status in (Status.PACKING, Status.PACKED, Status.LABELED)
    data: dict[str, Any] = {"interception": on_bench}
    if on_bench and benches:
        data["bench"] = benches[0]
        data["verified"] = {str(ln.line_no): ln.verified for ln in order.lines if ln.verified}
    applied = apply_action(tx, order, Action.CANCEL, facts, actor, data=data)
    if applied.refusal is None:
        # The bench keeps showing the cancelled order, so that every scan for it until the next order is
        # refused as `order_cancelled` (not "scan an order first"); the next order's code replaces it.
        for bench_id in benches:
            bench = tx.repo.bench(bench_id)
            bench.qty_next = None
            tx.repo.save_bench(bench)
    return applied
