"""The camera package's exceptions.

Every error a caller of ``drivers.cameras`` has to handle derives from one root::

    CameraError
    ├── CameraConfigError    a URL, option or setting that cannot work (also a ValueError)
    ├── CameraOpenError      the camera could not be opened (no device, refused, timed out)
    ├── EncoderUnavailable   the requested H.264 encoder is missing or does not work on this machine
    ├── NoFrameError         no fresh frame to take a photo from (camera dead, frozen or not started)
    ├── ClipError            a clip cannot be made (no segment covers the window, unreadable segment)
    └── StorageFullError     the segment or clip storage is below its free-space floor (also an OSError)

The recorder itself never raises for camera trouble while it runs: a dead, frozen or disconnected camera,
a full disk or a slow encoder are states reported by :meth:`Recorder.health`, not exceptions.
"""

import errno


class CameraError(Exception):
    """Root of every exception raised by ``drivers.cameras``."""


class CameraConfigError(CameraError, ValueError):
    """A camera URL, option or recorder setting is invalid."""


class CameraOpenError(CameraError):
    """The camera could not be opened."""


class EncoderUnavailable(CameraError):
    """The requested H.264 encoder is not present or failed its probe."""


class NoFrameError(CameraError):
    """There is no fresh frame to take a photo from."""


class ClipError(CameraError):
    """A clip cannot be assembled from the given segments and window."""


class StorageFullError(CameraError, OSError):
    """Storage is full, or would fall below its free-space floor."""

    def __init__(self, message: str) -> None:
        """Carry ``ENOSPC`` so that callers testing ``errno`` treat it like the kernel's own error."""
        OSError.__init__(self, errno.ENOSPC, message)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` means "no space left" (ENOSPC, or EDQUOT from a quota), however it was raised."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
