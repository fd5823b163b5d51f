"""The base of every device's options model: frozen, and an unknown option is an error naming it.

A scanner, printer or camera is configured from a table of options (`station.toml` or a driver's own
command line); a misspelt option must be refused at start rather than silently left at its default.
"""

from pydantic import BaseModel, ConfigDict


class DeviceOptions(BaseModel):
    """Options of one device driver: immutable once built, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
