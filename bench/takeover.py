"""AMI takeover benchmark: N `hotline run` processes on one fresh PostgreSQL database and the
PBX double; the AMI owner is SIGKILLed again and again. Prints takeover p50, p99 and max
against the configured limit.

    .venv/bin/python bench/takeover.py [--kills 20] [--instances 3] [--takeover-seconds 10]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Target (issue "Several instances"): every takeover within HOTLINE_CLUSTER_TAKEOVER_SECONDS
(T) over at least 20 kills.

Each round waits a random part of one renewal interval, so the kills fall at every point
between two renewals. Then it SIGKILLs the instance whose /healthz says owner and connected.
`takeover` runs from the kill to the first /healthz of a survivor saying owner and connected
(every survivor is polled every 15 ms). `login` runs from the kill to the PBX double counting
a new successful AMI login. The double runs in this process, so it sees the login when it
happens. The killed instance is then started again on its ports, so N keep running.

How to read the figures: the lease runs 0.6 T and its owner renews it every 0.2 T. At the
kill, between 0.4 T and 0.6 T of it is left. A survivor sees it free at its next look,
every 0.1 T. Then it restores the calls from the store, and its AMI client connects and logs
in (a few ms against the double). So takeover ~ lease left (0.4-0.6 T) + wait for a look
(0-0.1 T) + AMI login: 0.4-0.7 T, e.g. 4-7 s at T = 10 s. With several survivors the
first one to look wins, so the look adds less. `login` is a few ms under `takeover`
because /healthz says connected only after the login. A max near 0.7 T is the design;
over T is a fault. With 20 kills, p99 lies between the two largest figures.

Exits 1 when a takeover took longer than T, and 2 when PostgreSQL does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from hotline.db.migrate import upgrade  # noqa: E402
from hotline.testing.pbx import PbxDouble  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POLL = 0.015  # seconds between two looks at the survivors' /healthz
SECRET = "bench"
START_TIMEOUT = 30.0  # a `hotline run` answering /healthz, from its start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """One `hotline run` process, restartable on the same ports."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['HOTLINE_WEB_PORT']}/healthz"

    async def start(self, http: aiohttp.ClientSession) -> None:
        log = self.log_path.open("ab")
        self._logs.append(log)
        # A session of its own: a Ctrl-C reaches the bench only, which then stops them in order.
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hotline", "run", env=self.env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
        async with asyncio.timeout(START_TIMEOUT):
            while (health := await self.health(http)) is None or not health["database"]["reachable"]:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log_path.read_text()[-2000:]}")
                await asyncio.sleep(0.05)

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        try:
            async with http.get(self.url) as response:
                return await response.json()  # type: ignore[no-any-return]
        except (aiohttp.ClientError, TimeoutError):  # not listening yet, or killed
            return None

    async def stop(self) -> None:
        """SIGTERM (it gives its lease back), SIGKILL if it is still there after 10 s."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for log in self._logs:
            log.close()


async def admin(server: str) -> asyncpg.Connection:
    return await asyncpg.connect(server, timeout=5)


async def fresh_database(server: str) -> str:
    """A new, empty database on `server`: its SQLAlchemy URL."""
    name = f"hotline_bench_takeover_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await admin(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlsplit(server)._replace(scheme="postgresql+asyncpg", path=f"/{name}").geturl()


async def drop_database(server: str, url: str) -> None:
    conn = await admin(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


async def owner_among(http: aiohttp.ClientSession, instances: list[Instance]) -> Instance | None:
    """The one instance saying owner and connected; None while none does."""
    healths = await asyncio.gather(*(i.health(http) for i in instances))
    owners = [i for i, h in zip(instances, healths, strict=True) if h is not None and h["ami"]["owner"] and h["ami"]["connected"]]
    if len(owners) > 1:
        raise RuntimeError(f"two owners at once: {[o.name for o in owners]}")
    return owners[0] if owners else None


async def first_login(pbx: PbxDouble, before: int) -> float:
    """time.monotonic() when the double counts a login past `before`."""
    while pbx.logins <= before:
        await asyncio.sleep(0.002)
    return time.monotonic()


async def kill_and_time(http: aiohttp.ClientSession, pbx: PbxDouble, instances: list[Instance], owner: Instance, limit: float) -> tuple[float, float, Instance]:
    """SIGKILL the owner; (seconds to a survivor's owner+connected, seconds to the double's
    login, the new owner)."""
    assert owner.process is not None
    survivors = [i for i in instances if i is not owner]
    login = asyncio.create_task(first_login(pbx, pbx.logins))
    killed_at = time.monotonic()
    owner.process.send_signal(signal.SIGKILL)
    try:
        async with asyncio.timeout(3 * limit + 10):
            while (new_owner := await owner_among(http, survivors)) is None:
                await asyncio.sleep(POLL)
            took = time.monotonic() - killed_at
            logged_in = await login - killed_at
    finally:
        login.cancel()
    await owner.process.wait()
    return took, logged_in, new_owner


async def measure(args: argparse.Namespace, pbx: PbxDouble, instances: list[Instance]) -> tuple[list[float], list[float]]:
    rng = random.Random(96655)
    takeovers: list[float] = []
    logins: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        for instance in instances:
            await instance.start(http)
        for round_ in range(1, args.kills + 1):
            async with asyncio.timeout(3 * args.takeover_seconds + 10):
                while (owner := await owner_among(http, instances)) is None:
                    await asyncio.sleep(POLL)
            await asyncio.sleep(rng.uniform(0, 0.2 * args.takeover_seconds))  # any point between two renewals
            took, logged_in, new_owner = await kill_and_time(http, pbx, instances, owner, args.takeover_seconds)
            takeovers.append(took)
            logins.append(logged_in)
            print(f"  kill {round_:>3}: {owner.name} -> {new_owner.name}  takeover {took:6.3f} s  login {logged_in:6.3f} s", flush=True)
            await owner.start(http)
    return takeovers, logins


def quantiles(figures: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max."""
    cuts = statistics.quantiles(figures, n=100, method="inclusive") if len(figures) > 1 else figures * 99
    return cuts[49], cuts[98], max(figures)


def report(args: argparse.Namespace, takeovers: list[float], logins: list[float]) -> bool:
    within = all(t <= args.takeover_seconds for t in takeovers)
    t = args.takeover_seconds
    print()
    print(f"{'':<30}{'p50':>9}{'p99':>9}{'max':>9}")
    for label, figures in (("takeover (healthz) s", takeovers), ("AMI login at the PBX s", logins)):
        print(f"{label:<30}" + "".join(f"{q:>9.3f}" for q in quantiles(figures)))
    print(f"kills: {len(takeovers)}; instances: {args.instances}; limit (takeover_seconds): {t:g} s")
    print(f"expected: lease left {0.4 * t:g}-{0.6 * t:g} s + a look 0-{0.1 * t:g} s + login: {0.4 * t:g}-{0.7 * t:g} s and a few ms")
    print(f"every takeover within {t:g} s: {'yes' if within else 'NO'}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    return within


def environment(pbx_port: int, url: str, name: str, takeover: float) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_HOST": "127.0.0.1", "HOTLINE_AMI_PORT": str(pbx_port), "HOTLINE_AMI_SECRET": SECRET,
        "HOTLINE_DATABASE_URL": url, "HOTLINE_WEB_PORT": str(free_port()), "HOTLINE_ROUTING_AGI_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json", "HOTLINE_CLUSTER_TAKEOVER_SECONDS": str(takeover), "HOTLINE_CLUSTER_INSTANCE_NAME": name,
        "HOTLINE_CALLBACKS_ENABLED": "false",
    }  # fmt: skip


async def run(args: argparse.Namespace, tmp: Path) -> bool:
    url = await fresh_database(args.postgres)
    pbx = PbxDouble(secret=SECRET)
    instances: list[Instance] = []
    try:
        await upgrade(url)
        port = await pbx.start()
        instances = [Instance(f"instance-{n}", environment(port, url, f"instance-{n}", args.takeover_seconds), tmp / f"instance-{n}.log") for n in range(args.instances)]
        takeovers, logins = await measure(args, pbx, instances)
    finally:
        await asyncio.gather(*(i.stop() for i in instances), return_exceptions=True)
        await pbx.stop()
        await drop_database(args.postgres, url)
    return report(args, takeovers, logins)


async def reachable(server: str) -> str | None:
    """Why PostgreSQL cannot serve the bench, or None when it can."""
    try:
        await (await admin(server)).close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def main_async(args: argparse.Namespace, tmp: Path) -> int:
    if (why := await reachable(args.postgres)) is not None:
        print(f"PostgreSQL does not answer at {urlsplit(args.postgres).netloc} ({why}); start it or pass --postgres URL", file=sys.stderr)
        return 2
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # cleaned up as on Ctrl-C
    return 0 if await run(args, tmp) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="owners killed (one takeover each)")
    parser.add_argument("--instances", type=int, default=3, help="`hotline run` processes kept running")
    parser.add_argument("--takeover-seconds", type=float, default=10.0, help="HOTLINE_CLUSTER_TAKEOVER_SECONDS, the limit judged")
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test", help="a PostgreSQL server to create (and drop) a fresh database on")
    args = parser.parse_args()
    if args.instances < 2 or args.kills < 1:
        parser.error("--instances must be at least 2 and --kills at least 1")
    print(f"{args.instances} `hotline run` processes on a fresh PostgreSQL database at {urlsplit(args.postgres).netloc}; PBX double in this process; takeover_seconds {args.takeover_seconds:g}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            code = asyncio.run(main_async(args, Path(tmp)))
        except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, SIGTERM: run() has cleaned up
            print("interrupted", file=sys.stderr)
            code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
