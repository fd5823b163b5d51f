"""Test helpers for the station core: sample orders, fake devices and clocks, a bench with its people."""

import copy
from dataclasses import dataclass, field
from typing import Any

from station.events import Actor
from station.orders.intake import intake_order
from station.orders.model import Feedback, Role
from station.orders.operators import add_operator
from station.scan import ScanRules
from station.store import Store
from station.workflow import BenchDevices, BenchWorkflow, WorkflowSettings

HUB = Actor(role="hub", id="hub-test")
ADMIN = Actor(role="system", id="test")

SAMPLE_ORDER: dict[str, Any] = {
    "order_id": "SO20260205-8821",
    "version": 3,
    "channel": "douyin",
    "ship_by": "2026-02-05T18:00:00+08:00",
    "placed_at": "2026-02-05T09:58:12+08:00",
    "customer": {"vip_level": "A", "name": "张三", "phone": "13800138000"},
    "amount": "5999.00",
    "currency": "CNY",
    "notes": "加急",
    "carrier": "SF",
    "waybill_no": "SF1234567890123",
    "weight_g": 2350,
    "weight_tolerance_g": 80,
    "lines": [
        {
            "line_no": 1,
            "sku": "FEEDER-PRO",
            "name": "智能喂食器 Pro",
            "barcodes": ["6901234567892"],
            "qty": 1,
            "serialized": True,
        },
        {
            "line_no": 2,
            "sku": "BOWL-GIFT",
            "name": "赠品 不锈钢碗",
            "barcodes": ["6901234567809"],
            "qty": 1,
            "gift_for": 1,
        },
        {"line_no": 3, "sku": "FOOD-2KG", "name": "猫粮 2kg", "barcodes": ["FOOD-2KG-BAG"], "qty": 2},
    ],
}

# Scans that verify every line of SAMPLE_ORDER (the feeder carries a GS1 serial, GS = \x1d).
FEEDER_UNIT = "]C1010690123456789221SN0001"
GIFT = "6901234567809"
FOOD = "FOOD-2KG-BAG"


def order_doc(**overrides: Any) -> dict[str, Any]:
    """A deep copy of the sample order with top-level fields replaced."""
    doc = copy.deepcopy(SAMPLE_ORDER)
    doc.update(overrides)
    return doc


class FakeClock:
    """A settable wall clock in milliseconds."""

    def __init__(self, ms: int = 1_770_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class RecordingIndicator:
    """Remembers every signal a bench was given."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, Feedback, str]] = []

    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        self.signals.append((bench_id, feedback, message))


@dataclass
class FakeScale:
    weight_g: int | None = None

    def stable_weight_g(self, bench_id: str) -> int | None:
        return self.weight_g


@dataclass
class FakeCamera:
    ref: str | None = "photo-1.jpg"

    def take_packing_photo(self, bench_id: str, order_id: str) -> str | None:
        return self.ref


@dataclass
class FakePrinter:
    done: set[str] = field(default_factory=set)

    def label_printed(self, order_id: str) -> bool:
        return order_id in self.done


@dataclass
class Bench:
    """A station with one bench (B01), a packer OP-001 and a supervisor SV-001."""

    store: Store
    workflow: BenchWorkflow
    indicator: RecordingIndicator
    devices: BenchDevices
    clock: FakeClock
    monotonic: list[float]

    def scan(self, code: str | bytes, device: str = "scanner-1", bench: str = "B01") -> Any:
        self.monotonic[0] += 5.0  # every scan is a fresh read unless a test says otherwise
        return self.workflow.handle_scan(bench, code, device)

    def login_and_open(self, order_id: str = "SO20260205-8821") -> None:
        assert self.scan("OP-001").accepted
        assert self.scan(order_id).accepted


def make_bench(store: Store, clock: FakeClock, devices: BenchDevices | None = None, **settings: Any) -> Bench:
    indicator = RecordingIndicator()
    devs = devices or BenchDevices()
    monotonic = [1000.0]
    workflow = BenchWorkflow(
        store,
        WorkflowSettings(**settings),
        ScanRules(),
        indicator=indicator,
        devices=lambda _b: devs,
        monotonic=lambda: monotonic[0],
    )
    add_operator(store, "OP-001", "李四", Role.PACKER, ADMIN)
    add_operator(store, "OP-002", "王五", Role.PACKER, ADMIN)
    add_operator(store, "SV-001", "赵主管", Role.SUPERVISOR, ADMIN)
    assert intake_order(store, order_doc(), HUB).ok
    return Bench(store, workflow, indicator, devs, clock, monotonic)
