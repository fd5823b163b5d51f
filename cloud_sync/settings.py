"""The `[sync]` section of station.toml: where the broker is, how to authenticate, and the link's limits.

An unset `broker` turns sync off: the agent does not connect and events wait in the outbox.
"""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from cloud_sync.mapping import MappingSettings


class SyncSettings(BaseModel):
    """MQTT link to the hub (cloud_sync/CONTRACT.md)."""

    model_config = ConfigDict(extra="forbid")

    broker: str | None = Field(
        None,
        description="MQTT broker host name or address. Unset = sync off: events wait in the outbox.",
        min_length=1,
    )
    port: int | None = Field(None, ge=1, le=65535, description="Broker port; default 8883 with TLS, 1883 without.")
    tls: bool = Field(False, description="Connect with TLS (the broker's certificate is always verified).")
    ca_file: Path | None = Field(
        None, description="CA certificate(s) that signed the broker's certificate (PEM); unset = system CAs."
    )
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for certificate authentication.")
    key_file: Path | None = Field(None, description="Private key (PEM) of the client certificate.")
    username: str | None = Field(None, description="MQTT username (with `password`), or unset.")
    password: SecretStr | None = Field(None, description="MQTT password; prefer the STATION_SYNC__PASSWORD variable.")
    keepalive_s: int = Field(
        30,
        ge=2,
        le=3600,
        description="MQTT keepalive; the broker drops a silent station after 1.5× this, "
        "the station a dead link after about 2×.",
    )
    session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        description="How long the broker keeps this station's session (subscriptions, queued commands) offline.",
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="Give up a connection attempt without CONNACK after this.")
    backoff_min_s: float = Field(1.0, gt=0, description="First reconnect delay; doubles per failure, with jitter.")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest reconnect delay.")
    max_inflight: int = Field(
        20,
        ge=1,
        le=65535,
        description="Most messages awaiting the broker's PUBACK; the broker's Receive Maximum lowers it further.",
    )
    batch_max_events: int = Field(
        250, ge=1, le=10_000, description="Most events in one `evt` message when the station is behind."
    )
    batch_max_bytes: int = Field(
        256 * 1024, ge=4096, description="Largest `evt` payload (the broker's Maximum Packet Size lowers it)."
    )
    max_ahead_events: int = Field(
        10_000,
        ge=1,
        description="Most events published but not yet acknowledged by the hub (keeps broker queues short).",
    )
    max_ahead_messages: int = Field(
        200,
        ge=1,
        description="Most messages published but not yet acknowledged by the hub (keep below the broker's "
        "per-client queue, Mosquitto's max_queued_messages).",
    )
    ack_timeout_s: float = Field(
        30.0, gt=0, description="No hub ack progress for this long: resend from the first unacknowledged event."
    )
    stall_restarts_link_after: int = Field(
        3, ge=1, description="After this many resends in a row without ack progress, restart the MQTT link."
    )
    require_hub_online: bool = Field(
        True,
        description="Publish events only while wh/v1/{site}/hub/state says online (an offline hub = a down broker).",
    )
    status_interval_s: float = Field(
        60.0, gt=0, description="How often the retained `online` status is refreshed with the current backlog."
    )
    max_command_bytes: int = Field(
        256 * 1024, ge=1024, description="Larger `cmd` messages are refused (reason `oversized`)."
    )
    mapping: MappingSettings = Field(
        default_factory=MappingSettings, description="Status codes and field names of the hub's systems."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "SyncSettings":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate authentication)")
        if (self.ca_file or self.cert_file) and not self.tls:
            raise ValueError("ca_file / cert_file are set but tls = false")
        if self.password is not None and self.username is None:
            raise ValueError("password is set without username")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must be >= backoff_min_s")
        return self

    @property
    def enabled(self) -> bool:
        """True when a broker is configured."""
        return self.broker is not None

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return 8883 if self.tls else 1883
