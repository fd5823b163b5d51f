"""Property test: no sequence of scans, commands and hub actions breaks the lifecycle's promises.

- nothing reaches packed/labeled/handed_over with an unverified line, or with a unit the hub removed still in
  the box, whatever the hub changed on the way;
- nothing reaches labeled without a scan of that order's own waybill, made after the last change that voided
  its labels;
- every recorded status change is a move the lifecycle table allows; handed_over and cancelled are final;
- seq is gapless and the hash chain verifies.
"""

import tempfile
from pathlib import Path
from typing import Any

from benchkit import FakeClock, order_doc
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from station.events import Actor, EventType, verify_chain
from station.orders.actions import perform_action
from station.orders.intake import cancel_order, intake_order
from station.orders.lifecycle import TRANSITIONS, Action
from station.orders.model import Role, Status
from station.orders.operators import add_operator
from station.orders.revision import outstanding_put_backs
from station.scan import ScanRules
from station.store import Store
from station.workflow import BenchWorkflow, WorkflowSettings

HUB = Actor(role="hub", id="hub")
SUPERVISOR = Actor(role="supervisor", id="sv")
ORDERS = {
    "SO20260205-0001": "SF1234567890001",
    "SO20260205-0002": "SF1234567890002",
}


def _lines() -> list[dict[str, Any]]:
    return [
        {"line_no": 1, "sku": "FEEDER", "name": "f", "barcodes": ["6901234567892"], "qty": 2, "serialized": True},
        {"line_no": 2, "sku": "GIFT", "name": "g", "barcodes": ["6901234567809"], "qty": 1, "gift_for": 1},
        {"line_no": 3, "sku": "FOOD", "name": "food", "barcodes": ["FOOD-2KG-BAG"], "qty": 2},
    ]


CODES = st.sampled_from(
    [
        "OP-001",
        "OP-002",
        "SV-001",
        "OP-404",
        *ORDERS,
        *ORDERS.values(),
        "SF9999999999999",
        "]C1010690123456789221SN01",
        "]C1010690123456789221SN02",
        "]C1010690123456789221SN03",
        "6901234567892",
        "6901234567809",
        "FOOD-2KG-BAG",
        "6920000000005",
        "6901234567816",  # line 4, which the hub adds and removes
        "SF1234567890011",  # the waybills the hub changes the orders to
        "SF1234567890012",
        "CMD:COMPLETE",
        "CMD:ABORT:test",
        "CMD:HOLD:test",
        "CMD:QTY:2",
        "CMD:QTY:0",
        "CMD:REOPEN",
        "CMD:LOGOUT",
        "CMD:BATCH:SF",
        "CMD:BATCH:CLOSE",
        "\x00\xff junk",
    ]
)

ALLOWED_MOVES = {(s.value, t.target.value) for t in TRANSITIONS.values() if t.target for s in t.sources} | {
    (Status.ON_HOLD.value, s.value) for s in Status
}


class BenchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.clock = FakeClock()
        self.mono = [0.0]
        self.store = Store.open(Path(self.tmp.name) / "s.db", wall_ms=self.clock, boot_id="prop")
        self.workflow = BenchWorkflow(self.store, WorkflowSettings(), ScanRules(), monotonic=lambda: self.mono[0])
        admin = Actor(role="system")
        add_operator(self.store, "OP-001", "a", Role.PACKER, admin)
        add_operator(self.store, "OP-002", "b", Role.PACKER, admin)
        add_operator(self.store, "SV-001", "s", Role.SUPERVISOR, admin)
        for order_id, waybill in ORDERS.items():
            intake_order(self.store, order_doc(order_id=order_id, waybill_no=waybill, version=1, lines=_lines()), HUB)
        self.hub_version = 1
        self.waybills = dict(ORDERS)

    def teardown(self) -> None:
        self.store.close()
        self.tmp.cleanup()

    @rule(code=CODES, bench=st.sampled_from(["B01", "B02"]), device=st.sampled_from(["s1", "s2"]))
    def scan(self, code: str, bench: str, device: str) -> None:
        self.mono[0] += 1.0
        outcome = self.workflow.handle_scan(bench, code, device)
        assert outcome.outcome in ("accepted", "refused", "ignored")
        assert outcome.reason != "internal_error"

    @rule(
        order_id=st.sampled_from(list(ORDERS)),
        bench=st.sampled_from(["B01", "B02"]),
        label=st.booleans(),
        dock=st.booleans(),
    )
    def packer_does_it_right(self, order_id: str, bench: str, label: bool, dock: bool) -> None:
        """A whole correct packing sequence, so random steps also land in the deep states."""
        codes = ["OP-001", order_id, "]C1010690123456789221SN01", "]C1010690123456789221SN02"]
        codes += ["6901234567809", "CMD:QTY:2", "FOOD-2KG-BAG"]
        if label:
            codes.append(ORDERS[order_id])
        if dock:
            codes += ["CMD:BATCH:SF", ORDERS[order_id], "CMD:BATCH:CLOSE"]
        for code in codes:
            self.scan(code, bench, "s1")
        with self.store.reading() as repo:
            order = repo.order(order_id)
        assert order is not None
        event(f"after a correct sequence: {order.status.value}")

    @rule(order_id=st.sampled_from(list(ORDERS)))
    def hub_cancels(self, order_id: str) -> None:
        cancel_order(self.store, order_id, "hub", HUB)

    @rule(
        order_id=st.sampled_from(list(ORDERS)),
        action=st.sampled_from([Action.HOLD, Action.RELEASE, Action.REOPEN, Action.ABORT]),
    )
    def supervisor_acts(self, order_id: str, action: Action) -> None:
        perform_action(self.store, order_id, action, SUPERVISOR, reason="prop")

    @rule(
        order_id=st.sampled_from(list(ORDERS)),
        qty=st.integers(1, 3),
        drop_food=st.booleans(),
        add_line=st.booleans(),
        new_waybill=st.booleans(),
        moved=st.booleans(),
    )
    def hub_changes_the_order(
        self, order_id: str, qty: int, drop_food: bool, add_line: bool, new_waybill: bool, moved: bool
    ) -> None:
        """The hub sends a new version: quantities, a line removed or added, a new waybill, a new address."""
        self.hub_version += 1
        lines = _lines()
        lines[2]["qty"] = qty
        if drop_food:
            del lines[2]
        if add_line:
            lines.append({"line_no": 4, "sku": "BOWL", "name": "b", "barcodes": ["6901234567816"], "qty": 1})
        if new_waybill:
            self.waybills[order_id] = "SF123456789001" + order_id[-1]
        customer = {
            "name": "张三",
            "address": {"province": "浙江省", "city": "杭州市", "street": "新地址" if moved else "旧"},
        }
        doc = order_doc(
            order_id=order_id,
            waybill_no=self.waybills[order_id],
            version=self.hub_version,
            lines=lines,
            customer=customer,
        )
        result = intake_order(self.store, doc, HUB)
        if not result.ok:
            with self.store.reading() as repo:
                order = repo.order(order_id)
            assert order is not None
            self.waybills[order_id] = order.waybill_no or ""  # refused (cancelled, handed over): nothing changed
        event(f"hub update: {result.result} {result.reason}")

    @rule(seconds=st.sampled_from([1, 30, 120, 1000]))
    def time_passes(self, seconds: int) -> None:
        self.clock.ms += seconds * 1000
        self.mono[0] += seconds

    @invariant()
    def orders_keep_their_promises(self) -> None:
        with self.store.reading() as repo:
            for order_id in ORDERS:
                order = repo.order(order_id)
                assert order is not None
                effective = order.held_from if order.status is Status.ON_HOLD else order.status
                if effective in (Status.PACKED, Status.LABELED, Status.HANDED_OVER):
                    assert order.all_verified, (order_id, order.status, [ln.verified for ln in order.lines])
                    assert order.lines == [ln for ln in order.lines if ln.verified == ln.qty]
                    assert not outstanding_put_backs(repo.db, order_id), order_id
                if effective in (Status.LABELED, Status.HANDED_OVER):
                    timeline = self.store.events_for_order(order_id)
                    labels = [
                        e for e in timeline if e["type"] == EventType.STATUS_CHANGED and e["data"]["action"] == "label"
                    ]
                    voids = [e["seq"] for e in timeline if e["type"] == "order.revised" and e["data"]["label_voided"]]
                    assert labels, order_id
                    assert labels[-1]["data"]["waybill_no"] == self.waybills[order_id] == order.waybill_no
                    assert not voids or labels[-1]["seq"] > voids[-1], (order_id, labels[-1]["seq"], voids)

    @invariant()
    def log_is_sound(self) -> None:
        events = self.store.events_from(1, 100_000)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert verify_chain(events, self.store.stream_epoch).ok
        for e in events:
            if e["type"] == EventType.STATUS_CHANGED and e["data"]["action"] != "resume":
                move = (e["data"]["from"], e["data"]["to"])
                assert move in ALLOWED_MOVES, move
                assert e["data"]["from"] not in ("handed_over", "cancelled"), move


TestBenchMachine = BenchMachine.TestCase
TestBenchMachine.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
