"""Which video files to delete: a pure function of the files, the policy and the free space.

The station lists its files (from its index) with their class, size, age and dispute flag, calls
:func:`plan_retention`, and deletes what the plan says, in order. Nothing here touches the disk, so the rules
are tested exhaustively with generated cases.

Rules, in order:

1. **Disputed files are never deleted**, whatever their age or the space left (a disputed order keeps its
   clip, photos and — if the station flags them — the segments around it until the dispute is closed).
2. **Age**: a file older than its class's ``max_age_s`` goes (continuous segments: hours; order clips and
   photos: days, 90 by default for the dispute window).
3. **Space**: while the files together exceed ``quota_bytes``, or the file system's free space is below
   ``min_free_bytes``, more files go: continuous segments first (they are raw material; clips are evidence),
   then photos, then clips; oldest first within each class. It stops as soon as both limits are met.

Within a class, deletion is always oldest first, so the footage kept is always the most recent. When even
deleting every file that may go cannot meet the limits, the plan deletes all of them and says
``limits_met=False`` (the station raises ``storage_full``).
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class FileClass(enum.StrEnum):
    """What a video file is, which decides how long it is kept."""

    SEGMENT = "segment"
    CLIP = "clip"
    PHOTO = "photo"


DELETE_ORDER: tuple[FileClass, ...] = (FileClass.SEGMENT, FileClass.PHOTO, FileClass.CLIP)
"""The order in which classes give up space when a quota or the free-space floor is not met."""

_HOUR_S = 3600.0
_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class RetentionItem:
    """One file as the station's index knows it. ``created_ms`` is its wall time (a segment's end)."""

    path: str
    file_class: FileClass
    size_bytes: int
    created_ms: int
    disputed: bool = False


def _default_ages() -> Mapping[FileClass, float | None]:
    return MappingProxyType(
        {FileClass.SEGMENT: 48 * _HOUR_S, FileClass.CLIP: 90 * _DAY_S, FileClass.PHOTO: 90 * _DAY_S}
    )


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Limits: a maximum age per class (None: no age limit), a total quota, a free-space floor."""

    max_age_s: Mapping[FileClass, float | None] = field(default_factory=_default_ages)
    quota_bytes: int | None = None
    min_free_bytes: int = 0


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """What to delete (in this order) and why, and whether the limits are met afterwards."""

    delete: tuple[RetentionItem, ...]
    reasons: Mapping[str, str]
    freed_bytes: int
    kept_bytes: int
    limits_met: bool


def _age_order(item: RetentionItem) -> tuple[int, str]:
    # Ties broken by path so that the plan is the same for the same input.
    return (item.created_ms, item.path)


def plan_retention(
    items: Iterable[RetentionItem], policy: RetentionPolicy, *, now_ms: int, free_bytes: int
) -> RetentionPlan:
    """Decide which files to delete (see the module docstring). ``free_bytes``: free space now."""
    files = sorted(items, key=_age_order)
    deleted: dict[str, RetentionItem] = {}
    reasons: dict[str, str] = {}

    for item in files:
        max_age = policy.max_age_s.get(item.file_class)
        if not item.disputed and max_age is not None and now_ms - item.created_ms > max_age * 1000:
            deleted[item.path] = item
            reasons[item.path] = "age"

    total = sum(item.size_bytes for item in files)
    freed = sum(item.size_bytes for item in deleted.values())

    def limits_met() -> bool:
        within_quota = policy.quota_bytes is None or total - freed <= policy.quota_bytes
        return within_quota and free_bytes + freed >= policy.min_free_bytes

    for file_class in DELETE_ORDER:
        if limits_met():
            break
        for item in files:
            if limits_met():
                break
            if item.file_class is not file_class or item.disputed or item.path in deleted:
                continue
            deleted[item.path] = item
            reasons[item.path] = (
                "quota" if policy.quota_bytes is not None and total - freed > policy.quota_bytes else "free_space"
            )
            freed += item.size_bytes

    order = tuple(sorted(deleted.values(), key=_age_order))
    return RetentionPlan(
        delete=order,
        reasons=MappingProxyType(reasons),
        freed_bytes=freed,
        kept_bytes=total - freed,
        limits_met=limits_met(),
    )
