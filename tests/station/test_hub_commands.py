"""The station's real command adapter (`StationCommands`) over a real Store: hold/release with order versions,
priority levels, `config.set` validated, persisted and re-applied after a restart, sections the hub may not
touch, scan patterns RE2 cannot run refused, and idempotence on cmd_id when the sync agent's downlink drives it."""

import json
from pathlib import Path

from benchkit import HUB, FakeClock, order_doc

from cloud_sync.downlink import Downlink
from cloud_sync.ports import Command
from station.adapters.hub_commands import StationCommands, apply_stored_config
from station.config import Settings, load_settings
from station.orders.intake import intake_order
from station.scan import CodeKind, interpret
from station.store import Store

ORDER_ID = "SO20260205-8821"


def settings() -> Settings:
    return load_settings(None, environ={})


def adapter(store: Store, conf: Settings | None = None) -> StationCommands:
    assert intake_order(store, order_doc(), HUB).ok
    return StationCommands(store, conf or settings())


def command(seq: int, kind: str, cmd_id: str | None = None, **data: object) -> Command:
    return Command(cmd_id or f"c{seq}", seq, kind, dict(data), hub="hub-test")


def wire(seq: int, kind: str, cmd_id: str | None = None, **data: object) -> bytes:
    return json.dumps({"cmd_id": cmd_id or f"c{seq}", "cmd_seq": seq, "type": kind, "data": data}).encode()


def order(store: Store):  # type: ignore[no-untyped-def]
    with store.reading() as repo:
        found = repo.order(ORDER_ID)
    assert found is not None
    return found


def events_of(store: Store, kind: str) -> list[dict[str, object]]:
    return [e for e in store.events_from(1, 10_000) if e["type"] == kind]


def test_hold_and_release_respect_the_order_version(store: Store) -> None:
    commands = adapter(store)
    before = order(store)
    stale = before.version - 1
    refused = commands.apply_command(command(1, "order.hold", order_id=ORDER_ID, reason="check",
                                             expected_version=stale))  # fmt: skip
    assert (refused.applied, refused.reason) == (False, "version_conflict")
    assert order(store).status == before.status
    assert order(store).version == before.version, "a refused hold changes nothing"

    held = commands.apply_command(command(2, "order.hold", order_id=ORDER_ID, reason="check",
                                          expected_version=before.version))  # fmt: skip
    assert (held.applied, held.reason) == (True, None)
    on_hold = order(store)
    assert on_hold.status.value == "on_hold"
    assert on_hold.version > before.version

    stale_release = commands.apply_command(command(3, "order.release", order_id=ORDER_ID,
                                                   expected_version=before.version))  # fmt: skip
    assert (stale_release.applied, stale_release.reason) == (False, "version_conflict")
    assert order(store).status.value == "on_hold"

    released = commands.apply_command(command(4, "order.release", order_id=ORDER_ID,
                                              expected_version=on_hold.version))  # fmt: skip
    assert released.applied
    assert order(store).status == before.status, "back to the status it was held from"
    unknown = commands.apply_command(command(5, "order.hold", order_id="NOPE", reason="x"))
    assert (unknown.applied, unknown.reason) == (False, "unknown_order")


def test_priority_set_valid_and_invalid_level(store: Store) -> None:
    commands = adapter(store)
    version = order(store).version
    ok = commands.apply_command(command(1, "priority.set", order_id=ORDER_ID, level="S", reason="vip"))
    assert (ok.applied, ok.reason) == (True, None)
    after = order(store)
    assert (after.priority, after.priority_override) == ("S", "S")
    assert after.version == version + 1

    bad = commands.apply_command(command(2, "priority.set", order_id=ORDER_ID, level="Z"))
    assert (bad.applied, bad.reason) == (False, "invalid_data"), "a contract reason code (CONTRACT.md 4.1)"
    assert bad.detail is not None
    assert "level" in bad.detail
    assert (order(store).priority, order(store).version) == ("S", version + 1), "an invalid level changes nothing"

    back = commands.apply_command(command(3, "priority.set", order_id=ORDER_ID, level="B"))
    assert back.applied
    assert order(store).priority == "B"


def test_config_set_is_persisted_and_reapplied_after_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "station.db"
    store = Store.open(path, wall_ms=clock, boot_id="boot-1")
    seen: list[tuple[str, object]] = []
    conf = settings()
    commands = StationCommands(store, conf, on_config=lambda section, model: seen.append((section, model)))
    assert conf.workflow.idle_lock_s != 120
    outcome = commands.apply_command(command(1, "config.set", key="workflow.idle_lock_s", value=120))
    assert (outcome.applied, outcome.reason) == (True, None)
    assert conf.workflow.idle_lock_s == 120
    assert [s for s, _ in seen] == ["workflow"]
    assert [e["data"] for e in events_of(store, "config.changed")] == [{"key": "workflow.idle_lock_s", "value": 120}]
    store.close()

    # A restart: fresh settings from the file / defaults, then what the hub set is applied again.
    store = Store.open(path, wall_ms=clock, boot_id="boot-2")
    try:
        fresh = settings()
        assert fresh.workflow.idle_lock_s == 900
        assert apply_stored_config(store, fresh) == ["workflow.idle_lock_s"]
        assert fresh.workflow.idle_lock_s == 120
    finally:
        store.close()


def test_config_set_refused_for_sections_the_hub_may_not_change(store: Store) -> None:
    conf = settings()
    commands = StationCommands(store, conf)
    broker_before = conf.sync.broker
    for key, value in (("sync.broker", "evil.example"), ("station.station_id", "ST99"), ("api.port", 1)):
        outcome = commands.apply_command(command(1, "config.set", key=key, value=value))
        assert (outcome.applied, outcome.reason) == (False, "invalid_config"), key
        assert outcome.detail is not None
        assert f"section '{key.split('.')[0]}' cannot be set by the hub" in outcome.detail
    invalid = commands.apply_command(command(2, "config.set", key="workflow.idle_lock_s", value=-5))
    assert (invalid.applied, invalid.reason) == (False, "invalid_config")
    assert invalid.detail is not None
    assert invalid.detail.startswith("workflow.idle_lock_s:")
    unknown_key = commands.apply_command(command(3, "config.set", key="workflow.no_such_key", value=1))
    assert (unknown_key.applied, unknown_key.reason) == (False, "invalid_config")
    assert conf.sync.broker == broker_before
    assert conf.workflow.idle_lock_s == 900
    with store.reading() as repo:
        assert list(repo.db.query("SELECT * FROM hub_config")) == [], "nothing refused was persisted"
    assert events_of(store, "config.changed") == []
    assert apply_stored_config(store, settings()) == []


def test_downlink_applies_each_cmd_id_once_through_the_adapter(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "station.db"
    store = Store.open(path, wall_ms=clock, boot_id="boot-1")
    commands = adapter(store)
    downlink = Downlink(commands, max_command_bytes=64 * 1024)
    downlink.load()
    version = order(store).version
    assert downlink.handle(wire(1, "priority.set", order_id=ORDER_ID, level="A")).applied_through == 1
    assert downlink.handle(wire(2, "config.set", key="workflow.idle_lock_s", value=60)).applied_through == 2
    refused = downlink.handle(wire(3, "order.hold", order_id="NOPE", reason="x"))
    assert [(r.cmd_id, r.reason) for r in refused.rejected] == [("c3", "unknown_order")]
    # On cmd_ack a refusal is a reason code the hub can match, with the station's explanation beside it.
    config = downlink.handle(wire(4, "config.set", key="sync.broker", value="evil")).to_wire()
    assert json.loads(config)["rejected"] == [
        {"cmd_id": "c4", "cmd_seq": 4, "reason": "invalid_config",
         "detail": "section 'sync' cannot be set by the hub (allowed: workflow, scan, priority)"}
    ]  # fmt: skip
    # Repeats (the hub lost our cmd_ack): nothing applied again, refusals repeated.
    for seq, kind, data in ((1, "priority.set", {"order_id": ORDER_ID, "level": "A"}),
                            (2, "config.set", {"key": "workflow.idle_lock_s", "value": 60})):  # fmt: skip
        ack = downlink.handle(wire(seq, kind, **data))
        assert (ack.applied_through, ack.rejected) == (4, ())
    assert order(store).version == version + 1, "priority.set applied once"
    assert len(events_of(store, "config.changed")) == 1, "config.set applied once"
    store.close()

    # After a restart the bookkeeping comes from the station database.
    store = Store.open(path, wall_ms=clock, boot_id="boot-2")
    try:
        commands = StationCommands(store, settings())
        again = Downlink(commands, max_command_bytes=64 * 1024)
        again.load()
        assert again.applied_through == 4
        record = commands.cmd_record("c3")
        assert record is not None
        assert (record.cmd_seq, record.applied, record.reason) == (3, False, "unknown_order")
        ack = again.handle(wire(1, "priority.set", order_id=ORDER_ID, level="A"))
        assert (ack.applied_through, ack.rejected) == (4, ())
        ack = again.handle(wire(3, "order.hold", order_id="NOPE", reason="x"))
        assert [(r.cmd_id, r.reason) for r in ack.rejected] == [("c3", "unknown_order")]
        # A new cmd_id with a sequence number already done is refused, not applied.
        reused = again.handle(wire(2, "priority.set", cmd_id="other", order_id=ORDER_ID, level="S"))
        assert [(r.cmd_id, r.reason) for r in reused.rejected] == [("other", "cmd_seq_reused")]
        assert order(store).priority == "A"
        assert order(store).version == version + 1
        assert len(events_of(store, "config.changed")) == 1
    finally:
        store.close()


def test_config_set_refuses_a_scan_pattern_re2_cannot_run(store: Store) -> None:
    conf = settings()
    downlink = Downlink(StationCommands(store, conf), max_command_bytes=64 * 1024)
    downlink.load()
    patterns_before = conf.scan.order_patterns
    ack = downlink.handle(wire(1, "config.set", key="scan.order_patterns", value=[r"^(SO\d+)-\1$"]))
    (refusal,) = json.loads(ack.to_wire())["rejected"]
    assert (refusal["cmd_id"], refusal["reason"]) == ("c1", "invalid_config")
    assert refusal["detail"].startswith("scan.order_patterns:")
    assert r"invalid regular expression '^(SO\\d+)-\\1$': a backreference \1" in refusal["detail"]
    assert conf.scan.order_patterns == patterns_before
    with store.reading() as repo:
        assert list(repo.db.query("SELECT * FROM hub_config")) == [], "nothing refused was persisted"


def test_config_set_of_a_catastrophic_pattern_cannot_stall_a_scan(store: Store) -> None:
    conf = settings()
    commands = StationCommands(store, conf)
    outcome = commands.apply_command(command(1, "config.set", key="scan.order_patterns", value=[r"^(A+)+$"]))
    assert outcome.applied, outcome
    # Python's re would backtrack through every split of the A's; RE2 answers in one pass (no timing assertion).
    assert interpret("A" * 40 + "!", conf.scan).kind is CodeKind.UNKNOWN
    assert interpret("A" * 40, conf.scan).order_id == "A" * 40
