"""Packing video, the station side: segment index, order clips and markers, photos, evidence, retention.

Nothing here imports a camera library: the composition root hands :class:`VideoService` a
:class:`~station.video.service.VideoBackend` (``station.adapters.camera``) that records and assembles.
"""

from station.video.service import CLIP_READY, ClipResult, SegmentRow, VideoBackend, VideoService
from station.video.settings import RetentionSettings, VideoSettings

__all__ = [
    "CLIP_READY",
    "ClipResult",
    "RetentionSettings",
    "SegmentRow",
    "VideoBackend",
    "VideoService",
    "VideoSettings",
]
