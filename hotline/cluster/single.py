"""SQLite serves one instance: a second `hotline run` on the same database file is refused
at start with a message that says why and what to do (PostgreSQL for several). The lock
is the operating system's (flock on a file beside the database): it goes away with the
process however it ends, kill -9 included, so a crash never leaves a stale lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from hotline.errors import HotlineError


class AnotherInstance(HotlineError):
    """Another hotline instance is running on this SQLite database."""

    error_id = "another_instance"


class InstanceLock:
    def __init__(self, handle: IO[str] | None) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def hold_single_instance(database_url: str) -> InstanceLock:
    """For a SQLite file: this process's claim to it, or AnotherInstance. PostgreSQL (and an
    in-memory SQLite database) need none."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        return InstanceLock(None)
    path = Path(url.database).resolve().with_name(Path(url.database).name + ".instance-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise AnotherInstance(
            f"another hotline instance (pid {holder}) is running on the SQLite database {url.database}: "
            "SQLite serves one instance only. Stop that one first, or run several instances on one "
            "PostgreSQL database (HOTLINE_DATABASE_URL=postgresql+asyncpg://...)",
            database=str(url.database), holder=holder,
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return InstanceLock(handle)
