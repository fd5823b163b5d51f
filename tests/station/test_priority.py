"""Priority rules, SLA colours, queue order, claims and the alerts of docs/orders.md, "Priority and alerts"."""

import threading
from decimal import Decimal
from typing import Any

import pytest
from benchkit import HUB, FakeClock, RecordingIndicator, order_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from station.alerts.monitor import AlertMonitor, active_alerts
from station.events import Actor
from station.orders.actions import perform_action
from station.orders.intake import cancel_order, intake_order
from station.orders.lifecycle import Action
from station.priority.prioritizer import PriorityEvent, lift_breaker, reevaluate_open_orders, set_priority
from station.priority.queue import claim, listing, release, top_row
from station.priority.rules import PriorityRule, PrioritySettings, evaluate, sla_colour
from station.store import Store

SUPERVISOR = Actor(role="supervisor", id="sv")
RULES = PrioritySettings()
PROMO_END = "2026-11-22T11:00:00+08:00"


@pytest.mark.parametrize(
    ("doc", "level", "rule"),
    [
        ({"customer": {"vip_level": "A", "name": "x"}, "amount": "5999.00"}, "S", "vip_big_order"),
        ({"customer": {"vip_level": "S", "name": "x"}, "amount": "5000.01"}, "S", "vip_big_order"),
        ({"customer": {"vip_level": "A", "name": "x"}, "amount": "5000"}, "C", "default"),  # not above
        ({"customer": {"vip_level": "B", "name": "x"}, "amount": "99999"}, "C", "default"),  # VIP too low
        ({"customer": {"vip_level": "A", "name": "x"}, "amount": "9000", "notes": "加急"}, "S", "vip_big_order"),
        ({"notes": "请加急发货"}, "A", "urgent_note"),
        ({"notes": "URGENT please"}, "A", "urgent_note"),
        (
            {"placed_at": "2026-11-22T10:56:00+08:00", "promo_ends_at": "2026-11-22T11:00:00+08:00"},
            "B",
            "live_promo_rush",
        ),
        ({"placed_at": "2026-11-22T10:40:00+08:00", "promo_ends_at": "2026-11-22T11:00:00+08:00"}, "C", "default"),
        ({"placed_at": "2026-11-22T11:01:00+08:00", "promo_ends_at": "2026-11-22T11:00:00+08:00"}, "C", "default"),
        ({"amount": "not money", "customer": {"vip_level": "S", "name": "x"}}, "C", "default"),
        ({}, "C", "default"),
    ],
)
def test_default_rule_table(doc: dict[str, Any], level: str, rule: str) -> None:
    decision = evaluate(doc, RULES)
    assert (decision.level, decision.rule) == (level, rule)


def test_override_wins_and_custom_rules() -> None:
    assert evaluate({"notes": "加急"}, RULES, override="C").level == "C"
    custom = PrioritySettings(
        rules=[PriorityRule(name="tmall_live", level="A", channel_in=["tmall"], tags_any=["live"])], default_level="B"
    )
    assert evaluate({"channel": "tmall", "tags": ["live"]}, custom).rule == "tmall_live"
    assert evaluate({"channel": "tmall"}, custom).level == "B"
    assert PriorityRule(name="big", level="A", amount_above=Decimal(10)).matches({"amount": "10.5"})


@pytest.mark.parametrize(
    ("hours", "colour"), [(-1, "red"), (1.99, "red"), (2, "orange"), (23.9, "orange"), (24, "yellow"), (72, "green")]
)
def test_sla_colours(hours: float, colour: str) -> None:
    assert sla_colour(hours * 3600, RULES) == colour
    assert sla_colour(None, RULES) == "none"


def _add(store: Store, order_id: str, **doc: Any) -> None:
    base = order_doc(order_id=order_id, version=1, waybill_no=None, notes="", customer={"name": "x"}, amount="1")
    base.pop("ship_by")
    base.update(doc)
    result = intake_order(store, base, HUB, RULES)
    assert result.ok, result


LEVELS = st.sampled_from(["S", "A", "B", "C"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(LEVELS, st.one_of(st.none(), st.integers(0, 500))), min_size=1, max_size=12))
def test_queue_order_is_level_then_deadline_then_arrival(
    tmp_path_factory: Any, orders: list[tuple[str, int | None]]
) -> None:
    clock = FakeClock()
    store = Store.open(tmp_path_factory.mktemp("q") / "s.db", wall_ms=clock)
    expected = []
    for i, (level, deadline_h) in enumerate(orders):
        clock.ms += 1000
        doc: dict[str, Any] = {}
        if deadline_h is not None:
            doc["ship_by"] = f"2026-03-{1 + deadline_h // 24:02d}T{deadline_h % 24:02d}:00:00+08:00"
        _add(store, f"SO20260101-{i}", **doc)
        set_priority(store, f"SO20260101-{i}", level, HUB, RULES)
        rank = "SABC".index(level)
        expected.append((rank, deadline_h if deadline_h is not None else 10**9, i, f"SO20260101-{i}"))
    with store.reading() as repo:
        entries, total = listing(repo.db, clock.ms, RULES, limit=200)
        first = top_row(repo.db, "pda-1", clock.ms)
    assert total == len(orders)
    assert [e.order_id for e in entries] == [e[3] for e in sorted(expected)]
    assert first is not None
    assert first["order_id"] == entries[0].order_id
    store.close()


def test_claims_hold_an_order_for_one_pda_until_the_lease_ends(store: Store, clock: FakeClock) -> None:
    lease = PrioritySettings(claim_lease_s=60)
    for i in range(3):
        _add(store, f"SO20260101-{i}", notes="加急" if i == 0 else "")
    pda1, pda2 = Actor(role="pda", id="p1"), Actor(role="pda", id="p2")
    assert claim(store, "SO20260101-0", "p1", lease, pda1).refusal is None
    with store.reading() as repo:
        assert top_row(repo.db, "p1", clock.ms)["order_id"] == "SO20260101-0"  # type: ignore[index]
        assert top_row(repo.db, "p2", clock.ms)["order_id"] == "SO20260101-1"  # type: ignore[index]
    assert claim(store, "SO20260101-0", "p2", lease, pda2).refusal == "claimed_by_other"
    clock.ms += 61_000
    with store.reading() as repo:
        assert top_row(repo.db, "p2", clock.ms)["order_id"] == "SO20260101-0"  # type: ignore[index]
    assert claim(store, "SO20260101-0", "p2", lease, pda2).refusal is None
    assert release(store, "SO20260101-0", "p1", pda1).refusal == "not_claimed"
    assert release(store, "SO20260101-0", "p2", pda2).refusal is None


def test_concurrent_claims_one_winner(store: Store) -> None:
    _add(store, "SO20260101-1")
    results: list[str | None] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        outcome = claim(store, "SO20260101-1", name, RULES, Actor(role="pda", id=name))
        with lock:
            results.append(outcome.refusal)

    threads = [threading.Thread(target=grab, args=(f"pda-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1
    assert results.count("claimed_by_other") == 7


def _alerts(store: Store) -> set[tuple[str, str]]:
    return {(a["alert"], a["subject"]) for a in active_alerts(store)}


def test_stale_order_alert_raised_and_cleared(store: Store, clock: FakeClock) -> None:
    _add(store, "SO20260101-1")
    monitor = AlertMonitor(store, RULES)
    monitor.tick()
    assert _alerts(store) == set()
    clock.ms += 2 * 3600_000 + 1
    monitor.tick()
    assert ("stale_order", "SO20260101-1") in _alerts(store)
    monitor.tick()  # raised once, not again
    raised = [
        e for e in store.events_from(1, 1000) if e["type"] == "alert.raised" and e["data"]["alert"] == "stale_order"
    ]
    assert len(raised) == 1
    perform_action(store, "SO20260101-1", Action.HOLD, SUPERVISOR, reason="check")
    monitor.tick()
    assert ("stale_order", "SO20260101-1") not in _alerts(store)


def test_s_overload_trips_the_breaker_and_a_supervisor_lifts_it(store: Store) -> None:
    monitor = AlertMonitor(store, RULES)
    for i in range(4):
        _add(store, f"SO20260101-{i}", customer={"vip_level": "S", "name": "x"}, amount="9999")
    monitor.tick()
    assert ("s_overload", "") in _alerts(store)
    _add(store, "SO20260101-9", customer={"vip_level": "S", "name": "x"}, amount="9999")
    with store.reading() as repo:
        order = repo.order("SO20260101-9")
    assert order is not None
    assert (order.priority, order.priority_rule) == ("A", "vip_big_order+s_breaker")
    refused = [e for e in store.events_for_order("SO20260101-9") if e["type"] == PriorityEvent.ESCALATION_REFUSED]
    assert refused
    assert set_priority(store, "SO20260101-9", "S", HUB, RULES).refusal == "s_breaker_tripped"
    assert lift_breaker(store, SUPERVISOR)
    assert not lift_breaker(store, SUPERVISOR)
    assert set_priority(store, "SO20260101-9", "S", HUB, RULES).level == "S"
    for i in range(3):
        cancel_order(store, f"SO20260101-{i}", "x", HUB)
    monitor.tick()
    assert ("s_overload", "") not in _alerts(store)


def test_queue_backlog_alert(store: Store, clock: FakeClock) -> None:
    small = PrioritySettings(pending_max=2, mean_wait_max_min=8)
    monitor = AlertMonitor(store, small)
    for i in range(3):
        _add(store, f"SO20260101-{i}")
    monitor.tick()
    assert ("queue_backlog", "") in _alerts(store)
    cancel_order(store, "SO20260101-0", "x", HUB)
    monitor.tick()
    assert ("queue_backlog", "") not in _alerts(store)
    clock.ms += 9 * 60_000  # now the two left have waited 9 minutes on average
    monitor.tick()
    assert ("queue_backlog", "") in _alerts(store)


def test_three_roles_in_a_day_is_a_suspected_conflict(store: Store) -> None:
    _add(store, "SO20260101-1")
    monitor = AlertMonitor(store, RULES)
    perform_action(store, "SO20260101-1", Action.HOLD, SUPERVISOR, reason="check")
    perform_action(store, "SO20260101-1", Action.RELEASE, Actor(role="hub", id="erp"))
    monitor.tick()
    assert ("role_conflict", "SO20260101-1") not in _alerts(store)
    intake_order(
        store, order_doc(order_id="SO20260101-1", version=5, customer={"name": "x"}), Actor(role="system"), RULES
    )
    monitor.tick()
    assert ("role_conflict", "SO20260101-1") in _alerts(store)


def test_device_down_raised_and_cleared(store: Store) -> None:
    monitor = AlertMonitor(store, RULES)
    monitor.device_state("printer:B01", up=False, detail="no answer to ~HS")
    monitor.device_state("printer:B01", up=False)
    assert ("device_down", "printer:B01") in _alerts(store)
    monitor.device_state("printer:B01", up=True)
    assert ("device_down", "printer:B01") not in _alerts(store)
    kinds = [e["type"] for e in store.events_from(1, 100)]
    assert kinds.count("alert.raised") == 1
    assert kinds.count("alert.cleared") == 1


def test_attention_light_only_when_configured(store: Store) -> None:
    shown, hidden = RecordingIndicator(), RecordingIndicator()
    AlertMonitor(store, RULES, shown).device_state("printer:B01", up=False)
    AlertMonitor(store, PrioritySettings(attention_light=False), hidden).device_state("scanner:s1", up=False)
    assert [s[1].value for s in shown.signals] == ["device_fault"]  # a device down has a pattern of its own
    assert hidden.signals == []


def _priority_changes(store: Store, order_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in store.events_for_order(order_id) if e["type"] == PriorityEvent.CHANGED]


def _level(store: Store, order_id: str) -> tuple[str, str]:
    with store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    return order.priority, order.priority_rule


def test_every_level_change_is_an_event_naming_the_rule(store: Store) -> None:
    _add(store, "SO20260101-1", notes="请加急")
    assert _priority_changes(store, "SO20260101-1") == [{"from": None, "to": "A", "rule": "urgent_note"}]
    assert set_priority(store, "SO20260101-1", "C", HUB, RULES).level == "C"
    assert set_priority(store, "SO20260101-1", None, SUPERVISOR, RULES).level == "A"
    assert _priority_changes(store, "SO20260101-1")[1:] == [
        {"from": "A", "to": "C", "rule": "override"},
        {"from": "C", "to": "A", "rule": "urgent_note"},
    ]
    assert _level(store, "SO20260101-1") == ("A", "urgent_note")


def test_an_order_update_reevaluates_its_level(store: Store) -> None:
    def update(version: int, **doc: Any) -> None:
        base = order_doc(order_id="SO20260101-1", version=version, notes="", customer={"name": "x"}, amount="1")
        base.pop("ship_by")
        base.update(doc)
        assert intake_order(store, base, HUB, RULES).result == "updated"

    _add(store, "SO20260101-1")
    assert _level(store, "SO20260101-1") == ("C", "default")
    update(2, notes="urgent")
    assert _level(store, "SO20260101-1") == ("A", "urgent_note")
    update(3, notes="urgent", customer={"vip_level": "A", "name": "x"}, amount="6000")
    assert _level(store, "SO20260101-1") == ("S", "vip_big_order")
    update(4, notes="urgent", customer={"vip_level": "A", "name": "x"}, amount="6000", weight_g=999)
    update(5, notes="", customer={"vip_level": "B", "name": "x"}, amount="6000")
    assert _level(store, "SO20260101-1") == ("C", "default")
    assert _priority_changes(store, "SO20260101-1") == [
        {"from": None, "to": "C", "rule": "default"},
        {"from": "C", "to": "A", "rule": "urgent_note"},
        {"from": "A", "to": "S", "rule": "vip_big_order"},
        {"from": "S", "to": "C", "rule": "default"},  # version 4 changed nothing the rules read: no event
    ]
    set_priority(store, "SO20260101-1", "B", HUB, RULES)
    update(6, notes="urgent")  # an explicit level still wins after the hub updates the order
    assert _level(store, "SO20260101-1") == ("B", "override")


def test_reevaluate_open_orders_applies_new_rules_to_open_orders_only(store: Store) -> None:
    _add(store, "SO20260101-1", notes="加急", channel="tmall")
    _add(store, "SO20260101-2", channel="douyin")
    _add(store, "SO20260101-3", channel="tmall")
    _add(store, "SO20260101-4", channel="tmall")
    set_priority(store, "SO20260101-3", "B", HUB, RULES)
    cancel_order(store, "SO20260101-4", "x", HUB)
    new_rules = PrioritySettings(rules=[PriorityRule(name="tmall_first", level="S", channel_in=["tmall"])])
    config = Actor(role="hub", id="config.set")
    assert reevaluate_open_orders(store, new_rules, config) == 1
    assert _level(store, "SO20260101-1") == ("S", "tmall_first")
    assert _level(store, "SO20260101-2") == ("C", "default")  # unchanged, no event
    assert _level(store, "SO20260101-3") == ("B", "override")  # the explicit level wins
    assert _level(store, "SO20260101-4") == ("C", "default")  # closed orders keep theirs
    last = store.events_for_order("SO20260101-1")[-1]
    assert (last["type"], last["data"], last["actor"]["id"]) == (
        PriorityEvent.CHANGED,
        {"from": "A", "to": "S", "rule": "tmall_first"},
        "config.set",
    )
    assert len(_priority_changes(store, "SO20260101-2")) == 1
    assert reevaluate_open_orders(store, new_rules, config) == 0  # idempotent
    assert reevaluate_open_orders(store, RULES, config) == 1
    assert _level(store, "SO20260101-1") == ("A", "urgent_note")


def test_role_conflict_clears_when_the_window_has_passed(store: Store, clock: FakeClock) -> None:
    _add(store, "SO20260101-1")
    monitor = AlertMonitor(store, RULES)
    perform_action(store, "SO20260101-1", Action.HOLD, SUPERVISOR, reason="check")
    perform_action(store, "SO20260101-1", Action.RELEASE, Actor(role="hub", id="erp"))
    intake_order(
        store, order_doc(order_id="SO20260101-1", version=5, customer={"name": "x"}), Actor(role="system"), RULES
    )
    monitor.tick()
    assert ("role_conflict", "SO20260101-1") in _alerts(store)
    clock.ms += 23 * 3600_000
    monitor.tick()
    assert ("role_conflict", "SO20260101-1") in _alerts(store)
    clock.ms += 3600_000 + 1  # the first change is now older than conflict_window_h
    monitor.tick()
    assert ("role_conflict", "SO20260101-1") not in _alerts(store)
    cleared = [e["data"] for e in store.events_for_order("SO20260101-1") if e["type"] == "alert.cleared"]
    assert {"alert": "role_conflict", "subject": "SO20260101-1"} in cleared


def test_the_s_breaker_ends_by_itself_after_s_breaker_h(store: Store, clock: FakeClock) -> None:
    short = PrioritySettings(s_breaker_h=1)
    monitor = AlertMonitor(store, short)
    vip = {"customer": {"vip_level": "S", "name": "x"}, "amount": "9999"}
    for i in range(4):
        _add(store, f"SO20260101-{i}", **vip)
    _add(store, "SO20260101-8")
    monitor.tick()
    tripped = [e for e in store.events_from(1, 1000) if e["type"] == PriorityEvent.BREAKER_TRIPPED]
    assert [e["data"]["until_ms"] for e in tripped] == [clock.ms + 3600_000]
    clock.ms += 3600_000 - 1  # a moment before the end: still refused
    assert set_priority(store, "SO20260101-8", "S", HUB, short).refusal == "s_breaker_tripped"
    clock.ms += 1
    assert set_priority(store, "SO20260101-8", "S", HUB, short).level == "S"
    _add(store, "SO20260101-9", **vip)
    assert _level(store, "SO20260101-9") == ("S", "vip_big_order")
    assert not lift_breaker(store, SUPERVISOR)  # nothing left to lift
    assert not [e for e in store.events_from(1, 1000) if e["type"] == PriorityEvent.BREAKER_LIFTED]
