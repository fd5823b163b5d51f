"""Runs the demo: a fresh demo database, sample orders, the scripted packer narrated line by line, a summary
that checks every answer against the script, then (unless told not to) the API stays up to be explored."""

import json
import logging
import secrets
import shutil
import socket
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from station.api.server import listen
from station.app import Station, serve
from station.auth import ApiRole, add_user, create_token
from station.config import Settings
from station.demo.script import SCRIPT
from station.events import Actor
from station.orders.intake import cancel_order, intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.store.database import LOCK_NAME, exclusive_data_dir
from station.workflow import ScanOutcome

DEMO_ACTOR = Actor(role="system", id="demo", device="demo")
HUB = Actor(role="hub", id="demo-hub")
CST = timezone(timedelta(hours=8))  # the narration shows warehouse (China Standard) time
MARKS = {"accepted": "✔", "refused": "✘", "ignored": "·"}


class _SimClock:
    """Monotonic time advanced by the script, so pacing the show never changes what the station decides."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup(station: Station, out: TextIO) -> dict[str, str]:
    store = station.store
    for badge, name, role in (
        ("OP-1001", "李四", Role.PACKER),
        ("OP-1002", "王芳", Role.PACKER),
        ("SV-2001", "赵主管", Role.SUPERVISOR),
    ):
        add_operator(store, badge, name, role, DEMO_ACTOR)
    text = files("station.demo").joinpath("orders.jsonl").read_text(encoding="utf-8")
    for line in text.splitlines():
        doc = json.loads(line)
        result = intake_order(store, doc, HUB, station.settings.priority)
        print(f"  order {doc['order_id']}  {doc['channel']:<11} → {result.result}", file=out)
    tokens = {}
    for api_role, bench in ((ApiRole.BENCH, "B01"), (ApiRole.PDA, None), (ApiRole.SUPERVISOR, None)):
        _, secret = create_token(store, api_role, f"demo-{api_role.value}", DEMO_ACTOR, bench)
        tokens[api_role.value] = secret
    password = secrets.token_urlsafe(9)
    add_user(store, "demo", password, DEMO_ACTOR)
    tokens["password"] = password
    return tokens


def _revise(station: Station, order_id: str) -> str:
    """Send the order's next version from `changes.jsonl`; what the bench was told."""
    text = files("station.demo").joinpath("changes.jsonl").read_text(encoding="utf-8")
    doc = next(d for d in map(json.loads, text.splitlines()) if d["order_id"] == order_id)
    result = intake_order(station.store, doc, HUB, station.settings.priority)
    last = station.workflow.last_answer("B01")
    if result.reason != "revised_on_bench" or last is None:
        return f"{result.result} ({result.reason})"
    told = last[1]
    put_back = ", ".join(f"{p['qty']} × {p['sku']}" for p in told.detail["put_back"]) or "nothing"
    added = ", ".join(f"{a['qty']} × {a['sku']}" for a in told.detail["added"]) or "nothing"
    return f"bench B01 alarm: {told.feedback.value} — {told.message['zh-CN']}; put back {put_back}; add {added}"


def _describe(outcome: ScanOutcome) -> str:
    mark = MARKS.get(outcome.outcome, "?")
    msg = outcome.message
    head = f"{mark} {msg['zh-CN']} / {msg['en']}"
    if outcome.outcome == "refused":
        head += f"  [{outcome.reason}, light+buzzer: {outcome.feedback.value}]"
    if outcome.status is not None:
        head += f"  → {outcome.order_id} {outcome.status.value}"
    return head


def _run_script(station: Station, clock: _SimClock, out: TextIO, pace_s: float) -> Counter[str]:
    wall = datetime(2026, 11, 22, 9, 58, 0, tzinfo=CST)
    mismatches: Counter[str] = Counter()
    for step in SCRIPT:
        if step.kind == "say":
            print(f"\n— {step.value}", file=out)
            continue
        clock.now += step.gap_s
        wall += timedelta(seconds=step.gap_s)
        stamp = wall.strftime("%H:%M:%S")
        if step.kind == "cancel":
            result = cancel_order(station.store, step.value, step.note, HUB)
            status = result.status.value if result.status else "?"
            print(f"[hub {stamp}] cancels {step.value} ({step.note}) → {status}; bench B01 alarm: BLOCKED", file=out)
            continue
        if step.kind == "revise":
            print(f"[hub {stamp}] changes {step.value} ({step.note}) → {_revise(station, step.value)}", file=out)
            continue
        outcome = station.workflow.handle_scan("B01", step.value, "scanner-1")
        got = outcome.reason if outcome.outcome != "accepted" else "accepted"
        note = f"  ({step.note})" if step.note else ""
        print(f"[B01 {stamp}] scan {step.value:<34}{_describe(outcome)}{note}", file=out)
        if got != step.expect:
            mismatches[f"{step.value}: expected {step.expect}, got {got}"] += 1
            print(f"    !! the script expected {step.expect}", file=out)
        if pace_s:
            out.flush()
            time.sleep(pace_s)
    return mismatches


def expected_refusals() -> Counter[str]:
    """How many of each refusal the script provokes (the demo's own check, also used by the tests)."""
    return Counter(s.expect for s in SCRIPT if s.kind == "scan" and s.expect != "accepted")


def run_demo(settings: Settings, *, serve: bool = True, pace_s: float = 0.4, out: TextIO | None = None) -> int:
    """Run the demo; return 0 when the station answered every step as the script expects.

    The demo's data directory (`DIR/demo`) is locked first: a demo still running there raises
    `DataDirInUseError` before its data is touched. Then, with `serve`, the API's address is claimed: a taken
    port raises `ListenError` before anything is printed and before the previous demo's data is deleted.
    """
    with exclusive_data_dir(settings.station.data_dir / "demo"):
        listeners = listen(settings.api.host, settings.api.port) if serve else []
        try:
            return _run_demo(settings, listeners, serve=serve, pace_s=pace_s, out=out or sys.stdout)
        finally:
            for sock in listeners:  # already closed by uvicorn when it served; this covers a script that failed
                sock.close()


def _clear_previous_demo(data_dir: Path) -> None:
    """Delete the previous demo's data, all but the lock file this process holds (deleting it would let a
    second demo lock a new file of the same name while this one runs)."""
    for entry in data_dir.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _run_demo(settings: Settings, listeners: list[socket.socket], *, serve: bool, pace_s: float, out: TextIO) -> int:
    data_dir = settings.station.data_dir / "demo"
    _clear_previous_demo(data_dir)
    demo_settings = settings.model_copy(update={"station": settings.station.model_copy(update={"data_dir": data_dir})})
    logging.getLogger("station.devices.indicators").setLevel(logging.WARNING)
    clock = _SimClock()
    station = Station.build(demo_settings, monotonic=clock)
    print(f"Packing Station demo — data in {data_dir} (recreated on every run)", file=out)
    tokens = _setup(station, out)
    mismatches = _run_script(station, clock, out, pace_s)
    refusals: Counter[str] = Counter()
    with station.store.reading() as repo:
        for row in repo.db.query(
            "SELECT json_extract(data, '$.reason') AS reason, count(*) AS n FROM events "
            "WHERE type = 'scan.rejected' GROUP BY 1"
        ):
            refusals[str(row["reason"])] = int(row["n"])
    print("\nThe station stopped:", file=out)
    for reason, n in sorted(refusals.items()):
        print(f"  {n} × {reason}", file=out)
    expected = expected_refusals()
    expected.pop("bounce", None)
    ok = not mismatches and refusals == expected
    print(("every answer matched the script" if ok else f"MISMATCH: {dict(mismatches)}") + ".", file=out)
    if not serve:
        station.store.close()
        return 0 if ok else 1
    host, port = demo_settings.api.host, demo_settings.api.port
    print(
        f"\nThe API is up: http://{host}:{port}/docs  (Ctrl+C to stop)\n"
        f"  bench B01 token:  {tokens['bench']}  (bench screen: http://{host}:{port}/bench/B01#token={tokens['bench']})\n"
        f"  PDA token:        {tokens['pda']}\n"
        f"  supervisor token: {tokens['supervisor']}\n"
        f"  supervisor login: demo / {tokens['password']}  (pages: http://{host}:{port}/ and "
        f"http://{host}:{port}/orders/SO20261122-0001)\n"
        f"  try: curl -H 'Authorization: Bearer {tokens['supervisor']}' "
        f"http://{host}:{port}/api/v1/orders/SO20261122-0001/timeline\n"
        f"  two orders still wait for a PDA: curl -H 'Authorization: Bearer {tokens['pda']}' "
        f"http://{host}:{port}/api/v1/queue/top",
        file=out,
    )
    out.flush()
    serve_station(demo_settings, station, listeners)
    return 0 if ok else 1


def serve_station(settings: Settings, station: Station, listeners: list[socket.socket] | None = None) -> None:
    """Serve the demo station's API (separate so tests can run the script without a server)."""
    serve(settings, station, listeners)
