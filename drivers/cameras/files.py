"""File chores shared by segments, clips and photos: hashing, atomic writes, and the storage segments move to.

Why atomic: power is cut at a packing bench without warning. A file is written under a temporary name, flushed
to the card, then renamed, and the directory flushed too; so a file under its final name is always whole,
and its SHA-256 (computed before it is renamed) is the hash of what is on the card.
"""

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Protocol

from drivers.cameras.errors import StorageFullError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file in it) to the storage."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp_path: Path, final_path: Path) -> None:
    """Flush ``tmp_path`` and rename it to ``final_path`` (same directory), durably."""
    with tmp_path.open("rb+") as handle:
        os.fsync(handle.fileno())
    tmp_path.replace(final_path)
    fsync_dir(final_path.parent)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


class SegmentStore(Protocol):
    """Where closed segments end up (an SD card or USB disk directory, by default)."""

    def free_bytes(self) -> int:
        """Bytes that can still be written before the store counts as full."""

    def commit(self, source: Path, relative: str) -> Path:
        """Move the closed file ``source`` to ``relative`` inside the store, durably; return its final path.

        Raises an ``OSError`` with ``errno`` ENOSPC (or :class:`StorageFullError`) when it does not fit;
        the store then holds no trace of it.
        """


class DirectoryStore:
    """A :class:`SegmentStore` on a directory, keeping ``min_free_bytes`` free on its file system."""

    def __init__(self, root: Path, *, min_free_bytes: int = 0) -> None:
        """``root`` is created if missing."""
        self.root = root
        self.min_free_bytes = min_free_bytes
        root.mkdir(parents=True, exist_ok=True)

    def free_bytes(self) -> int:
        """Free bytes on the file system above the floor (0 when below it)."""
        return max(0, shutil.disk_usage(self.root).free - self.min_free_bytes)

    def commit(self, source: Path, relative: str) -> Path:
        """Move ``source`` in (a rename on the same file system, else a flushed copy)."""
        size = source.stat().st_size
        if size > self.free_bytes():
            raise StorageFullError(f"{self.root}: {size} bytes do not fit above the free-space floor")
        final = self.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + ".part")
        try:
            if source.stat().st_dev == final.parent.stat().st_dev:
                source.replace(tmp)
            else:
                shutil.copyfile(source, tmp)
            publish(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        source.unlink(missing_ok=True)
        return final
