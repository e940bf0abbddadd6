"""The service standard's time limits (限时办结), one table per row group of the digest.

Every deadline is computed from a FakeClock's now() with the default Policy, so a row
here fails if the policy's defaults drift from the standard.
"""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from hotline.clock import FakeClock
from hotline.tickets import standard
from hotline.tickets.standard import (
    DEFAULT_POLICY,
    Area,
    Category,
    FaultKind,
    InstallKind,
    Policy,
    Tier,
)
from hotline.tickets.workdays import LOCAL_ZONE, WorkCalendar

from .moments import at, hours, minutes, spoken

CALENDAR = WorkCalendar()
A_MONDAY_MORNING = at("2026-03-02 10:00")
REGULAR, VIP, KEY_ACCOUNT, PRIVATE = Tier.REGULAR, Tier.VIP, Tier.KEY_ACCOUNT, Tier.PRIVATE_NETWORK
URBAN, SUBURBAN, RURAL = Area.URBAN, Area.SUBURBAN, Area.RURAL
GENERAL, DUCT, MAJOR = FaultKind.GENERAL, FaultKind.DUCT, FaultKind.MAJOR

# the deadline, its limit (clocks start when the call is taken, forwarded or completed)
SIMPLE_LIMITS = [
    pytest.param(standard.forward_due, minutes(10), id="forward to a department: 10 min"),
    pytest.param(standard.acknowledge_due, minutes(5), id="acknowledge forwarded work: 5 min"),
    pytest.param(standard.reply_due, minutes(30), id="reply to an inquiry or complaint: 30 min"),
    pytest.param(standard.follow_up_due, hours(24), id="follow up: 24 h after completion"),
]


@pytest.mark.parametrize("due, limit", SIMPLE_LIMITS)
def test_minute_limits_run_on_the_wall_clock(due, limit: timedelta) -> None:
    for start in (A_MONDAY_MORNING, at("2026-03-07 23:55"), at("2026-10-01 03:00")):
        clock = FakeClock(start)  # a weekday, a Saturday night, a public holiday: all the same

        assert due(clock.now()) == start + limit


def repair(tier: Tier, area: Area, kind: FaultKind, fix: timedelta, respond=None):
    shown = f"respond {spoken(respond)}, fix {spoken(fix)}" if respond else f"fix {spoken(fix)}"
    return pytest.param(tier, area, kind, respond, fix, id=f"{tier} {area} {kind}: {shown}")


# 7 维修时限: tier, area, fault kind -> fix within, respond within
REPAIR_LIMITS = [
    repair(REGULAR, URBAN, GENERAL, hours(4)),
    repair(REGULAR, URBAN, DUCT, hours(12)),
    repair(REGULAR, URBAN, MAJOR, hours(24), respond=minutes(10)),
    repair(REGULAR, SUBURBAN, GENERAL, hours(8)),
    repair(REGULAR, SUBURBAN, DUCT, hours(24)),
    repair(REGULAR, SUBURBAN, MAJOR, hours(24)),
    repair(REGULAR, RURAL, GENERAL, hours(12)),
    repair(REGULAR, RURAL, DUCT, hours(24)),
    repair(REGULAR, RURAL, MAJOR, hours(24)),
    repair(KEY_ACCOUNT, RURAL, GENERAL, hours(2)),
    repair(KEY_ACCOUNT, SUBURBAN, DUCT, hours(12)),
    repair(VIP, RURAL, GENERAL, hours(2)),
    repair(VIP, SUBURBAN, MAJOR, hours(12)),
    repair(PRIVATE, RURAL, GENERAL, hours(1), respond=minutes(10)),
    repair(PRIVATE, SUBURBAN, DUCT, hours(6), respond=minutes(10)),
    repair(PRIVATE, URBAN, MAJOR, hours(6), respond=minutes(10)),
]


@pytest.mark.parametrize("tier, area, kind, respond, fix", REPAIR_LIMITS)
def test_repair_deadline_follows_the_standard(tier, area, kind, respond, fix) -> None:
    clock = FakeClock(at("2026-03-07 22:00"))  # a Saturday night: repair clocks still run

    due = standard.repair_deadlines(clock.now(), tier=tier, area=area, fault_kind=kind)

    assert due.fix_by == clock.now() + fix
    assert due.respond_by == (None if respond is None else clock.now() + respond)


@pytest.mark.parametrize(
    "tier, area, kind", list(itertools.product(Tier, Area, FaultKind)), ids=str
)
def test_repair_precedence_is_private_network_then_key_account_and_vip_then_area(
    tier: Tier, area: Area, kind: FaultKind
) -> None:
    row = {
        Tier.PRIVATE_NETWORK: "private_network",
        VIP: "key_account_vip",
        Tier.KEY_ACCOUNT: "key_account_vip",
        REGULAR: area.value,
    }[tier]

    due = standard.repair_deadlines(A_MONDAY_MORNING, tier=tier, area=area, fault_kind=kind)

    assert due.rule == f"{row}.{kind}"


def test_a_vip_urban_major_fault_keeps_the_ten_minute_response() -> None:
    due = standard.repair_deadlines(A_MONDAY_MORNING, tier=VIP, area=URBAN, fault_kind=MAJOR)

    assert due.fix_by == A_MONDAY_MORNING + hours(12)
    assert due.respond_by == A_MONDAY_MORNING + minutes(10)
    assert (due.rule, due.respond_rule) == ("key_account_vip.major", "urban.major")


# area, accepted -> due                                            (8 业务恢复)
RESTORATION = [
    pytest.param(URBAN, "2026-03-02 10:00", "2026-03-02 14:00", id="urban in the day: 4 h"),
    pytest.param(SUBURBAN, "2026-03-02 10:00", "2026-03-02 18:00", id="suburban in the day: 8 h"),
    pytest.param(RURAL, "2026-03-02 10:00", "2026-03-02 22:00", id="rural in the day: 12 h"),
    pytest.param(
        URBAN, "2026-03-06 18:00", "2026-03-09 12:30", id="urban Friday 18:00 -> Monday 12:30"
    ),
    pytest.param(URBAN, "2026-03-02 17:00", "2026-03-02 21:00", id="17:00:00 is not after 17:00"),
    pytest.param(URBAN, "2026-03-02 17:00:01", "2026-03-03 12:30", id="17:00:01 is after 17:00"),
    pytest.param(
        SUBURBAN,
        "2026-03-02 17:30",
        "2026-03-03 16:30",
        id="suburban after 17:00 -> 08:30 + 8 h",
    ),
    pytest.param(
        SUBURBAN, "2026-03-02 16:30", "2026-03-03 00:30", id="suburban 16:30 runs at once"
    ),
    pytest.param(
        RURAL, "2026-03-02 16:30", "2026-03-03 20:30", id="rural after 16:00 -> 08:30 + 12 h"
    ),
    pytest.param(RURAL, "2026-03-02 16:00", "2026-03-03 04:00", id="rural 16:00:00 runs at once"),
    pytest.param(URBAN, "2026-03-03 06:00", "2026-03-03 10:00", id="early morning runs at once"),
    pytest.param(URBAN, "2026-03-08 10:00", "2026-03-08 14:00", id="a Sunday daytime runs at once"),
    pytest.param(URBAN, "2026-03-07 18:00", "2026-03-09 12:30", id="Saturday evening -> Monday"),
    pytest.param(
        URBAN,
        "2026-09-30 18:00",
        "2026-10-08 12:30",
        id="the evening before National Day -> the first working day after it",
    ),
    pytest.param(
        RURAL,
        "2026-02-13 16:30",
        "2026-02-14 20:30",
        id="before the Spring Festival -> the worked Saturday 2.14",
    ),
    pytest.param(
        URBAN,
        "2026-02-14 17:30",
        "2026-02-24 12:30",
        id="the worked Saturday's evening -> over the Spring Festival",
    ),
    pytest.param(URBAN, "2026-09-19 18:00", "2026-09-20 12:30", id="-> the worked Sunday 9.20"),
]


@pytest.mark.parametrize("area, accepted, due", RESTORATION)
def test_restoration_follows_the_after_hours_rule(area: Area, accepted: str, due: str) -> None:
    clock = FakeClock(at(accepted))

    assert standard.restoration_due(clock.now(), area=area, calendar=CALENDAR) == at(due)


def test_restoration_reads_a_utc_acceptance_on_the_bazhong_clock() -> None:
    friday_18_00 = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)

    due = standard.restoration_due(friday_18_00, area=URBAN, calendar=CALENDAR)

    assert due == at("2026-03-09 12:30")
    assert due.tzinfo is LOCAL_ZONE


def test_restoration_in_a_year_only_the_administrator_knows() -> None:
    # Illustrative 2027 days off entered by hand: Mon 2.8 to Fri 2.12.
    calendar = WorkCalendar(overrides={date(2027, 2, day): False for day in range(8, 13)})

    due = standard.restoration_due(at("2027-02-05 18:00"), area=URBAN, calendar=calendar)

    assert due == at("2027-02-15 12:30")


def test_restoration_warns_at_80_percent_of_its_hours_not_of_the_night() -> None:
    accepted = at("2026-03-06 18:00")
    start = standard.restoration_start(accepted, area=URBAN, calendar=CALENDAR)
    due = standard.restoration_due(accepted, area=URBAN, calendar=CALENDAR)

    assert start == at("2026-03-09 08:30")
    assert standard.warn_at(start, due) == at("2026-03-09 11:42")


# kind, dispatched -> due: calendar days, the dispatch day is day 1, ends at 24:00  (6 安装时限)
INSTALLATION = [
    pytest.param(
        InstallKind.INDIVIDUAL,
        "2026-03-02 10:00",
        "2026-03-05 00:00",
        id="individual: 3 days, Mon-Wed, ends Wed 24:00",
    ),
    pytest.param(
        InstallKind.INDIVIDUAL,
        "2026-03-02 23:59",
        "2026-03-05 00:00",
        id="dispatched late on Monday: Monday still counts",
    ),
    pytest.param(InstallKind.RURAL, "2026-03-02 10:00", "2026-03-06 00:00", id="rural: 4 days"),
    pytest.param(
        InstallKind.BUILDING_TRUNK,
        "2026-03-02 10:00",
        "2026-03-07 00:00",
        id="building trunk: 5 days",
    ),
    pytest.param(
        InstallKind.INDIVIDUAL,
        "2026-09-30 09:00",
        "2026-10-03 00:00",
        id="holidays are calendar days too",
    ),
]


@pytest.mark.parametrize("kind, dispatched, due", INSTALLATION)
def test_installation_days_count_the_dispatch_day(
    kind: InstallKind, dispatched: str, due: str
) -> None:
    clock = FakeClock(at(dispatched))

    assert standard.installation_due(clock.now(), kind=kind) == at(due)


def test_installation_days_are_bazhong_dates() -> None:
    tuesday_00_30 = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)

    due = standard.installation_due(tuesday_00_30, kind=InstallKind.INDIVIDUAL)

    assert due == at("2026-03-06 00:00")


# accepted -> due                                                  (5 业务派单时限)
HALL_DISPATCH = [
    pytest.param("2026-03-02 10:00", "2026-03-02 17:30", id="by that day's close of business"),
    pytest.param("2026-03-02 17:30", "2026-03-02 17:30", id="at close of business: due at once"),
    pytest.param("2026-03-02 17:45", "2026-03-03 17:30", id="after it: next working day's"),
    pytest.param("2026-03-07 10:00", "2026-03-09 17:30", id="a Saturday: Monday's"),
    pytest.param("2026-02-14 10:00", "2026-02-14 17:30", id="a worked Saturday: that day's"),
]


@pytest.mark.parametrize("accepted, due", HALL_DISPATCH)
def test_the_business_hall_dispatches_by_close_of_business(accepted: str, due: str) -> None:
    assert standard.hall_dispatch_due(at(accepted), calendar=CALENDAR) == at(due)


NEXT_WORKING_DAY_START = [
    pytest.param("2026-03-02 11:00", "2026-03-03 08:30", id="Monday -> Tuesday 08:30"),
    pytest.param("2026-03-06 11:00", "2026-03-09 08:30", id="Friday -> Monday 08:30"),
    pytest.param("2026-09-30 11:00", "2026-10-08 08:30", id="before National Day -> after it"),
]


@pytest.mark.parametrize("at_, due", NEXT_WORKING_DAY_START)
def test_engineering_and_marketing_pass_work_on_by_the_next_working_day(at_: str, due: str) -> None:
    assert standard.engineering_dispatch_due(at(at_), calendar=CALENDAR) == at(due)
    assert standard.private_network_handover_due(at(at_), calendar=CALENDAR) == at(due)


# --- warnings, follow-up, and overridden policies ----------------------------------------


def test_the_warning_comes_at_80_percent_by_default() -> None:
    clock = FakeClock(A_MONDAY_MORNING)
    due = standard.forward_due(clock.now())

    assert standard.warn_at(clock.now(), due) == at("2026-03-02 10:08")


def test_a_deadline_already_due_warns_when_it_is_due() -> None:
    due = standard.hall_dispatch_due(at("2026-03-02 17:30"), calendar=CALENDAR)

    assert standard.warn_at(at("2026-03-02 17:30"), due) == due


@pytest.mark.parametrize(
    "category, install_kind, followed_up",
    [
        (Category.FAULT_REPORT, None, True),
        (Category.COMPLAINT, None, True),
        (Category.BUSINESS, InstallKind.INDIVIDUAL, True),
        (Category.BUSINESS, None, False),
        (Category.INQUIRY, None, False),
        (Category.RESTORATION, None, False),
        (Category.OTHER, None, False),
    ],
)
def test_who_gets_a_follow_up_call_of_their_own(category, install_kind, followed_up) -> None:
    assert standard.needs_follow_up(category, install_kind=install_kind) is followed_up


def test_overridden_values_change_the_deadlines() -> None:
    policy = Policy(
        forward=minutes(15), warn_fraction=0.5, installation_days={InstallKind.INDIVIDUAL: 2}
    )
    clock = FakeClock(A_MONDAY_MORNING)

    due = standard.forward_due(clock.now(), policy=policy)

    assert due == at("2026-03-02 10:15")
    assert standard.warn_at(clock.now(), due, policy=policy) == at("2026-03-02 10:07:30")
    assert standard.installation_due(clock.now(), kind=InstallKind.INDIVIDUAL, policy=policy) == at(
        "2026-03-04 00:00"
    )


def test_a_configured_policy_changes_only_what_it_names() -> None:
    policy = Policy.from_mapping(
        {
            "reply": "1h",
            "repair": {"urban": {"general": "3h", "major": {"respond": "5min"}}},
            "restoration_cutoff": {"urban": "18:00"},
            "follow_up_every": ["fault_report", "complaint", "restoration"],
        }
    )
    urban_major = standard.repair_deadlines(
        A_MONDAY_MORNING,
        tier=REGULAR,
        area=URBAN,
        fault_kind=MAJOR,
        policy=policy,
    )
    urban_general = standard.repair_deadlines(
        A_MONDAY_MORNING,
        tier=REGULAR,
        area=URBAN,
        fault_kind=GENERAL,
        policy=policy,
    )

    assert standard.reply_due(A_MONDAY_MORNING, policy=policy) == at("2026-03-02 11:00")
    assert urban_general.fix_by == at("2026-03-02 13:00")
    assert (urban_major.respond_by, urban_major.fix_by) == (
        at("2026-03-02 10:05"),
        at("2026-03-03 10:00"),
    )
    assert standard.restoration_due(
        at("2026-03-02 17:30"), area=URBAN, calendar=CALENDAR, policy=policy
    ) == at("2026-03-02 21:30")
    assert standard.needs_follow_up(Category.RESTORATION, policy=policy)
    assert policy.acknowledge == DEFAULT_POLICY.acknowledge
    assert policy.restoration_cutoff[RURAL] == DEFAULT_POLICY.restoration_cutoff[RURAL]


def test_an_empty_configuration_is_the_standard() -> None:
    assert Policy.from_mapping({}) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "text, limit",
    [
        ("10min", minutes(10)),
        ("10m", minutes(10)),
        ("1h30min", minutes(90)),
        ("2d", hours(48)),
        ("90 s", timedelta(seconds=90)),
    ],
)
def test_durations_are_written_like_people_write_them(text: str, limit: timedelta) -> None:
    assert Policy.from_mapping({"forward": text}).forward == limit
