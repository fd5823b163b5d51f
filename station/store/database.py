"""Opening the SQLite file: durability pragmas, an integrity check at start, and recovery from corruption.

`synchronous=FULL` because NORMAL in WAL mode can lose the last committed transactions on power loss, and a
packer who heard "ok" must never lose that scan. A file that fails `PRAGMA quick_check` (or is not a database
at all) is moved aside with a timestamp, never deleted, and a fresh database is started; the caller records
an alert in the new stream. A file that cannot be opened for another reason (locked by another program, no
permission, disk full) is left as it is and the open fails with a `StoreError` that says why.

An existing file of 0 bytes is refused (`EmptyDatabaseError`) unless the caller asks to recover it: SQLite would
take it for a new database, and every token, user and order would be silently gone. A new database is built
under a temporary name and renamed into place, so that a power cut while creating one never leaves such a file.

The data directory is the station's alone: 0700, the database files 0600 whatever the umask (existing ones are
tightened at open, with a log line), and `exclusive_data_dir` keeps a second station process out of it.
"""

import fcntl
import logging
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
DATA_DIR_MODE = 0o700  # the database, clips and photos: the station's user only
DATABASE_MODE = 0o600  # the database and its -wal/-shm (SQLite gives those the main file's mode)
LOCK_NAME = "station.lock"  # in the data directory: held (flock) by the one station process using it
_DATABASE_FILES = ("", "-wal", "-shm")


class StoreError(Exception):
    """Root of the store's errors."""


class CorruptDatabaseError(StoreError):
    """The database file failed its integrity check."""


class EmptyDatabaseError(CorruptDatabaseError):
    """The database file exists but is empty (0 bytes); it stays where it is until recovery is asked for."""


class DataDirInUseError(StoreError):
    """Another process (a `station run` or `station demo`) holds the data directory."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"station pid {pid}" if pid is not None else "another station (pid unknown)"
        super().__init__(f"data directory {data_dir} is in use by {holder} (stop it first, or use --data)")
        self.data_dir = data_dir
        self.pid = pid


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


def open_checked(
    path: Path, *, recover: bool = True, recover_empty: bool = False
) -> tuple[sqlite3.Connection, RecoveryReport | None]:
    """Open `path`, moving a corrupt file aside and starting fresh if it fails the check (with `recover`;
    without, a corrupt file raises `CorruptDatabaseError` and stays where it is).

    An existing empty file raises `EmptyDatabaseError` and stays where it is, unless `recover_empty` (and
    `recover`) say to move it aside and start fresh like a corrupt one. The data directory is made 0700 and the
    database files 0600. Raises `StoreError`, with the file untouched, when it cannot be opened for any other
    reason.
    """
    ensure_data_dir(path.parent, fix_existing=True)
    recovered = _set_aside_if_empty(path, recover=recover and recover_empty)
    if path.exists():
        for suffix in _DATABASE_FILES:
            restrict_mode(Path(f"{path}{suffix}"), DATABASE_MODE, announce=True)
    else:
        _create_database(path)
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
        _create_database(path)
        return connect(path), RecoveryReport(moved, str(err))
    return conn, recovered


def _set_aside_if_empty(path: Path, *, recover: bool) -> RecoveryReport | None:
    """Refuse an existing 0-byte database file, or with `recover` move it aside; None when it is not empty.

    A station's database is never empty (`_create_database` writes the header before the name exists), so a
    0-byte file was truncated: a failed copy or restore, a `> station.db`, a repaired file system. Starting
    over in it would hide that every token, user and order is gone. It is left in place when refused, so that
    every start (systemd retries) refuses again instead of the second one starting fresh.
    """
    try:
        if path.stat().st_size != 0:
            return None
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StoreError(f"cannot read the database {path}: {err.strerror or err}") from err
    if not recover:
        raise EmptyDatabaseError(
            f"the database {path} is empty (0 bytes): every token, user and order in it is gone, so no fresh one "
            "is started over it; restore it from a backup, or start once with `station run --recover-empty-db` "
            "to keep it aside and begin a new one"
        )
    moved = move_aside(path)
    logger.error("database %s was empty (0 bytes); moved to %s, starting fresh (--recover-empty-db)", path, moved)
    return RecoveryReport(moved, "the database file was empty (0 bytes)")


def _create_database(path: Path) -> None:
    """Create an empty WAL database at `path`: mode 0600 from its first byte, and whole or not there at all.

    It is built under a temporary name and linked into place once SQLite has written its header and it is on
    disk, so that a crash while creating it never leaves a 0-byte `station.db` (which `open_checked` refuses).
    A link, not a rename: if another process (a CLI verb at the first start) made the file meanwhile, theirs
    is kept and used, never replaced under their open connection.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.new-", dir=path.parent)  # created 0600
    except OSError as err:
        raise StoreError(f"cannot create the database {path}: {err.strerror or err}") from err
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, DATABASE_MODE)  # the umask can only take bits away; this is the mode, exactly
        finally:
            os.close(fd)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # writes the header: from here on the file is a database
        finally:
            conn.close()  # the last connection: SQLite checkpoints and removes the temporary -wal and -shm
        _fsync(tmp)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # made by another process meanwhile: use theirs
        _fsync(path.parent)
    except (OSError, sqlite3.Error) as err:
        raise StoreError(f"cannot create the database {path}: {getattr(err, 'strerror', None) or err}") from err
    finally:
        for suffix in _DATABASE_FILES:
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_data_dir(path: Path, *, fix_existing: bool) -> None:
    """Make the data directory with mode 0700; with `fix_existing`, tighten an existing one (with a log line).

    Raises `StoreError` when it cannot be made.
    """
    existed = path.is_dir()
    try:
        path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the data directory {path}: {err.strerror or err}") from err
    if fix_existing or not existed:
        restrict_mode(path, DATA_DIR_MODE, announce=existed)


def restrict_mode(path: Path, mode: int, *, announce: bool) -> None:
    """Give `path` exactly `mode` if it exists and has another; `announce` logs the change (a file found so).

    A directory with the sticky bit (/tmp, /var/tmp) is shared, not a data directory: its mode is left alone,
    with a warning. A chmod that fails (not the owner) is a warning too: the station still starts.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(info.st_mode)
    if current == mode:
        return
    if stat.S_ISDIR(info.st_mode) and current & stat.S_ISVTX:
        logger.warning(
            "%s is a shared directory (mode %04o): its mode is left alone; give the station one of its own",
            path,
            current,
        )
        return
    try:
        path.chmod(mode)
    except OSError as err:
        logger.warning("cannot restrict %s to mode %04o: %s", path, mode, err.strerror or err)
        return
    if announce:
        logger.warning("%s had mode %04o; now %04o (the station's user only)", path, current, mode)


@contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold the data directory for this process while the block runs: one station process per directory.

    An exclusive `flock` on `<data_dir>/station.lock`, which also holds this process's PID. A second holder is
    refused at once with `DataDirInUseError` naming the first one's PID. The kernel releases the lock when the
    process ends, however it ends (SIGKILL, a power cut), so a lock is never stale; the file itself stays.
    CLI verbs that write from their own process (tokens, operators, imports) take no lock: SQLite serialises
    their writes with the station's.
    """
    fd = _take_lock(data_dir)
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _take_lock(data_dir: Path) -> int:
    """The locked file descriptor of the data directory's lock file, with this PID written in it."""
    ensure_data_dir(data_dir, fix_existing=False)  # silent: a port in use must still be the first thing said
    lock = data_dir / LOCK_NAME
    try:
        # No O_TRUNC: the holder's PID must still be there to read when the lock is refused.
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, DATABASE_MODE)
    except OSError as err:
        raise StoreError(f"cannot open the lock file {lock}: {err.strerror or err}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        raise DataDirInUseError(data_dir, pid) from None
    except OSError as err:
        os.close(fd)
        raise StoreError(f"cannot lock {lock}: {err.strerror or err}") from err
    os.fchmod(fd, DATABASE_MODE)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    """The PID the lock's holder wrote (None if it has not written it yet)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def move_aside(path: Path) -> Path:
    """Rename the database and its WAL/SHM files with a UTC timestamp suffix; return the new main path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in _DATABASE_FILES:
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
            restrict_mode(Path(f"{target}{suffix}"), DATABASE_MODE, announce=False)  # still the station's data
    return target
