"""The directory's values and rules (pure): tiers and areas, validating a customer, and
planning an import against what the database already holds."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from hotline.errors import BadRequest
from hotline.routing.numbers import BadNumber, for_display, normalise


class Tier(enum.StrEnum):
    VIP = "vip"
    KEY_ACCOUNT = "key_account"
    PRIVATE_NETWORK = "private_network"
    REGULAR = "regular"


class Area(enum.StrEnum):
    URBAN = "urban"
    SUBURBAN = "suburban"
    RURAL = "rural"


# The service standard's own words, as the operator's spreadsheets write them.
_TIER_WORDS = {"贵宾": Tier.VIP, "大客户": Tier.KEY_ACCOUNT, "集团大客户": Tier.KEY_ACCOUNT, "专网": Tier.PRIVATE_NETWORK, "普通": Tier.REGULAR}
_AREA_WORDS = {"城网": Area.URBAN, "城郊": Area.SUBURBAN, "农网": Area.RURAL}
_TIERS = {tier.value: tier for tier in Tier} | _TIER_WORDS
_AREAS = {area.value: area for area in Area} | _AREA_WORDS
_MAX_NAME, _MAX_NOTES, _MAX_REF, _MAX_LABEL = 200, 4000, 64, 80
# Names and refs reach AGI variables and screen pops, where a line break would split a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _word(value: str) -> str:
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def parse_tier(value: str) -> Tier | None:
    """The tier a word names (`vip`, `Key account`, `大客户` ...), or None."""
    return _TIERS.get(_word(value))


def parse_area(value: str) -> Area | None:
    """The network area a word names (`urban`, `城网` ...), or None."""
    return _AREAS.get(_word(value))


class InvalidCustomer(BadRequest):
    """The customer is not valid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems), problems=problems)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    number: str
    label: str | None = None  # None: keep the label the number has; "": clear it


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    """A customer as given (REST body, CSV row), before validation."""

    name: str
    tier: str
    area: str
    numbers: Sequence[PhoneNumber]
    account_manager_id: int | None = None
    notes: str = ""
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerData:
    """A valid customer: canonical numbers, known tier and area."""

    name: str
    tier: Tier
    area: Area
    numbers: tuple[PhoneNumber, ...]
    account_manager_id: int | None = None
    notes: str = ""
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    tier: str
    area: str
    numbers: tuple[PhoneNumber, ...]
    account_manager_id: int | None
    account_manager: str | None
    notes: str
    external_ref: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    customers: tuple[Customer, ...]
    total: int


def validate(draft: CustomerDraft, *, default_area_code: str) -> CustomerData:
    """The draft made canonical, or InvalidCustomer naming every problem at once."""
    problems: list[str] = []
    name = draft.name.strip()
    if not name:
        problems.append("the name is missing")
    elif len(name) > _MAX_NAME or _CONTROL.search(name):
        problems.append(f"the name must be at most {_MAX_NAME} characters (no line breaks)")
    tier, area = parse_tier(draft.tier), parse_area(draft.area)
    if tier is None:
        problems.append(f"tier {draft.tier!r} is not one of: {', '.join(Tier)} (or {', '.join(_TIER_WORDS)})")
    if area is None:
        problems.append(f"area {draft.area!r} is not one of: {', '.join(Area)} (or {', '.join(_AREA_WORDS)})")
    numbers = _numbers(draft.numbers, default_area_code, problems)
    ref = (draft.external_ref or "").strip() or None
    if ref is not None and (len(ref) > _MAX_REF or _CONTROL.search(ref)):
        problems.append(f"external_ref must be at most {_MAX_REF} characters (no line breaks)")
    if len(draft.notes) > _MAX_NOTES:
        problems.append(f"notes must be at most {_MAX_NOTES} characters")
    if problems or tier is None or area is None:
        raise InvalidCustomer(problems)
    return CustomerData(name, tier, area, numbers, draft.account_manager_id, draft.notes.strip(), ref)


def _numbers(given: Sequence[PhoneNumber], default_area_code: str, problems: list[str]) -> tuple[PhoneNumber, ...]:
    numbers: dict[str, PhoneNumber] = {}
    for entry in given:
        try:
            canonical = normalise(entry.number, default_area_code=default_area_code)
        except BadNumber as exc:
            problems.append(str(exc))
            continue
        if entry.label is not None and len(entry.label.strip()) > _MAX_LABEL:
            problems.append(f"the label of {entry.number!r} must be at most {_MAX_LABEL} characters")
        label = entry.label.strip() if entry.label is not None else None
        # The same number written twice is one number; a label given either time wins.
        if canonical not in numbers or label is not None:
            numbers[canonical] = PhoneNumber(canonical, label)
    if not numbers and not problems:
        problems.append("at least one phone number is needed: the hotline knows callers by their number")
    return tuple(numbers.values())


@dataclass(frozen=True, slots=True)
class Owner:
    customer_id: int
    name: str
    external_ref: str | None

    def __str__(self) -> str:
        return f"customer #{self.customer_id} {self.name}"


@dataclass(frozen=True)
class Known:
    """What the database holds about some customers' keys."""

    refs: dict[str, Owner]  # external_ref -> its customer
    owners: dict[str, Owner]  # canonical number -> its customer
    managers: dict[str, int]  # user name -> user id


def conflicts(data: CustomerData, customer_id: int | None, known: Known) -> list[str]:
    """Why `data` cannot be saved as customer `customer_id` (None: a new one)."""
    found = []
    holder = known.refs.get(data.external_ref) if data.external_ref else None
    if holder is not None and holder.customer_id != customer_id:
        found.append(f"external_ref {data.external_ref!r} belongs to {holder}")
    for entry in data.numbers:
        owner = known.owners.get(entry.number)
        if owner is not None and owner.customer_id != customer_id:
            found.append(f"number {for_display(entry.number)} belongs to {owner}")
    return found


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    data: CustomerData
    account_manager: str | None = None  # a user's name, resolved against the database


@dataclass(frozen=True, slots=True, order=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    skipped: int
    problems: tuple[RowProblem, ...]
    written: bool


@dataclass
class Plan:
    creates: list[CustomerData] = field(default_factory=list)
    updates: list[tuple[int, CustomerData]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def plan_import(rows: Sequence[ImportRow], known: Known) -> Plan:
    """Each row creates a customer or updates the one its external_ref, else one of its
    numbers, points to; a row that cannot do either cleanly is a problem, never a guess."""
    plan = Plan()
    claimed: dict[str, int] = {}  # a number, a ref or a customer id -> the line that took it
    for row in rows:
        target, data, reasons = _plan_row(row, known, claimed)
        if reasons:
            plan.problems.extend(RowProblem(row.line, reason) for reason in reasons)
            continue
        claimed.update(dict.fromkeys(_claims(target, row.data), row.line))
        if target is None:
            plan.creates.append(data)
        else:
            plan.updates.append((target.customer_id, data))
    return plan


def _plan_row(row: ImportRow, known: Known, claimed: dict[str, int]) -> tuple[Owner | None, CustomerData, list[str]]:
    data, reasons = row.data, []
    if row.account_manager:
        manager = known.managers.get(row.account_manager)
        if manager is None:
            reasons.append(f"unknown account manager {row.account_manager!r} (give a user's name)")
        data = replace(data, account_manager_id=manager)
    for entry in data.numbers:
        if entry.number in claimed:
            reasons.append(f"number {for_display(entry.number)} is also on line {claimed[entry.number]}")
    if data.external_ref and f"ref:{data.external_ref}" in claimed:
        reasons.append(f"external_ref {data.external_ref!r} is also on line {claimed['ref:' + data.external_ref]}")
    target = _target(data, known)
    if target is not None:
        if f"#{target.customer_id}" in claimed:
            reasons.append(f"updates the same {target} as line {claimed[f'#{target.customer_id}']}")
        # An empty external_ref column keeps the customer's ref rather than erasing it.
        data = replace(data, external_ref=data.external_ref or target.external_ref)
    reasons.extend(conflicts(data, target.customer_id if target else None, known))
    return target, data, reasons


def _claims(target: Owner | None, data: CustomerData) -> list[str]:
    # Canonical numbers start with + or ext:, so the ref: and # keys never collide with them.
    keys = [n.number for n in data.numbers]
    if data.external_ref:
        keys.append(f"ref:{data.external_ref}")
    if target is not None:
        keys.append(f"#{target.customer_id}")
    return keys


def _target(data: CustomerData, known: Known) -> Owner | None:
    if data.external_ref and data.external_ref in known.refs:
        return known.refs[data.external_ref]
    owners = {known.owners[n.number] for n in data.numbers if n.number in known.owners}
    if len(owners) == 1:
        [owner] = owners
        # A customer who has another ref is another customer: conflicts() will say so.
        if not (data.external_ref and owner.external_ref):
            return owner
    return None
