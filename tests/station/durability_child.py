"""Child process for the power-cut test: scans forever and prints each acknowledged seq (run as a script)."""

import sys
from pathlib import Path

from station.events import Actor
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.scan import ScanRules
from station.store import Store
from station.workflow import BenchWorkflow, WorkflowSettings


def main() -> None:
    store = Store.open(Path(sys.argv[1]))
    workflow = BenchWorkflow(store, WorkflowSettings(bounce_window_ms=0, auto_complete=False), ScanRules())
    actor = Actor(role="system", id="durability")
    with store.reading() as repo:
        known = repo.operator("OP-001") is not None
    if not known:
        add_operator(store, "OP-001", "packer", Role.PACKER, actor)
    n = 0
    while True:
        order_id = f"SO20260101-{n:06d}"
        intake_order(
            store,
            {
                "order_id": order_id,
                "version": 1,
                "lines": [{"line_no": 1, "sku": "BAG", "name": "bag", "barcodes": ["BAG-001"], "qty": 50}],
            },
            actor,
        )
        for code in ["OP-001", order_id] + ["BAG-001", "junk\x01"] * 25 + ["CMD:ABORT:test"]:
            outcome = workflow.handle_scan("B01", code, "s1")
            if outcome.seq is not None:
                print(outcome.seq, flush=True)
        n += 1


if __name__ == "__main__":
    main()
