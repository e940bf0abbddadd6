"""The demo's people and customers: departments, agents (extensions 8001, 8002 and 8009,
the members of the recordings), department staff and account managers, a supervisor and
an admin, all with one password made for this run; and the customers of customers.csv
(VIPs, key accounts with their account manager, a private network, urban, suburban and
rural callers). Seeding again (another run on the same database) adds nothing twice: it
only gives everyone the new password."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.clock import Clock
from hotline.routing.csvio import import_csv
from hotline.routing.directory import CustomerDirectory
from hotline.tickets.departments import Departments
from hotline.users.store import UserStore

from .calls import Caller

DEPARTMENTS = ("维修部", "装机部", "大客户部", "计费部")


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    role: str
    what: str  # shown in the log-in table
    extension: str | None = None
    department: str | None = None
    head: bool = False


PEOPLE = (
    Person("admin", "admin", "系统管理员 / admin"),
    Person("班长", "supervisor", "值班长 / supervisor"),
    Person("小王", "agent", "话务员 / agent", extension="8001"),
    Person("小李", "agent", "话务员 / agent", extension="8002"),
    Person("小赵", "agent", "VIP 话务员 / VIP agent", extension="8009"),
    Person("维修员", "department", "维修部主管 / repairs head", department="维修部", head=True),
    Person("装机员", "department", "装机部主管 / installations head", department="装机部", head=True),
    Person("王经理", "department", "大客户经理 / account manager", department="大客户部", head=True),
    Person("李经理", "department", "大客户经理 / account manager", department="大客户部"),
    Person("计费员", "department", "计费部主管 / billing head", department="计费部", head=True),
)


async def seed(engine: AsyncEngine, clock: Clock, directory: CustomerDirectory, password: str) -> list[Caller]:
    """Everyone and everything above, once; everyone's password set to `password`. The
    customers, as the demo's callers dial in."""
    users, departments = UserStore(engine, clock), Departments(engine, clock)
    known = {d.name: d for d in await departments.list()}
    for name in DEPARTMENTS:
        if name not in known:
            known[name] = await departments.create(name)
    for person in PEOPLE:
        user = await users.by_name(person.name)
        if user is None:
            department_id = known[person.department].id if person.department else None
            user, _token = await users.add(person.name, person.role, extension=person.extension, password=password, department_id=department_id)
            if person.head and person.department:
                await departments.set_head(known[person.department].id, user.id)
        else:
            await users.set_password(user.id, password)
    data = files("hotline.demo").joinpath("customers.csv").read_bytes()
    await import_csv(directory, data, skip_bad=False)
    return callers(data.decode("utf-8"))


def callers(text: str) -> list[Caller]:
    """The CSV's customers as callers: each one's first number and name."""
    made = []
    for row in csv.DictReader(io.StringIO(text)):
        number = row["numbers"].split(";")[0].replace("-", "").strip()
        made.append(Caller(number, row["name"], vip=row["tier"] == "vip"))
    return made
