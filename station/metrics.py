"""Prometheus metrics: scans by outcome, transitions, errors the station stopped per 1,000 orders, backlog.

Counters are seeded from the event log at start (so a restart does not zero the headline figures) and then
follow every committed event through a store subscription.
"""

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from station.events import Envelope, EventType
from station.store import Store

# Refusals that stopped a real packing error (not a misread or a login slip): the headline figure.
STOPPED_ERRORS = frozenset(
    {
        "wrong_item",
        "over_quantity",
        "same_unit_twice",
        "serial_required",
        "order_cancelled",
        "order_on_hold",
        "open_at_other_bench",
        "waybill_mismatch",
        "carrier_mismatch",
        "order_not_labeled",
        "label_pending",
        "gift_missing",
        "lines_incomplete",
        "weight_out_of_tolerance",
    }
)


class StationMetrics:
    """The station's metrics registry."""

    def __init__(self, store: Store, backlog: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.scans = Counter(
            "station_scans", "Scans handled, by outcome and reason", ["outcome", "reason"], registry=self.registry
        )
        self.transitions = Counter(
            "station_transitions", "Order status changes, by target status", ["to"], registry=self.registry
        )
        self.stopped = Counter("station_errors_stopped", "Packing errors the station refused", registry=self.registry)
        self.packed = Counter("station_orders_packed", "Orders that reached packed", registry=self.registry)
        per_1000 = Gauge(
            "station_errors_stopped_per_1000_orders",
            "Errors stopped per 1,000 packed orders",
            registry=self.registry,
        )
        per_1000.set_function(self._errors_per_1000)
        outbox = Gauge("station_outbox_backlog", "Events not yet acknowledged by the hub", registry=self.registry)
        outbox.set_function(backlog or store.backlog)
        self.request_latency = Histogram(
            "station_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self._stopped_n = 0
        self._packed_n = 0
        self._seed(store)
        store.subscribe(self.observe)

    def _errors_per_1000(self) -> float:
        return 1000.0 * self._stopped_n / self._packed_n if self._packed_n else 0.0

    def _seed(self, store: Store) -> None:
        with store.reading() as repo:
            rows = list(
                repo.db.query(
                    "SELECT type, json_extract(data, '$.reason') AS reason, json_extract(data, '$.to') AS target, "
                    "count(*) AS n FROM events WHERE type IN (?, ?, ?) GROUP BY 1, 2, 3",
                    [EventType.SCAN_REJECTED, EventType.ITEM_VERIFIED, EventType.STATUS_CHANGED],
                )
            )
        for row in rows:
            self._count(row["type"], {"reason": row["reason"], "to": row["target"]}, row["n"])

    def observe(self, events: list[Envelope]) -> None:
        """Store subscriber: count committed events."""
        for env in events:
            self._count(env["type"], env["data"], 1)

    def _count(self, event_type: str, data: dict[str, Any], n: int) -> None:
        if event_type == EventType.SCAN_REJECTED:
            reason = str(data.get("reason"))
            self.scans.labels("refused", reason).inc(n)
            if reason in STOPPED_ERRORS:
                self.stopped.inc(n)
                self._stopped_n += n
        elif event_type == EventType.ITEM_VERIFIED:
            self.scans.labels("accepted", "").inc(n)
        elif event_type == EventType.STATUS_CHANGED and data.get("to"):
            self.transitions.labels(str(data["to"])).inc(n)
            if data["to"] == "packed":
                self.packed.inc(n)
                self._packed_n += n

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
