"""The scanner package's exceptions.

Every error a caller of ``drivers.scanners`` has to handle derives from one root::

    ScannerError
    ├── ScannerConfigError   a URL or option that cannot work (also a ValueError)
    └── ScannerStateError    an operation that does not fit the state (feed before start, start twice)

Device trouble at run time (unplugged, unreadable, busy) is not raised: a source logs it, reports
``connected = False`` and recovers by itself, because a bench must keep working through a replug.
"""


class ScannerError(Exception):
    """Root of every exception raised by ``drivers.scanners``."""


class ScannerConfigError(ScannerError, ValueError):
    """A scanner URL or option is invalid."""


class ScannerStateError(ScannerError):
    """The scan source is not in a state that allows the operation."""
