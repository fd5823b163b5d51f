"""MQTT link to the hub: wire contract, station-side agent, status mapping and the hub kit (cloud_sync/CONTRACT.md).

Where things are (the contract itself is written down in CONTRACT.md and schema/*.json):

- `ports`     the narrow interface to the station: `Outbox` (the Store is one) and `CommandSink`
- `settings`  `SyncSettings`, the `[sync]` section of station.toml
- `agent`     `SyncAgent`: start / stop on the station's event loop, `notify` on commits, `health()`
- `uplink`    which events to publish, and what acks and PUBACKs mean (pure logic)
- `downlink`  commands applied once each, in cmd_seq order, answered with cmd_ack (pure logic)
- `link`      one paho-mqtt connection: callbacks only enqueue; jittered backoff
- `wire`      topics and every message shape, with the inbound checks
- `mapping`   foreign status codes and field names, translated at the edge
- `chain`     the event hash chain as hubs verify it
- `doctor`    broker and backlog checks for `station doctor`, without a running agent
- `hub`       the hub kit: storage, reference consumer, `python -m cloud_sync.hub`

This package never imports `station` (import-linter checks it).
"""
