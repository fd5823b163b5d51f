"""`station doctor`: what this station sees — configuration, database, clock, disk, devices and the broker —
as readable lines with a verdict each, for the person paged at 2 a.m."""

import glob
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cloud_sync.doctor import check_broker, outbox_summary
from drivers.urls import redact_text, redact_url
from station.clock import MAX_EVENT_CLOCK_LEAD_MS, SyncState
from station.config import Settings
from station.store import Store, StoreError
from station.store.database import CorruptDatabaseError
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
    """Whether a configured device's node exists (sim:// devices always do); the text shows the URL redacted."""
    parts = urlsplit(url)
    shown = redact_url(url)  # the report is pasted into tickets and chats: never with a camera's password
    if parts.scheme in ("sim", "tcp", "rtsp", "rtsps", "socket"):
        return True, shown
    path = parts.path if parts.scheme else url
    if parts.scheme == "evdev" and ":" in parts.netloc:
        return True, f"{shown} (by vendor:product; found when plugged)"
    matches = glob.glob(path)
    return (bool(matches), f"{shown} → {matches[0]}" if matches else f"{shown}: no such device")


def _store_findings(store: Store, path: Path, clock_synced: bool) -> list[Finding]:
    """The database and outbox lines, from a store that opened (its quick_check passed); closes the store."""
    try:
        size_mb = path.stat().st_size / 1e6
        version = schema_version(store.conn)
        summary = outbox_summary(store)
        lead_ms = store.clock.lead_ms()  # the store resumed its clock after the last event
    finally:
        store.close()
    age = summary.get("oldest_unacked_age_s")
    return [
        Finding("database", True, f"{path} {size_mb:.1f} MB, schema {version}/{len(MIGRATIONS)}, quick_check ok"),
        Finding(
            "outbox",
            True,
            f"epoch {summary['stream_epoch']}, last seq {summary['last_seq']}, "
            f"{summary['backlog']} not yet acknowledged by the hub"
            + (f", oldest waiting {age:.0f} s" if age is not None else ""),
        ),
        _event_time_finding(lead_ms, clock_synced),
    ]


def _event_time_finding(lead_ms: int, clock_synced: bool) -> Finding:
    """Whether the last event's time is ahead of the wall clock, and which of the two is wrong."""
    if lead_ms <= MAX_EVENT_CLOCK_LEAD_MS:
        return Finding("event time", True, "the last event is not ahead of this clock")
    ahead = f"the last event is {lead_ms / 60_000:.0f} min ahead of this clock"
    if not clock_synced:
        return Finding("event time", True, f"{ahead}, which is not synchronised: the clock is probably behind")
    return Finding(
        "event time",
        False,
        f"{ahead}: the station ran on a clock from the future and event times stay there until real time catches "
        "up (alert `clock_ahead`; see README)",
    )


def diagnose(settings: Settings, *, broker_timeout_s: float = 5.0) -> list[Finding]:
    """Run every check; nothing here raises."""
    found: list[Finding] = []
    st = settings.station
    found.append(Finding("station", True, f"site {st.site}, station {st.station_id}, data in {st.data_dir.resolve()}"))
    path = st.database_path
    synced = SyncState().is_synced()
    if not path.exists():
        found.append(Finding("database", False, f"no database at {path} (it is created by `station run`)"))
    else:
        try:
            store = Store.open(path, recover=False)
        except CorruptDatabaseError as err:
            found.append(Finding("database", False, f"quick_check FAILED: {err} (the service moves it aside at start)"))
        except StoreError as err:
            found.append(Finding("database", False, str(err)))
        else:
            found.extend(_store_findings(store, path, synced))
    found.append(
        Finding(
            "clock",
            synced,
            time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
            + (" (NTP synchronised)" if synced else " — NOT known to be synchronised: countdowns are approximate"),
        )
    )
    try:
        st.data_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(st.data_dir).free
    except OSError as err:
        found.append(Finding("disk", False, f"data directory {st.data_dir}: {err.strerror or err}"))
    else:
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
        # A broker written as a URL with credentials, or an error quoting one, must not reach the report.
        found.append(Finding("broker", bool(report["reachable"]), redact_text(text)))
    else:
        found.append(Finding("broker", True, "sync off (no [sync] broker configured); events wait in the outbox"))
    found.append(Finding("user", True, f"running as uid {os.getuid()}"))
    return found


def write_report(findings: list[Finding]) -> str:
    """The printed report."""
    bad = [f for f in findings if not f.ok]
    tail = "all checks passed" if not bad else f"{len(bad)} problem(s): " + ", ".join(f.area for f in bad)
    return "\n".join([*(f.line() for f in findings), tail])
