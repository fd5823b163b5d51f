"""The `[video]` section: segment length, RAM directory, clip pre/post-roll, retention and the photo policy."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RetentionSettings(BaseModel):
    """How long video is kept and how much disk it may use (clips of disputed orders are always kept)."""

    model_config = ConfigDict(extra="forbid")

    segment_hours: float = Field(48.0, gt=0, description="Continuous segments older than this are deleted (hours).")
    clip_days: float = Field(90.0, gt=0, description="Order clips and photos older than this are deleted (days).")
    quota_bytes: int | None = Field(
        None, ge=0, description="Most bytes all video files together may use; unset = no quota."
    )
    min_free_bytes: int = Field(
        512 << 20, ge=0, description="Free-space floor of the data directory's file system (bytes)."
    )
    every_s: float = Field(600.0, gt=0, description="How often the retention runner checks (seconds).")


class VideoSettings(BaseModel):
    """Packing video (used only when `[devices] camera` is set)."""

    model_config = ConfigDict(extra="forbid")

    segment_s: float = Field(4.0, ge=2, le=10, description="Length of one recording segment (seconds, 2-10).")
    ram_dir: Path | None = Field(
        None,
        description="RAM directory for segments being written (e.g. /dev/shm/packing-station); "
        "unset = <data_dir>/video/tmp.",
    )
    encoder: str = Field("auto", description="H.264 encoder: auto, libx264 or h264_v4l2m2m.")
    pre_roll_s: float = Field(5.0, ge=0, le=60, description="Footage kept before the order's first scan (seconds).")
    post_roll_s: float = Field(3.0, ge=0, le=60, description="Footage kept after the label scan (seconds).")
    require_photo: bool = Field(
        True,
        description="The `packed` guard asks for a packing photo and refuses (photo_missing) without one; "
        "false: no packing photo is taken and `packed` does not ask for one.",
    )
    # Retention keys are flat (not a sub-table) so that the example config documents every one of them.
    retention_segment_hours: float = Field(
        48.0, gt=0, description="Continuous segments older than this are deleted (hours)."
    )
    retention_clip_days: float = Field(
        90.0, gt=0, description="Order clips and photos older than this are deleted (days; the dispute window)."
    )
    retention_quota_bytes: int | None = Field(
        None, ge=0, description="Most bytes all video files together may use; unset = no quota."
    )
    retention_min_free_bytes: int = Field(
        512 << 20, ge=0, description="Free-space floor of the data directory's file system (bytes)."
    )
    retention_every_s: float = Field(600.0, gt=0, description="How often the retention runner runs (seconds).")

    @property
    def retention(self) -> RetentionSettings:
        """The retention keys as one object (what the retention runner takes)."""
        return RetentionSettings(
            segment_hours=self.retention_segment_hours,
            clip_days=self.retention_clip_days,
            quota_bytes=self.retention_quota_bytes,
            min_free_bytes=self.retention_min_free_bytes,
            every_s=self.retention_every_s,
        )
