"""Opening the SQLite file: durability pragmas, an integrity check at start, and recovery from corruption.

`synchronous=FULL` because NORMAL in WAL mode can lose the last committed transactions on power loss, and a
packer who heard "ok" must never lose that scan. A file that fails `PRAGMA quick_check` (or is not a database
at all) is moved aside with a timestamp, never deleted, and a fresh database is started; the caller records
an alert in the new stream. A file that cannot be opened for another reason (locked by another program, no
permission, disk full) is left as it is and the open fails with a `StoreError` that says why.
"""

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """Root of the store's errors."""


class CorruptDatabaseError(StoreError):
    """The database file failed its integrity check."""


# Only these say the file itself is damaged. Anything else on open (locked by another program, no permission,
# disk full, I/O error) is about the surroundings: moving a healthy database aside for it would start a fresh
# stream and hide every order from the station.
_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def is_corruption(err: sqlite3.Error) -> bool:
    """True when SQLite says the file is corrupt or not a database (primary result code)."""
    return (getattr(err, "sqlite_errorcode", 0) & 0xFF) in _CORRUPTION_CODES


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """A corrupt database was moved aside at start."""

    moved_to: Path
    detail: str


def connect(path: Path) -> sqlite3.Connection:
    """Open the file with the station's pragmas, in autocommit mode (transactions are explicit)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"could not switch {path} to WAL journal mode (got {mode!r})")
    return conn


def quick_check(conn: sqlite3.Connection) -> None:
    """Raise CorruptDatabaseError unless `PRAGMA quick_check` says ok."""
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as err:
        if not is_corruption(err):
            raise
        raise CorruptDatabaseError(str(err)) from err
    if rows != ["ok"]:
        raise CorruptDatabaseError("; ".join(rows[:5]))


def open_checked(path: Path, *, recover: bool = True) -> tuple[sqlite3.Connection, RecoveryReport | None]:
    """Open `path`, moving a corrupt file aside and starting fresh if it fails the check (with `recover`;
    without, a corrupt file raises `CorruptDatabaseError` and stays where it is).

    Raises `StoreError`, with the file untouched, when it cannot be opened for any other reason.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the data directory {path.parent}: {err.strerror or err}") from err
    try:
        conn = connect(path)
        try:
            quick_check(conn)
        except BaseException:
            conn.close()
            raise
    except (CorruptDatabaseError, sqlite3.DatabaseError) as err:
        if isinstance(err, sqlite3.DatabaseError) and not is_corruption(err):
            raise StoreError(f"cannot open the database {path}: {err} (nothing was moved or changed)") from err
        if not recover:
            raise CorruptDatabaseError(f"{path}: {err}") from err
        moved = move_aside(path)
        logger.exception("database %s failed its integrity check; moved to %s, starting fresh", path, moved)
        return connect(path), RecoveryReport(moved, str(err))
    return conn, None


def move_aside(path: Path) -> Path:
    """Rename the database and its WAL/SHM files with a UTC timestamp suffix; return the new main path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    return target
