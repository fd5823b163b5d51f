"""Accounts (issue 22): tokens that expire, and supervisor logins that are disabled, enabled again or deleted —
on the store, against a fake wall clock. The API's side (the cache, the 401 reasons, cookies) is
tests/station/api/test_api_accounts.py; the verbs are in test_cli.py."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from benchkit import FakeClock

from station.auth import (
    ApiRole,
    AuthError,
    TokenExpired,
    add_user,
    check_password,
    create_token,
    delete_user,
    disable_user,
    enable_user,
    list_tokens,
    list_users,
    open_session,
    parse_expiry,
    revoke_token,
    verify_session,
    verify_token,
)
from station.events import SYSTEM, Actor
from station.store import Store

PASSWORD = "correct horse battery"
DAY_MS = 86_400_000
NOW = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", NOW + 90 * DAY_MS),
        ("12h", NOW + 12 * 3_600_000),
        (" 1D ", NOW + DAY_MS),
        ("2026-12-31T18:00+08:00", int(datetime(2026, 12, 31, 10, 0, tzinfo=UTC).timestamp() * 1000)),
        ("2026-12-31T10:00Z", int(datetime(2026, 12, 31, 10, 0, tzinfo=UTC).timestamp() * 1000)),
    ],
)
def test_expiry_is_a_duration_from_now_or_a_moment(text: str, expected: int) -> None:
    assert parse_expiry(text, NOW) == expected


def test_a_date_alone_is_the_start_of_that_day_in_local_time() -> None:
    local_midnight = datetime(2026, 12, 31).astimezone()  # naive: the station's own time zone
    assert parse_expiry("2026-12-31", NOW) == int(local_midnight.timestamp() * 1000)


@pytest.mark.parametrize("text", ["0d", "90", "90m", "-1d", "soon", "2026-13-01", ""])
def test_an_expiry_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(AuthError, match="--expires"):
        parse_expiry(text, NOW)


def test_an_expiry_in_the_past_is_refused() -> None:
    yesterday = datetime.fromtimestamp(NOW / 1000, UTC) - timedelta(days=1)
    with pytest.raises(AuthError, match="already passed"):
        parse_expiry(yesterday.astimezone(timezone(timedelta(hours=8))).isoformat(), NOW)


def test_a_token_works_until_its_expiry_and_is_refused_from_then_on(store: Store, clock: FakeClock) -> None:
    expires = clock.ms + 60_000
    token_id, secret = create_token(store, ApiRole.PDA, "pda-07", SYSTEM, expires_at_ms=expires)
    principal = verify_token(store, secret)
    assert principal is not None
    assert (principal.token_id, principal.expires_at_ms) == (token_id, expires)
    clock.ms = expires - 1
    assert verify_token(store, secret) is not None
    clock.ms = expires  # the expiry itself is the first moment it no longer works
    with pytest.raises(TokenExpired):
        verify_token(store, secret)
    [listed] = list_tokens(store)
    assert (listed.expires_at_ms, listed.state(clock.ms), listed.state(expires - 1)) == (expires, "expired", "active")


def test_a_token_without_expiry_never_expires(store: Store, clock: FakeClock) -> None:
    _, secret = create_token(store, ApiRole.HUB, "hub", SYSTEM)
    clock.ms += 100 * 365 * DAY_MS
    principal = verify_token(store, secret)
    assert principal is not None
    assert principal.expires_at_ms is None
    assert not principal.expired(clock.ms)
    assert list_tokens(store)[0].state(clock.ms) == "active"


def test_a_revoked_token_past_its_expiry_is_simply_unknown(store: Store, clock: FakeClock) -> None:
    # Revocation is the stronger statement: no reason is given for a token somebody took away.
    token_id, secret = create_token(store, ApiRole.PDA, "pda", SYSTEM, expires_at_ms=clock.ms - 1)
    revoke_token(store, token_id, SYSTEM)
    assert verify_token(store, secret) is None
    assert list_tokens(store)[0].state(clock.ms) == "revoked"


def _user_events(store: Store) -> list[tuple[str, dict[str, object]]]:
    return [(e["type"], dict(e["data"])) for e in store.events_from(1) if e["type"].startswith("user.")]


def test_a_disabled_user_cannot_log_in_and_their_sessions_end(store: Store) -> None:
    add_user(store, "zhao", PASSWORD, SYSTEM)
    add_user(store, "qian", PASSWORD, SYSTEM)
    sessions = [open_session(store, "zhao"), open_session(store, "zhao")]
    other = open_session(store, "qian")
    assert disable_user(store, "zhao", SYSTEM) == 2
    assert not check_password(store, "zhao", PASSWORD)
    assert [verify_session(store, s) for s in sessions] == [None, None]
    assert verify_session(store, other) is not None  # only their own sessions
    [qian, zhao] = list_users(store)
    assert (zhao.username, zhao.disabled, zhao.open_sessions) == ("zhao", True, 0)
    assert zhao.disabled_at_ms is not None
    assert (qian.disabled, qian.disabled_at_ms, qian.open_sessions) == (False, None, 1)
    with pytest.raises(AuthError, match="already disabled"):
        disable_user(store, "zhao", SYSTEM)
    assert ("user.disabled", {"username": "zhao", "sessions_ended": 2}) in _user_events(store)


def test_enabling_lets_them_log_in_again_but_brings_no_old_session_back(store: Store) -> None:
    add_user(store, "zhao", PASSWORD, SYSTEM)
    before = open_session(store, "zhao")
    disable_user(store, "zhao", SYSTEM)
    enable_user(store, "zhao", SYSTEM)
    assert check_password(store, "zhao", PASSWORD)
    assert verify_session(store, before) is None
    assert verify_session(store, open_session(store, "zhao")) is not None
    assert list_users(store)[0].disabled_at_ms is None
    with pytest.raises(AuthError, match="not disabled"):
        enable_user(store, "zhao", SYSTEM)
    assert _user_events(store)[-3:-1] == [
        ("user.disabled", {"username": "zhao", "sessions_ended": 1}),
        ("user.enabled", {"username": "zhao"}),
    ]


def test_a_deleted_user_is_gone_and_the_name_is_free_again(store: Store) -> None:
    add_user(store, "zhao", PASSWORD, SYSTEM)
    session = open_session(store, "zhao")
    assert delete_user(store, "zhao", SYSTEM) == 1
    assert not check_password(store, "zhao", PASSWORD)
    assert verify_session(store, session) is None
    assert list_users(store) == []
    with pytest.raises(AuthError, match="no user zhao"):
        delete_user(store, "zhao", SYSTEM)
    add_user(store, "zhao", "a new password", SYSTEM)
    assert check_password(store, "zhao", "a new password")
    assert ("user.deleted", {"username": "zhao", "sessions_ended": 1}) in _user_events(store)


@pytest.mark.parametrize("change", [disable_user, enable_user, delete_user])
def test_changing_an_unknown_user_is_an_error_and_writes_nothing(
    store: Store, change: Callable[[Store, str, Actor], object]
) -> None:
    with pytest.raises(AuthError, match="no user nobody"):
        change(store, "nobody", SYSTEM)
    assert store.events_from(1) == []


def test_a_login_that_races_a_disable_gets_no_session(store: Store) -> None:
    # The API checks the password, then opens the session in a second step; a disable in between wins.
    add_user(store, "zhao", PASSWORD, SYSTEM)
    disable_user(store, "zhao", SYSTEM)
    secret = open_session(store, "zhao")
    assert verify_session(store, secret) is None
    assert "user.logged_in" not in [t for t, _ in _user_events(store)]
    delete_user(store, "zhao", SYSTEM)
    assert verify_session(store, open_session(store, "zhao")) is None  # a deleted user: no error either
