"""The `station` command: run the service, the demo bench, and the operator's chores.

Every verb takes `-c/--config FILE` (or `$STATION_CONFIG`); without it the embedded defaults apply
(data in ./station-data or $STATION_DATA). `run` and `demo` also take `--host`, `--port` and `--data`, which win
over the environment and the file. Exit codes: 0 ok, 1 the work found problems, 2 bad usage/config/flag value,
3 (`run`, `demo`) the HTTP address cannot be listened on, e.g. the port is in use, 4 (`run`, `demo`) the data
directory is in use by another station process (its PID is named).
"""

import argparse
import getpass
import ipaddress
import json
import logging
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

from drivers.urls import redact_text
from station.auth import (
    ApiRole,
    AuthError,
    add_user,
    create_token,
    delete_user,
    disable_user,
    enable_user,
    list_tokens,
    list_users,
    parse_expiry,
    revoke_token,
    set_password,
)
from station.cli_evidence import add_evidence_verbs
from station.cli_tls import add_tls_verbs
from station.config import ConfigError, Settings, load_settings, render_example
from station.doctor import diagnose, write_report
from station.events import Actor, Envelope, verify_chain
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.store import Store, StoreError
from station.store.database import CorruptDatabaseError, DataDirInUseError, exclusive_data_dir, quick_check
from station.video import set_disputed

CLI_ACTOR = Actor(role="system", id="cli", device="cli")
EXIT_BAD_USAGE = 2
EXIT_CANNOT_LISTEN = 3  # distinct, so that a script or systemd can tell "port taken" from "station failed"
EXIT_DATA_IN_USE = 4  # another station process holds the data directory (its lock, `station.lock`)
PRECEDENCE = "command-line flag > environment variable > config file (-c) > built-in default"


class FlagError(Exception):
    """A command-line value is unusable; the message is the one line to show."""


def _open_store(settings: Settings) -> Store:
    return Store.open(settings.station.database_path)  # makes the data directory, or says why it cannot


@contextmanager
def _opened(settings: Settings) -> Iterator[Store]:
    """The station's database for one command, closed after it whatever happens."""
    store = _open_store(settings)
    try:
        yield store
    finally:
        store.close()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the service; a data directory in use (EXIT_DATA_IN_USE) or a taken address (EXIT_CANNOT_LISTEN) is
    the only thing said.

    The data directory is locked first, before the address is claimed: a second station with the same
    configuration then names the PID of the one already running rather than only a port in use. Taking the lock
    prints nothing, so a port in use is still the first and only line when the port is the problem.
    """
    from station.api.server import ListenError  # noqa: PLC0415 - lazy: only verbs that serve load the web stack
    from station.api.tls import TlsError, load_tls  # noqa: PLC0415
    from station.app import serve  # noqa: PLC0415

    try:
        tls = load_tls(settings.api)  # an unusable certificate or key is refused before anything starts
    except TlsError as err:
        print(f"station: {err}", file=sys.stderr)
        return EXIT_BAD_USAGE
    try:
        with exclusive_data_dir(settings.station.data_dir):
            serve(settings, recover_empty_db=args.recover_empty_db, tls=tls)
    except DataDirInUseError as err:
        return _in_use(err)
    except ListenError as err:
        return _cannot_listen(err)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo bench; a taken address is the only thing said (EXIT_CANNOT_LISTEN)."""
    from station.api.server import ListenError  # noqa: PLC0415 - lazy, as above
    from station.demo.runner import run_demo  # noqa: PLC0415

    if not args.verbose:
        # The narration is the show: station's INFO lines (migrations, bounces...) would interleave with it.
        logging.getLogger("station").setLevel(logging.WARNING)
    try:
        return run_demo(settings, serve=not args.no_serve, pace_s=args.pace)  # locks DIR/demo, then listens
    except DataDirInUseError as err:
        return _in_use(err)
    except ListenError as err:
        return _cannot_listen(err)


def _cannot_listen(err: Exception) -> int:
    print(f"station: {err}", file=sys.stderr)
    return EXIT_CANNOT_LISTEN


def _in_use(err: DataDirInUseError) -> int:
    print(f"station: {err}", file=sys.stderr)
    return EXIT_DATA_IN_USE


def _port_flag(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise FlagError(f"--port {raw!r}: not a number (use 1-65535)") from None
    if not 1 <= port <= 65535:  # 0 would be "any free port": nobody could find the station there
        raise FlagError(f"--port {raw}: out of range (use 1-65535)")
    return port


def _host_flag(raw: str) -> str:
    if not raw.strip():
        raise FlagError("--host '': empty (127.0.0.1: this machine only; 0.0.0.0: every IPv4 address)")
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        pass
    else:
        return raw
    try:
        # A name is fine if this machine resolves it (localhost, its own name in /etc/hosts).
        socket.getaddrinfo(raw, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as err:
        why = getattr(err, "strerror", None) or str(err)
        raise FlagError(f"--host {raw!r}: not an IP address nor a name this machine resolves ({why})") from None
    return raw


def _data_flag(raw: str) -> Path:
    if not raw.strip():
        raise FlagError("--data '': empty")
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise FlagError(f"--data {raw}: not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)  # the station's alone (Store.open keeps it so)
    except OSError as err:
        raise FlagError(f"--data {raw}: cannot create it: {err.strerror or err}") from None
    try:
        # Writing a file is the only honest test: permissions, a read-only mount, ACLs, a full disk.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise FlagError(f"--data {raw}: cannot write in it: {err.strerror or err}") from None
    return path


def flag_overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """The settings given as flags (`--host`, `--port`, `--data`), checked, as `load_settings` overrides.

    Raises FlagError, before anything starts, for a port outside 1-65535, a host that is no address, or a data
    directory that cannot be created or written.
    """
    overrides: dict[str, dict[str, object]] = {}
    if getattr(args, "host", None) is not None:
        overrides.setdefault("api", {})["host"] = _host_flag(args.host)
    if getattr(args, "port", None) is not None:
        overrides.setdefault("api", {})["port"] = _port_flag(args.port)
    if getattr(args, "data", None) is not None:
        overrides.setdefault("station", {})["data_dir"] = _data_flag(args.data)
    return overrides


def _add_listen_flags(parser: argparse.ArgumentParser, data_help: str) -> None:
    """`--host`, `--port`, `--data` (strings here: `flag_overrides` checks them, with a one-line message)."""
    parser.add_argument(
        "--host",
        metavar="HOST",
        help="listen address, e.g. 0.0.0.0 to serve PDAs and bench screens on the LAN "
        "(over $STATION_API__HOST and [api] host; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port", metavar="PORT", help="listen port, 1-65535 (over $STATION_API__PORT and [api] port; default 8080)"
    )
    parser.add_argument("--data", metavar="DIR", help=data_help)
    parser.epilog = (
        f"Each setting comes from the first of: {PRECEDENCE}. Exit status {EXIT_BAD_USAGE}: a bad flag or "
        f"configuration; {EXIT_CANNOT_LISTEN}: the address cannot be listened on (port in use: another station "
        f"running?); {EXIT_DATA_IN_USE}: the data directory is in use by another station process (named by its "
        "PID); a bad flag, a data directory in use or a taken address is said in one line, before anything else "
        "is printed or opened."
    )


def _local_time(ms: int) -> str:
    # The station's local time with its offset, to the minute: what a person compares with the clock on the wall.
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(sep=" ", timespec="minutes")


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an API token and print it once (with its expiry, if `--expires` gave one)."""
    with _opened(settings) as store:
        # Parsed against the store's clock, the one `verify_token` checks the expiry with.
        expires = None if args.expires is None else parse_expiry(args.expires, store.wall_ms())
        name = args.name or (f"bench-{args.bench}" if args.bench else args.role)
        token_id, secret = create_token(store, ApiRole(args.role), name, CLI_ACTOR, args.bench, expires)
    print(f"token id: {token_id}")
    print(f"role:     {args.role}" + (f" (bench {args.bench})" if args.bench else ""))
    print(f"expires:  {'never' if expires is None else _local_time(expires)}")
    print(f"token:    {secret}")
    print("Store it now: it is shown only once. Use it as `Authorization: Bearer <token>`.")
    return 0


def cmd_token_list(settings: Settings, _: argparse.Namespace) -> int:
    """List tokens (never their secrets): state (active, expired or revoked) and expiry."""
    with _opened(settings) as store:
        tokens = list_tokens(store)
        now = store.wall_ms()
    if not tokens:
        print("no tokens; make one with: station token create --role bench --bench B01")
    for t in tokens:
        state = t.state(now)
        if t.expires_at_ms is None:
            expiry = "no expiry"
        else:
            expiry = f"{'expired' if t.expires_at_ms <= now else 'expires'} {_local_time(t.expires_at_ms)}"
        bench = f" bench={t.bench_id}" if t.bench_id else ""
        print(f"{t.token_id}  {t.role.value:<10} {state:<8} {expiry:<30} {t.name}{bench}")
    return 0


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a token."""
    with _opened(settings) as store:
        revoke_token(store, args.token_id, CLI_ACTOR)
    print(f"revoked {args.token_id}")
    return 0


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AuthError("the passwords differ")
    return first


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    """Add a supervisor login."""
    password = _read_password(args, sys.stdin)
    with _opened(settings) as store:
        add_user(store, args.username, password, CLI_ACTOR)
    print(f"user {args.username} added (supervisor)")
    return 0


def cmd_user_passwd(settings: Settings, args: argparse.Namespace) -> int:
    """Change a supervisor's password."""
    password = _read_password(args, sys.stdin)
    with _opened(settings) as store:
        set_password(store, args.username, password, CLI_ACTOR)
    print(f"password of {args.username} changed; their sessions were ended")
    return 0


def cmd_user_list(settings: Settings, _: argparse.Namespace) -> int:
    """List supervisor logins: who is disabled (and since when) and how many sessions each has open."""
    with _opened(settings) as store:
        users = list_users(store)
    if not users:
        print("no users; add one with: station user add NAME")
    for u in users:
        state = "active"
        if u.disabled:
            state = "disabled" + ("" if u.disabled_at_ms is None else f" since {_local_time(u.disabled_at_ms)}")
        print(f"{u.username:<20} {state:<38} sessions={u.open_sessions}")
    return 0


def _sessions(n: int) -> str:
    return f"{n} open session{'' if n == 1 else 's'}"


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> int:
    """Disable a supervisor login: no more logins, and their open sessions end at once."""
    with _opened(settings) as store:
        ended = disable_user(store, args.username, CLI_ACTOR)
    print(f"user {args.username} disabled; {_sessions(ended)} ended")
    return 0


def cmd_user_enable(settings: Settings, args: argparse.Namespace) -> int:
    """Let a disabled supervisor log in again (with their old password)."""
    with _opened(settings) as store:
        enable_user(store, args.username, CLI_ACTOR)
    print(f"user {args.username} enabled; they log in again with their password")
    return 0


def cmd_user_delete(settings: Settings, args: argparse.Namespace) -> int:
    """Delete a supervisor login (their events stay in the log); their open sessions end at once."""
    with _opened(settings) as store:
        ended = delete_user(store, args.username, CLI_ACTOR)
    print(f"user {args.username} deleted; {_sessions(ended)} ended")
    return 0


def cmd_operator_add(settings: Settings, args: argparse.Namespace) -> int:
    """Register a badge."""
    store = _open_store(settings)
    try:
        op = add_operator(store, args.badge, args.name, Role(args.role), CLI_ACTOR)
    except ValueError as err:
        raise AuthError(str(err)) from err
    finally:
        store.close()
    print(f"operator {op.badge} ({op.name}) registered as {op.role.value}")
    return 0


def cmd_orders_import(settings: Settings, args: argparse.Namespace) -> int:
    """Import orders from JSON lines, with a report per line."""
    source = sys.stdin if args.file == "-" else Path(args.file).open(encoding="utf-8")  # noqa: SIM115
    store = _open_store(settings)
    counts: dict[str, int] = {}
    try:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as err:
                print(f"line {number}: refused: not JSON ({err.msg} at column {err.colno})")
                counts["refused"] = counts.get("refused", 0) + 1
                continue
            if not isinstance(doc, dict):
                print(f"line {number}: refused: expected a JSON object")
                counts["refused"] = counts.get("refused", 0) + 1
                continue
            result = intake_order(store, doc, CLI_ACTOR, settings.priority)
            counts[result.result] = counts.get(result.result, 0) + 1
            what = result.result + (f" ({result.reason})" if result.reason else "")
            print(f"line {number}: {result.order_id or '?'}: {what}")
            for error in result.errors:
                print(f"    {error}")
    finally:
        store.close()
        if source is not sys.stdin:
            source.close()
    print("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "summary: no orders")
    return 1 if counts.get("refused") else 0


def cmd_orders_dispute(settings: Settings, args: argparse.Namespace) -> int:
    """Flag an order as disputed (or clear the flag): retention keeps its clip and photos meanwhile."""
    with _opened(settings) as store:
        refusal = set_disputed(store, args.order_id, not args.clear, CLI_ACTOR, args.reason)
    if refusal is not None:
        print(f"{args.order_id}: refused: {refusal}")
        return 1
    state = "no longer disputed" if args.clear else "disputed: its clip and photos are kept until cleared"
    print(f"{args.order_id}: {state}")
    return 0


def cmd_db_check(settings: Settings, _: argparse.Namespace) -> int:
    """quick_check, hash chain and seq gaps."""
    path = settings.station.database_path
    if not path.exists():
        print(f"no database at {path}")
        return 1
    store = Store.open(path)
    try:
        problems = 0
        try:
            quick_check(store.conn)
            print("integrity: ok (PRAGMA quick_check)")
        except CorruptDatabaseError as err:
            print(f"integrity: FAILED: {err}")
            problems += 1
        first = store.events_from(1, 1)
        first_seq = first[0]["seq"] if first else 1
        report = verify_chain(_all_events(store, first_seq), store.stream_epoch, first_seq=first_seq)
        print(f"stream epoch {store.stream_epoch}: {report.events} events, head {report.head_hash}")
        if report.gaps:
            problems += 1
            print("seq gaps: " + ", ".join(f"{a}-{b}" for a, b in report.gaps))
        else:
            print("seq: gapless")
        if report.first_bad_seq is not None:
            problems += 1
            print(f"hash chain: BROKEN at seq {report.first_bad_seq} ({report.problem})")
        else:
            print("hash chain: verified")
        missing_end = store.head_problems()
        for problem in missing_end:
            print(f"chain head: EVENTS MISSING AT THE END: {problem}")
        if missing_end:
            problems += 1
        else:
            print("chain head: as recorded (station.head and the hub's acknowledgements)")
        print(f"outbox backlog: {store.backlog()} events not yet acknowledged by the hub")
    finally:
        store.close()
    return 1 if problems else 0


def _all_events(store: Store, first_seq: int) -> list[Envelope]:
    events: list[Envelope] = []
    seq = first_seq
    while batch := store.events_from(seq, 5000):
        events.extend(batch)
        seq = batch[-1]["seq"] + 1
    return events


def cmd_doctor(settings: Settings, _: argparse.Namespace) -> int:
    """What the station sees: configuration, database, clock, disk, devices, broker."""
    findings = diagnose(settings)
    print(write_report(findings))
    return 0 if all(f.ok for f in findings) else 1


def cmd_config_example(_: Settings, __: argparse.Namespace) -> int:
    """Print the documented example configuration."""
    print(render_example(), end="")
    return 0


def _redacted_values(value: object) -> object:
    """The dumped settings with every URL in them redacted (secret fields are already masked by pydantic)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redacted_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted_values(item) for item in value]
    return value


def cmd_config_check(settings: Settings, _: argparse.Namespace) -> int:
    """Validate the configuration (loading it already did) and show the effective values, credentials masked:
    the output is what gets pasted into a ticket."""
    print(json.dumps(_redacted_values(settings.model_dump(mode="json")), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one flat list of every verb reads best
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="station",
        description="Packing Station: the software at a warehouse packing bench.",
        epilog="Start with `station demo` to watch a simulated bench. Docs: README.md.",
    )
    # -c and -v work before or after the verb: `station -c station.toml run` and `station run -c station.toml`.
    config_help = "station.toml (default: $STATION_CONFIG or embedded defaults)"
    parser.add_argument("-c", "--config", type=Path, default=None, help=config_help)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (and, for demo, the log lines)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logging (and, for demo, the log lines)",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(
        name: str,
        func: Callable[[Settings, argparse.Namespace], int],
        help_: str,
        parent: "argparse._SubParsersAction[argparse.ArgumentParser]" = verbs,
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_, description=help_, parents=[common])
        p.set_defaults(func=func)
        return p

    run = verb("run", cmd_run, "run the station service (API, devices, sync)")
    _add_listen_flags(
        run, "data directory: database, clips (over $STATION_DATA and [station] data_dir; default ./station-data)"
    )
    run.add_argument(
        "--recover-empty-db",
        action="store_true",
        help="an empty (0-byte) station.db is refused, since everything in it is gone; with this, keep it aside "
        "as station.db.corrupt-<time>, start a fresh database and raise the database_corrupt alert",
    )
    verb("doctor", cmd_doctor, "what the station sees: database, outbox, clock, disk, devices, broker")
    demo = verb("demo", cmd_demo, "a simulated bench with a scripted packer, narrated; then serves the API")
    _add_listen_flags(
        demo,
        "data directory; the demo database is DIR/demo, recreated on every run (over $STATION_DATA and "
        "[station] data_dir; default ./station-data)",
    )
    demo.add_argument("--no-serve", action="store_true", help="exit after the script instead of serving the API")
    demo.add_argument("--pace", type=float, default=0.4, help="seconds between scans (default 0.4; 0 = no pause)")

    token = verbs.add_parser("token", help="API tokens").add_subparsers(
        dest="token_verb", required=True, metavar="ACTION"
    )
    create = verb("create", cmd_token_create, "create a token (shown once)", token)
    create.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in ApiRole],
        help="bench: posts scans for its --bench; pda: reads the queue; supervisor: orders, actions, alerts; "
        "hub: the central order service",
    )
    create.add_argument("--bench", help="the bench a bench token may post scans for")
    create.add_argument("--name", help="a label, e.g. pda-07")
    create.add_argument(
        "--expires",
        metavar="WHEN",
        help="when the token stops working: 90d, 12h, or an ISO date or date-time such as 2026-12-31 or "
        "2026-12-31T18:00 (local time unless it names its offset; a date alone is the start of that day); "
        "default: never",
    )
    verb("list", cmd_token_list, "list tokens", token)
    revoke = verb("revoke", cmd_token_revoke, "revoke a token at once", token)
    revoke.add_argument("token_id", help="the token id shown by `station token create` or `station token list`")

    user = verbs.add_parser("user", help="supervisor logins").add_subparsers(
        dest="user_verb", required=True, metavar="ACTION"
    )
    for name, func, help_ in (
        ("add", cmd_user_add, "add a supervisor login"),
        ("passwd", cmd_user_passwd, "change a supervisor's password"),
    ):
        p = verb(name, func, help_, user)
        p.add_argument("username", help="the supervisor's login name")
        p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for name, func, help_ in (
        ("disable", cmd_user_disable, "stop a supervisor logging in; their open sessions end at once"),
        ("enable", cmd_user_enable, "let a disabled supervisor log in again"),
        ("delete", cmd_user_delete, "delete a supervisor login; their open sessions end at once"),
    ):
        verb(name, func, help_, user).add_argument("username", help="the supervisor's login name")
    verb("list", cmd_user_list, "list supervisor logins and who is disabled", user)

    operator = verbs.add_parser("operator", help="badges").add_subparsers(
        dest="op_verb", required=True, metavar="ACTION"
    )
    op_add = verb("add", cmd_operator_add, "register a badge (packer or supervisor)", operator)
    op_add.add_argument("badge", help="the badge code, e.g. OP-1001 or SV-2001")
    op_add.add_argument("--name", required=True, help="the person's name, shown on the bench screen")
    op_add.add_argument(
        "--role",
        required=True,
        choices=[Role.PACKER.value, Role.SUPERVISOR.value],
        help="packer: packs orders; supervisor: may also authorise a reopen or an override at the bench",
    )

    orders = verbs.add_parser("orders", help="orders").add_subparsers(
        dest="orders_verb", required=True, metavar="ACTION"
    )
    imp = verb("import", cmd_orders_import, "import orders from a JSON-lines file ('-' = stdin)", orders)
    imp.add_argument("file", help="orders in the wire schema, one JSON object per line ('-' = standard input)")
    dispute = verb("dispute", cmd_orders_dispute, "flag an order as disputed: its video is kept until cleared", orders)
    dispute.add_argument("order_id", help="the order id, e.g. SO20260205-8821")
    dispute.add_argument("--reason", required=True, help="why, e.g. a ticket number or the customer's claim")
    dispute.add_argument("--clear", action="store_true", help="clear the flag (retention applies again)")

    db = verbs.add_parser("db", help="the database").add_subparsers(dest="db_verb", required=True, metavar="ACTION")
    verb("check", cmd_db_check, "integrity check, hash chain and seq gaps", db)

    config = verbs.add_parser("config", help="configuration").add_subparsers(
        dest="cfg_verb", required=True, metavar="ACTION"
    )
    verb("example", cmd_config_example, "print the documented example station.toml", config)
    verb("check", cmd_config_check, "validate the configuration and print the effective values", config)
    add_evidence_verbs(verbs, common)
    add_tls_verbs(verbs, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `station` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        overrides = flag_overrides(args)
    except FlagError as err:
        print(f"station: {err}", file=sys.stderr)
        return EXIT_BAD_USAGE
    try:
        settings = load_settings(args.config, overrides=overrides)
    except ConfigError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        return EXIT_BAD_USAGE
    try:
        return int(args.func(settings, args))
    except AuthError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except StoreError as err:  # the data directory or the database cannot be used: say why, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
