"""Which alerts the print queue raises and settles, all through the station's one alert ledger.

- ``device_down`` (subject: the printer), when the worker keeps its printer's up/down itself;
- ``label_unknown`` (subject: the job id): the counter cannot tell whether the label came out;
- ``label_failed`` (subject: the job id): a label that was sent did not print, and a person decides.

A job's label alerts are settled when the job is settled; when any label of the order comes out, the alerts
about its earlier jobs are settled too.
"""

from collections.abc import Sequence

import sqlite_utils

from station.alerts.ledger import active_for_order, clear_alert, is_active, raise_alert
from station.events import Actor
from station.printing.jobs import PrintJob
from station.store import Tx


class Alert:
    """Alert names the print queue raises (`alert.raised` data `alert`)."""

    DEVICE_DOWN = "device_down"
    LABEL_UNKNOWN = "label_unknown"
    LABEL_FAILED = "label_failed"


_LABEL_ALERTS = (Alert.LABEL_UNKNOWN, Alert.LABEL_FAILED)


def printer_down_active(db: sqlite_utils.Database, printer: str) -> bool:
    """True while the printer's `device_down` alert is raised."""
    return is_active(db, Alert.DEVICE_DOWN, printer)


def printer_went_down(tx: Tx, printer: str, actor: Actor, reasons: Sequence[str]) -> None:
    """The printer is not ready: raise its `device_down` alert (once)."""
    raise_alert(tx, Alert.DEVICE_DOWN, printer, actor, device="printer", printer=printer, reasons=list(reasons))


def printer_came_up(tx: Tx, printer: str, actor: Actor) -> None:
    """The printer is ready again: clear its `device_down` alert."""
    clear_alert(tx, Alert.DEVICE_DOWN, printer, actor, device="printer", printer=printer)


def job_in_doubt(tx: Tx, job: PrintJob, actor: Actor, reason: str) -> None:
    """Nobody knows whether the job's label came out: a person must look (`label_unknown`)."""
    _raise_for_job(tx, Alert.LABEL_UNKNOWN, job, actor, reason)


def job_failed_for_good(tx: Tx, job: PrintJob, actor: Actor, reason: str) -> None:
    """The job will not be retried: a person decides what happens (`label_failed`)."""
    _raise_for_job(tx, Alert.LABEL_FAILED, job, actor, reason)


def job_no_longer_in_doubt(tx: Tx, job: PrintJob, actor: Actor) -> None:
    """The job has a verdict now: its `label_unknown` alert is settled."""
    clear_alert(tx, Alert.LABEL_UNKNOWN, job.job_id, actor, settled_by=job.job_id)


def label_came_out(tx: Tx, job: PrintJob, actor: Actor) -> None:
    """The job's label came out: its own label alerts and those about the order's earlier jobs are settled."""
    for alert in _LABEL_ALERTS:
        clear_alert(tx, alert, job.job_id, actor, settled_by=job.job_id)
    if job.order_id is None:
        return
    for alert, subject in active_for_order(tx.repo.db, job.order_id, _LABEL_ALERTS):
        clear_alert(tx, alert, subject, actor, settled_by=job.job_id)


def _raise_for_job(tx: Tx, alert: str, job: PrintJob, actor: Actor, reason: str) -> None:
    raise_alert(tx, alert, job.job_id, actor, job.order_id, job_id=job.job_id, reason=reason, printer=job.printer)
