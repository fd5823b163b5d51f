"""MQTT link to the hub: wire contract, station-side agent, status mapping and the hub kit (DESIGN §7)."""
