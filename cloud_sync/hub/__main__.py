"""The reference hub consumer on the command line.

    python -m cloud_sync.hub [run] --broker HOST[:PORT] --db hub.db --site WH1 [--instance hub-1] ...
    python -m cloud_sync.hub send --db hub.db --site WH1 --station ST01 --type order.cancel --data '{...}'
    python -m cloud_sync.hub report --db hub.db

`run` ingests until SIGTERM / Ctrl-C. `send` queues a command in the database; a running consumer sends it.
`report` prints every stream (acked_through, events, duplicates received, chain verdict) as JSON.
"""

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cloud_sync.hub.consumer import HubConfig, HubConsumer, HubFaults
from cloud_sync.hub.store import HubStore
from cloud_sync.wire import COMMAND_TYPES

logger = logging.getLogger("cloud_sync.hub")


def _broker(text: str) -> tuple[str, int | None]:
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and host:
        return host, int(port)
    return text, None


def _run_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run a hub instance (reference consumer).")
    p.add_argument("--broker", required=True, help="HOST or HOST:PORT of the MQTT broker")
    p.add_argument("--port", type=int, help="broker port (default 1883, 8883 with --tls)")
    p.add_argument("--db", required=True, help="SQLite file, or a postgresql:// DSN (needs psycopg)")
    p.add_argument("--site", action="append", required=True, help="site whose hub state this instance announces")
    p.add_argument("--instance", default="hub-1", help="MQTT client id of this instance (unique per instance)")
    p.add_argument("--group", default="ingest", help="shared-subscription group name")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca-file", type=Path)
    p.add_argument("--cert-file", type=Path)
    p.add_argument("--key-file", type=Path)
    p.add_argument("--gap-grace-s", type=float, default=2.0, help="report a gap as missing after this long")
    p.add_argument("--command-resend-s", type=float, default=10.0)
    p.add_argument("--fault-exit-after-commit", type=int, help="test knob: die after the Nth commit, before acking")
    p.add_argument("--fault-drop-ack-every", type=int, default=0, help="test knob: lose every Nth ack")
    p.add_argument("--log-level", default="INFO")
    return p


def _run(argv: list[str]) -> int:
    args = _run_parser("python -m cloud_sync.hub run").parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = _broker(args.broker)
    config = HubConfig(
        broker=host,
        port=args.port or port or (8883 if args.tls else 1883),
        sites=args.site,
        instance=args.instance,
        group=args.group,
        username=args.username,
        password=args.password,
        tls=args.tls,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        gap_grace_s=args.gap_grace_s,
        command_resend_s=args.command_resend_s,
    )
    faults = HubFaults(exit_after_commits=args.fault_exit_after_commit, drop_ack_every=args.fault_drop_ack_every)
    store = HubStore.open(args.db)
    consumer = HubConsumer(store, config, faults=faults)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    consumer.start()
    print(f"hub {config.instance} running", flush=True)
    done.wait()
    consumer.stop()
    store.close()
    logger.info("hub %s stopped: %s", config.instance, consumer.stats)
    return 0


def _send(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m cloud_sync.hub send", description="Queue a command for a station.")
    p.add_argument("--db", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--station", required=True)
    p.add_argument("--type", required=True, choices=COMMAND_TYPES)
    p.add_argument("--data", required=True, help="the command's data as a JSON object")
    p.add_argument("--cmd-id")
    args = p.parse_args(argv)
    data = json.loads(args.data)
    if not isinstance(data, dict):
        p.error("--data must be a JSON object")
    store = HubStore.open(args.db)
    cmd_id, cmd_seq = store.enqueue_command(args.site, args.station, args.type, data, args.cmd_id)
    store.close()
    print(json.dumps({"cmd_id": cmd_id, "cmd_seq": cmd_seq}))
    return 0


def _report(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m cloud_sync.hub report", description="Print every stream as JSON.")
    p.add_argument("--db", required=True)
    args = p.parse_args(argv)
    store = HubStore.open(args.db)
    rows: list[dict[str, Any]] = []
    for info in store.streams():
        row = asdict(info)
        row.update(row.pop("key"))
        rows.append(row)
    store.close()
    print(json.dumps(rows, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "send":
        return _send(args[1:])
    if args and args[0] == "report":
        return _report(args[1:])
    if args and args[0] == "run":
        args = args[1:]
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
