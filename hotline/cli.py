"""The `hotline` command: parses arguments and calls into the service. Nothing else."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

import structlog

from hotline.config import Settings, describe, load_settings
from hotline.errors import ConfigError, HotlineError
from hotline.logs import configure_logging

log = structlog.get_logger("hotline.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="The 96655 hotline service.")
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file (default: $HOTLINE_CONFIG, else built-in defaults)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the service (applies database migrations first)")
    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the Alembic migrations")
    commands.add_parser("check-config", help="validate the configuration and print the effective settings")
    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a user; prints a new API token as the last line")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["agent", "department", "supervisor", "admin"])
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
    from hotline.app import TaskCrashed, serve

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

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


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.db.engine import create_engine
    from hotline.db.migrate import upgrade_sync
    from hotline.users.store import UserStore

    upgrade_sync(settings.database.url)

    async def _add() -> str:
        engine = create_engine(settings.database.url)
        try:
            user, token = await UserStore(engine).add(args.name, args.role)
        finally:
            await engine.dispose()
        print(f"user {user.name!r} added with role {user.role.value}; API token (shown once):")
        return token

    print(asyncio.run(_add()))
    return 0


_COMMANDS = {"run": _run, "db": _db, "check-config": _check_config, "user": _user}
