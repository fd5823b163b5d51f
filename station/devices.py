"""Which devices a bench has. The `[devices]` section: each device is chosen by URL (`sim://...` or real)."""

from pydantic import BaseModel, ConfigDict, Field


class DevicesSettings(BaseModel):
    """Devices at the bench. A device left unset is not configured, and guards that need its evidence
    do not ask for it; a configured device that fails to deliver blocks the transition."""

    model_config = ConfigDict(extra="forbid")

    scanners: list[str] = Field(
        default_factory=lambda: ["sim://"],
        description="Scanner URLs: evdev:///dev/input/by-id/..., serial:///dev/serial/by-id/..., sim://",
    )
    scale: str | None = Field(None, description="Scale source (bench I/O controller URL or sim://); unset = none.")
    camera: str | None = Field(None, description="Packing camera URL (sim://, /dev/video0, rtsp://...); unset = none.")
    printer: str | None = Field(None, description="Label printer URL (sim://, tcp://host:9100, ...); unset = none.")
