"""The port to the camera side, :class:`VideoBackend`, and the values that cross it.

``station.adapters.camera`` implements the port with ``drivers.cameras``; the core never imports a camera library
(docs/architecture.md, "Packages and import rules").
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from station.video.settings import RetentionSettings


class NoFootage(Exception):
    """No recorded footage covers the order's clip window (the camera was off, or retention deleted it)."""


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A closed recording segment as indexed: ``path`` relative to the data directory."""

    path: str
    start_ms: int
    end_ms: int
    frames: int
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ClipResult:
    """An assembled clip: what it really covers and its markers as ``(offset_s, label)``."""

    path: Path
    sha256: str
    bytes: int
    start_ms: int
    end_ms: int
    duration_s: float
    markers: tuple[tuple[float, str], ...]


@dataclass(frozen=True, slots=True)
class PhotoResult:
    """A stored packing photo."""

    path: Path
    sha256: str
    bytes: int
    wall_ms: int


@dataclass(frozen=True, slots=True)
class VideoFile:
    """A video file as retention sees it (``kind``: segment, clip or photo; ``path`` relative to the data dir)."""

    path: str
    kind: str
    bytes: int
    created_ms: int
    disputed: bool


class VideoBackend(Protocol):
    """The camera side, implemented by ``station.adapters.camera`` (all blocking unless said otherwise)."""

    def set_overlay(self, order_id: str | None, packer: str | None, bench: str | None) -> None:
        """Burn this text into new frames (cheap, any thread)."""

    def take_photo(self, path: Path) -> PhotoResult | None:
        """Store a JPEG of the newest frame; None when no fresh, moving picture is available."""

    def assemble(
        self,
        segments: Sequence[tuple[Path, SegmentRow]],
        start_ms: int,
        end_ms: int,
        out_path: Path,
        markers: Sequence[tuple[int, str]],
    ) -> ClipResult:
        """Join the footage of ``[start_ms, end_ms)`` into ``out_path`` (segments with their absolute paths);
        raises :class:`NoFootage` when none of it can be read."""

    def plan_deletions(
        self, files: Sequence[VideoFile], retention: RetentionSettings, now_ms: int, free_bytes: int
    ) -> list[str]:
        """The paths (as given) to delete, in order, under the retention rules."""
