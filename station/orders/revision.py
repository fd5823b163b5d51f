"""An order the hub changes while it is on a bench: the difference, reconciled with what was already packed.

`compare` is pure: it matches the new lines to the old ones by line number and SKU, keeps what was verified
where the line still wants it, and lists what the bench must do about the rest. `apply_revision` writes the
outcome in the caller's transaction: the new document and lines, the units to put back, the move back to
`packing` of a packed or labelled order whose box or label is no longer right, the voiding of its printed
label, and the `order.revised` event the bench is alerted by (docs/orders.md, "An order that changes on the
bench").
"""

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import Order, OrderLine, Role, Status
from station.orders.transitions import apply_action
from station.store import Tx

# A started order: its box is being (or has been) filled at a bench.
STARTED = frozenset({Status.PACKING, Status.PACKED, Status.LABELED})


@dataclass(frozen=True, slots=True)
class PutBack:
    """Units of a line the order no longer wants: they are in the box and must be scanned out."""

    line_no: int
    sku: str
    name: str
    barcodes: tuple[str, ...]
    serialized: bool
    qty: int

    def as_line(self, returned: int = 0) -> OrderLine:
        """The put-back as a line to match scans against (`qty` to take out, `returned` so far)."""
        return OrderLine(self.line_no, self.sku, self.name, self.barcodes, self.qty, self.serialized, None, returned)


@dataclass(slots=True)
class Revision:
    """What changed between the order on the bench and the hub's new version."""

    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    qty_changed: list[dict[str, Any]] = field(default_factory=list)
    address_changed: bool = False
    carrier_changed: bool = False
    waybill_changed: bool = False
    put_back: list[PutBack] = field(default_factory=list)

    @property
    def contents_changed(self) -> bool:
        """The box must hold something else."""
        return bool(self.added or self.removed or self.qty_changed)

    @property
    def label_changed(self) -> bool:
        """A label printed before no longer fits the order."""
        return self.address_changed or self.carrier_changed or self.waybill_changed

    @property
    def matters_at_the_bench(self) -> bool:
        """The packer must be told (notes, tags or the deadline alone do not stop a bench)."""
        return self.contents_changed or self.label_changed

    def as_data(self) -> dict[str, Any]:
        """The difference as the `order.revised` event and the bench screen show it."""
        return {
            "added": self.added,
            "removed": self.removed,
            "qty_changed": self.qty_changed,
            "address_changed": self.address_changed,
            "carrier_changed": self.carrier_changed,
            "waybill_changed": self.waybill_changed,
            "put_back": [{"line_no": p.line_no, "sku": p.sku, "name": p.name, "qty": p.qty} for p in self.put_back],
        }


def _recipient(order: Order) -> str:
    customer = order.document.get("customer") or {}
    keys = ("name", "phone", "address")
    return json.dumps({k: customer.get(k) for k in keys}, sort_keys=True, ensure_ascii=False)


def compare(existing: Order, incoming: Order) -> Revision:
    """The difference, and the verified counts carried over into `incoming`'s lines (pure but for those)."""
    revision = Revision(
        address_changed=_recipient(existing) != _recipient(incoming),
        carrier_changed=(existing.carrier or "") != (incoming.carrier or ""),
        waybill_changed=(existing.waybill_no or "") != (incoming.waybill_no or ""),
    )
    old_by_no = {line.line_no: line for line in existing.lines}
    kept: set[int] = set()
    for new in incoming.lines:
        old = old_by_no.get(new.line_no)
        if old is None or old.sku != new.sku:
            revision.added.append({"line_no": new.line_no, "sku": new.sku, "name": new.name, "qty": new.qty})
            new.verified = 0
            continue
        kept.add(old.line_no)
        new.verified = min(old.verified, new.qty)
        if new.qty != old.qty:
            revision.qty_changed.append({"line_no": new.line_no, "sku": new.sku, "from": old.qty, "to": new.qty})
        if old.verified > new.qty:
            revision.put_back.append(_put_back(old, old.verified - new.qty))
    for old in existing.lines:
        if old.line_no in kept:
            continue
        revision.removed.append({"line_no": old.line_no, "sku": old.sku, "name": old.name, "verified": old.verified})
        if old.verified:
            revision.put_back.append(_put_back(old, old.verified))
    return revision


def _put_back(line: OrderLine, qty: int) -> PutBack:
    return PutBack(line.line_no, line.sku, line.name, line.barcodes, line.serialized, qty)


def apply_revision(tx: Tx, existing: Order, incoming: Order, revision: Revision, actor: Actor) -> int:
    """Write the revised order in `tx` (its state carried over by the caller); return the `order.revised` seq.

    A packed or labelled order (or one held from there) whose box or label changed goes back to `packing`
    through the lifecycle's `reopen`, as the hub; its printed labels are voided so that only a label printed
    for the new version can be scanned back, and the auto-print queues a new one when it is packed again.
    """
    before = existing.status
    packed_before = (existing.held_from if before is Status.ON_HOLD else before) in (Status.PACKED, Status.LABELED)
    back_to_packing = packed_before and revision.matters_at_the_bench
    tx.repo.replace_order(incoming, tx.wall_now_ms())
    for put_back in revision.put_back:
        _insert_put_back(tx, incoming.order_id, put_back)
    for removed in revision.removed:
        tx.repo.db.execute(
            "UPDATE verified_units SET line_no = -line_no WHERE order_id = ? AND line_no = ?",
            [incoming.order_id, removed["line_no"]],
        )  # still in the box until put back, but no longer a line's: negative marks a put-back unit
    voided = None
    if back_to_packing or (revision.label_changed and before in STARTED):
        voided = void_labels(tx, existing)
    if back_to_packing:
        if incoming.status is Status.ON_HOLD:
            incoming.held_from = Status.PACKING
            incoming.version += 1
            tx.repo.save_order_state(incoming, tx.wall_now_ms())
        else:
            facts = Facts(actor_role=Role.HUB, reason="order_changed")
            apply_action(tx, incoming, Action.REOPEN, facts, actor)
            _back_on_its_bench(tx, incoming)
    bench = existing.bench_id if before in STARTED or existing.held_from in STARTED else None
    env = tx.append(
        NewEvent(
            EventType.ORDER_REVISED,
            actor,
            incoming.order_id,
            {
                "hub_version": incoming.hub_version,
                "version": incoming.version,
                "from_status": before.value,
                "status": incoming.status.value,
                "bench": bench,
                "label_voided": voided is not None,
                "voided_waybill": voided,
                **revision.as_data(),
            },
        )
    )
    return int(env["seq"])


def _back_on_its_bench(tx: Tx, order: Order) -> None:
    # The bench it was packed at takes it back at once if it is free; else its packer resumes it there later
    # (scanning it), after the order in hand.
    if not order.bench_id:
        return
    bench = tx.repo.bench(order.bench_id)
    current = tx.repo.order(bench.order_id) if bench.order_id else None
    if current is None or current.order_id == order.order_id or current.status not in STARTED:
        bench.order_id = order.order_id
        bench.qty_next = None
        tx.repo.save_bench(bench)


def _insert_put_back(tx: Tx, order_id: str, put_back: PutBack) -> None:
    tx.repo.db.execute(
        "INSERT INTO put_backs (order_id, line_no, sku, name, barcodes, serialized, qty, returned) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT(order_id, line_no) DO UPDATE SET qty = qty + excluded.qty",
        [
            order_id,
            put_back.line_no,
            put_back.sku,
            put_back.name,
            json.dumps(list(put_back.barcodes)),
            int(put_back.serialized),
            put_back.qty,
        ],
    )


def void_labels(tx: Tx, order: Order) -> str:
    """Void every shipping label printed for `order` so far: none of them can be scanned back onto it or
    hand it over (`label_voided`). Returns the waybill the voided labels carry ("" for none)."""
    row = next(
        tx.repo.db.query("SELECT coalesce(max(job_no), 0) AS last FROM print_jobs WHERE order_id = ?", [order.order_id])
    )
    waybill = order.waybill_no or ""
    tx.repo.db.execute(
        "INSERT INTO label_voids (order_id, waybill_no, through_job_no, voided_at_ms) VALUES (?, ?, ?, ?)",
        [order.order_id, waybill, row["last"], tx.wall_now_ms()],
    )
    return waybill


def outstanding_put_backs(db: sqlite_utils.Database, order_id: str) -> list[OrderLine]:
    """The put-backs of an order not yet scanned out, as lines (`qty` to take out, `verified` taken out)."""
    rows = db.query("SELECT * FROM put_backs WHERE order_id = ? AND returned < qty ORDER BY line_no", [order_id])
    return [
        PutBack(
            r["line_no"], r["sku"], r["name"], tuple(json.loads(r["barcodes"])), bool(r["serialized"]), r["qty"]
        ).as_line(r["returned"])
        for r in rows
    ]


def voided_label_order(tx: Tx, waybill_no: str) -> str | None:
    """The order whose label with this waybill was voided, if any."""
    row = next(tx.repo.db.query("SELECT order_id FROM label_voids WHERE waybill_no = ? LIMIT 1", [waybill_no]), None)
    return None if row is None else str(row["order_id"])
