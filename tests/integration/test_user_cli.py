"""`hotline user add` and `hotline user passwd`, run as an administrator runs them: a
subprocess, the password on standard input, exit code 2 for bad input."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import SystemClock
from hotline.db.engine import create_engine
from hotline.db.migrate import upgrade
from hotline.tickets.departments import Departments
from hotline.users.sessions import SessionStore
from hotline.users.store import Role, User, UserStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "热线-passw0rd"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await upgrade(url)
    engine = create_engine(url)
    yield url, engine
    await engine.dispose()


async def hotline(url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}, "HOTLINE_DATABASE_URL": url, "HOTLINE_LOG_FORMAT": "json"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", *args, env=env, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_add_with_a_password_and_a_department_prints_the_token_last(database: tuple[str, AsyncEngine]) -> None:
    url, engine = database
    repair = await Departments(engine, SystemClock()).create("维修部")

    code, out, _ = await hotline(url, "user", "add", "repair1", "--role", "department", "--department", "维修部", "--password-stdin", stdin=f"{PASSWORD}\nignored\n")

    assert code == 0
    users = UserStore(engine)
    user = await users.by_token(out.strip().splitlines()[-1])
    assert user == User(user.id if user else 0, "repair1", Role.DEPARTMENT, None, repair.id)
    assert await users.authenticate("repair1", PASSWORD) == user


async def test_add_without_a_password_still_makes_an_api_user(database: tuple[str, AsyncEngine]) -> None:
    url, engine = database

    code, out, _ = await hotline(url, "user", "add", "agent8001", "--role", "agent", "--extension", "8001", stdin=f"{PASSWORD}\n")

    assert code == 0
    users = UserStore(engine)
    assert await users.by_token(out.strip().splitlines()[-1]) == await users.by_extension("8001")
    assert await users.authenticate("agent8001", PASSWORD) is None


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (("--department", "没有的部门"), "", "no department named '没有的部门'"),
        (("--password-stdin",), "", "no password on standard input"),
        (("--password-stdin",), "short\n", "the password must be 8 to 200 characters (it has 5)"),
        (("--extension", "80x1"), "", "an extension is 2 to 10 digits"),
    ],
)
async def test_bad_input_exits_2_and_adds_nobody(database: tuple[str, AsyncEngine], args: tuple[str, ...], stdin: str, message: str) -> None:
    url, engine = database

    code, out, err = await hotline(url, "user", "add", "someone", "--role", "agent", *args, stdin=stdin)

    assert code == 2
    assert message in err
    assert list(await UserStore(engine).list()) == []


async def test_passwd_sets_the_password_and_ends_the_users_sessions(database: tuple[str, AsyncEngine]) -> None:
    url, engine = database
    users, sessions = UserStore(engine), SessionStore(engine, SystemClock())
    user, _ = await users.add("agent8001", "agent", password=PASSWORD)
    token, _ = await sessions.create(user.id)

    code, out, _ = await hotline(url, "user", "passwd", "agent8001", stdin="新的密码-2026\n")

    assert code == 0
    assert "1 session(s) ended" in out
    assert await sessions.resolve(token) is None
    assert await users.authenticate("agent8001", PASSWORD) is None
    assert await users.authenticate("agent8001", "新的密码-2026") == user


@pytest.mark.parametrize("name, stdin, message", [("nobody", "新的密码-2026\n", "no user named 'nobody'"), ("agent8001", "\n", "no password on standard input")])
async def test_passwd_refuses_an_unknown_name_or_no_password(database: tuple[str, AsyncEngine], name: str, stdin: str, message: str) -> None:
    url, engine = database
    await UserStore(engine).add("agent8001", "agent", password=PASSWORD)

    code, _, err = await hotline(url, "user", "passwd", name, stdin=stdin)

    assert (code, message in err) == (2, True)
    assert await UserStore(engine).authenticate("agent8001", PASSWORD) is not None
