"""The `hotline` command: parses arguments and calls into the service. Nothing else."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TextIO, TypeVar

import structlog

from hotline.config import Settings, describe, load_settings
from hotline.errors import BadRequest, ConfigError, HotlineError, NotFound
from hotline.logs import configure_logging

if TYPE_CHECKING:
    from hotline.routing.directory import CustomerDirectory
    from hotline.users.sessions import SessionStore
    from hotline.users.store import UserStore

log = structlog.get_logger("hotline.cli")
_T = TypeVar("_T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="The 96655 hotline service.")
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file (default: $HOTLINE_CONFIG, else built-in defaults)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the service (applies database migrations first)")
    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations")
    commands.add_parser("check-config", help="validate the configuration and print the effective settings")
    demo = commands.add_parser("demo", help="the whole product with a simulated PBX, seeded people and customers and a steady mix of calls; prints the URL and the log-ins")
    demo.add_argument("--speed", type=_speed, default=1.0, help="the service's clock runs this many times faster (e.g. 30: a 10-minute deadline passes in 20 s); default 1")
    demo.add_argument("--every", type=_speed, default=8.0, help="seconds between calls, about (default 8)")
    doctor = commands.add_parser("doctor", help="log in to Asterisk's AMI as the service does and check the manager user's rights; exit 1 names what to fix")
    doctor.add_argument("--no-probe", action="store_true", help="place no test call and add no placeholder queue member (the read classes call, agent and dialplan are then not checked)")
    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a user; prints a new API token as the last line")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["agent", "department", "supervisor", "admin"])
    add.add_argument("--extension", help="the agent's phone extension, e.g. 8001: answered calls become this user's tickets")
    add.add_argument("--department", metavar="NAME", help="the department the user is staff of (it must exist)")
    add.add_argument("--password-stdin", action="store_true", help="read a console password from standard input's first line")
    passwd = user.add_parser("passwd", help="set a user's console password from standard input's first line; ends their sessions")
    passwd.add_argument("name")
    customers = commands.add_parser("customers", help="the customer directory (CSV format: docs/customers.md)")
    customer_commands = customers.add_subparsers(dest="customers_command", required=True)
    load = customer_commands.add_parser("import", help="create or update customers from a CSV file; any bad row: nothing is written")
    load.add_argument("file", metavar="FILE")
    load.add_argument("--skip-bad", action="store_true", help="write the good rows and skip the bad ones")
    export = customer_commands.add_parser("export", help="write every customer as CSV, in the format import reads")
    export.add_argument("file", metavar="FILE", nargs="?", help="the file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print("hotline: the configuration is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    configure_logging(format=settings.log.format, level=settings.log.level)
    try:
        return _COMMANDS[args.command](settings, args)
    except HotlineError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.app import serve

    return _until_signalled(lambda stop: serve(settings, stop))


def _until_signalled(service: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `service` until SIGTERM or SIGINT sets its stop event; 1 if a part crashed."""
    from hotline.app import TaskCrashed

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service(stop)

    try:
        asyncio.run(_main())
    except TaskCrashed:
        return 1
    return 0


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.db.migrate import upgrade_sync

    upgrade_sync(settings.database.url)
    print("database is at the latest revision")
    return 0


def _check_config(settings: Settings, args: argparse.Namespace) -> int:
    print(json.dumps(describe(settings), indent=2, ensure_ascii=False))
    print("configuration OK")
    return 0


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text} must be above 0 and at most 10000")
    return value


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.demo.run import run_demo

    return _until_signalled(lambda stop: run_demo(settings, stop, speed=args.speed, every=args.every))


def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.doctor import examine

    if not settings.ami.host:
        print("hotline doctor: ami.host 未设置，服务会运行内置的演示 PBX，没有 Asterisk 可检查 / ami.host is not set: the service would run the built-in demo PBX, there is no Asterisk to check (set ami.host or HOTLINE_AMI_HOST)", file=sys.stderr)
        return 2
    report = asyncio.run(examine(settings.ami, settings.floor.login_queues, probe=not args.no_probe))
    print(report.render())
    return 0 if report.healthy else 1


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.db.migrate import upgrade_sync

    try:
        password = _password_from_stdin() if args.user_command == "passwd" or args.password_stdin else None
        upgrade_sync(settings.database.url)
        if args.user_command == "passwd":
            asyncio.run(_with_users(settings, lambda users, sessions: _set_password(users, sessions, args.name, password or "")))
            return 0
        print(asyncio.run(_with_users(settings, lambda users, _: _add_user(users, args, password))))
    except (BadRequest, NotFound) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    return 0


def _password_from_stdin() -> str:
    """The first line of standard input, without its line end (spaces are the password's)."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise BadRequest("no password on standard input: give it as the first line, e.g. from a password manager")
    return line


async def _add_user(users: UserStore, args: argparse.Namespace, password: str | None) -> str:
    department_id = await _department_id(users, args.department) if args.department else None
    user, token = await users.add(args.name, args.role, extension=args.extension, password=password, department_id=department_id)
    print(f"user {user.name!r} added with role {user.role.value}; API token (shown once):")
    return token


async def _department_id(users: UserStore, name: str) -> int:
    from hotline.tickets.departments import find

    async with users.engine.connect() as conn:
        found = await find(conn, name)
    if found is None:
        raise BadRequest(f"no department named {name!r}; create it first (POST /api/departments)", department=name)
    return found[0]


async def _set_password(users: UserStore, sessions: SessionStore, name: str, password: str) -> None:
    user = await users.by_name(name)
    if user is None:
        raise NotFound(f"no user named {name!r}", name=name)
    await users.set_password(user.id, password)
    ended = await sessions.end_all_of(user.id)
    print(f"password of {user.name!r} changed; {ended} session(s) ended")


async def _with_users(settings: Settings, use: Callable[[UserStore, SessionStore], Awaitable[_T]]) -> _T:
    from hotline.clock import SystemClock
    from hotline.db.engine import create_engine
    from hotline.users.sessions import SessionStore
    from hotline.users.store import UserStore

    engine = create_engine(settings.database.url)
    try:
        clock = SystemClock()
        return await use(UserStore(engine, clock), SessionStore(engine, clock))
    finally:
        await engine.dispose()


def _customers(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.db.migrate import upgrade_sync

    upgrade_sync(settings.database.url)
    if args.customers_command == "import":
        return _import_customers(settings, _read(args.file), skip_bad=args.skip_bad)
    if args.file is None:
        return _export_customers(settings, sys.stdout)
    # With a BOM, so Excel shows the Chinese names; import drops it again.
    with open(args.file, "w", encoding="utf-8-sig", newline="") as out:
        return _export_customers(settings, out)


def _import_customers(settings: Settings, data: bytes, *, skip_bad: bool) -> int:
    from hotline.routing.csvio import import_csv

    report = asyncio.run(_with_directory(settings, lambda directory: import_csv(directory, data, skip_bad=skip_bad)))
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if not report.written:
        print(f"nothing imported: {report.skipped} bad row(s); fix them, or give --skip-bad to import the rest", file=sys.stderr)
        return 1
    print(f"created {report.created}, updated {report.updated}, skipped {report.skipped}")
    return 0


def _export_customers(settings: Settings, out: TextIO) -> int:
    from hotline.routing.csvio import export_csv

    count = asyncio.run(_with_directory(settings, lambda directory: export_csv(directory, out)))
    # On stderr: standard output holds nothing but the CSV.
    print(f"exported {count} customer(s)", file=sys.stderr)
    return 0


async def _with_directory(settings: Settings, use: Callable[[CustomerDirectory], Awaitable[_T]]) -> _T:
    from hotline.db.engine import create_engine
    from hotline.routing.directory import CustomerDirectory

    engine = create_engine(settings.database.url)
    try:
        return await use(CustomerDirectory(engine, default_area_code=settings.routing.default_area_code))
    finally:
        await engine.dispose()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None


_COMMANDS = {"run": _run, "db": _db, "check-config": _check_config, "demo": _demo, "doctor": _doctor, "user": _user, "customers": _customers}
