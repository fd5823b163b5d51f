"""Room to record: the free-space floors of the RAM directory and of storage, and the pause while one is hit.

A full RAM directory or storage (below its free-space floor, or ENOSPC) pauses recording cleanly: the current
segment is discarded, ``storage_full`` is raised, capture goes on (photos and health still work), and every
``storage_retry_s`` the recorder checks whether retention made room and resumes.
"""

import logging
import shutil
import time
from pathlib import Path

from drivers.cameras.files import SegmentStore
from drivers.cameras.recorder_settings import RecorderSettings

logger = logging.getLogger(__name__)

_DEFAULT_SEGMENT_BYTES = 4 << 20


def free_bytes(path: Path) -> int:
    """Free bytes on the file system of ``path``; 0 when it cannot be read."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


class SpaceGuard:
    """Whether recording is paused for want of room, and when to look again.

    Written by the recorder thread and the storage thread; each write is one attribute, and a pause raised
    by both at once is still one pause.
    """

    def __init__(self, name: str, ram_dir: Path, store: SegmentStore, settings: RecorderSettings) -> None:
        """Guard the RAM directory ``ram_dir`` and ``store`` of camera ``name``; nothing is paused at first."""
        self._name = name
        self._ram_dir = ram_dir
        self._store = store
        self._settings = settings
        self.full_reason: str | None = None
        """Why recording is paused; None while it is not."""
        self._retry_at_s = 0.0
        # A new segment must fit beside the floor: sized by the largest one stored so far.
        self._largest_segment = _DEFAULT_SEGMENT_BYTES

    @property
    def paused(self) -> bool:
        """True while recording is paused for want of room."""
        return self.full_reason is not None

    def ram_below_floor(self) -> bool:
        """True when the RAM directory has no room for one more segment above its free-space floor."""
        return free_bytes(self._ram_dir) < self._settings.ram_min_free_bytes + self._largest_segment

    def segment_stored(self, size: int) -> None:
        """A segment of ``size`` bytes reached storage."""
        self._largest_segment = max(self._largest_segment, size)

    def pause(self, reason: str) -> None:
        """Pause recording for ``reason``, and look for room again after ``storage_retry_s``."""
        if self.full_reason is None:
            logger.error("camera %s: recording paused: %s", self._name, reason)
        self.full_reason = reason
        self._retry_at_s = time.monotonic() + self._settings.storage_retry_s

    def pause_ram_full(self) -> None:
        """Pause recording because the RAM directory ran out of room while a segment was written."""
        self.pause(f"RAM directory {self._ram_dir} full")

    def may_resume(self) -> bool:
        """While paused: True (and no longer paused) once both places have room for two segments again.

        Looks only every ``storage_retry_s``; False in between.
        """
        if time.monotonic() < self._retry_at_s:
            return False
        needed = 2 * self._largest_segment
        ram_ok = free_bytes(self._ram_dir) >= self._settings.ram_min_free_bytes + needed
        try:
            store_ok = self._store.free_bytes() >= needed
        except OSError:
            store_ok = False
        if ram_ok and store_ok:
            logger.warning("camera %s: room again, recording resumed", self._name)
            self.full_reason = None
            return True
        self._retry_at_s = time.monotonic() + self._settings.storage_retry_s
        return False
