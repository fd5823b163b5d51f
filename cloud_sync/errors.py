"""The errors of `cloud_sync`, one root for the package.

    SyncError                root: nothing in cloud_sync raises anything else on purpose
    ├── MessageRejected      an inbound message (ack, cmd, hub state) was refused; `reason` is the wire code
    └── LinkSetupError       the MQTT client could not be configured (unreadable TLS files, bad options)

Network failures are not exceptions here: the agent turns them into link state, backoff and health counters.
"""


class SyncError(Exception):
    """Root of the errors raised by cloud_sync."""


class MessageRejected(SyncError):
    """An inbound message broke the contract. `reason` is a short code that goes on the wire and in counters."""

    def __init__(self, reason: str, detail: str = "", *, cmd_id: str | None = None, cmd_seq: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.cmd_id = cmd_id
        self.cmd_seq = cmd_seq


class LinkSetupError(SyncError):
    """The MQTT client could not be set up from the settings (e.g. a TLS file cannot be read)."""
