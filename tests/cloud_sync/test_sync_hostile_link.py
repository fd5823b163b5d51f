"""Hostile payloads through a real Mosquitto: a command nested 100,000 deep (which made `json.loads` raise
RecursionError and took the link down) is refused on `cmd_ack`, and the agent stays connected on the same link
and applies the next command; deep acks and hub states are counted as refused; and even a bug in a decoder
costs one message, not the link."""

from pathlib import Path
from typing import NoReturn

import pytest
from sync_harness import (
    SITE,
    STATION,
    AgentThread,
    Broker,
    MemoryCommands,
    Probe,
    open_store,
    running,
    sync_settings,
    wait_until,
)

from cloud_sync.wire import encode_command
from station.store import Store

P = f"wh/v1/{SITE}/{STATION}"
DEEP = 100_000


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "station.db")
    yield s
    s.close()


def deep_arrays(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_deeply_nested_command_is_refused_and_the_link_stays_up(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/cmd_ack")
    commands = MemoryCommands()
    agent = AgentThread(sync_settings(broker.port), store, commands).start()
    with running(probe, agent, broker):
        wait_until(lambda: agent.health()["broker_connected"], 10, "connected")
        restarts = agent.health()["link_restarts"]

        def rejections() -> list[dict[str, object]]:
            return [r for a in probe.on(f"{P}/cmd_ack") for r in a["rejected"]]

        # No id to read: refused with cmd_id null, no place in the sequence.
        probe.publish(f"{P}/cmd", deep_arrays())
        # Ids readable at its head: refused in its place (seq 1), like an oversized command.
        head = b'{"cmd_id":"deep-1","cmd_seq":1,"type":"order.cancel","data":'
        probe.publish(f"{P}/cmd", head + deep_arrays() + b"}")
        probe.publish(f"{P}/ack", deep_arrays(DEEP // 10))
        probe.publish(f"wh/v1/{SITE}/hub/state", deep_arrays(DEEP // 10))
        probe.publish(f"{P}/cmd", encode_command("next-2", 2, "order.cancel", {"order_id": "SO1"}))

        wait_until(lambda: agent.health()["cmd_applied_through"] == 2, 10, "the next command applied")
        assert [c.cmd_id for c in commands.applied] == ["next-2"]
        wait_until(lambda: len(rejections()) >= 2, 5, "the refusals on cmd_ack")
        refused = [(r["cmd_id"], r.get("cmd_seq"), r["reason"]) for r in rejections()]
        assert refused[:2] == [(None, None, "malformed_json"), ("deep-1", 1, "malformed_json")]
        assert all("levels deep, more than 32" in str(r["detail"]) for r in rejections()[:2])
        wait_until(lambda: agent.health()["rejected"]["hub_state"] != {}, 5, "hub state refused")
        h = agent.health()
        assert h["rejected"]["cmd"]["malformed_json"] == 2
        assert h["rejected"]["ack"] == {"malformed_json": 1}
        assert h["rejected"]["hub_state"] == {"malformed_json": 1}
        assert h["broker_connected"] is True
        assert h["link_restarts"] == restarts, "the same link: never dropped"
        assert h["last_error"] is None


def test_a_bug_in_a_decoder_refuses_the_message_not_the_link(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(payload: bytes, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a decoder bug")

    monkeypatch.setattr("cloud_sync.agent.parse_ack", broken)
    monkeypatch.setattr("cloud_sync.agent.parse_state", broken)
    broker = Broker(tmp_path / "mq").start()
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/cmd_ack")
    commands = MemoryCommands()
    agent = AgentThread(sync_settings(broker.port), store, commands).start()
    with running(probe, agent, broker):
        wait_until(lambda: agent.health()["broker_connected"], 10, "connected")
        restarts = agent.health()["link_restarts"]
        probe.publish(f"{P}/ack", b"{}")
        probe.publish(f"wh/v1/{SITE}/hub/state", b"{}")
        with monkeypatch.context() as patch:
            patch.setattr(agent.agent.downlink, "handle", broken)
            probe.publish(f"{P}/cmd", encode_command("c1", 1, "order.cancel", {"order_id": "SO1"}))
            wait_until(lambda: any(a["rejected"] for a in probe.on(f"{P}/cmd_ack")), 5, "the refusal")
        (refused,) = [r for a in probe.on(f"{P}/cmd_ack") for r in a["rejected"]]
        assert (refused["cmd_id"], refused["reason"]) == (None, "internal_error"), "not recorded: the hub resends"
        probe.publish(f"{P}/cmd", encode_command("c1", 1, "order.cancel", {"order_id": "SO1"}))
        wait_until(lambda: agent.health()["cmd_applied_through"] == 1, 10, "the resent command applied")
        h = agent.health()
        assert (h["rejected"]["ack"], h["rejected"]["hub_state"]) == ({"malformed_json": 1}, {"malformed_json": 1})
        assert (h["broker_connected"], h["link_restarts"]) == (True, restarts)
