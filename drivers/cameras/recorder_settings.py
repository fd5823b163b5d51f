"""The recorder's settings: everything about recording that is not in :class:`Recorder`'s own arguments."""

from pydantic import Field

from drivers.cameras.health import HealthThresholds
from drivers.options import DeviceOptions

MIN_SEGMENT_S = 2.0
MAX_SEGMENT_S = 10.0


class RecorderSettings(DeviceOptions):
    """Everything about recording that is not in :class:`Recorder`'s own arguments; defaults suit a Pi 4."""

    keyframe_interval_s: float = Field(1.0, ge=0.2, le=10, description="Keyframe spacing: clip start precision.")
    crf: int = Field(23, ge=0, le=51, description="libx264 quality (lower is better and bigger).")
    bitrate_kbps: int = Field(0, ge=0, description="Target bit rate; 0: CRF for libx264, size-based for hardware.")
    overlay: bool = Field(True, description="Burn time, bench, packer and order into encoded frames.")
    font_path: str | None = Field(None, description="A CJK font for Chinese overlay text.")
    ram_min_free_bytes: int = Field(32 << 20, ge=0, description="Free-space floor of the RAM directory.")
    storage_min_free_bytes: int = Field(256 << 20, ge=0, description="Free-space floor of segment storage.")
    storage_retry_s: float = Field(30.0, gt=0, description="How often to check for room while storage is full.")
    gap_close_s: float = Field(1.0, gt=0, description="Close the open segment after this long without frames.")
    photo_max_age_s: float = Field(2.0, gt=0, description="Refuse a photo from a frame older than this.")
    frame_queue: int = Field(4, ge=1, le=30, description="Frames that may wait for the encoder; then the oldest goes.")
    jpeg_quality: int = Field(90, ge=10, le=100)
    no_frames_after_s: float = Field(5.0, gt=0)
    frozen_after_s: float = Field(10.0, gt=0)
    freeze_diff: float = Field(0.05, ge=0)
    freeze_sample_s: float = Field(0.5, gt=0)
    behind_window_s: float = Field(10.0, gt=0)
    behind_drop_ratio: float = Field(0.05, ge=0, le=1)

    def thresholds(self) -> HealthThresholds:
        """The health thresholds among these settings."""
        return HealthThresholds(
            no_frames_after_s=self.no_frames_after_s,
            frozen_after_s=self.frozen_after_s,
            freeze_diff=self.freeze_diff,
            freeze_sample_s=self.freeze_sample_s,
            behind_window_s=self.behind_window_s,
            behind_drop_ratio=self.behind_drop_ratio,
        )
