"""The callback contexts shipped in asterisk-config/ (hotline-callback, hotline-survey),
driven as the service drives them: an async Originate from the shipped `hotline` manager
user, a ChannelId per attempt, CallerID 96655, HOTLINE_TICKET and HOTLINE_CALLBACK,
against the lab's agents (Local/80XX@agents answer and talk 3 s) and customers
(lab-extensions.conf: 13900000486 busy, 13900000408 never answers, any other 11-digit
number answers and presses its last digit).

OriginateResponse Reason is Asterisk's control frame code: 4 answered, 5 busy, 3 rang
without answer (the Originate's Timeout), 8 congestion, 0 the channel could not be made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.asterisk.ami import AmiSession, Message
from tests.asterisk.lab import Asterisk, Lab

BUSY = "13900000486"
NEVER_ANSWERS = "13900000408"


@pytest.fixture
async def service(asterisk: Asterisk, lab: Lab) -> AsyncIterator[AmiSession]:
    """An AMI session of the shipped `hotline` user: what the service sends and sees. It
    needs `lab`, whose teardown hangs up whatever a test left."""
    session = await asterisk.ami("hotline", asterisk.secret)
    yield session
    await session.close()


async def originate(session: AmiSession, *, channel: str, context: str, exten: str, callback: int, attempt: int = 1, timeout_ms: int = 15000) -> Message:
    """The Originate exactly as the service sends it; Asterisk's immediate Response."""
    return await session.action(
        "Originate",
        Channel=channel,
        Context=context,
        Exten=exten,
        Priority="1",
        CallerID='"96655" <96655>',
        Async="true",
        Timeout=str(timeout_ms),
        ChannelId=channel_id(callback, attempt),
        Variable=[f"HOTLINE_TICKET=T-{callback}", f"HOTLINE_CALLBACK={callback}"],
    )


def channel_id(callback: int, attempt: int = 1) -> str:
    return f"cb-{callback}-{attempt}"


async def outcome(session: AmiSession, placed: Message, timeout: float = 10) -> Message:
    """The OriginateResponse for this Originate, found by its ActionID."""
    assert placed.get("Response") == "Success", placed
    return await session.event("OriginateResponse", timeout, ActionID=placed["ActionID"])


def agent_first(callback: int, number: str, agent: str = "8041") -> dict[str, str | int]:
    return {"channel": f"Local/{agent}@agents", "context": "hotline-callback", "exten": number, "callback": callback}


def survey(callback: int, number: str) -> dict[str, str | int]:
    return {"channel": f"Local/{number}@customers", "context": "hotline-survey", "exten": "s", "callback": callback}


# --- agent-first ----------------------------------------------------------------------------


async def test_agent_first_rings_the_agent_then_the_customer_from_96655(service: AmiSession) -> None:
    placed = await originate(service, **agent_first(41, "13912345678"))
    answered = await outcome(service, placed)
    assert (answered["Response"], answered["Reason"], answered["Uniqueid"]) == ("Success", "4", "cb-41-1")
    # The customer is dialled from the agent's leg (the ChannelId), showing 96655.
    dialled = await service.event("DialBegin", 5, Uniqueid="cb-41-1")
    # The connected line: what the customer's phone shows (the Local channel's own caller
    # id number is the number it was dialled with).
    assert (dialled["DestChannel"].split("-")[0], dialled["DestConnectedLineNum"], dialled["DestConnectedLineName"]) == ("Local/13912345678@customers", "96655", "96655")
    # The agent hangs up first (3 s against the customer's 4 s): the steps after Dial()
    # never run, the h extension still reports.
    reported = await service.event("UserEvent", 10, UserEvent="HotlineCallback", Uniqueid="cb-41-1")
    assert (reported["Callback"], reported["Ticket"], reported["DialStatus"]) == ("41", "T-41", "ANSWER")


async def test_agent_first_reports_a_busy_customer(service: AmiSession) -> None:
    answered = await outcome(service, await originate(service, **agent_first(42, BUSY)))
    assert (answered["Response"], answered["Reason"]) == ("Success", "4")  # the agent did answer
    reported = await service.event("UserEvent", 5, UserEvent="HotlineCallback", Uniqueid="cb-42-1")
    assert (reported["Callback"], reported["Ticket"], reported["DialStatus"]) == ("42", "T-42", "BUSY")


async def test_agent_first_reports_an_agent_who_gives_up_while_the_customer_rings(service: AmiSession, lab: Lab) -> None:
    answered = await outcome(service, await originate(service, **agent_first(43, NEVER_ANSWERS)))
    await service.event("DialBegin", 5, Uniqueid="cb-43-1")
    # The agent's phone is the ;2 half of the Local channel the Originate made.
    await lab.ami.action("Hangup", Channel=answered["Channel"].replace(";1", ";2"))
    reported = await service.event("UserEvent", 5, UserEvent="HotlineCallback", Uniqueid="cb-43-1")
    assert reported["DialStatus"] == "CANCEL"


@pytest.mark.parametrize("number", ["1390000000,tT", "1&Local/8044@agents", "110"])
async def test_agent_first_dials_only_a_number_of_digits(service: AmiSession, number: str) -> None:
    """The number lands in Dial(): a comma would add options, & another channel; a short
    number (110, 120) is never a customer's."""
    start = len(service.messages)
    answered = await outcome(service, await originate(service, **agent_first(44, number)))
    assert answered["Response"] == "Success"
    reported = await service.event("UserEvent", 5, start, UserEvent="HotlineCallback", Uniqueid="cb-44-1")
    assert reported["DialStatus"] == "INVALIDARGS"
    assert not [m for m in service.messages[start:] if m.get("Event") == "DialBegin" and m.get("Uniqueid") == "cb-44-1"]


async def test_an_extension_that_cannot_match_is_refused_at_once(service: AmiSession) -> None:
    placed = await originate(service, **agent_first(45, "customer"))
    assert (placed["Response"], placed["Message"]) == ("Error", "Extension does not exist."), placed


# --- survey ---------------------------------------------------------------------------------


async def test_survey_reports_the_key_the_customer_pressed(service: AmiSession) -> None:
    answered = await outcome(service, await originate(service, **survey(51, "13912345674")))
    assert (answered["Response"], answered["Reason"], answered["Uniqueid"]) == ("Success", "4", "cb-51-1")
    reported = await service.event("UserEvent", 10, UserEvent="HotlineSurvey", Uniqueid="cb-51-1")
    assert (reported["Callback"], reported["Ticket"], reported["Score"], reported["ReadStatus"]) == ("51", "T-51", "4", "OK")


async def test_survey_asks_again_after_a_wrong_key_then_reports_no_score(service: AmiSession, lab: Lab) -> None:
    await lab.set_global("HOTLINE_SURVEY_KEY_SECONDS", "2")
    start = len(service.messages)
    await outcome(service, await originate(service, **survey(52, "13912345679")))  # presses 9, once
    reported = await service.event("UserEvent", 10, start, UserEvent="HotlineSurvey", Uniqueid="cb-52-1")
    assert (reported["Score"], reported["ReadStatus"]) == ("", "TIMEOUT")
    asked = [m["AppData"].split(",")[1] for m in service.messages[start:] if m.get("Event") == "Newexten" and m.get("Uniqueid") == "cb-52-1" and m.get("Application") == "Read"]
    # Each prompt is missing in the lab: Read gives up at once and the plain Read follows.
    assert asked == ["hotline/survey-intro", "", "hotline/survey-invalid", ""]


async def test_survey_reports_a_customer_who_hangs_up_before_keying(service: AmiSession, lab: Lab) -> None:
    answered = await outcome(service, await originate(service, **survey(53, "13912345673")))
    # The customer's phone is the ;2 half; it would press 3 after 1 s.
    await lab.ami.action("Hangup", Channel=answered["Channel"].replace(";1", ";2"))
    reported = await service.event("UserEvent", 5, UserEvent="HotlineSurvey", Uniqueid="cb-53-1")
    assert (reported["Score"], reported["ReadStatus"]) == ("", "HANGUP")


async def test_survey_to_a_busy_or_unanswered_phone_fails_the_originate(service: AmiSession) -> None:
    start = len(service.messages)
    busy = await originate(service, **survey(54, BUSY))
    unanswered = await originate(service, **survey(55, NEVER_ANSWERS), timeout_ms=2000)
    busy_outcome, unanswered_outcome = await outcome(service, busy), await outcome(service, unanswered, timeout=6)
    # Unlike the transcripts' Originates (no ChannelId: Uniqueid <unknown>), a failure
    # names the ChannelId too.
    assert (busy_outcome["Response"], busy_outcome["Reason"], busy_outcome["Uniqueid"]) == ("Failure", "5", "cb-54-1")
    assert (unanswered_outcome["Response"], unanswered_outcome["Reason"], unanswered_outcome["Uniqueid"]) == ("Failure", "3", "cb-55-1")
    assert not [m for m in service.messages[start:] if m.get("Event") == "UserEvent"]


# --- exactly once ----------------------------------------------------------------------------


async def test_a_channel_id_in_use_places_no_second_call(asterisk: Asterisk, service: AmiSession) -> None:
    """What makes placing exactly-once: a resent Originate (after a lost response or a
    restart) with the attempt's ChannelId is refused while the first call lives. Its
    OriginateResponse is a Failure that names the same Uniqueid as the live call, so
    outcomes are matched by ActionID. Once the first call has ended the id is free again:
    the service's own record of the attempt has to stop a resend then."""
    start = len(service.messages)
    first = await outcome(service, await originate(service, **agent_first(61, "13912345678", agent="8061")))
    assert first["Response"] == "Success"
    again = await originate(service, **agent_first(61, "13912345678", agent="8062"))
    assert again["Response"] == "Success"  # queued: the refusal comes as the outcome
    refused = await outcome(service, again)
    assert (refused["Response"], refused["Reason"], refused["Uniqueid"]) == ("Failure", "0", "cb-61-1")
    # Asterisk writes its log on its own time: look for the line for a few seconds.
    refused_line = "Channel Unique ID 'cb-61-1' already in use"
    for _ in range(50):
        if any(refused_line in line for line in asterisk.log_lines()):
            break
        await asyncio.sleep(0.1)
    assert any(refused_line in line for line in asterisk.log_lines())
    await service.event("UserEvent", 10, start, UserEvent="HotlineCallback", Uniqueid="cb-61-1")
    made = [m["Channel"] for m in service.messages[start:] if m.get("Event") == "Newchannel" and m.get("Uniqueid") == "cb-61-1"]
    assert [c.split("-")[0] for c in made] == ["Local/8061@agents"]  # 8062 never rang

    await service.event("Hangup", 5, start, Uniqueid="cb-61-1")
    reused = await outcome(service, await originate(service, **survey(61, BUSY)))
    assert (reused["Response"], reused["Reason"], reused["Uniqueid"]) == ("Failure", "5", "cb-61-1")
    made = [m["Channel"] for m in service.messages[start:] if m.get("Event") == "Newchannel" and m.get("Uniqueid") == "cb-61-1"]
    assert len(made) == 2
