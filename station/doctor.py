"""`station doctor`: what this station sees — configuration, database, clock, disk, devices and the broker —
as readable lines with a verdict each, for the person paged at 2 a.m."""

import glob
import os
import shutil
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cloud_sync.doctor import check_broker, outbox_summary
from station.clock import SyncState
from station.config import Settings
from station.store import Store
from station.store.database import CorruptDatabaseError, quick_check
from station.store.migrations import MIGRATIONS, schema_version

MIN_FREE_BYTES = 512 * 1024 * 1024  # below this, recording and the database are at risk


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report."""

    area: str
    ok: bool
    text: str

    def line(self) -> str:
        """The printed line."""
        return f"[{'ok' if self.ok else '!!'}] {self.area:<10} {self.text}"


def _device_present(url: str) -> tuple[bool, str]:
    """Whether a configured device's node exists (sim:// devices always do)."""
    parts = urlsplit(url)
    if parts.scheme in ("sim", "tcp", "rtsp", "socket"):
        return True, url
    path = parts.path if parts.scheme else url
    if parts.scheme == "evdev" and ":" in parts.netloc:
        return True, f"{url} (by vendor:product; found when plugged)"
    matches = glob.glob(path)
    return (bool(matches), f"{url} → {matches[0]}" if matches else f"{url}: no such device")


def diagnose(settings: Settings, *, broker_timeout_s: float = 5.0) -> list[Finding]:
    """Run every check; nothing here raises."""
    found: list[Finding] = []
    st = settings.station
    found.append(Finding("station", True, f"site {st.site}, station {st.station_id}, data in {st.data_dir.resolve()}"))
    path = st.database_path
    if not path.exists():
        found.append(Finding("database", False, f"no database at {path} (it is created by `station run`)"))
    else:
        store = Store.open(path)
        try:
            try:
                quick_check(store.conn)
                integrity = (True, "quick_check ok")
            except CorruptDatabaseError as err:
                integrity = (False, f"quick_check FAILED: {err}")
            version = schema_version(store.conn)
            size_mb = path.stat().st_size / 1e6
            found.append(
                Finding(
                    "database",
                    integrity[0],
                    f"{path} {size_mb:.1f} MB, schema {version}/{len(MIGRATIONS)}, {integrity[1]}",
                )
            )
            summary = outbox_summary(store)
            age = summary.get("oldest_unacked_age_s")
            found.append(
                Finding(
                    "outbox",
                    True,
                    f"epoch {summary['stream_epoch']}, last seq {summary['last_seq']}, "
                    f"{summary['backlog']} not yet acknowledged by the hub"
                    + (f", oldest waiting {age:.0f} s" if age is not None else ""),
                )
            )
        finally:
            store.close()
    synced = SyncState().is_synced()
    found.append(
        Finding(
            "clock",
            synced,
            time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
            + (" (NTP synchronised)" if synced else " — NOT known to be synchronised: countdowns are approximate"),
        )
    )
    st.data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(st.data_dir).free
    found.append(Finding("disk", free >= MIN_FREE_BYTES, f"{free / 1e9:.1f} GB free under {st.data_dir}"))
    devices = settings.devices
    for url in devices.scanners:
        ok, text = _device_present(url)
        found.append(Finding("scanner", ok, text))
    for area, configured in (
        ("controller", devices.controller),
        ("printer", devices.printer),
        ("camera", devices.camera),
    ):
        if configured:
            ok, text = _device_present(configured)
            found.append(Finding(area, ok, text))
        else:
            found.append(Finding(area, True, "not configured"))
    if settings.sync.enabled:
        report = check_broker(settings.sync, site=st.site, station_id=st.station_id, timeout_s=broker_timeout_s)
        text = (
            f"{report['broker']}: reachable, CONNACK {report['connack']}, hub {report['hub_state'] or 'unknown'}, "
            f"{report['latency_ms']} ms"
            if report["reachable"]
            else f"{report['broker']}: NOT reachable ({report['error']}); events wait in the outbox"
        )
        found.append(Finding("broker", bool(report["reachable"]), text))
    else:
        found.append(Finding("broker", True, "sync off (no [sync] broker configured); events wait in the outbox"))
    found.append(Finding("user", True, f"running as uid {os.getuid()}"))
    return found


def write_report(findings: list[Finding]) -> str:
    """The printed report."""
    bad = [f for f in findings if not f.ok]
    tail = "all checks passed" if not bad else f"{len(bad)} problem(s): " + ", ".join(f.area for f in bad)
    return "\n".join([*(f.line() for f in findings), tail])
