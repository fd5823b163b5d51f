"""The packing camera: `drivers.cameras` (recorder, photos, clip assembly, retention rules) behind the small
:class:`~station.video.backend.VideoBackend` the core talks to."""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from drivers.cameras import (
    CameraHealth,
    ClipError,
    FileClass,
    NoFrameError,
    Recorder,
    RecorderSettings,
    RetentionItem,
    RetentionPolicy,
    SegmentInfo,
    assemble_clip,
    open_camera,
    plan_retention,
)
from station.video.backend import ClipResult, NoFootage, PhotoResult, SegmentRow, VideoFile
from station.video.settings import RetentionSettings, VideoSettings

logger = logging.getLogger(__name__)

_KINDS = {"segment": FileClass.SEGMENT, "clip": FileClass.CLIP, "photo": FileClass.PHOTO}


class CameraBackend:
    """One recording camera. ``on_segment(info)`` and ``on_state(up, detail)`` run on the recorder's threads."""

    def __init__(
        self,
        url: str,
        video_dir: Path,
        settings: VideoSettings,
        *,
        on_segment: Callable[[SegmentInfo], None],
        on_state: Callable[[bool, str], object],
        name: str = "cam",
        recorder_settings: RecorderSettings | None = None,
    ) -> None:
        """Open the camera (nothing runs before :meth:`start`)."""
        self._on_state = on_state
        ram_dir = settings.ram_dir if settings.ram_dir is not None else video_dir / "tmp"
        # The recorder's own floor sits below retention's, so retention frees space before recording pauses.
        floor = settings.retention.min_free_bytes // 2
        self.recorder = Recorder(
            open_camera(url),
            video_dir / "segments",
            ram_dir=ram_dir,
            segment_s=settings.segment_s,
            encoder=settings.encoder,
            on_segment=on_segment,
            on_alert=self._alert,
            settings=recorder_settings or RecorderSettings(storage_min_free_bytes=floor),
            name=name,
        )

    def _alert(self, health: CameraHealth) -> None:
        self._on_state(health.ok, ",".join(sorted(a.value for a in health.alerts)))

    def start(self) -> None:
        """Start recording (threads)."""
        self.recorder.start()

    def stop(self) -> None:
        """Stop recording; blocking until the last segment is reported."""
        self.recorder.stop()

    def health(self) -> dict[str, object]:
        """The recorder's health snapshot."""
        return self.recorder.health()

    def set_overlay(self, order_id: str | None, packer: str | None, bench: str | None) -> None:
        """Burn this text into new frames."""
        self.recorder.set_overlay(order_id=order_id, packer=packer, bench=bench)

    def take_photo(self, path: Path) -> PhotoResult | None:
        """A JPEG of the newest frame, or None when it is stale or frozen."""
        try:
            photo = self.recorder.take_photo(path)
        except NoFrameError as err:
            logger.warning("%s", err)
            return None
        return PhotoResult(photo.path, photo.sha256, photo.bytes, photo.wall_ms)

    def assemble(
        self,
        segments: Sequence[tuple[Path, SegmentRow]],
        start_ms: int,
        end_ms: int,
        out_path: Path,
        markers: Sequence[tuple[int, str]],
    ) -> ClipResult:
        """Join segments by stream copy (raises ``NoFootage`` when there is none)."""
        infos = [
            SegmentInfo(
                path=path,
                start_wall_ms=row.start_ms,
                end_wall_ms=row.end_ms,
                frames=row.frames,
                bytes=row.bytes,
                sha256=row.sha256,
                width=0,
                height=0,
            )
            for path, row in segments
        ]
        try:
            clip = assemble_clip(infos, start_ms, end_ms, out_path, markers)
        except ClipError as err:
            raise NoFootage(str(err)) from err
        return ClipResult(
            clip.path,
            clip.sha256,
            clip.bytes,
            clip.start_wall_ms,
            clip.end_wall_ms,
            clip.duration_s,
            clip.markers_offsets,
        )

    def plan_deletions(
        self, files: Sequence[VideoFile], retention: RetentionSettings, now_ms: int, free_bytes: int
    ) -> list[str]:
        """Apply the drivers' retention rules."""
        policy = RetentionPolicy(
            max_age_s={
                FileClass.SEGMENT: retention.segment_hours * 3600,
                FileClass.CLIP: retention.clip_days * 86400,
                FileClass.PHOTO: retention.clip_days * 86400,
            },
            quota_bytes=retention.quota_bytes,
            min_free_bytes=retention.min_free_bytes,
        )
        items = [RetentionItem(f.path, _KINDS[f.kind], f.bytes, f.created_ms, f.disputed) for f in files]
        plan = plan_retention(items, policy, now_ms=now_ms, free_bytes=free_bytes)
        return [item.path for item in plan.delete]
