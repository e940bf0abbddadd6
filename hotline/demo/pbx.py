"""The demo's PBX: the AMI test double (hotline/testing/pbx.py) on the demo's clock, whose
simulated customers answer the service's callbacks as the recordings show Asterisk 22
doing: an agent-first callback (context hotline-callback) plays callback-agent-first.ami,
a survey (hotline-survey) plays survey-dtmf.ami with the customer's key, each with the
Originate's ChannelId in place of the recorded one, the customer's number in place of the
recorded customer's, and fresh ids for the other channels. Other Originates (listen-in)
are answered as by the double."""

from __future__ import annotations

import random
import re

from hotline.clock import Clock
from hotline.testing.pbx import PbxDouble
from hotline.testing.transcripts import headers, recorded_answer

from .calls import _ID, Ids, paced

# The recorded Originate's ActionID and its channel's Uniqueid, per callback context.
_RECORDED = {
    "hotline-callback": ("callback-agent-first", {"rec-25": "", "1795533038.20": ""}),
    "hotline-survey": ("survey-dtmf", {"rec-32": "", "1795533062.28": ""}),
}
_CUSTOMER = b"13912345678"  # the customer in both recordings
_NUMBER = re.compile(r"^Local/([0-9]+)@")
_SCORES = (5, 5, 5, 4, 4, 3, 2)  # what the simulated customers key in a survey (2: not satisfied)


class DemoPbx(PbxDouble):
    def __init__(self, clock: Clock, *, username: str, secret: str) -> None:
        super().__init__(username=username, secret=secret)
        self.clock = clock
        self.ids = Ids(clock)
        self.answered_callbacks = 0

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def _originate(self, client, action) -> None:  # type: ignore[no-untyped-def]
        recorded = _RECORDED.get(action.get("Context"))
        channel_id = action.get("ChannelId")
        if recorded is None or not channel_id.startswith("cb-"):
            await super()._originate(client, action)
            return
        await self._reply(client, action, "Success", [("Message", "Originate successfully queued")])
        name, ids = recorded
        number = action.get("Exten") if action.get("Context") == "hotline-callback" else _number_of(action.get("Channel"))
        events = recorded_answer(name, dict.fromkeys(ids, channel_id))
        self._spawn(self._customer(events, number.encode(), channel_id), "demo.customer")

    async def _customer(self, events: list[bytes], number: bytes, channel_id: str) -> None:
        """The customer picks up (the survey's key chosen at random), talks, hangs up."""
        rename = self.ids.renamer()
        score = f"Score: {random.choice(_SCORES)}\r\n".encode()
        stamps = [float(headers(e).get("Timestamp", "0") or 0) for e in events]
        first = next((s for s in stamps if s), 0.0)
        timed = []
        for event, stamp in zip(events, stamps, strict=True):
            event = _ID.sub(rename, event.replace(_CUSTOMER, number))
            timed.append((max(0.0, stamp - first) if stamp else 0.0, re.sub(rb"Score: [0-9]\r\n", score, event)))
        await paced(self.play, self.clock, timed)
        self.answered_callbacks += 1


def _number_of(channel: str) -> str:
    found = _NUMBER.match(channel)
    return found.group(1) if found else channel

