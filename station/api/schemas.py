"""Request and response bodies of the HTTP API, with examples for the OpenAPI document."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Exactly the characters Python's `str.isspace()` (and so `str.strip()`) treats as blank, spelled out code point
# by code point: `\s` differs between Python, pydantic's Rust regex and the ECMAScript regex of JSON Schema
# tools (U+001C..U+001F, U+0085), and a client must be able to tell from the schema what the station refuses.
BLANK_CHARACTERS = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

# An audited reason must say something: the pattern makes "only blanks" a schema violation (422 at the door),
# so a schema-valid reason is never refused later as ``reason_required``.
AuditReason = Annotated[str, Field(min_length=1, max_length=500, pattern=f"[^{BLANK_CHARACTERS}]")]


class ScanIn(BaseModel):
    """One scan posted by a bench (a scanner gateway, the bench screen, or a test rig)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "6901234567892", "device": "scanner-1"}]}
    )

    code: str = Field(max_length=16_384, description="The code as scanned (AIM prefix and GS characters allowed).")
    device: str = Field("api", min_length=1, max_length=64, description="Which scanner read it.")
    symbology: str | None = Field(None, max_length=8, description="AIM symbology if the transport reports it apart.")


class ScanResult(BaseModel):
    """What the station did with a scan (docs/orders.md, "The scan answer")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "refused",
                    "kind": "item",
                    "reason": "wrong_item",
                    "feedback": "wrong_item",
                    "order_id": "SO20260205-8821",
                    "status": "packing",
                    "seq": 42,
                    "message": {"zh-CN": "商品不属于此订单", "en": "Item is not on this order"},
                    "detail": {"expected": ["BOWL-GIFT"]},
                }
            ]
        }
    )

    outcome: Literal["accepted", "refused", "ignored", "notice"] = Field(
        description="`notice`: no scan — the order on the bench was cancelled, held or changed from elsewhere"
    )
    kind: str = Field(description="badge | order | item | waybill | command | unknown")
    reason: str | None = Field(description="Why it was refused or ignored (e.g. wrong_item, over_quantity).")
    feedback: str = Field(description="ok | wrong_item | over_quantity | blocked | needs_supervisor | error | none")
    order_id: str | None
    status: str | None = Field(description="The order's status after the scan.")
    seq: int | None = Field(description="Sequence number of the event that recorded the scan.")
    message: dict[str, str] = Field(description="What the bench screen shows, in zh-CN and en.")
    detail: dict[str, Any] = Field(default_factory=dict)


class LineOut(BaseModel):
    """An order line with its verification progress."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line_no": 2,
                    "sku": "BOWL-GIFT",
                    "name": "赠品 不锈钢碗",
                    "qty": 1,
                    "verified": 0,
                    "serialized": False,
                    "gift_for": 1,
                }
            ]
        }
    )

    line_no: int
    sku: str
    name: str
    qty: int
    verified: int
    serialized: bool
    gift_for: int | None


class OrderOut(BaseModel):
    """An order as the station holds it. `version` changes with every change at the station (it is the ETag)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "SO20260205-8821",
                    "status": "packing",
                    "status_label": {"zh-CN": "打包中", "en": "Packing"},
                    "version": 4,
                    "hub_version": 3,
                    "bench_id": "B01",
                    "carrier": "SF",
                    "waybill_no": "SF1234567890123",
                    "weight_g": 2350,
                    "measured_weight_g": None,
                    "ship_by": "2026-02-05T18:00:00+08:00",
                    "lines": [
                        {
                            "line_no": 1,
                            "sku": "FEEDER-PRO",
                            "name": "智能喂食器 Pro",
                            "qty": 1,
                            "verified": 1,
                            "serialized": True,
                            "gift_for": None,
                        }
                    ],
                }
            ]
        }
    )

    order_id: str
    status: str
    status_label: dict[str, str]
    version: int
    hub_version: int
    bench_id: str | None
    carrier: str | None
    waybill_no: str | None
    weight_g: int | None
    measured_weight_g: int | None
    ship_by: str | None
    lines: list[LineOut]


class ScreenOperator(BaseModel):
    """Who is logged in at a bench."""

    badge: str
    name: str | None = Field(description="From the operator register; None if the badge is no longer in it.")
    role: str


class ScreenPutBack(BaseModel):
    """A line of the order on the bench with units to take out of the box (the hub removed or reduced it)."""

    line_no: int
    sku: str
    name: str
    qty: int = Field(description="How many to take out in all.")
    returned: int = Field(description="How many were taken out so far.")


class BenchScreen(BaseModel):
    """What the bench screen shows: who is logged in, the order on the bench, and the last answer given there."""

    bench_id: str
    operator: ScreenOperator | None
    order: OrderOut | None = Field(description="The order on the bench (packing, or packed and waiting for its label).")
    answer_no: int = Field(description="Number of the last answer (0: none since the service started).")
    last: ScanResult | None
    put_back: list[ScreenPutBack] = Field(
        default_factory=list,
        description="Units the changed order no longer wants that are still in the box: scan each one out.",
    )


class EventOut(BaseModel):
    """One event of an order's timeline (the envelope of cloud_sync/CONTRACT.md, "Events")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 57,
                    "event_id": "01936f7e-1c2a-7b3e-9f10-5d2c4b8a9e01",
                    "type": "item.verified",
                    "order_id": "SO20260205-8821",
                    "actor": {"id": "OP-1001", "role": "packer", "device": "scanner-1", "bench": "B01"},
                    "at": {"ms": 1770256692000, "counter": 0},
                    "wall_raw": 1770256692000,
                    "clock_synced": True,
                    "data": {"line_no": 1, "sku": "FEEDER-PRO", "qty": 1, "verified": 1, "of": 1},
                    "hash": "9f2c0d3a5e7b41c8a6d2e0f19b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
                }
            ]
        }
    )

    seq: int
    event_id: str
    type: str
    order_id: str | None
    actor: dict[str, str | None]
    at: dict[str, int]
    wall_raw: int
    clock_synced: bool
    data: dict[str, Any]
    hash: str


class TimelineOut(BaseModel):
    """An order's events in order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": "SO20260205-8821", "events": []}]})

    order_id: str
    events: list[EventOut]


class ActionIn(BaseModel):
    """A supervisor's action on an order."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "customer asked to wait"}]})

    reason: str | None = Field(None, max_length=500, description="Required for hold, reopen, abort and cancel.")


class DisputeIn(BaseModel):
    """Flag or unflag an order as disputed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"disputed": True, "reason": "客户称收到空箱 / customer reports an empty box"}]
        },
    )

    disputed: bool = Field(description="True: keep the order's clip and photos until unflagged.")
    reason: AuditReason = Field(description="Why (a ticket number, the customer's claim).")


class DisputeOut(BaseModel):
    """The order's dispute flag after the change."""

    order_id: str
    disputed: bool


class ClipOut(BaseModel):
    """An order's clip as stored: its times, hash and markers."""

    order_id: str
    sha256: str
    bytes: int
    start_ms: int = Field(description="Wall time of the clip's first frame (ms since the epoch).")
    end_ms: int
    duration_s: float
    markers: list[tuple[float, str]] = Field(description="Every event of the order as [offset_s, label].")
    disputed: bool
    recording_gaps: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Stretches of the order's window with no recording, as [start_ms, end_ms] wall times.",
    )


class ActionOut(BaseModel):
    """The order after a successful action."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"order_id": "SO20260205-8821", "status": "on_hold", "version": 5, "seq": 61}]}
    )

    order_id: str
    status: str
    version: int
    seq: int


class OrderMatchOut(BaseModel):
    """One of the order's numbers that the search found it by."""

    by: Literal["order_id", "channel_order_no", "waybill_no", "sku", "unit"]
    value: str = Field(description="The number as the order has it (for a prefix search, the full number).")


class OrderSummaryOut(BaseModel):
    """An order in a list: enough to tell it apart and open it (`GET /orders/{id}` has the rest)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "SO20260205-8821",
                    "status": "labeled",
                    "status_label": {"zh-CN": "已打单", "en": "Labeled"},
                    "version": 7,
                    "level": "S",
                    "carrier": "SF",
                    "waybill_no": "SF1234567890123",
                    "channel_order_no": "6921345500012",
                    "bench_id": "B01",
                    "ship_by": "2026-02-05T18:00:00+08:00",
                    "received_at": "2026-02-05T02:00:00+00:00",
                    "status_since": "2026-02-05T03:12:40+00:00",
                    "matches": [{"by": "waybill_no", "value": "SF1234567890123"}],
                }
            ]
        }
    )

    order_id: str
    status: str
    status_label: dict[str, str]
    version: int
    level: str = Field(description="S | A | B | C")
    carrier: str | None
    waybill_no: str | None
    channel_order_no: str | None
    bench_id: str | None
    ship_by: str | None
    received_at: str = Field(description="When the order arrived at the station.")
    status_since: str = Field(description="When the order last changed status.")
    matches: list[OrderMatchOut] = Field(description="What the search found it by (empty without a search).")


class OrderPageOut(BaseModel):
    """A page of orders; ask for the next with `cursor=next_cursor` (null: this is the last page)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"orders": [], "next_cursor": None}]})

    orders: list[OrderSummaryOut]
    next_cursor: str | None


class AlertOut(BaseModel):
    """An alert that is raised and not cleared."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alert": "database_corrupt",
                    "seq": 1,
                    "at": {"ms": 1770256692000, "counter": 0},
                    "order_id": None,
                    "data": {
                        "alert": "database_corrupt",
                        "moved_to": "station-data/station.db.corrupt-20260205T015812Z",
                    },
                }
            ]
        }
    )

    alert: str
    subject: str = Field(description="What it is about: an order id, a device name, or empty for the station.")
    seq: int
    at: dict[str, int]
    order_id: str | None
    data: dict[str, Any]


class LoginIn(BaseModel):
    """Supervisor login."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "zhao", "password": "..."}]})

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class WhoAmI(BaseModel):
    """The caller."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "bench", "name": "bench-B01", "bench_id": "B01"}]}
    )

    role: str
    name: str
    bench_id: str | None


class HealthOut(BaseModel):
    """How the station is doing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "version": "0.1.0",
                    "site": "WH1",
                    "station_id": "ST01",
                    "stream_epoch": "01936f7e-0000-7000-8000-000000000001",
                    "last_seq": 1234,
                    "backlog": 12,
                    "clock_synced": True,
                    "parts": {"scanners": {"ok": True, "connected": {"sim": True}}},
                }
            ]
        }
    )

    status: Literal["ok", "degraded"]
    version: str
    site: str
    station_id: str
    stream_epoch: str
    last_seq: int
    backlog: int
    clock_synced: bool
    parts: dict[str, dict[str, Any]] = Field(default_factory=dict)
