"""Credentials for the HTTP API: bearer tokens with roles, supervisor users with argon2 passwords, sessions.

Secrets are shown once and stored only as hashes: tokens and session ids are 256-bit random values, so a
SHA-256 lookup hash is enough; passwords are chosen by people, so they get argon2id. Nothing here logs a
secret. Token and user changes are recorded as events (without the secret). Every revocation also appends
the token id to `station.db.revoked` beside the database, so a running API that caches verified tokens
notices it at once, whichever process revoked.

A token may carry an expiry (`station token create --expires 90d`); none is the default, so a bench screen
does not stop one day without warning. An expired token is refused like a revoked one, but with its own
reason (`TokenExpired`); the API's cache of verified tokens checks the expiry on every hit (`Principal.expired`),
so a token cannot outlive its expiry by the cache time. A disabled or deleted user cannot log in — refused
exactly like a wrong password — and their sessions are ended in the same transaction; every session check also
reads the user's `disabled` flag, so nothing else has to be told.
"""

import functools
import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from station.events import Actor, NewEvent
from station.ids import uuid7
from station.store import Store, Tx

TOKEN_PREFIX = "pst_"  # noqa: S105 - a public marker that makes tokens recognisable, not a secret
SESSION_TTL_MS = 12 * 3600 * 1000  # one shift

_hasher = PasswordHasher()
logger = logging.getLogger(__name__)

RevocationMark = tuple[int, int] | None
"""(size, mtime_ns) of a database's revocation marker file; None while no token was ever revoked."""


class ApiRole(StrEnum):
    """Roles of API callers. Least privilege: each reaches only what it needs."""

    BENCH = "bench"  # a bench screen / scanner gateway: posts scans for its own bench, reads orders
    PDA = "pda"  # a handheld: reads the queue, nothing else
    SUPERVISOR = "supervisor"  # people: orders, timelines, actions, alerts, metrics
    HUB = "hub"  # the central order service


class AuthError(Exception):
    """A credential operation was refused (the message is safe to show)."""


class TokenExpired(AuthError):
    """A bearer token that is known and not revoked, but past its expiry: refused, with that reason."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token or a logged-in supervisor."""

    role: ApiRole
    name: str
    bench_id: str | None = None
    token_id: str | None = None
    expires_at_ms: int | None = None  # the token's expiry (wall clock, ms); None: never, or a session

    def actor(self, device: str = "api") -> Actor:
        """The event actor for this caller."""
        return Actor(role=self.role.value, id=self.name, device=device, bench=self.bench_id)

    def expired(self, now_ms: int) -> bool:
        """True once the token this caller was verified by has expired (for a cache of verified callers)."""
        return self.expires_at_ms is not None and self.expires_at_ms <= now_ms


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed (never with its secret)."""

    token_id: str
    name: str
    role: ApiRole
    bench_id: str | None
    created_at_ms: int
    revoked_at_ms: int | None
    last_used_at_ms: int | None
    expires_at_ms: int | None = None  # None: never expires

    def state(self, now_ms: int) -> str:
        """`revoked`, `expired` or `active` at `now_ms` (a revoked token says so even once past its expiry)."""
        if self.revoked_at_ms is not None:
            return "revoked"
        if self.expires_at_ms is not None and self.expires_at_ms <= now_ms:
            return "expired"
        return "active"


_DURATION = re.compile(r"([1-9][0-9]{0,5})([dh])")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000}


def parse_expiry(text: str, now_ms: int) -> int:
    """The expiry, in wall-clock ms, that `--expires TEXT` asks for when given at `now_ms`.

    `90d` and `12h` count from now. An ISO date or date-time (`2026-12-31`, `2026-12-31T18:00`,
    `2026-12-31T18:00+08:00`) is that moment, in the station's local time unless it names its offset; a date
    alone is the start of that day. Anything else, or a moment not in the future, is an AuthError.
    """
    spelled = text.strip()
    match = _DURATION.fullmatch(spelled.lower())
    if match:
        expires = now_ms + int(match[1]) * _UNIT_MS[match[2]]
    else:
        try:
            moment = datetime.fromisoformat(spelled)
        except ValueError:
            raise AuthError(
                f"--expires {text!r}: give days (90d), hours (12h) or an ISO date such as 2026-12-31"
            ) from None
        expires = int(moment.timestamp() * 1000)  # a naive datetime is taken as local time
    if expires <= now_ms:
        raise AuthError(f"--expires {text}: that moment has already passed")
    return expires


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    store: Store,
    role: ApiRole,
    name: str,
    actor: Actor,
    bench_id: str | None = None,
    expires_at_ms: int | None = None,
) -> tuple[str, str]:
    """Make a token; return (token_id, secret). The secret is not stored and cannot be shown again.

    `expires_at_ms` (wall clock; see `parse_expiry`) ends the token then; None, the default, never. It is not
    checked against the clock here, so a test can make a token that has already expired.
    """
    if role is ApiRole.BENCH and not bench_id:
        raise AuthError("a bench token needs --bench: it may post scans for that bench only")
    if role is not ApiRole.BENCH and bench_id:
        raise AuthError("--bench only applies to bench tokens")
    token_id = str(uuid7())
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        tx.repo.db.execute(
            "INSERT INTO api_tokens (token_id, name, role, bench_id, secret_hash, created_at_ms, expires_at_ms) "
            "VALUES (?,?,?,?,?,?,?)",
            [token_id, name, role.value, bench_id, _digest(secret), tx.wall_now_ms(), expires_at_ms],
        )
        tx.append(
            NewEvent(
                "token.created",
                actor,
                None,
                {"token_id": token_id, "name": name, "role": role.value, "bench": bench_id},
            )
        )
    return token_id, secret


def list_tokens(store: Store) -> list[TokenInfo]:
    """All tokens, newest first."""
    with store.reading() as repo:
        rows = list(repo.db.query("SELECT * FROM api_tokens ORDER BY created_at_ms DESC, token_id DESC"))
    return [
        TokenInfo(
            r["token_id"],
            r["name"],
            ApiRole(r["role"]),
            r["bench_id"],
            r["created_at_ms"],
            r["revoked_at_ms"],
            r["last_used_at_ms"],
            r["expires_at_ms"],
        )
        for r in rows
    ]


def revoke_token(store: Store, token_id: str, actor: Actor) -> None:
    """Revoke a token at once (unknown or already revoked ids are an error)."""
    with store.transaction() as tx:
        cur = tx.repo.db.execute(
            "UPDATE api_tokens SET revoked_at_ms = ? WHERE token_id = ? AND revoked_at_ms IS NULL",
            [tx.wall_now_ms(), token_id],
        )
        if cur.rowcount != 1:
            raise AuthError(f"no active token with id {token_id}")
        tx.append(NewEvent("token.revoked", actor, None, {"token_id": token_id}))
    _touch_revocation_marker(store.path, token_id)


def revocation_marker(database_path: Path) -> Path:
    """The file beside the database that every revocation appends to, whichever process revoked."""
    return database_path.with_name(database_path.name + ".revoked")


def revocation_mark(database_path: Path) -> RevocationMark:
    """A cheap fingerprint of the revocation marker (one `stat`): it changes with every revocation.

    The API compares it on each request, so a process that caches verified tokens (`station run`) drops
    them as soon as another process (`station token revoke`) has revoked one.
    """
    try:
        st = os.stat(revocation_marker(database_path))
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _touch_revocation_marker(database_path: Path, token_id: str) -> None:
    # Appending (never rewriting) makes the size grow on every revocation, so the mark changes even where
    # the file system's mtime is coarse. The revocation itself is already committed; this only ends caching.
    try:
        with revocation_marker(database_path).open("a", encoding="ascii") as marker:
            marker.write(f"{token_id}\n")
    except OSError as err:
        logger.warning(
            "could not write the revocation marker (%s): a running station may accept the token "
            "for up to its cache time",
            err,
        )


def verify_token(store: Store, secret: str) -> Principal | None:
    """The caller a bearer token belongs to, or None if unknown or revoked.

    Raises TokenExpired for a token that is neither but whose expiry has passed (by the store's wall clock): it
    is refused all the same, and the API says why — only someone who was once given the secret can learn it.
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    with store.reading() as repo:
        row = next(
            repo.db.query(
                "SELECT token_id, name, role, bench_id, expires_at_ms FROM api_tokens "
                "WHERE secret_hash = ? AND revoked_at_ms IS NULL",
                [_digest(secret)],
            ),
            None,
        )
    if row is None:
        return None
    principal = Principal(ApiRole(row["role"]), row["name"], row["bench_id"], row["token_id"], row["expires_at_ms"])
    if principal.expired(store.wall_ms()):
        raise TokenExpired(f"token {principal.token_id} has expired")
    return principal


def add_user(store: Store, username: str, password: str, actor: Actor) -> None:
    """Add a supervisor login."""
    _check_password(password)
    if not username or not username.isprintable() or len(username) > 64:
        raise AuthError("a username is 1-64 printable characters")
    # Hashed before the transaction: argon2 takes ~0.1 s, and BEGIN IMMEDIATE holds the write lock that every
    # scan of a running station waits for.
    password_hash = _hasher.hash(password)
    with store.transaction() as tx:
        exists = next(tx.repo.db.query("SELECT 1 AS hit FROM users WHERE username = ?", [username]), None)
        if exists:
            raise AuthError(f"user {username} exists; use `station user passwd {username}`")
        tx.repo.db.execute(
            "INSERT INTO users (username, password_hash, created_at_ms) VALUES (?,?,?)",
            [username, password_hash, tx.wall_now_ms()],
        )
        tx.append(NewEvent("user.added", actor, None, {"username": username}))


def set_password(store: Store, username: str, password: str, actor: Actor) -> None:
    """Change a user's password and end their sessions."""
    _check_password(password)
    password_hash = _hasher.hash(password)  # outside the write lock, as in `add_user`
    with store.transaction() as tx:
        cur = tx.repo.db.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])
        if cur.rowcount != 1:
            raise AuthError(f"no user {username}")
        tx.repo.db.execute("DELETE FROM sessions WHERE username = ?", [username])
        tx.append(NewEvent("user.password_changed", actor, None, {"username": username}))


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A supervisor login as listed (never with its password hash)."""

    username: str
    created_at_ms: int
    disabled: bool
    disabled_at_ms: int | None  # None while enabled (or for a user disabled before schema 13 recorded when)
    open_sessions: int  # sessions not yet expired


def list_users(store: Store) -> list[UserInfo]:
    """All supervisor logins by name, with whether each is disabled and how many live sessions it has."""
    now = store.wall_ms()
    with store.reading() as repo:
        rows = list(
            repo.db.query(
                "SELECT u.username, u.created_at_ms, u.disabled, u.disabled_at_ms, "
                "(SELECT count(*) FROM sessions s WHERE s.username = u.username AND s.expires_at_ms > ?) AS live "
                "FROM users u ORDER BY u.username",
                [now],
            )
        )
    return [
        UserInfo(r["username"], r["created_at_ms"], bool(r["disabled"]), r["disabled_at_ms"], r["live"]) for r in rows
    ]


def disable_user(store: Store, username: str, actor: Actor) -> int:
    """Disable a supervisor login and end its sessions at once; return how many live sessions were ended.

    The sessions are deleted, not merely refused (every session check also reads the flag), so enabling the
    user again later does not bring an old cookie back to life. Unknown or already disabled users are an error.
    """
    with store.transaction() as tx:
        row = next(tx.repo.db.query("SELECT disabled FROM users WHERE username = ?", [username]), None)
        if row is None:
            raise AuthError(f"no user {username}")
        if row["disabled"]:
            raise AuthError(f"user {username} is already disabled")
        now = tx.wall_now_ms()
        tx.repo.db.execute("UPDATE users SET disabled = 1, disabled_at_ms = ? WHERE username = ?", [now, username])
        ended = _end_sessions(tx, username, now)
        tx.append(NewEvent("user.disabled", actor, None, {"username": username, "sessions_ended": ended}))
    return ended


def enable_user(store: Store, username: str, actor: Actor) -> None:
    """Let a disabled supervisor log in again, with the password they had (unknown or enabled users: an error)."""
    with store.transaction() as tx:
        row = next(tx.repo.db.query("SELECT disabled FROM users WHERE username = ?", [username]), None)
        if row is None:
            raise AuthError(f"no user {username}")
        if not row["disabled"]:
            raise AuthError(f"user {username} is not disabled")
        tx.repo.db.execute("UPDATE users SET disabled = 0, disabled_at_ms = NULL WHERE username = ?", [username])
        tx.append(NewEvent("user.enabled", actor, None, {"username": username}))


def delete_user(store: Store, username: str, actor: Actor) -> int:
    """Delete a supervisor login and end its sessions; return how many live sessions were ended.

    The name becomes free for `add_user` again; what the user did stays in the event log under their name.
    """
    with store.transaction() as tx:
        ended = _end_sessions(tx, username, tx.wall_now_ms())
        if tx.repo.db.execute("DELETE FROM users WHERE username = ?", [username]).rowcount != 1:
            raise AuthError(f"no user {username}")  # rolls the session delete back too (there were none)
        tx.append(NewEvent("user.deleted", actor, None, {"username": username, "sessions_ended": ended}))
    return ended


def _end_sessions(tx: Tx, username: str, now_ms: int) -> int:
    # Counted before the delete: expired rows are only litter (`open_session` sweeps them), not sessions ended.
    live = next(
        tx.repo.db.query(
            "SELECT count(*) AS n FROM sessions WHERE username = ? AND expires_at_ms > ?", [username, now_ms]
        )
    )["n"]
    tx.repo.db.execute("DELETE FROM sessions WHERE username = ?", [username])
    return int(live)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AuthError("a password needs at least 8 characters")


def password_hash_of(store: Store, username: str) -> str | None:
    """The stored argon2 hash of an enabled user, or None (unknown or disabled). A cheap read for the DB thread."""
    with store.reading() as repo:
        row = next(
            repo.db.query("SELECT password_hash FROM users WHERE username = ? AND disabled = 0", [username]), None
        )
    return None if row is None else str(row["password_hash"])


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash`. Slow on purpose (argon2): never call it on the DB thread.

    With no hash (an unknown or disabled user) it verifies against a dummy hash of the same parameters, so the
    answer takes as long as a real check and timing does not reveal which usernames exist.
    """
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    # Made on first use (in the caller's thread, the login pool) rather than at import: a CLI run pays nothing.
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(store: Store, username: str, password: str) -> bool:
    """True when the username exists, is enabled, and the password matches (one thread: for the CLI and tests;
    the API splits it into `password_hash_of` on the DB thread and `verify_password` in its login pool)."""
    return verify_password(password_hash_of(store, username), password)


def open_session(store: Store, username: str) -> str:
    """Start a session; return the session secret for the cookie.

    A user disabled or deleted since their password was checked (another process, between the two steps of a
    login) gets no session row, so the secret returned opens nothing, rather than the login failing with an error.
    """
    secret = secrets.token_urlsafe(32)
    with store.transaction() as tx:
        now = tx.wall_now_ms()
        tx.repo.db.execute("DELETE FROM sessions WHERE expires_at_ms < ?", [now])
        cur = tx.repo.db.execute(
            "INSERT INTO sessions (session_hash, username, created_at_ms, expires_at_ms) "
            "SELECT ?, username, ?, ? FROM users WHERE username = ? AND disabled = 0",
            [_digest(secret), now, now + SESSION_TTL_MS, username],
        )
        if cur.rowcount == 1:
            tx.append(NewEvent("user.logged_in", Actor(role="supervisor", id=username, device="web"), None, {}))
    return secret


def close_session(store: Store, secret: str) -> None:
    """End a session (logout)."""
    with store.transaction() as tx:
        tx.repo.db.execute("DELETE FROM sessions WHERE session_hash = ?", [_digest(secret)])


def verify_session(store: Store, secret: str) -> Principal | None:
    """The supervisor a session cookie belongs to, if the session is live."""
    now = store.wall_ms()
    with store.reading() as repo:
        row = next(
            repo.db.query(
                "SELECT s.username FROM sessions s JOIN users u ON u.username = s.username "
                "WHERE s.session_hash = ? AND s.expires_at_ms > ? AND u.disabled = 0",
                [_digest(secret), now],
            ),
            None,
        )
    return None if row is None else Principal(ApiRole.SUPERVISOR, row["username"])
