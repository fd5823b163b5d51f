"""Retention: a pure plan, checked by properties over generated file sets and by a few worked examples."""

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.cameras import DELETE_ORDER, FileClass, RetentionItem, RetentionPolicy, plan_retention

NOW = 10_000_000_000
HOUR_MS = 3_600_000

items_strategy = st.lists(
    st.builds(
        RetentionItem,
        path=st.uuids().map(str),
        file_class=st.sampled_from(list(FileClass)),
        size_bytes=st.integers(0, 10_000),
        created_ms=st.integers(NOW - 200 * HOUR_MS, NOW),
        disputed=st.booleans(),
    ),
    max_size=40,
    unique_by=lambda item: item.path,
)
policy_strategy = st.builds(
    RetentionPolicy,
    max_age_s=st.fixed_dictionaries(
        {file_class: st.one_of(st.none(), st.integers(0, 150 * 3600).map(float)) for file_class in FileClass}
    ),
    quota_bytes=st.one_of(st.none(), st.integers(0, 200_000)),
    min_free_bytes=st.integers(0, 100_000),
)
free_strategy = st.integers(0, 100_000)


def _meets(kept_bytes: int, freed: int, policy: RetentionPolicy, free: int) -> bool:
    quota_ok = policy.quota_bytes is None or kept_bytes <= policy.quota_bytes
    return quota_ok and free + freed >= policy.min_free_bytes


@settings(max_examples=300, deadline=None)
@given(items_strategy, policy_strategy, free_strategy)
def test_never_deletes_a_disputed_file(items: list[RetentionItem], policy: RetentionPolicy, free: int) -> None:
    plan = plan_retention(items, policy, now_ms=NOW, free_bytes=free)
    assert not any(item.disputed for item in plan.delete)


@settings(max_examples=300, deadline=None)
@given(items_strategy, policy_strategy, free_strategy)
def test_meets_the_limits_whenever_possible(items: list[RetentionItem], policy: RetentionPolicy, free: int) -> None:
    plan = plan_retention(items, policy, now_ms=NOW, free_bytes=free)
    disputed_bytes = sum(item.size_bytes for item in items if item.disputed)
    deletable_bytes = sum(item.size_bytes for item in items if not item.disputed)
    possible = _meets(disputed_bytes, deletable_bytes, policy, free)
    assert plan.limits_met == _meets(plan.kept_bytes, plan.freed_bytes, policy, free)
    if possible:
        assert plan.limits_met
    assert plan.freed_bytes == sum(item.size_bytes for item in plan.delete)
    assert plan.kept_bytes + plan.freed_bytes == sum(item.size_bytes for item in items)


@settings(max_examples=300, deadline=None)
@given(items_strategy, policy_strategy, free_strategy)
def test_deletes_oldest_first_within_a_class(items: list[RetentionItem], policy: RetentionPolicy, free: int) -> None:
    plan = plan_retention(items, policy, now_ms=NOW, free_bytes=free)
    deleted = {item.path for item in plan.delete}
    for file_class in FileClass:
        candidates = sorted(
            (i for i in items if i.file_class is file_class and not i.disputed), key=lambda i: (i.created_ms, i.path)
        )
        flags = [item.path in deleted for item in candidates]
        # Deleted files of a class are a prefix of its files sorted oldest first.
        assert flags == sorted(flags, reverse=True)
    assert [(i.created_ms, i.path) for i in plan.delete] == sorted((i.created_ms, i.path) for i in plan.delete)


@settings(max_examples=300, deadline=None)
@given(items_strategy, policy_strategy, free_strategy)
def test_deletes_nothing_more_than_needed(items: list[RetentionItem], policy: RetentionPolicy, free: int) -> None:
    plan = plan_retention(items, policy, now_ms=NOW, free_bytes=free)
    space_deleted = [item for item in plan.delete if plan.reasons[item.path] != "age"]
    for item in plan.delete:
        if plan.reasons[item.path] == "age":
            max_age = policy.max_age_s[item.file_class]
            assert max_age is not None
            assert NOW - item.created_ms > max_age * 1000
    if space_deleted:
        # The last file deleted for space was needed: without it the limits would not have been met.
        last_class = [c for c in DELETE_ORDER if any(i.file_class is c for i in space_deleted)][-1]
        last = max((i for i in space_deleted if i.file_class is last_class), key=lambda i: (i.created_ms, i.path))
        if last.size_bytes > 0:
            assert not _meets(plan.kept_bytes + last.size_bytes, plan.freed_bytes - last.size_bytes, policy, free)


def _item(path: str, file_class: FileClass, hours_old: float, size: int = 100, disputed: bool = False) -> RetentionItem:
    return RetentionItem(path, file_class, size, NOW - int(hours_old * HOUR_MS), disputed)


def test_age_limits_per_class() -> None:
    items = [
        _item("seg-old", FileClass.SEGMENT, 49),
        _item("seg-new", FileClass.SEGMENT, 47),
        _item("clip-old", FileClass.CLIP, 91 * 24),
        _item("clip-disputed", FileClass.CLIP, 365 * 24, disputed=True),
        _item("clip-new", FileClass.CLIP, 24),
    ]
    plan = plan_retention(items, RetentionPolicy(), now_ms=NOW, free_bytes=10**9)
    assert [item.path for item in plan.delete] == ["clip-old", "seg-old"]
    assert dict(plan.reasons) == {"clip-old": "age", "seg-old": "age"}
    assert plan.limits_met


def test_space_comes_from_segments_before_clips() -> None:
    items = [
        _item("clip-1", FileClass.CLIP, 30),
        _item("seg-1", FileClass.SEGMENT, 3),
        _item("seg-2", FileClass.SEGMENT, 2),
        _item("seg-3", FileClass.SEGMENT, 1),
    ]
    plan = plan_retention(items, RetentionPolicy(quota_bytes=250), now_ms=NOW, free_bytes=10**9)
    assert [item.path for item in plan.delete] == ["seg-1", "seg-2"]
    assert set(plan.reasons.values()) == {"quota"}


def test_free_space_floor_and_impossible_limits() -> None:
    items = [_item("clip", FileClass.CLIP, 1, size=500, disputed=True), _item("seg", FileClass.SEGMENT, 1, size=50)]
    plan = plan_retention(items, RetentionPolicy(min_free_bytes=1000), now_ms=NOW, free_bytes=100)
    assert [item.path for item in plan.delete] == ["seg"]
    assert plan.reasons["seg"] == "free_space"
    assert not plan.limits_met
