"""Which devices a bench has. The `[devices]` section: each device is chosen by URL (`sim://...` or real)."""

from typing import Literal

from pydantic import Field

from station.config_section import ConfigSection


class DevicesSettings(ConfigSection):
    """Devices at the bench. A device left unset is not configured, and guards that need its evidence
    do not ask for it; a configured device that fails to deliver blocks the transition."""

    scanners: list[str] = Field(
        default_factory=lambda: ["sim://"],
        description="Scanner URLs: evdev:///dev/input/by-id/..., serial:///dev/serial/by-id/..., sim://",
    )
    controller: str | None = Field(
        "sim://",
        description="Bench I/O controller (stack light, buzzer, pedal, scale): /dev/serial/by-id/... or sim://; "
        "unset = none.",
    )
    scale: Literal["controller"] | None = Field(
        None,
        description="Set to 'controller' to weigh boxes on the controller's scale: `packed` then needs a stable "
        "weight within the order's tolerance. Unset = no scale.",
    )
    scale_settle_ms: int = Field(
        600, ge=100, le=10_000, description="How long the weight must hold to count as stable."
    )
    scale_band_g: int = Field(3, ge=0, le=1000, description="How much the weight may wander and still count as stable.")
    pedal_command: str = Field("CMD:COMPLETE", description="What a press of the foot pedal means (a command code).")
    camera: str | None = Field(None, description="Packing camera URL (sim://, /dev/video0, rtsp://...); unset = none.")
    printer: str | None = Field(None, description="Label printer URL (sim://, tcp://host:9100, ...); unset = none.")
