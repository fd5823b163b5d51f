"""The station's domain objects: orders and their lines, operators, benches, carrier batches.

Plain dataclasses with no storage or hardware concerns. Status codes are the contract (docs/orders.md, "Lifecycle");
the labels are for people.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NO_DEADLINE_MS = 9_000_000_000_000_000  # "no ship-by time": sorts after every real deadline


class Status(StrEnum):
    """Canonical order statuses at the station."""

    PENDING = "pending"
    PACKING = "packing"
    PACKED = "packed"
    LABELED = "labeled"
    HANDED_OVER = "handed_over"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


STATUS_LABELS: dict[Status, dict[str, str]] = {
    Status.PENDING: {"zh-CN": "待打包", "en": "Pending"},
    Status.PACKING: {"zh-CN": "打包中", "en": "Packing"},
    Status.PACKED: {"zh-CN": "已打包", "en": "Packed"},
    Status.LABELED: {"zh-CN": "已打单", "en": "Labeled"},
    Status.HANDED_OVER: {"zh-CN": "已揽收", "en": "Handed over"},
    Status.ON_HOLD: {"zh-CN": "已挂起", "en": "On hold"},
    Status.CANCELLED: {"zh-CN": "已取消", "en": "Cancelled"},
}


class Role(StrEnum):
    """Who acts on an order. Packers and supervisors badge in; the hub and the system act remotely."""

    PACKER = "packer"
    SUPERVISOR = "supervisor"
    HUB = "hub"
    SYSTEM = "system"


class Feedback(StrEnum):
    """The pattern a bench shows for a scan outcome (stack light, buzzer and screen each render it)."""

    OK = "ok"
    WRONG_ITEM = "wrong_item"
    OVER_QUANTITY = "over_quantity"
    BLOCKED = "blocked"
    NEEDS_SUPERVISOR = "needs_supervisor"
    ERROR = "error"
    ORDER_CHANGED = "order_changed"  # the hub changed the order on the bench: look at the screen before going on
    ATTENTION = "attention"  # an alert wants a supervisor's eye (stack light attention pattern)
    DEVICE_FAULT = "device_fault"  # a device is down: scanner, printer, camera, controller or broker
    DEVICE_OK = "device_ok"  # every device is back: end the device-fault pattern if it is still showing
    NONE = "none"  # nothing to show: a bounced repeat of the previous read


class OrderNumber(StrEnum):
    """The numbers a scan can name an order by (docs/orders.md, "Scans")."""

    ORDER_ID = "order_id"  # the station's and the hub's id, as on the pick ticket
    CHANNEL = "channel_order_no"  # the shop's own number, as on the packing slip
    WAYBILL = "waybill_no"  # the carrier's number, as on the label


@dataclass(slots=True)
class OrderLine:
    """One line of an order: what must go into the box, and how much of it was verified."""

    line_no: int
    sku: str
    name: str
    barcodes: tuple[str, ...]
    qty: int
    serialized: bool = False
    gift_for: int | None = None  # line_no of the main line this gift ships with
    verified: int = 0

    @property
    def is_gift(self) -> bool:
        """A gift line ships with a main line and must be scanned like any other."""
        return self.gift_for is not None

    @property
    def remaining(self) -> int:
        """Units still to verify."""
        return self.qty - self.verified


@dataclass(slots=True)
class Order:
    """An order as the station holds it. `version` is the station's revision (the HTTP ETag);
    `hub_version` is the version of the hub's document it was built from."""

    order_id: str
    hub_version: int
    version: int
    status: Status
    lines: list[OrderLine]
    carrier: str | None = None
    waybill_no: str | None = None
    weight_g: int | None = None
    weight_tolerance_g: int | None = None
    ship_by: str | None = None
    placed_at: str | None = None
    held_from: Status | None = None  # the status RELEASE returns to
    bench_id: str | None = None  # the bench it is open at (packing) or was packed at
    packed_by: str | None = None
    measured_weight_g: int | None = None
    photo_ref: str | None = None
    document: dict[str, Any] = field(default_factory=dict)  # the hub's order document as received
    priority: str = "C"  # S > A > B > C
    priority_rule: str = "default"  # the rule (or override) that set it
    priority_override: str | None = None  # an explicit level from the hub or a supervisor
    deadline_ms: int = NO_DEADLINE_MS
    status_since_ms: int = 0
    received_at_ms: int = 0

    @property
    def channel_order_no(self) -> str | None:
        """The order's number at the channel it was sold on (printed on the packing slip), if the hub gave one."""
        value = self.document.get("channel_order_no")
        return value if isinstance(value, str) and value else None

    def line(self, line_no: int) -> OrderLine | None:
        """The line with this number, if any."""
        return next((ln for ln in self.lines if ln.line_no == line_no), None)

    @property
    def all_verified(self) -> bool:
        """Every line, gifts included, fully verified."""
        return all(ln.verified >= ln.qty for ln in self.lines)

    @property
    def missing_gifts(self) -> list[OrderLine]:
        """Gift lines not yet fully verified."""
        return [ln for ln in self.lines if ln.is_gift and ln.verified < ln.qty]


@dataclass(frozen=True, slots=True)
class Operator:
    """A person who badges in at a bench."""

    badge: str
    name: str
    role: Role
    active: bool = True


@dataclass(slots=True)
class Bench:
    """What a bench is doing right now (persisted, so a restart resumes mid-order)."""

    bench_id: str
    operator_badge: str | None = None
    operator_role: Role | None = None
    last_activity_ms: int = 0
    order_id: str | None = None  # the order on the bench: packing, or packed and awaiting its label scan
    qty_next: int | None = None  # CMD:QTY:n armed for the next item scan
    reopen_requested_ms: int | None = None  # CMD:REOPEN / CMD:REPRINT armed, waiting for a supervisor badge
    authorisation_for: str | None = None  # reopen, reprint or override: what the supervisor's badge will authorise
    batch_id: str | None = None  # an open carrier batch makes this bench a dock


@dataclass(frozen=True, slots=True)
class CarrierBatch:
    """A carrier pickup: labeled orders scanned into it are handed over."""

    batch_id: str
    carrier: str
    bench_id: str
    opened_at_ms: int
    closed_at_ms: int | None = None
