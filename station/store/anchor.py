"""The chain head recorded apart from the database, so that deleting the newest events is detected.

The hash chain proves that no event was changed or removed in the middle, but not at the end: a file with
its last events deleted is a shorter, valid chain. The station therefore writes the head it has reached —
seq, hash, stream epoch — to a small file beside the database (`station.head`), written to a temporary name,
fsynced and renamed, from housekeeping and at shutdown. `check_head` compares a database with it: events
at or below the recorded seq must be there with the recorded hash. The hub's acknowledgement watermark is a
second anchor: the hub cannot have acked events the station no longer has.
"""

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head the station reached."""

    stream_epoch: str
    seq: int
    hash: str


def anchor_path(database: Path) -> Path:
    """Where the head of `database` is recorded (`station.db` → `station.head`)."""
    return database.with_suffix(".head")


def write_anchor(database: Path, anchor: Anchor) -> None:
    """Record `anchor` for `database`, durably (temporary file, fsync, rename, fsync of the directory)."""
    path = anchor_path(database)
    tmp = path.with_suffix(".head.tmp")
    data = json.dumps({"stream_epoch": anchor.stream_epoch, "seq": anchor.seq, "hash": anchor.hash}).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_anchor(database: Path) -> Anchor | None:
    """The recorded head of `database`; None when none was recorded (or the record is unreadable)."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        raw = json.loads(anchor_path(database).read_bytes())
        return Anchor(str(raw["stream_epoch"]), int(raw["seq"]), str(raw["hash"]))
    return None


def check_head(
    anchor: Anchor | None, stream_epoch: str, last_seq: int, hash_at: dict[int, str], acked_through: int
) -> list[str]:
    """What is wrong with a database's end, given its recorded `anchor`, its stream epoch, its last seq, the hash
    of the anchored seq (`hash_at`) and the hub's acknowledgement watermark. Empty when nothing is missing."""
    problems = []
    if acked_through > last_seq:
        problems.append(f"the hub acknowledged events up to seq {acked_through}, but the last event here is {last_seq}")
    if anchor is None or anchor.stream_epoch != stream_epoch:
        return problems  # no head recorded for this stream (a new database, or one restored on purpose)
    if anchor.seq > last_seq:
        problems.append(f"the chain head recorded at seq {anchor.seq} is past the last event here ({last_seq})")
    elif hash_at.get(anchor.seq) != anchor.hash:
        problems.append(f"the event at seq {anchor.seq} is not the one recorded as the chain head")
    return problems
