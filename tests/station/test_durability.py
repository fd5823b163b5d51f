"""Power cuts: SIGKILL a scanning process at random moments; every acknowledged scan must be on disk."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from station.events import verify_chain
from station.store import Store

CHILD = Path(__file__).with_name("durability_child.py")
KILLS = 20


def test_acknowledged_scans_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    rng = random.Random(20261122)
    acknowledged: set[int] = set()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, str(CHILD), str(db)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is really scanning
        assert first.strip().isdigit(), first
        acknowledged.add(int(first))
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged.update(int(line) for line in out.split() if line.isdigit())
    store = Store.open(db)
    try:
        events = store.events_from(1, 10_000_000)
        present = {e["seq"] for e in events}
        missing = acknowledged - present
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        report = verify_chain(events, store.stream_epoch)
        assert report.ok, report
        assert len(acknowledged) > KILLS  # the child really did work between kills
    finally:
        store.close()
