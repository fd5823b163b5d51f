"""The base of every configuration section model: an unknown key is an error, never silently ignored.

Each section lives next to the code that uses it (see `station.config`, which assembles them); they all
derive from `ConfigSection` so that a typo in `station.toml`, an environment override or a `config.set`
command names the key at fault instead of falling back to a default at a warehouse bench.
"""

from pydantic import BaseModel, ConfigDict


class ConfigSection(BaseModel):
    """A configuration section: unknown keys are refused. Subclasses may add options (e.g. `frozen=True`)."""

    model_config = ConfigDict(extra="forbid")
