"""Test kit for cloud_sync: a real Mosquitto per test, the real station Store as outbox, the agent on its own
event loop thread, the hub kit as the oracle, and the counting report every fault test ends with."""

import asyncio
import contextlib
import getpass
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_sync.agent import SyncAgent
from cloud_sync.hub import HubConfig, HubConsumer, HubFaults, HubStore, StreamKey
from cloud_sync.link import release_client_sockets
from cloud_sync.ports import Command, CommandOutcome, CommandRecord
from cloud_sync.settings import SyncSettings
from station.events import Actor, NewEvent, verify_chain
from station.store import Store

SITE = "WH1"
STATION = "ST01"
REPO = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Broker:
    """A Mosquitto on a free loopback port with a generated config; kill, stop and restart at will."""

    def __init__(self, workdir: Path, *, persistence: bool = False, extra: str = "", port: int | None = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persistence = persistence
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"

    def write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Started as root, Mosquitto would switch to user "mosquitto" and lose access to the test's files.
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            "set_tcp_nodelay true",  # as recommended for sites: small acks must not wait for Nagle
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            "autosave_interval 1",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            self.extra,
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> "Broker":
        self.write_conf()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no persistence save."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def hup(self) -> None:
        """Reload (ACL and password files)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)


class MemoryCommands:
    """A CommandSink fake: applies by remembering, bookkeeping in a dict (or a SQLite file to survive restarts)."""

    def __init__(self, path: Path | None = None, fail: Callable[[Command], bool] | None = None) -> None:
        self.applied: list[Command] = []
        self._fail = fail
        self._conn = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS cmds (cmd_id TEXT PRIMARY KEY, cmd_seq INTEGER UNIQUE, applied INTEGER, "
            "reason TEXT)"
        )
        self._lock = threading.Lock()

    def apply_command(self, cmd: Command) -> CommandOutcome:
        if self._fail is not None and self._fail(cmd):
            raise RuntimeError("station failure (test)")
        self.applied.append(cmd)
        if cmd.type == "order.hold" and cmd.data.get("order_id") == "UNKNOWN":
            return CommandOutcome(False, "unknown_order")
        return CommandOutcome(True)

    def cmd_applied_through(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(max(cmd_seq), 0) FROM cmds").fetchone()[0])

    def cmd_record(self, cmd_id: str) -> CommandRecord | None:
        with self._lock:
            row = self._conn.execute("SELECT cmd_seq, applied, reason FROM cmds WHERE cmd_id=?", [cmd_id]).fetchone()
        return None if row is None else CommandRecord(cmd_id, row[0], bool(row[1]), row[2])

    def record_cmd(self, cmd_id: str, cmd_seq: int, outcome: CommandOutcome) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO cmds VALUES (?,?,?,?)", [cmd_id, cmd_seq, int(outcome.applied),
                                                                     outcome.reason])  # fmt: skip


def open_store(path: Path) -> Store:
    return Store.open(path, boot_id="boot-sync-test")


def append_events(store: Store, n: int, *, per_tx: int = 500, order_prefix: str = "SO") -> int:
    """Append n events (as scans would), in transactions of `per_tx`; returns the last seq."""
    actor = Actor(role="packer", id="OP-001", device="scanner-1", bench="B01")
    left = n
    last = store.last_seq()
    while left > 0:
        k = min(per_tx, left)
        with store.transaction() as tx:
            for _ in range(k):
                env = tx.append(
                    NewEvent("item.verified", actor, f"{order_prefix}-{(last % 977) + 1}", {"line_no": 1, "n": last})
                )
                last = env["seq"]
        left -= k
    return last


def sync_settings(port: int, **overrides: Any) -> SyncSettings:
    base: dict[str, Any] = {
        "broker": "127.0.0.1",
        "port": port,
        "keepalive_s": 5,
        "connect_timeout_s": 3,
        "backoff_min_s": 0.05,
        "backoff_max_s": 0.5,
        "ack_timeout_s": 2.0,
        "stall_restarts_link_after": 3,
        "session_expiry_s": 300,
    }
    base.update(overrides)
    return SyncSettings(**base)


class AgentThread:
    """The agent on its own asyncio loop in a thread, as the station runs it on its loop."""

    def __init__(self, settings: SyncSettings, store: Store, commands: Any, **kwargs: Any) -> None:
        self.agent = SyncAgent(settings, store, commands, site=SITE, station_id=STATION, boot_id=store.boot_id,
                               versions={"station": "test"}, tick_s=0.05, **kwargs)  # fmt: skip
        store.subscribe(self.agent.notify)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="agent-loop", daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._begin)
        self.loop.run_forever()

    def _begin(self) -> None:
        self.agent.start()
        self._ready.set()

    def start(self) -> "AgentThread":
        self.thread.start()
        self._ready.wait(5)
        return self

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the agent's loop thread and return its result."""
        fut: Any = asyncio.run_coroutine_threadsafe(self._call(fn), self.loop)
        return fut.result(10)

    @staticmethod
    async def _call(fn: Callable[[], Any]) -> Any:
        return fn()

    def health(self) -> dict[str, Any]:
        return dict(self.call(self.agent.health))

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class HubThread:
    """A hub instance in this process (the oracle), recording the order in which events are released."""

    port: int
    db: Path
    instance: str = "hub-1"
    faults: HubFaults | None = None
    gap_grace_s: float = 0.5
    released: list[int] = field(default_factory=list)
    store: HubStore | None = None
    consumer: HubConsumer | None = None

    def start(self) -> "HubThread":
        self.store = HubStore.open(self.db)
        config = HubConfig(broker="127.0.0.1", port=self.port, sites=[SITE], instance=self.instance,
                           gap_grace_s=self.gap_grace_s, command_resend_s=1.0, keepalive_s=5)  # fmt: skip
        self.consumer = HubConsumer(self.store, config, on_release=self._released, faults=self.faults)
        self.consumer.start()
        return self

    def _released(self, key: StreamKey, events: list[dict[str, Any]]) -> None:
        self.released.extend(int(e["seq"]) for e in events)

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()
            self.consumer = None
        if self.store is not None:
            self.store.close()
            self.store = None


class HubProcess:
    """`python -m cloud_sync.hub` in a subprocess, to SIGKILL it like a real crash."""

    def __init__(self, port: int, db: Path, instance: str, *extra: str) -> None:
        self.args = [sys.executable, "-m", "cloud_sync.hub", "run", "--broker", f"127.0.0.1:{port}", "--db", str(db),
                     "--site", SITE, "--instance", instance, "--gap-grace-s", "0.5", "--log-level", "WARNING",
                     *extra]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.parent / f"{instance}.log"

    def start(self) -> "HubProcess":
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"running" not in line:
            raise RuntimeError(f"hub did not start: {self.log.read_text()}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def hub_has_all(db: Path, store: Store, expected: int | None = None) -> Callable[[], bool]:
    """A predicate: the hub database has acked through the station's last seq (and the station saw it)."""
    target = store.last_seq() if expected is None else expected

    def check() -> bool:
        conn = sqlite3.connect(db, timeout=5)
        try:
            row = conn.execute(
                "SELECT acked_through FROM hub_streams WHERE site=? AND station=? AND stream_epoch=?",
                [SITE, STATION, store.stream_epoch],
            ).fetchone()
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
        return row is not None and int(row[0]) >= target

    return check


def counting_report(name: str, store: Store, hub_db: Path, released: list[int] | None = None) -> dict[str, int]:
    """expected / delivered / duplicates after dedup / missing / misordered, printed and returned.

    - delivered: distinct station seqs the hub stored for this stream;
    - duplicates: stored rows beyond one per event (by seq and by event_id);
    - missing: expected seqs the hub does not have;
    - misordered: seqs whose stored event is not the station's event at that seq, plus a broken hash chain
      at the hub, plus out-of-order releases to the hub's application (when observed in-process).
    """
    station_events: dict[int, str] = {}
    first = 1
    while True:
        batch = store.events_from(first, 5000)
        if not batch:
            break
        station_events.update({e["seq"]: e["event_id"] for e in batch})
        first = batch[-1]["seq"] + 1
    expected = len(station_events)
    conn = sqlite3.connect(hub_db, timeout=10)
    rows = conn.execute(
        "SELECT seq, event_id, envelope FROM hub_events WHERE site=? AND station=? AND stream_epoch=? ORDER BY seq",
        [SITE, STATION, store.stream_epoch],
    ).fetchall()
    stream = conn.execute(
        "SELECT chain_ok FROM hub_streams WHERE site=? AND station=? AND stream_epoch=?",
        [SITE, STATION, store.stream_epoch],
    ).fetchone()
    conn.close()
    seqs = [int(r[0]) for r in rows]
    ids = [r[1] for r in rows]
    delivered = len(set(seqs) & set(station_events))
    duplicates = (len(seqs) - len(set(seqs))) + (len(ids) - len(set(ids)))
    missing = len(set(station_events) - set(seqs))
    misordered = sum(1 for s, i, _ in rows if station_events.get(int(s)) not in (None, i))
    # The chain as the hub stored it, checked with the station's own verifier.
    chain = verify_chain((json.loads(r[2]) for r in rows), store.stream_epoch)
    if rows and not chain.ok and chain.first_bad_seq is not None:
        misordered += 1
    if stream is not None and not stream[0]:
        misordered += 1
    if released is not None:
        misordered += sum(1 for a, b in itertools.pairwise(released) if b != a + 1)
    report = {
        "expected": expected,
        "delivered": delivered,
        "duplicates": duplicates,
        "missing": missing,
        "misordered": misordered,
    }
    line = f"SYNC REPORT {name}: {json.dumps(report)}"
    print(line)
    out = os.environ.get("SYNC_REPORT_FILE")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return report


def assert_clean(report: dict[str, int]) -> None:
    assert report["delivered"] == report["expected"], report
    assert report["duplicates"] == 0, report
    assert report["missing"] == 0, report
    assert report["misordered"] == 0, report
    assert report["expected"] > 0, report


@contextlib.contextmanager
def running(*things: Any) -> Iterator[None]:
    """Stop everything started, whatever happens in the test."""
    try:
        yield
    finally:
        for thing in reversed(things):
            with contextlib.suppress(Exception):
                thing.stop()


class StationCommands(MemoryCommands):
    """A CommandSink over the real station intake and actions: what the composition root will wire
    (bookkeeping here in a side table; the station will keep it in its own database)."""

    def __init__(self, store: Store, path: Path | None = None) -> None:
        super().__init__(path)
        self.store = store
        self.other: list[Command] = []

    def apply_command(self, cmd: Command) -> CommandOutcome:
        from station.orders.actions import perform_action  # noqa: PLC0415 - only this adapter needs the domain
        from station.orders.intake import cancel_order, intake_order  # noqa: PLC0415
        from station.orders.lifecycle import Action  # noqa: PLC0415

        actor = Actor(role="hub", id=cmd.hub or "hub")
        data = cmd.data
        if cmd.type == "order.upsert":
            r = intake_order(self.store, data, actor)
            return CommandOutcome(r.ok, r.reason if not r.ok else None)
        if cmd.type == "order.cancel":
            r = cancel_order(self.store, data["order_id"], data.get("reason", ""), actor)
            return CommandOutcome(r.ok, r.reason if not r.ok else None)
        if cmd.type in ("order.hold", "order.release"):
            action = Action.HOLD if cmd.type == "order.hold" else Action.RELEASE
            a = perform_action(self.store, data["order_id"], action, actor, reason=data.get("reason"),
                               expected_version=data.get("expected_version"))  # fmt: skip
            return CommandOutcome(a.ok, a.refusal)
        self.other.append(cmd)
        return CommandOutcome(True)


class TcpProxy:
    """A loopback TCP proxy the test controls: `blackhole()` keeps connections open but drops every byte in
    both directions (a half-open link, as after a cable pull or a NAT timeout); `restore()` forwards again."""

    def __init__(self, target_port: int, *, capture: bool = False) -> None:
        self.target_port = target_port
        self.capture = capture
        self.captured: list[bytearray] = []  # with `capture`: what each client sent, one buffer per connection
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.dropping = False
        self.connections = 0
        self._closing = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()  # stop() must see every socket an accept in flight is about to add
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closing:
                    client.close()
                    upstream.close()
                    return
                self.connections += 1
                self._socks += [client, upstream]
                sent = bytearray()
                if self.capture:
                    self.captured.append(sent)
            for a, b, log in ((client, upstream, sent if self.capture else None), (upstream, client, None)):
                threading.Thread(target=self._pump, args=(a, b, log), daemon=True, name="proxy-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket, log: bytearray | None = None) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if log is not None:
                    log += data
                if not self.dropping:
                    dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def blackhole(self) -> None:
        self.dropping = True

    def restore(self) -> None:
        self.dropping = False

    def stop(self) -> None:
        with self._lock:
            self._closing = True
            socks, self._socks = self._socks, []
        with contextlib.suppress(OSError):
            self.listener.close()
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def parse_connect(data: bytes) -> dict[str, Any]:
    """The MQTT 5 CONNECT packet at the start of `data` (what a client sent first), read as a broker reads it:
    protocol level, clean start, keepalive, CONNECT properties, client id, and the will with its properties."""
    from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415 - test helper
    from paho.mqtt.properties import Properties, VariableByteIntegers, readBytes, readUTF  # noqa: PLC0415

    if not data or data[0] != 0x10:
        raise AssertionError(f"the client did not start with CONNECT: {bytes(data[:8])!r}")
    remaining, n = VariableByteIntegers.decode(data[1:])
    body = bytes(data[1 + n : 1 + n + remaining])
    assert len(body) == remaining, "CONNECT incomplete"
    protocol, pos = readUTF(body, len(body))
    level, flags, keepalive = body[pos], body[pos + 1], int.from_bytes(body[pos + 2 : pos + 4], "big")
    pos += 4
    props, used = Properties(PacketTypes.CONNECT).unpack(body[pos:])
    pos += used
    client_id, used = readUTF(body[pos:], len(body) - pos)
    pos += used
    out: dict[str, Any] = {
        "protocol": protocol,
        "level": level,
        "clean_start": bool(flags & 0x02),
        "keepalive_s": keepalive,
        "properties": props.json(),
        "client_id": client_id,
        "will": None,
    }
    if flags & 0x04:
        will_props, used = Properties(PacketTypes.WILLMESSAGE).unpack(body[pos:])
        pos += used
        topic, used = readUTF(body[pos:], len(body) - pos)
        pos += used
        payload, used = readBytes(body[pos:], len(body) - pos)
        out["will"] = {"topic": topic, "payload": json.loads(payload), "qos": (flags >> 3) & 0x03,
                       "retain": bool(flags & 0x20), "properties": will_props.json()}  # fmt: skip
    return out


class Probe:
    """A plain MQTT client for tests: publishes raw payloads, records what arrives on its subscriptions."""

    def __init__(self, port: int, client_id: str = "probe") -> None:
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - test helper
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: PLC0415

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        time.sleep(0.1)

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def on(self, topic: str) -> list[Any]:
        with self._lock:
            return [json.loads(p) for t, p, _ in self.messages if t == topic]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_client_sockets(self.client)


class Producer:
    """Appends `total` events in small transactions at a steady pace from a thread, as benches would."""

    def __init__(self, store: Store, total: int, *, per_tx: int = 5, pause_s: float = 0.004) -> None:
        self.store, self.total, self.per_tx, self.pause_s = store, total, per_tx, pause_s
        self.done = 0
        self.thread = threading.Thread(target=self._run, daemon=True, name="producer")

    def _run(self) -> None:
        while self.done < self.total:
            k = min(self.per_tx, self.total - self.done)
            append_events(self.store, k, per_tx=k)
            self.done += k
            time.sleep(self.pause_s)

    def start(self) -> "Producer":
        self.thread.start()
        return self

    def join(self, timeout_s: float = 60) -> None:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "producer did not finish"

    def stop(self) -> None:
        self.total = self.done
        self.thread.join(10)
