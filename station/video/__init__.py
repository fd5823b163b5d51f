"""Packing video, the station side: segment index, order clips and markers, photos, evidence, retention.

Nothing here imports a camera library: the composition root hands :class:`VideoService` a
:class:`~station.video.backend.VideoBackend` (``station.adapters.camera``) that records and assembles.
"""

from station.video.backend import ClipResult, NoFootage, SegmentRow, VideoBackend
from station.video.disputes import is_disputed, set_disputed
from station.video.service import VideoService
from station.video.settings import RetentionSettings, VideoSettings

__all__ = [
    "ClipResult",
    "NoFootage",
    "RetentionSettings",
    "SegmentRow",
    "VideoBackend",
    "VideoService",
    "VideoSettings",
    "is_disputed",
    "set_disputed",
]
