"""Station SIGKILL mid-job: a child process sends a label to a slow TCP virtual printer and is killed while the
job is `sending`; a fresh station settles the job by the printer's label counter. Zero duplicates, zero lost.

Two moments: before the label came out (the counter did not move: whatever the printer held is cancelled and
the job is sent again, once), and after it came out but before the dead station could record it (the
counter moved: done, never resent).
"""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from benchkit import FakeClock, make_bench
from printing_kit import PACKER, events_of, job_rows, pack, printed_per_order, wait_for

from drivers import printers
from drivers.printers import Faults, VirtualPrinterEngine
from drivers.printers.virtual import VirtualPrinterServer
from station.printing import LabelEvent, PrintingSettings, PrintWorker, enqueue_label, label_printed
from station.store import Store

CHILD = Path(__file__).with_name("printing_child.py")
ORDER = "SO20260205-8821"
SLOW_MS = 700  # every printer answer and the label itself take this long: room to kill the child mid-job
ODOMETER_START = 500


def job_state(db: Path, job_id: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT state FROM print_jobs WHERE job_id = ?", [job_id]).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("moment", ["before_the_label_came_out", "after_the_label_came_out"])
def test_station_killed_mid_job_settles_by_the_counter(moment: str, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    engine = VirtualPrinterEngine(Faults(slow_ms=SLOW_MS), render_png=False, odometer_start=ODOMETER_START)
    with VirtualPrinterServer(engine, port=0) as server:
        store = Store.open(db, boot_id="boot-1")
        try:
            pack(make_bench(store, FakeClock()))
            job_id = enqueue_label(store, ORDER, PACKER).job_id
        finally:
            store.close()
        assert job_id is not None

        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(db), server.url], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            wait_for(lambda: job_state(db, job_id) == "sending", timeout_s=30)
            if moment == "after_the_label_came_out":
                wait_for(lambda: job_id in engine.printed_job_ids(), timeout_s=30)
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert job_state(db, job_id) == "sending"  # the dead station never heard the printer's verdict
        printed_when_killed = engine.printed_job_ids().count(job_id)
        assert printed_when_killed == (1 if moment == "after_the_label_came_out" else 0)

        # A fresh station (the printer is quick again) finds the job mid-send and asks the counter.
        engine.set_fault("slow_ms", 0)
        store = Store.open(db, boot_id="boot-2")
        try:
            printer = printers.open_printer(server.url, timeout_s=2.0, print_timeout_s=5.0, poll_interval_s=0.02)
            settings = PrintingSettings(auto_print=False, cjk="ci28", recovery_settle_s=0.2)
            PrintWorker(store, settings, printer, printers).run_until_idle()

            assert printed_per_order(store, engine) == {ORDER: 1}, "a duplicate or a lost label"
            [row] = job_rows(store, ORDER)
            assert row["state"] == "done"
            assert label_printed(store, ORDER)
            after_restart = [
                e for e in events_of(store, LabelEvent.QUEUED, LabelEvent.PRINTED) if e["boot_id"] == "boot-2"
            ]
            if moment == "after_the_label_came_out":
                assert [(e["type"], e["data"].get("reason")) for e in after_restart] == [
                    (LabelEvent.PRINTED, "printed_before_restart")
                ]
                assert engine.odometer == ODOMETER_START + 1
            else:
                assert [(e["type"], e["data"].get("reason")) for e in after_restart] == [
                    (LabelEvent.QUEUED, "not_printed_before_restart"),
                    (LabelEvent.PRINTED, None),
                ]
                assert row["attempts"] == 2
        finally:
            store.close()
