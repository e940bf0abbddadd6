"""Customers CSV import and export on SQLite and PostgreSQL, in-process and through the CLI."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db.tables import users
from hotline.routing.csvio import export_csv, import_csv
from hotline.routing.customers import CustomerDraft, PhoneNumber
from hotline.routing.directory import CustomerDirectory
from hotline.routing.tables import customer_numbers, customers
from hotline.users.store import UserStore

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "customers.csv"
HEADER = "external_ref,name,tier,area,numbers,account_manager,notes\n"


@pytest.fixture
async def directory(engine: AsyncEngine) -> AsyncIterator[CustomerDirectory]:
    for name, extension in (("王经理", "8009"), ("李经理", "8010")):
        user, _ = await UserStore(engine).add(name, "agent")
        async with engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == user.id).values(extension=extension))
    directory = CustomerDirectory(engine)
    yield directory
    await directory.aclose()


async def count(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        people = (await conn.execute(select(func.count()).select_from(customers))).scalar_one()
        numbers = (await conn.execute(select(func.count()).select_from(customer_numbers))).scalar_one()
    return people, numbers


async def export_text(directory: CustomerDirectory) -> str:
    out = io.StringIO(newline="")
    await export_csv(directory, out)
    return out.getvalue()


async def test_the_sample_file_imports_and_its_callers_are_recognised(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    report = await import_csv(directory, SAMPLE.read_bytes(), skip_bad=False)
    assert (report.created, report.updated, report.skipped, report.problems, report.written) == (7, 0, 0, (), True)
    hospital = await directory.lookup("0827 5551235")
    assert hospital is not None and (hospital.name, hospital.tier, hospital.account_manager_extension) == ("巴中市人民医院", "key_account", "8009")
    government = await directory.lookup("8001")
    assert government is not None and (government.name, government.tier, government.area) == ("巴中市政务服务中心", "key_account", "urban")
    assert await count(engine) == (7, 11)


async def test_re_importing_updates_and_never_duplicates(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    await import_csv(directory, SAMPLE.read_bytes(), skip_bad=False)
    before = await count(engine)
    changed = SAMPLE.read_text(encoding="utf-8").replace("张三,vip", "张三（改）,vip").replace(",赵六,", ",赵六（改）,")
    report = await import_csv(directory, changed.encode(), skip_bad=False)
    assert (report.created, report.updated, report.skipped) == (0, 7, 0)
    assert await count(engine) == before
    zhang, zhao = await directory.lookup("13912345678"), await directory.lookup("5555000")
    assert zhang is not None and zhang.name == "张三（改）"
    assert zhao is not None and zhao.name == "赵六（改）"


async def test_any_bad_row_writes_nothing_and_each_is_reported_by_line(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    await directory.create(CustomerDraft("已有客户", "vip", "urban", [PhoneNumber("13700000000")], external_ref="OLD"))
    text = HEADER + "\n".join(
        [
            "N-1,好客户,vip,urban,13912345678,,",
            "N-2,坏等级,gold,urban,13912345679,,",
            "N-3,坏区域,vip,moon,13912345670,,",
            "N-4,坏号码,vip,urban,139-1234-567x,,",
            "N-5,没经理,key_account,urban,13912345671,赵经理,",
            "N-6,重号,vip,urban,139 1234 5678,,",
            "N-7,别人的号,vip,urban,137 0000 0000,,",
            "N-8,,vip,urban,13912345672,,",
            "N-9,又一个好客户,大客户,城网,13912345673,王经理,",
        ]
    )
    report = await import_csv(directory, text.encode(), skip_bad=False)
    assert not report.written
    assert [str(p).split(":")[0] for p in report.problems] == [f"line {n}" for n in range(3, 10)]
    reasons = "\n".join(map(str, report.problems))
    for expected in ("tier 'gold'", "area 'moon'", "'139-1234-567x' is not a phone number", "unknown account manager '赵经理'",
                     "number 139 1234 5678 is also on line 2", "number 137 0000 0000 belongs to customer #1 已有客户", "line 9: the name is missing"):
        assert expected in reasons
    assert await count(engine) == (1, 1)

    skipping = await import_csv(directory, text.encode(), skip_bad=True)
    assert (skipping.created, skipping.updated, skipping.skipped, skipping.written) == (2, 0, 7, True)
    assert await count(engine) == (3, 3)


async def test_export_then_import_gives_the_same_directory(engine: AsyncEngine, directory: CustomerDirectory) -> None:
    await import_csv(directory, SAMPLE.read_bytes(), skip_bad=False)
    await directory.create(CustomerDraft('Quote "Q", Comma', "regular", "urban", [PhoneNumber("+1 650 253 0000", "美国")], notes="line one\nline two, with comma"))
    first = await export_text(directory)
    assert first.startswith(HEADER.strip() + "\r\n")
    assert "巴中市人民医院,key_account,urban,0827 555 1234; 0827 555 1235; 139 0827 0001,王经理" in first

    same = await import_csv(directory, first.encode(), skip_bad=False)
    assert (same.created, same.updated, same.skipped) == (0, 8, 0)
    assert await export_text(directory) == first

    async with engine.begin() as conn:
        await conn.execute(delete(customers))
    fresh = await import_csv(directory, first.encode("utf-8-sig"), skip_bad=False)
    assert (fresh.created, fresh.updated) == (8, 0)
    assert await export_text(directory) == first


def cli_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return env | {"HOTLINE_DATABASE_URL": db_url, "HOTLINE_LOG_FORMAT": "json"}


async def hotline(db_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", *args, env=cli_env(db_url) | env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_import_refuses_a_bad_file_then_skips_bad_rows_on_request(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "A,张三,vip,urban,13912345678,,\nB,李四,gold,urban,13912345679,,\n", encoding="utf-8-sig")
    code, out, err = await hotline(db_url, "customers", "import", str(path))
    assert code == 1 and out == ""
    assert "line 3: tier 'gold' is not one of" in err and "nothing imported: 1 bad row(s)" in err
    code, out, err = await hotline(db_url, "customers", "import", str(path), "--skip-bad")
    assert code == 0, err
    assert out.strip() == "created 1, updated 0, skipped 1"
    code, out, _ = await hotline(db_url, "customers", "import", str(path), "--skip-bad")
    assert out.strip() == "created 0, updated 1, skipped 1"


async def test_cli_exports_to_a_file_for_excel_and_to_standard_output(db_url: str, directory: CustomerDirectory, tmp_path: Path) -> None:
    assert (await hotline(db_url, "customers", "import", str(SAMPLE)))[1].strip() == "created 7, updated 0, skipped 0"
    code, out, err = await hotline(db_url, "customers", "export", str(tmp_path / "out.csv"))
    assert code == 0 and "exported 7 customer(s)" in err
    written = (tmp_path / "out.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbfexternal_ref,name,")
    code, out, _ = await hotline(db_url, "customers", "export")
    assert code == 0 and out.splitlines()[0] == HEADER.strip() and "巴中市人民医院" in out
    assert written.decode("utf-8-sig").splitlines() == out.splitlines()


async def test_cli_says_when_the_file_cannot_be_read(db_url: str, tmp_path: Path) -> None:
    code, _, err = await hotline(db_url, "customers", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "cannot read" in err and "missing.csv" in err


async def test_cli_gives_local_numbers_the_configured_area_code(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "chengdu.csv"
    path.write_text(HEADER + "C-1,成都客户,vip,urban,8765 4321,,\n", encoding="utf-8")
    code, _, err = await hotline(db_url, "customers", "import", str(path), HOTLINE_ROUTING_DEFAULT_AREA_CODE="028")
    assert code == 0, err
    _, out, _ = await hotline(db_url, "customers", "export")
    assert "C-1,成都客户,vip,urban,028 8765 4321,," in out
