"""Customers as CSV, the format docs/customers.md describes: read a file into import rows
with every bad row's line and reason, and write the directory back in the same format."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from hotline.errors import BadRequest
from hotline.routing.customers import Customer, CustomerDraft, ImportReport, ImportRow, InvalidCustomer, PhoneNumber, RowProblem, validate
from hotline.routing.directory import CustomerDirectory
from hotline.routing.numbers import for_display

COLUMNS = ("external_ref", "name", "tier", "area", "numbers", "account_manager", "notes")
REQUIRED = ("name", "tier", "area", "numbers")
# ASCII and full-width ; and /, and the Chinese enumeration comma, as people type lists.
_NUMBER_SEPARATORS = re.compile(r"[;/；／、]")


@dataclass(frozen=True, slots=True)
class CsvFile:
    rows: tuple[ImportRow, ...]
    problems: tuple[RowProblem, ...]


def decode(data: bytes) -> str:
    """UTF-8 text; the byte-order mark Excel writes is dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadRequest(
            f"line {line}: the file is not UTF-8; in Excel save it as 'CSV UTF-8 (逗号分隔)'", line=line
        ) from None


def read_customers(text: str, *, default_area_code: str) -> CsvFile:
    """The file's rows ready to import, and every bad row's problems (pure)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(next((fields for fields in reader if any(f.strip() for f in fields)), None), reader.line_num)
    rows: list[ImportRow] = []
    problems: list[RowProblem] = []
    start = reader.line_num + 1
    for fields in reader:
        # A quoted note may span lines: a row is numbered by the line it starts on.
        line, start = start, reader.line_num + 1
        if any(field.strip() for field in fields):
            row, found = _row(line, header, fields, default_area_code)
            rows.extend([row] if row else [])
            problems.extend(RowProblem(line, reason) for reason in found)
    return CsvFile(tuple(rows), tuple(problems))


def split_numbers(cell: str) -> list[str]:
    return [part.strip() for part in _NUMBER_SEPARATORS.split(cell) if part.strip()]


def _header(fields: Sequence[str] | None, line: int) -> list[str]:
    if fields is None:
        raise BadRequest(f"the file is empty; its first line is the header: {','.join(COLUMNS)}")
    names = [field.strip().lower() for field in fields]
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in names]
    doubled = sorted({name for name in names if names.count(name) > 1})
    problems = [f"unknown column {name!r}" for name in unknown] + [f"missing column {name!r}" for name in missing]
    problems += [f"column {name!r} appears twice" for name in doubled]
    if problems:
        raise BadRequest(f"line {line}: {'; '.join(problems)}; the columns are: {','.join(COLUMNS)}", problems=problems)
    return names


def _row(line: int, header: list[str], fields: list[str], default_area_code: str) -> tuple[ImportRow | None, list[str]]:
    if len(fields) > len(header):
        return None, [f"{len(fields)} fields, but the header has {len(header)} columns (quote a value that holds a comma)"]
    cells = dict.fromkeys(COLUMNS, "") | dict(zip(header, fields, strict=False))
    draft = CustomerDraft(
        name=cells["name"],
        tier=cells["tier"],
        area=cells["area"],
        numbers=[PhoneNumber(number) for number in split_numbers(cells["numbers"])],
        notes=cells["notes"],
        external_ref=cells["external_ref"],
    )
    try:
        data = validate(draft, default_area_code=default_area_code)
    except InvalidCustomer as exc:
        return None, exc.problems
    return ImportRow(line, data, cells["account_manager"].strip() or None), []


async def import_csv(directory: CustomerDirectory, data: bytes, *, skip_bad: bool) -> ImportReport:
    """Import a CSV file: all rows or none, unless `skip_bad` leaves the bad ones out."""
    parsed = read_customers(decode(data), default_area_code=directory.default_area_code)
    return await directory.import_rows(parsed.rows, skip_bad=skip_bad, problems=parsed.problems)


def _fields(customer: Customer) -> list[str]:
    # Numbers as people read them: Excel keeps "139 1234 5678" as text, but would turn
    # 13912345678 or +8613912345678 into 1.39E+10.
    numbers = "; ".join(for_display(n.number) for n in customer.numbers)
    return [customer.external_ref or "", customer.name, customer.tier, customer.area, numbers, customer.account_manager or "", customer.notes]


async def export_csv(directory: CustomerDirectory, out: TextIO) -> int:
    """Write every customer, header first; returns how many were written."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    async for customer in directory.every_customer():
        writer.writerow(_fields(customer))
        count += 1
    return count
