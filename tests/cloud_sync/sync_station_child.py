"""A station process for the kill tests: the real Store, a steady producer of events, and the sync agent.

    python sync_station_child.py DB CMDS_DB PORT TARGET_SEQ

Prints "ready" once the agent task runs; appends events (a few per transaction) until the stream reaches
TARGET_SEQ, and keeps syncing until killed.
"""

import asyncio
import sys
from pathlib import Path

from sync_harness import SITE, STATION, MemoryCommands, append_events, open_store, sync_settings

from cloud_sync.agent import SyncAgent


async def main(db: Path, cmds_db: Path, port: int, target: int) -> None:
    store = open_store(db)
    agent = SyncAgent(sync_settings(port), store, MemoryCommands(cmds_db), site=SITE, station_id=STATION,
                      boot_id=store.boot_id, tick_s=0.05)  # fmt: skip
    store.subscribe(agent.notify)
    agent.start()
    print("ready", flush=True)
    while True:
        if store.last_seq() < target:
            append_events(store, min(7, target - store.last_seq()), per_tx=7)
        await asyncio.sleep(0.003)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
