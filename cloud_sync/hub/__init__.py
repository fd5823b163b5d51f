"""The hub kit: what a hub team embeds to consume station streams correctly (CONTRACT.md).

- `HubStore`: events stored once per (site, station, stream_epoch, seq) in SQLite or PostgreSQL, the
  contiguous high-water mark, gaps, hash-chain verification, and the command queue per station.
- `HubConsumer`: the MQTT side — `$share/ingest/wh/v1/+/+/evt`, an ack after each commit, `missing` for gaps
  that persist, commands sent in cmd_seq order and resent until the station's `cmd_ack` covers them.
- `python -m cloud_sync.hub`: the runnable reference consumer (and `send`, `report`).

Our own tests use it as the oracle of what a hub received.
"""

from cloud_sync.hub.consumer import HubConfig, HubConsumer, HubFaults, HubStats
from cloud_sync.hub.store import HubStore, OutgoingCommand, StreamInfo, StreamKey, StreamProgress

__all__ = [
    "HubConfig",
    "HubConsumer",
    "HubFaults",
    "HubStats",
    "HubStore",
    "OutgoingCommand",
    "StreamInfo",
    "StreamKey",
    "StreamProgress",
]
