"""What the console's messages say (pure): the pop's caller for a directory customer, a
stranger and a withheld number; ticket, deadline and call messages as docs/console.md shows."""

from __future__ import annotations

import json
from datetime import datetime

from hotline.calls.projection import CallRecord
from hotline.console.caller import CallerContext, canonical, caller_view
from hotline.console.feed import call_summary, deadline_message, ticket_message
from hotline.console.pops import pop_message
from hotline.routing.profile import CallerProfile
from hotline.tickets.events import CallLinkedToTicket, DeadlineBreached, DeadlineWarned, TicketChanged, TicketOpened
from hotline.tickets.repository import Audience
from hotline.console.hub import dumps

MOMENT = datetime.fromisoformat("2026-11-25T02:00:00+00:00")
LI_SI = CallerProfile(7, "李四", "vip", "urban", "王经理", "8009")


def test_a_directory_customer_pops_with_profile_manager_and_notes() -> None:
    view = caller_view("13800000001", "李四（巴中分公司）", canonical("13800000001", "0827"), LI_SI, "报修先查光猫")
    assert view == {
        "number": "13800000001", "display": "138 0000 0001", "callerid_name": "李四（巴中分公司）",
        "name": "李四", "customer_id": 7, "tier": "vip", "area": "urban",
        "account_manager": {"name": "王经理", "extension": "8009"}, "notes": "报修先查光猫",
    }  # fmt: skip


def test_a_caller_not_in_the_directory_is_regular_with_nulls() -> None:
    view = caller_view("08275551234", "Wang Wu", canonical("08275551234", "0827"), None, None)
    assert view["tier"] == "regular" and view["display"] == "0827 555 1234"
    assert view["name"] is view["customer_id"] is view["account_manager"] is view["notes"] is view["area"] is None


def test_a_withheld_number_has_no_number_and_a_junk_one_shows_as_given() -> None:
    assert caller_view("<unknown>", None, canonical("<unknown>", "0827"), None, None)["number"] is None
    assert caller_view("anonymous", None, None, None, None)["display"] is None
    junk = caller_view("12", "x", canonical("12", "0827"), None, None)
    assert (junk["number"], junk["display"]) == ("12", "12")


def test_a_pop_keeps_text_as_text_in_json() -> None:
    evil = "<img src=x onerror=alert(1)>"
    context = CallerContext(caller_view("13912345678", evil, "+8613912345678", None, None))
    text = dumps(pop_message("1.0", "ringing", MOMENT, "hotline", context, None))
    assert evil in text and json.loads(text)["caller"]["callerid_name"] == evil
    assert json.loads(text)["at"] == "2026-11-25T02:00:00+00:00"


def test_ticket_messages_say_what_happened_and_to_whom_it_belongs() -> None:
    audience = Audience(owner_user_id=2, department_id=1, status="forwarded", department_staff=(5, 6))
    changed = ticket_message(TicketChanged(3, "T-20261125-0003", MOMENT, "forwarded", 2, "forwarded"), audience)
    assert changed == {"type": "ticket", "ticket_id": 3, "number": "T-20261125-0003", "kind": "forwarded", "status": "forwarded", "owner_user_id": 2, "department_id": 1, "actor_user_id": 2, "at": MOMENT}
    opened = ticket_message(TicketOpened(3, "T-20261125-0003", MOMENT, 2, "1.0"), Audience(2, None, "open", ()))
    assert (opened["kind"], opened["status"], opened["actor_user_id"]) == ("opened", "open", 2)
    linked = ticket_message(CallLinkedToTicket(3, "T-20261125-0003", MOMENT, "2.0"), audience)
    assert (linked["kind"], linked["actor_user_id"]) == ("call_linked", None)


def test_a_warning_has_no_level_and_a_breach_has_one() -> None:
    warned = deadline_message(DeadlineWarned(3, "T-1", MOMENT, "forward", MOMENT, (2,), 0.0))
    breached = deadline_message(DeadlineBreached(3, "T-1", MOMENT, "acknowledge", MOMENT, 2, (2, 9), 12.5))
    assert (warned["event"], warned["level"]) == ("warned", None)
    assert (breached["event"], breached["level"], breached["late_seconds"]) == ("breached", 2, 12.5)


def test_a_call_summary_names_the_queue_routed_to_before_it_queues() -> None:
    record = CallRecord("1.0", "1.0", MOMENT, state="arriving", caller_number="13800000001", caller_name="李四", route_queue="vip", tier="vip")
    summary = call_summary(record)
    assert summary["queue"] == "vip" and summary["state"] == "arriving" and summary["answered_at"] is None
    assert set(summary) == {"id", "state", "caller_number", "caller_name", "tier", "queue", "agent", "arrived_at", "queued_at", "answered_at", "ended_at", "outcome"}


def test_a_caller_who_rang_within_the_days_with_a_ticket_open_is_a_repeat() -> None:
    from datetime import timedelta

    from hotline.console.caller import repeat_of

    tickets = [{"id": 7, "number": "T-20261125-0007"}]
    calls = [{"arrived_at": MOMENT - timedelta(days=2, hours=23)}]
    assert repeat_of(tickets, calls, MOMENT, 3) == {"ticket_id": 7, "ticket": "T-20261125-0007", "previous_call_at": calls[0]["arrived_at"], "days": 3}
    assert repeat_of(tickets, [{"arrived_at": MOMENT - timedelta(days=3, seconds=1)}], MOMENT, 3) is None
    assert repeat_of([], calls, MOMENT, 3) is None  # no open ticket: a new matter
    assert repeat_of(tickets, [], MOMENT, 3) is None  # never rang before
